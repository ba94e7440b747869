package e1000e

import (
	"encoding/binary"
	"sync"
	"sync/atomic"

	"github.com/ringonet/ringo/descring"
	"github.com/ringonet/ringo/internal/e1000x"
	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/skb"
)

// queue is one queue pair: an RX and a TX ring, the NAPI instance that
// polls both on the pair's softnet, and the pair's interrupt rate. The
// NAPI poll owns the RX ring and the rate; the TX ring is shared by the
// transmit path and the poll's cleaning under txMu.
type queue struct {
	d      *Driver
	idx    int
	rx, tx *descring.Ring
	txr    *e1000x.TxReport // where TX status is asked for; txMu guards it
	// txInPlace keeps the skbs sent from the TX arena until the device
	// has read them; txMu guards it.
	txInPlace *e1000x.TxInPlace
	// rxInPlace is the receive ring's arena areas; the queue's NAPI poll
	// (and setupRx, while it cannot run) owns it.
	rxInPlace *e1000x.RxInPlace
	napi      *netcore.NAPI

	itr    e1000x.ITR
	itrNow atomic.Int64

	chain e1000x.RxChain // a jumbo frame being gathered (the poll's)

	txMu      sync.Mutex
	txPending int  // descriptors filled since TDT was written
	stopped   bool // this ring stopped the device's queue

	irqs               atomic.Uint64 // interrupts that scheduled the pair's NAPI
	rxPackets, rxBytes atomic.Uint64
	txPackets, txBytes atomic.Uint64
}

// setupRx gives the ring to the device (e1000_configure_rx, per queue):
// every descriptor in the read format, base, length, head.
func (q *queue) setupRx() {
	r, rx := q.d.r, q.rx
	rx.Reset()
	q.chain.Reset()
	for i := 0; i < rx.Count(); i++ {
		q.armRx(i)
	}
	r.Write(qreg(regRDBAL, q.idx), uint32(rx.IOVA()))
	r.Write(qreg(regRDBAH, q.idx), uint32(rx.IOVA()>>32))
	r.Write(qreg(regRDLEN, q.idx), uint32(rx.Bytes()))
	r.Write(qreg(regRDH, q.idx), 0)
	r.Write(qreg(regRDT, q.idx), 0)
}

// postRx hands the device every descriptor but one, after RCTL.EN.
func (q *queue) postRx() {
	q.rx.SetNextToUse(q.rx.Count() - 1)
	q.d.r.Write(qreg(regRDT, q.idx), uint32(q.rx.Count()-1))
}

// armRx puts descriptor i back in the read format: the buffer address,
// and the write-back half zeroed so a stale DD is never seen.
func (q *queue) armRx(i int) {
	desc := q.rx.Desc(i)
	binary.LittleEndian.PutUint64(desc[rxdAddr:], q.rxInPlace.Post(i, q.rx.Buf(i)))
	e1000x.StoreWord(desc, rxdLenVlan, 0)
	e1000x.StoreWord(desc, rxdStatusErr, 0)
}

func (q *queue) rxReady() bool {
	return e1000x.LoadWord(q.rx.Desc(q.rx.NextToClean()), rxdStatusErr)&rxdStat_DD != 0
}

// poll is the pair's NAPI poll (e1000e_poll): TX completions, then RX up
// to the budget. Less than the budget: complete and unmask the pair's
// causes (with one vector, every cause).
func (q *queue) poll(budget int) int {
	q.txMu.Lock()
	q.cleanTxLocked()
	stopped := q.stopped
	q.txMu.Unlock()
	work := q.cleanRx(budget)
	if work < budget {
		q.adaptITR()
		d := q.d
		if q.napi.Complete() && !d.cfg.BusyPoll && d.running.Load() {
			d.r.Write(regIMS, q.imsOnComplete(stopped))
		}
	}
	return work
}

// imsOnComplete is what a completed poll unmasks: its RX cause, and its TX
// cause while its ring holds the device's queue stopped (as the poll's
// cleaning left it; a ring that stops later unmasks its cause itself,
// in stopQueueLocked).
func (q *queue) imsOnComplete(stopped bool) uint32 {
	d := q.d
	if !d.hw.MSIX {
		ims := uint32(imsLegacy)
		if d.Dev.NetifQueueStopped() {
			ims |= icr_TXDW
		}
		return ims
	}
	ims := icrRXQ(q.idx)
	if stopped {
		ims |= icrTXQ(q.idx)
	}
	return ims
}

// intrRx is the MSI-X handler of the pair's RX vector (e1000_intr_msix_rx):
// the cause cleared and masked itself as the vector fired (EIAC), so only
// NAPI is left to schedule.
func (q *queue) intrRx() bool {
	q.irqs.Add(1)
	q.napi.Schedule()
	return true
}

// intrTx is the handler of the pair's TX vector, unmasked only while its
// ring is full: the poll reclaims what was sent and wakes the queue.
func (q *queue) intrTx() bool {
	q.irqs.Add(1)
	q.napi.Schedule()
	return true
}

// cleanRx takes received frames (e1000_clean_rx_irq_extended... Linux's
// e1000_clean_rx_irq with extended descriptors). Every value the device
// wrote is checked: a length past the buffer or below a header, a frame
// without EOP, an error bit: each is dropped and counted, and the
// descriptor goes back to the device.
func (q *queue) cleanRx(budget int) int {
	d, rx := q.d, q.rx
	i := rx.NextToClean()
	work := 0
	jumbo, rxErrs := d.filter.LPE(), d.rxErrors()
	for work < budget {
		desc := rx.Desc(i)
		se := e1000x.LoadWord(desc, rxdStatusErr)
		if se&rxdStat_DD == 0 {
			break
		}
		work++
		length := int(binary.LittleEndian.Uint16(desc[rxdLenVlan:]))
		vlan := binary.LittleEndian.Uint16(desc[rxdLenVlan+2:])
		mrq, hash := binary.LittleEndian.Uint32(desc[rxdMRQ:]), binary.LittleEndian.Uint32(desc[rxdRSSHash:])
		frame, gathered := q.chain.Take(q.rxInPlace.Buf(i, rx.Buf(i).Buf), length, se&rxdStat_EOP != 0,
			se&rxdErrFrame != 0, se&rxdErr_CE != 0, jumbo, &d.Dev.Stats, rxErrs)
		switch {
		case frame != nil:
			if b := q.rxInPlace.Take(i, len(frame)); b != nil {
				q.deliver(b, se, mrq, hash, vlan)
			} else {
				q.receive(frame, se, mrq, hash, vlan)
			}
			q.itr.Received(length)
		case gathered != nil:
			q.itr.Received(gathered.Len())
			q.deliver(gathered, se, mrq, hash, vlan)
		}
		q.armRx(i)
		i = rx.Next(i)
		if work%rxBufferWrite == 0 {
			q.returnRx(i)
		}
	}
	if work%rxBufferWrite != 0 {
		q.returnRx(i)
	}
	q.rxInPlace.Flush()
	return work
}

// rxBufferWrite is how many cleaned descriptors go back to the device per
// tail write (E1000_RX_BUFFER_WRITE).
const rxBufferWrite = 16

// returnRx gives the descriptors before next back to the device: RDT one
// behind it, never equal to RDH.
func (q *queue) returnRx(next int) {
	rx := q.rx
	rx.SetNextToClean(next)
	tail := (next - 1) & (rx.Count() - 1)
	rx.SetNextToUse(tail)
	q.d.r.Write(qreg(regRDT, q.idx), uint32(tail))
}

// receive copies a frame out of its DMA buffer into an skb with what the
// device found: the checksum verdict (e1000_rx_checksum) and the RSS hash
// (e1000_rx_hash), and hands it up through GRO.
func (q *queue) receive(frame []byte, se, mrq, hash uint32, vlan uint16) {
	b := skb.Alloc(len(frame))
	if b == nil {
		q.d.Dev.Stats.RxDropped.Add(1)
		return
	}
	copy(b.Put(len(frame)), frame)
	q.deliver(b, se, mrq, hash, vlan)
}

// deliver hands a received frame up (a jumbo one gathered from several
// descriptors carries the last descriptor's verdicts, as the part writes
// them there).
func (q *queue) deliver(b *skb.Buff, se, mrq, hash uint32, vlan uint16) {
	d := q.d
	if !d.Dev.EthTypeTrans(b) {
		d.Dev.Stats.RxLengthErrors.Add(1)
		b.Free()
		return
	}
	q.rxPackets.Add(1)
	q.rxBytes.Add(uint64(b.Len() + 14))
	if se&rxdStat_VP != 0 {
		// The part took the 802.1Q tag off (CTRL.VME): the TCI is in
		// the descriptor (e1000_receive_skb's __vlan_hwaccel_put_tag).
		b.VlanTCI, b.VlanPresent = vlan, true
	}
	if !d.cfg.NoRxCsum {
		if se&(rxdStat_TCPCS|rxdStat_UDPCS) != 0 {
			// A bad sum is left for the stack to find, count and
			// drop, as Linux leaves CHECKSUM_NONE.
			if se&rxdErr_TCPE != 0 {
				d.Counters.RxCsumBad.Add(1)
			} else {
				b.CsumValid = true
				d.Counters.RxCsumGood.Add(1)
			}
		}
		if se&rxdStat_IPCS != 0 && se&rxdErr_IPE != 0 {
			d.Counters.RxIPCsumBad.Add(1)
		}
	}
	if len(d.q) > 1 && mrq&rxdMRQTypeMask != 0 {
		b.Hash = hash
		d.Counters.RxHashed.Add(1)
	}
	q.napi.GROReceive(b)
}

// startITR sets the pair's interrupt rate at bring-up: EITR of its
// vectors with MSI-X, ITR with one vector.
func (q *queue) startITR() {
	d := q.d
	rate := d.cfg.InterruptRate
	switch {
	case rate > 0:
	case rate == 0 && !d.cfg.BusyPoll:
		rate = q.itr.Reset()
	default:
		rate = 0
	}
	q.writeITR(rate)
	if d.hw.MSIX && q.idx == 0 {
		d.r.Write(regEITR0+4*VectorOther, e1000x.Register(e1000x.ITRRateBulk))
	}
}

// writeITR sets the pair's rate limit (0: none).
func (q *queue) writeITR(rate int) {
	d := q.d
	var v uint32
	if rate > 0 {
		v = e1000x.Register(rate)
	}
	q.itrNow.Store(int64(rate))
	if !d.hw.MSIX {
		d.r.Write(regITR, v)
		return
	}
	d.r.Write(regEITR0+4*uint32(VectorRx0+q.idx), v)
	d.r.Write(regEITR0+4*uint32(VectorTx0+q.idx), v)
}

// adaptITR is the adaptive rate where a poll completes (e1000e's
// e1000_set_itr, per vector as its MSI-X mode does it).
func (q *queue) adaptITR() {
	rate, changed := q.itr.Adapt()
	if !changed || q.d.cfg.InterruptRate != 0 || q.d.cfg.BusyPoll {
		return
	}
	q.writeITR(rate)
	q.d.Counters.ITRUpdates.Add(1)
}
