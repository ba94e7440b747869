package e1000e

import (
	"encoding/binary"

	"github.com/ringonet/ringo/internal/e1000x"
	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/netcore/skb"
)

// The transmit path: a ring per queue pair, chosen by flow so a flow's
// frames stay in order; frames copied into the ring's buffers, legacy
// descriptors or a context descriptor for the offloads (the descriptor
// formats are the 8254x's: e1000x), the doorbell batched on the core's
// xmit_more hint.

// setupTx gives the ring to the device (e1000_configure_tx, per queue).
func (q *queue) setupTx() {
	r, tx := q.d.r, q.tx
	q.txMu.Lock()
	defer q.txMu.Unlock()
	tx.Reset()
	q.txr.Reset()
	q.txPending, q.stopped = 0, false
	r.Write(qreg(regTDBAL, q.idx), uint32(tx.IOVA()))
	r.Write(qreg(regTDBAH, q.idx), uint32(tx.IOVA()>>32))
	r.Write(qreg(regTDLEN, q.idx), uint32(tx.Bytes()))
	r.Write(qreg(regTDH, q.idx), 0)
	r.Write(qreg(regTDT, q.idx), 0)
	r.Write(qreg(regTXDCTL, q.idx), txdctlBurst)
	r.Set(qreg(regTARC, q.idx), tarc_ENABLE)
}

// txQueue picks the ring for a frame by its flow hash (skb_tx_hash), so
// one flow uses one ring: the hash the skb carries (a TCP connection's
// transmit hash, or the hash it was received with), else one of its IP
// addresses and, for TCP and UDP, ports.
func (d *Driver) txQueue(b *skb.Buff) *queue {
	if len(d.q) == 1 {
		return d.q[0]
	}
	h := b.Hash
	if h == 0 {
		h = txHash(b.Data())
	}
	return d.q[scaleHash(h, len(d.q))]
}

// scaleHash maps a hash onto n rings with a multiply, not a division
// (Linux's reciprocal_scale): under QEMU's TCG a division is a helper
// call, and this runs for every frame.
func scaleHash(h uint32, n int) int { return int(uint64(h) * uint64(n) >> 32) }

func txHash(f []byte) uint32 {
	h := uint32(2166136261)
	mix := func(x []byte) {
		for _, c := range x {
			h = (h ^ uint32(c)) * 16777619
		}
	}
	if len(f) < 14 {
		return 0
	}
	var l4 int
	var proto byte
	switch binary.BigEndian.Uint16(f[12:]) {
	case header.EtherTypeIPv4:
		if len(f) < 34 {
			return 0
		}
		mix(f[26:34])
		proto, l4 = f[23], 14+int(f[14]&0x0f)*4
		if binary.BigEndian.Uint16(f[20:])&0x3fff != 0 {
			return h // a fragment: addresses only, as every fragment has them
		}
	case header.EtherTypeIPv6:
		if len(f) < 54 {
			return 0
		}
		mix(f[22:54])
		proto, l4 = f[20], 54
	default:
		return 0
	}
	if (proto == 6 || proto == 17) && len(f) >= l4+4 {
		mix(f[l4 : l4+4])
	}
	return h
}

// StartXmit implements netcore.DeviceOps (e1000_xmit_frame).
func (d *Driver) StartXmit(b *skb.Buff) netcore.TxStatus {
	q := d.txQueue(b)
	q.txMu.Lock()
	defer q.txMu.Unlock()
	n := b.Len()
	switch v, need := q.fillLocked(b); v {
	case e1000x.TxBusy:
		q.stopQueueLocked()
		return netcore.TxBusy
	case e1000x.TxFilled, e1000x.TxKept:
		if v == e1000x.TxFilled {
			b.Free()
		}
		q.txPackets.Add(1)
		q.txBytes.Add(uint64(n))
		q.doorbellLocked()
		if q.tx.Unused() < need {
			q.stopQueueLocked()
		}
	default:
		b.Free()
	}
	return netcore.TxOK
}

// StartXmitBurst implements netcore.BurstXmitter: each frame to its flow's
// ring as StartXmit sends it, a ring's lock held across a run of frames
// for it, TDT written once a txBatch and where the run ends, the copied
// frames' skbs freed in bulk after (those sent in place when the device
// is done with them).
func (d *Driver) StartXmitBurst(bs []*skb.Buff) int {
	var q *queue
	var packets, bytes uint64
	release := func() {
		q.flushTxLocked()
		q.txPackets.Add(packets)
		q.txBytes.Add(bytes)
		packets, bytes = 0, 0
		q.txMu.Unlock()
	}
	// bs[n:runEnd] are q's frames; after is bs[runEnd]'s ring once the
	// scan has hashed it, so each frame is hashed once.
	n, runEnd := 0, 0
	var after *queue
	for n < len(bs) {
		b := bs[n]
		if n >= runEnd {
			next := after
			if next == nil {
				next = d.txQueue(b)
			}
			after = nil
			if next != q {
				if q != nil {
					release()
				}
				q = next
				q.txMu.Lock()
			}
			runEnd = len(bs) // with one ring, every frame is this ring's
			if len(d.q) > 1 {
				for runEnd = n + 1; runEnd < len(bs); runEnd++ {
					if x := d.txQueue(bs[runEnd]); x != q {
						after = x
						break
					}
				}
			}
		}
		// A run of arena frames for this ring goes in one pass, as on
		// the e1000.
		if q.tx.Unused() < len(bs)-n+txCleanThreshold {
			q.cleanTxLocked()
		}
		if d.running.Load() {
			k, kb := q.txInPlace.FillRun(q.tx, bs[n:runEnd], bufSize, min(txBatch-q.txPending, q.tx.Unused()-1))
			n += k
			packets += uint64(k)
			bytes += uint64(kb)
			if q.txPending += k; q.txPending >= txBatch {
				q.flushTxLocked()
			}
			if k > 0 {
				continue
			}
		}
		l := b.Len()
		v, need := q.fillLocked(b)
		if v == e1000x.TxBusy {
			q.stopQueueLocked()
			break
		}
		if v == e1000x.TxKept {
			bs[n] = nil // the ring holds it: not FreeBulk's
		}
		n++
		if v == e1000x.TxDropped {
			continue
		}
		packets++
		bytes += uint64(l)
		if q.txPending++; q.txPending >= txBatch {
			q.flushTxLocked()
		}
		if q.tx.Unused() < need {
			q.stopQueueLocked()
			break
		}
	}
	if q != nil {
		release()
	}
	skb.FreeBulk(bs[:n])
	return n
}

// fillLocked puts b in the queue's ring, or judges it undeliverable,
// without freeing it or ringing the doorbell; need is the descriptors a
// frame like it takes.
func (q *queue) fillLocked(b *skb.Buff) (v e1000x.TxVerdict, need int) {
	d, tx := q.d, q.tx
	if b.CsumPartial || b.GSOSize > 0 {
		return q.fillOffloadLocked(b)
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
		q.cleanTxLocked()
	}
	if !d.running.Load() || tx.Unused() < need {
		return e1000x.TxBusy, need
	}
	if q.txInPlace.Fill(tx, b, bufSize) {
		return e1000x.TxKept, need
	}
	tx.SetNextToUse(e1000x.FillLegacy(tx, b.Data(), bufSize, b.VlanTCI, b.VlanPresent))
	return e1000x.TxFilled, need
}

// fillOffloadLocked fills a packet whose checksum, and for TSO whose
// segmentation, the device does: a context descriptor, then data
// descriptors over bufSize-byte pieces.
func (q *queue) fillOffloadLocked(b *skb.Buff) (v e1000x.TxVerdict, need int) {
	d, tx := q.d, q.tx
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
		q.cleanTxLocked()
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

// txBatch bounds the frames filled behind the doorbell.
const txBatch = 32

// doorbellLocked ends a frame: TDT waits for the batch's last frame when
// the core says more follow (netdev_xmit_more).
func (q *queue) doorbellLocked() {
	q.txPending++
	if q.d.Dev.XmitMore() && q.txPending < txBatch {
		return
	}
	q.flushTxLocked()
}

// flushTxLocked writes TDT if descriptors wait behind it. The store is a
// full barrier: descriptors and buffers are visible before the device
// reads TDT.
func (q *queue) flushTxLocked() {
	if q.txPending == 0 {
		return
	}
	q.txPending = 0
	q.txr.Mark(q.tx)
	q.d.Counters.TxDoorbells.Add(1)
	q.d.r.Write(qreg(regTDT, q.idx), uint32(q.tx.NextToUse()))
}

// FlushXmit implements netcore.TxFlusher: the core promised more frames
// and has none after all.
func (d *Driver) FlushXmit() {
	for _, q := range d.q {
		q.txMu.Lock()
		q.flushTxLocked()
		q.txMu.Unlock()
	}
}

// stopQueueLocked stops the device's queue on a full ring and unmasks the
// ring's completion cause, which will wake it; then looks again, since
// the device may have sent meanwhile.
func (q *queue) stopQueueLocked() {
	d := q.d
	q.flushTxLocked()
	d.Dev.NetifStopQueue()
	q.stopped = true
	if d.running.Load() && !d.cfg.BusyPoll {
		if d.hw.MSIX {
			d.r.Write(regIMS, icrTXQ(q.idx))
		} else {
			d.r.Write(regIMS, icr_TXDW)
		}
	}
	q.cleanTxLocked()
}

// cleanTxLocked reclaims sent descriptors (e1000_clean_tx_irq) and wakes
// the device's queue when this ring stopped it and has room again.
func (q *queue) cleanTxLocked() int {
	tx := q.tx
	from := tx.NextToClean()
	n := q.txr.Reclaim(tx)
	q.txInPlace.Free(from, n)
	d := q.d
	if q.stopped && d.running.Load() && tx.Unused() >= min(txWakeThreshold, tx.Count()/2) {
		q.stopped = false
		d.Counters.TxRestarts.Add(1)
		d.Dev.NetifWakeQueue()
	}
	return n
}
