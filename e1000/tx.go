package e1000

import (
	"github.com/ringonet/ringo/internal/e1000x"
	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/skb"
)

// The transmit path (e1000_xmit_frame and e1000_clean_tx_irq): frames
// copied into the ring's buffers, legacy descriptors or a context
// descriptor for the offloads, the doorbell, and reclaiming what was sent.

// StartXmit implements netcore.DeviceOps (e1000_xmit_frame): copy the frame
// into the slot's buffer, fill one legacy descriptor, bump TDT (or leave
// it for the batch's last frame).
func (d *Driver) StartXmit(b *skb.Buff) netcore.TxStatus {
	d.txMu.Lock()
	defer d.txMu.Unlock()
	switch v, need := d.fillLocked(b); v {
	case e1000x.TxBusy:
		d.stopQueueLocked()
		return netcore.TxBusy
	case e1000x.TxFilled, e1000x.TxKept:
		if v == e1000x.TxFilled {
			b.Free()
		}
		d.doorbellLocked()
		if d.tx.Unused() < need {
			d.stopQueueLocked()
		}
	default:
		b.Free()
	}
	return netcore.TxOK
}

// StartXmitBurst implements netcore.BurstXmitter (DPDK's eth_em_xmit_pkts
// on this driver's ring): the frames filled in under one lock (in place
// or copied), TDT written once for each txBatch of them, the copied
// frames' skbs freed in bulk after.
func (d *Driver) StartXmitBurst(bs []*skb.Buff) int {
	d.txMu.Lock()
	n := 0
	for n < len(bs) {
		if d.tx.Unused() < len(bs)-n+txCleanThreshold {
			d.cleanTxLocked()
		}
		// Frames from the arena, a descriptor each, go in a run up to
		// the doorbell batch; the room left keeps the stop check below
		// for the frame after.
		if d.running.Load() {
			k, _ := d.txInPlace.FillRun(d.tx, bs[n:], bufSize, min(txBatch-d.txPending, d.tx.Unused()-1))
			n += k
			if d.txPending += k; d.txPending >= txBatch {
				d.flushTxLocked()
			}
			if k > 0 {
				continue
			}
		}
		v, need := d.fillLocked(bs[n])
		if v == e1000x.TxBusy {
			d.stopQueueLocked()
			break
		}
		if v == e1000x.TxKept {
			bs[n] = nil // the ring holds it: not FreeBulk's
		}
		n++
		if v == e1000x.TxDropped {
			continue
		}
		if d.txPending++; d.txPending >= txBatch {
			d.flushTxLocked()
		}
		if d.tx.Unused() < need {
			d.stopQueueLocked()
			break
		}
	}
	d.flushTxLocked()
	d.txMu.Unlock()
	skb.FreeBulk(bs[:n])
	return n
}

// fillLocked puts b in the ring, or judges it undeliverable, without
// freeing it or ringing the doorbell; need is the descriptors a frame
// like it takes, for the caller's stop-the-queue check.
func (d *Driver) fillLocked(b *skb.Buff) (v e1000x.TxVerdict, need int) {
	tx := d.tx
	if b.CsumPartial || b.GSOSize > 0 {
		return d.fillOffloadLocked(b)
	}
	n := b.Len()
	// A jumbo frame goes over several 2 KB buffers.
	need = e1000x.LegacyDescs(n, bufSize)
	if n > e1000x.MaxJumboFrame || need > tx.Count()/2 {
		d.Counters.TxTooBig.Add(1)
		d.Dev.Stats.TxDropped.Add(1)
		return e1000x.TxDropped, need
	}
	if tx.Unused() < need+txCleanThreshold {
		d.cleanTxLocked()
	}
	if !d.running.Load() || tx.Unused() < need {
		return e1000x.TxBusy, need
	}
	if d.txInPlace.Fill(tx, b, bufSize) {
		return e1000x.TxKept, need
	}
	tx.SetNextToUse(e1000x.FillLegacy(tx, b.Data(), bufSize, b.VlanTCI, b.VlanPresent))
	return e1000x.TxFilled, need
}

// txBatch bounds the frames filled behind the doorbell: the device starts
// on a batch no later than its 32nd frame (DPDK's tx_burst size).
const txBatch = 32

// doorbellLocked ends a frame: when the core says more follow
// (XmitMore), TDT waits for the last of the batch, one register write —
// under QEMU one VM exit, in which the device sends — for the whole
// batch instead of one per frame (e1000_xmit_frame's netdev_xmit_more).
func (d *Driver) doorbellLocked() {
	d.txPending++
	if d.Dev.XmitMore() && d.txPending < txBatch {
		return
	}
	d.flushTxLocked()
}

// flushTxLocked writes TDT if descriptors wait behind it. The store is a
// full barrier (vfio.MMIO): the descriptors and buffers are visible
// before the device reads TDT.
func (d *Driver) flushTxLocked() {
	if d.txPending == 0 {
		return
	}
	d.txPending = 0
	d.txr.Mark(d.tx)
	if !d.faultTxStall.Load() {
		d.Counters.TxDoorbells.Add(1) // before: the device may send, and a reader look, at once
		d.r.Write(regTDT, uint32(d.tx.NextToUse()))
	}
}

// FlushXmit implements netcore.TxFlusher: the core promised more frames
// and has none after all.
func (d *Driver) FlushXmit() {
	d.txMu.Lock()
	d.flushTxLocked()
	d.txMu.Unlock()
}

// stopQueueLocked stops the queue on a full ring (__e1000_maybe_stop_tx)
// and asks for the completion interrupt that will wake it, then looks
// again: descriptors sent meanwhile (QEMU sends them as TDT is written)
// would otherwise leave it stopped with their TXDW already raised.
func (d *Driver) stopQueueLocked() {
	d.flushTxLocked() // the device must drain what it has not been told of
	d.Dev.NetifStopQueue()
	if d.running.Load() && !d.cfg.BusyPoll && d.hw.IRQ != nil {
		d.r.Write(regIMS, icr_TXDW)
	}
	d.cleanTxLocked()
}

// cleanTxLocked reclaims sent descriptors (e1000_clean_tx_irq) and wakes
// the queue when enough are free. The caller holds txMu: both the NAPI
// poll and the transmit path clean.
func (d *Driver) cleanTxLocked() int {
	tx := d.tx
	from := tx.NextToClean()
	n := d.txr.Reclaim(tx)
	d.txInPlace.Free(from, n)
	if d.Dev.NetifQueueStopped() && d.running.Load() && tx.Unused() >= min(txWakeThreshold, tx.Count()/2) {
		d.Counters.TxRestarts.Add(1)
		d.Dev.NetifWakeQueue()
	}
	return n
}

// minTSORing is the smallest TX ring TSO is offered on: twice the
// descriptors of the largest TSO packet.
const minTSORing = 128

// fillOffloadLocked fills a packet whose checksum, and for TSO whose
// segmentation, the device does (e1000_tso, e1000_tx_csum): a context
// descriptor with the header offsets, then data descriptors over
// bufSize-byte pieces of the packet, TSE on each for TSO, EOP on the last.
// The checksum field is seeded in the copy as the hardware expects: the
// pseudo-header sum, without the length for TSO (the device adds each
// segment's), and for TSO a zero IP checksum it fills per segment.
func (d *Driver) fillOffloadLocked(b *skb.Buff) (v e1000x.TxVerdict, need int) {
	tx := d.tx
	frame := b.Data()
	o, ok := e1000x.ParseOffload(frame, int(b.GSOSize), bufSize)
	o.VLAN, o.Tagged = b.VlanTCI, b.VlanPresent
	need = 1 + (len(frame)+bufSize-1)/bufSize
	if !ok || need > tx.Count()/2 || (o.MSS == 0 && len(frame) > bufSize) {
		d.Counters.TxBadOffload.Add(1)
		d.Dev.Stats.TxDropped.Add(1)
		return e1000x.TxDropped, need
	}
	if tx.Unused() < need+txCleanThreshold {
		d.cleanTxLocked()
	}
	if !d.running.Load() || tx.Unused() < need {
		return e1000x.TxBusy, need
	}
	if o.MSS > 0 {
		d.Counters.TxTSO.Add(1)
	} else {
		d.Counters.TxCsumOffload.Add(1)
	}
	tx.SetNextToUse(o.Fill(tx, frame, bufSize))
	return e1000x.TxFilled, need
}
