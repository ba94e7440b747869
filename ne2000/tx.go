package ne2000

import (
	"errors"

	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/skb"
)

// The transmit path (ei_start_xmit, ei_tx_intr): frames copied into the
// ping-pong transmit buffers in card memory and started with TXP.

// StartXmit implements netcore.DeviceOps (ei_start_xmit): copy the frame
// into a free transmit buffer in card memory; start the transmitter if it
// is idle. With both buffers taken the queue stops (the seeds' tbusy).
func (d *Driver) StartXmit(b *skb.Buff) netcore.TxStatus {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := b.Len()
	if n > 1514 {
		d.Dev.Stats.TxDropped.Add(1)
		b.Free()
		return netcore.TxOK
	}
	slot := d.freeTxLocked()
	if slot < 0 && d.reclaimTxLocked() {
		slot = d.freeTxLocked()
	}
	if slot < 0 || !d.running.Load() {
		d.Dev.NetifStopQueue()
		d.setTxIRQLocked(true)
		return netcore.TxBusy
	}
	// Pad with zeros to the Ethernet minimum and to the access width: in
	// the skb's own tailroom where the buffer is not shared, else in a
	// copy.
	send := max(n, minFrame)
	wlen := (send + d.cfg.IOWidth - 1) &^ (d.cfg.IOWidth - 1)
	frame := b.Data()
	if pad := wlen - n; pad > 0 {
		if !b.Cloned() && b.Tailroom() >= pad {
			clear(b.Put(pad))
			frame = b.Data()
		} else {
			frame = d.txFrame[:wlen]
			clear(frame[copy(frame, b.Data()):])
		}
	}
	isr, err := d.writeMemLocked(uint16(d.tx[slot].page)<<8, frame)
	b.Free()
	if err != nil {
		d.Dev.Stats.TxErrors.Add(1)
		d.log.Warn("ne2000: transmit copy failed", "dev", d.Dev.Name, "err", err)
		return netcore.TxOK
	}
	d.tx[slot].len = send
	d.tx[slot].ready = true
	if d.txing < 0 {
		d.triggerLocked(slot)
	} else {
		// The ISR read that saw the copy done may say the frame being
		// sent has gone too: its completion starts this one, without
		// reading ISR again.
		d.reclaimFromISRLocked(isr)
	}
	if d.freeTxLocked() < 0 && !d.reclaimTxLocked() {
		d.Dev.NetifStopQueue()
		d.setTxIRQLocked(true)
	}
	return netcore.TxOK
}

// freeTxLocked is a free transmit buffer, -1 if both are in use.
func (d *Driver) freeTxLocked() int {
	for i := range d.tx {
		if d.tx[i].len == 0 {
			return i
		}
	}
	return -1
}

// reclaimTxLocked takes a finished transmission from the transmit path:
// the card sets ISR.PTX (or TXE) when it is done, and looking here, as a
// NIC driver's xmit reclaims completed descriptors, lets the next frame go
// without the interrupt's round trip (through VFIO an eventfd, a thread
// and an unmask ioctl). The interrupt that follows finds nothing to do.
func (d *Driver) reclaimTxLocked() bool {
	if !d.running.Load() || d.txing < 0 {
		return false
	}
	isr, err := d.p.in(regISR)
	return err == nil && d.reclaimFromISRLocked(isr)
}

// reclaimFromISRLocked takes the finished transmission an ISR value
// read in the transmit path shows, if it shows one.
func (d *Driver) reclaimFromISRLocked(isr uint8) bool {
	if !d.running.Load() || d.txing < 0 || isr&(isr_PTX|isr_TXE) == 0 {
		return false
	}
	d.Counters.TxReclaimed.Add(1)
	d.txDoneLocked(isr&isr_PTX == 0)
	return true
}

// triggerLocked starts sending buffer i (NS8390_trigger_send).
// TBCR is written only where it changes (a run of full-size frames writes
// it once).
func (d *Driver) triggerLocked(i int) {
	t := &d.tx[i]
	p := d.p
	d.cleanCRLocked()
	p.out(regTPSR, t.page)
	var err error
	if d.tbcr < 0 || d.tbcr&0xff != t.len&0xff {
		err = p.out(regTBCR0, uint8(t.len))
	}
	if d.tbcr < 0 || d.tbcr>>8 != t.len>>8 {
		err = errors.Join(err, p.out(regTBCR1, uint8(t.len>>8)))
	}
	d.tbcr = t.len
	if err != nil {
		d.tbcr = -1 // not known to hold it: write both next time
	}
	p.out(regCR, cr_PAGE0|cr_RD_ABORT|cr_STA|cr_TXP)
	t.ready = false
	d.txing = i
}

// txDoneLocked is ei_tx_intr / ei_tx_err: free the buffer that was sent,
// start the other if it waits, wake the queue.
func (d *Driver) txDoneLocked(failed bool) {
	p := d.p
	tsr, _ := p.in(regTSR)
	if failed {
		d.Counters.TxErrors.Add(1)
		d.Dev.Stats.TxErrors.Add(1)
		if tsr&tsr_ABT != 0 {
			d.Dev.Stats.TxAbortedErrors.Add(1)
		}
		if tsr&tsr_FU != 0 {
			d.Dev.Stats.TxFIFOErrors.Add(1)
		}
		if tsr&tsr_CRS != 0 {
			d.Dev.Stats.TxCarrierErrors.Add(1)
		}
		d.ackLocked(isr_TXE)
	} else {
		if tsr&tsr_COL != 0 {
			d.Dev.Stats.Collisions.Add(1)
		}
		d.ackLocked(isr_PTX)
	}
	if d.txing >= 0 {
		d.tx[d.txing].len = 0
		d.txing = -1
	}
	for i := range d.tx {
		if d.tx[i].ready {
			d.triggerLocked(i)
			break
		}
	}
	if d.running.Load() {
		d.setTxIRQLocked(false)
		d.Dev.NetifWakeQueue()
	}
}
