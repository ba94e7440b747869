package netcore

import (
	"errors"
	"runtime"
	"time"

	"github.com/ringonet/ringo/netcore/skb"
)

// The transmit path (net/core/dev.c's dev_queue_xmit side): the qdisc
// run that hands frames to the driver, with the doorbell hint, and the
// sender's yield.

// ErrDeviceDown and ErrQueueFull are DevQueueXmit's failures.
var (
	ErrDeviceDown = errors.New("netcore: device down")
	ErrQueueFull  = errors.New("netcore: qdisc full")
)

// DevQueueXmit sends a frame (dev_queue_xmit): b holds the whole Ethernet
// frame and b.Dev the *Device. The frame goes through the device's qdisc
// and, as far as the queue is running, straight to the driver. The core
// owns b after the call, sent or dropped; the error says which. Any
// context.
func DevQueueXmit(b *skb.Buff) error {
	d, _ := b.Dev.(*Device)
	if d == nil {
		b.Free()
		return errors.New("netcore: xmit: skb has no device")
	}
	if !d.IsUp() {
		d.Stats.TxDropped.Add(1)
		b.Free()
		return ErrDeviceDown
	}
	if h := d.egress.Load(); h != nil && !b.Hooked && (*h)(b) {
		return nil
	}
	b.Hooked = false
	if !d.qdisc.Enqueue(b) {
		d.Stats.TxDropped.Add(1)
		b.Free()
		return ErrQueueFull
	}
	if !d.IsUp() {
		// Down ran between the look above and the enqueue, and has
		// purged the qdisc already: purge it again, or b would wait
		// there for the next Up (or for ever).
		d.qdisc.Reset()
		d.Stats.TxDropped.Add(1)
		return ErrDeviceDown
	}
	d.qdiscRun()
	if d.xmitCalls.Add(1)%xmitYieldCheck == 0 {
		d.maybeYield()
	}
	return nil
}

// DevQueueXmitBurst sends frames of one device as DevQueueXmit does each,
// but hands them to the driver back to back, so it rings its doorbell
// once for the batch (a pktgen burst, a DPDK tx_burst). When the qdisc is
// empty and the queue running, the frames go straight to the driver
// (Linux's TCQ_F_CAN_BYPASS, sch_direct_xmit); what the driver cannot
// take waits in the qdisc. It returns how many were taken; the core owns
// every frame after the call, the others dropped and freed, and the
// slice's contents are the core's to reorder.
func DevQueueXmitBurst(bs []*skb.Buff) (int, error) {
	if len(bs) == 0 {
		return 0, nil
	}
	d, _ := bs[0].Dev.(*Device)
	if d == nil {
		for _, b := range bs {
			b.Free()
		}
		return 0, errors.New("netcore: xmit burst: skb has no device")
	}
	// Keep the frames that may go, in order, at the front of bs.
	var err error
	k, taken := 0, 0
	for _, b := range bs {
		switch {
		case devOf(b) != d: // a type assertion, not an interface comparison: per frame
			err = errors.New("netcore: xmit burst: frames for two devices")
			b.Free()
		case d.egress.Load() != nil && !b.Hooked:
			// A hook (netem's place) sees each frame: the single path.
			if e := DevQueueXmit(b); e == nil {
				taken++
			} else {
				err = e
			}
		case !d.IsUp():
			err = ErrDeviceDown
			d.Stats.TxDropped.Add(1)
			b.Free()
		default:
			b.Hooked = false
			bs[k] = b
			k++
		}
	}
	sent := 0
	if k > 0 && d.qdisc.Len() == 0 && !d.txStopped.Load() && d.qdiscBusy.CompareAndSwap(false, true) {
		switch {
		case d.qdisc.Len() != 0: // frames queued before these: they go first
		case d.burst != nil && len(*d.core.ptypeAll.Load()) == 0:
			sent = d.xmitBurst(bs[:k])
		default:
			for sent < k && !d.txStopped.Load() {
				d.xmitMore.Store(sent+1 < k)
				ok := d.xmitOne(bs[sent])
				sent++ // taken, or requeued by xmitOne at the qdisc's head
				if !ok {
					break
				}
			}
			d.endBatch()
		}
		d.qdiscBusy.Store(false)
	}
	taken += sent
	for _, b := range bs[sent:k] {
		if d.qdisc.Enqueue(b) {
			taken++
			continue
		}
		err = ErrQueueFull
		d.Stats.TxDropped.Add(1)
		b.Free()
	}
	if !d.IsUp() {
		d.qdisc.Reset() // as DevQueueXmit: Down may have purged before the enqueue
		return taken, ErrDeviceDown
	}
	d.qdiscRun()
	if d.xmitCalls.Add(1)%xmitYieldCheck == 0 {
		d.maybeYield()
	}
	return taken, err
}

// endBatch ends a run of frames to the driver: if the last went with
// more promised (the qdisc emptied under the run, or the queue stopped),
// the driver rings its doorbell now.
func (d *Device) endBatch() {
	if d.xmitMore.Load() {
		d.xmitMore.Store(false)
		if f, ok := d.ops.(TxFlusher); ok {
			f.FlushXmit()
		}
	}
}

func devOf(b *skb.Buff) *Device {
	d, _ := b.Dev.(*Device)
	return d
}

// The sender yields the processor at most every Config.XmitYield, looked
// at every xmitYieldCheck frames. Linux's dev_queue_xmit ends in
// local_bh_enable, which runs any softirq raised meanwhile, and a hardirq
// preempts the sender whenever it comes, so a sender cannot starve its
// own receive path. Ringo's interrupts and softirqs are goroutines, and a
// sender whose driver never blocks (the NE2000 with direct port I/O
// completes each frame at once) keeps the processor: with GOMAXPROCS=1
// until the Go scheduler's 10 ms preemption, long enough for a receive
// ring to fill and the device to drop. So the sender first serves any
// interrupt that fired (Core.SetIRQPoll) and then lets the softirqs it
// raised run (Gosched). Neither is free (a system call per line; a few
// microseconds when another processor is idle and a thread is woken to
// take the goroutine), so it goes by time, not by count.
const xmitYieldCheck = 8

// monoStart anchors the monotonic clock the yield reads.
var monoStart = time.Now()

func (d *Device) maybeYield() {
	now := int64(time.Since(monoStart))
	if last := d.lastYield.Load(); now-last < int64(d.core.cfg.XmitYield) || !d.lastYield.CompareAndSwap(last, now) {
		return
	}
	d.core.pollIRQs()
	runtime.Gosched()
}

// qdiscRun is __qdisc_run: one goroutine at a time dequeues and hands
// frames to the driver, DefaultTxWeight at most before it defers the rest
// to NET_TX. A stopped queue leaves frames in the qdisc; the wake restarts
// it. The running flag is re-checked after it is dropped so a frame queued
// in between is not stranded. Each frame goes with XmitMore saying
// whether another follows in this run, so a driver can ring its doorbell
// once per batch.
func (d *Device) qdiscRun() {
	for d.qdisc.Len() > 0 && d.qdiscBusy.CompareAndSwap(false, true) {
		quota := DefaultTxWeight
		for quota > 0 && !d.txStopped.Load() {
			b := d.qdisc.Dequeue()
			if b == nil {
				break
			}
			d.xmitMore.Store(quota > 1 && d.qdisc.Len() > 0)
			if !d.xmitOne(b) {
				break
			}
			quota--
		}
		d.endBatch()
		d.qdiscBusy.Store(false)
		if quota == 0 {
			if d.qdisc.Len() > 0 && !d.txStopped.Load() {
				d.netifSchedule()
			}
			return
		}
		if d.txStopped.Load() {
			return
		}
	}
}

// XmitMore reports, to a driver inside StartXmit, whether the core has
// another frame for it right after this one (netdev_xmit_more): the
// driver may leave the doorbell (the e1000's TDT) for the last of them.
func (d *Device) XmitMore() bool { return d.xmitMore.Load() }

// xmitOne is dev_hard_start_xmit for one frame: taps, then the driver. It
// reports false if the driver was busy (the frame is requeued).
func (d *Device) xmitOne(b *skb.Buff) bool {
	if taps := *d.core.ptypeAll.Load(); len(taps) > 0 {
		now := time.Now()
		for _, t := range taps {
			t.Func(d, b.Data(), skb.PacketOutgoing, now)
		}
	}
	n := b.Len()
	switch d.ops.StartXmit(b) {
	case TxOK:
		d.Stats.TxPackets.Add(1)
		d.Stats.TxBytes.Add(uint64(n))
		return true
	default:
		if !d.txStopped.Load() {
			d.core.log.Warn("netcore: driver busy with its queue awake", "dev", d.Name)
			d.NetifStopQueue()
		}
		d.qdisc.Requeue(b)
		return false
	}
}

// xmitBurst is dev_hard_start_xmit for a burst to a BurstXmitter: what
// the driver takes is counted once, and what it leaves (its ring full,
// the queue stopped — or woken again by the clean that stopping does)
// stays in the caller's slice after them, for the qdisc.
func (d *Device) xmitBurst(bs []*skb.Buff) int {
	bytes := 0
	for _, b := range bs {
		bytes += b.Len()
	}
	n := d.burst.StartXmitBurst(bs)
	for _, b := range bs[n:] {
		bytes -= b.Len()
	}
	d.Stats.TxPackets.Add(uint64(n))
	d.Stats.TxBytes.Add(uint64(bytes))
	return n
}
