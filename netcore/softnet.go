package netcore

import (
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringonet/ringo/netcore/skb"
)

// Softirq bits.
const (
	netTxSoftirq = 1 << 0
	netRxSoftirq = 1 << 1
	// netBarrier releases Quiesce's waiters once the softirqs raised
	// before it have run.
	netBarrier = 1 << 2
)

// Softnet is one CPU's softnet_data: its backlog, its poll list and its
// output queue, served by one goroutine locked to an OS thread.
type Softnet struct {
	core *Core
	cpu  int

	// mu guards the input_pkt_queue, the poll list, the output queue and
	// the backlog NAPI's state. Producers (hardirq, other CPUs via RPS,
	// drivers scheduling NAPI) take it briefly; the softnet goroutine takes
	// it to splice lists.
	mu            sync.Mutex
	inputPktQueue *skb.Queue
	pollHead      *NAPI
	pollTail      *NAPI
	outputHead    *Device
	outputTail    *Device
	barriers      []chan struct{} // Quiesce's waiters

	// processQueue is owned by the softnet goroutine alone.
	processQueue *skb.Queue
	backlog      NAPI

	pending atomic.Uint32 // raised softirqs
	wake    chan struct{}

	// Counters, as the columns of /proc/net/softnet_stat.
	processed   atomic.Uint64 // packets through __netif_receive_skb
	dropped     atomic.Uint64 // backlog full
	timeSqueeze atomic.Uint64 // net_rx_action ran out of budget or time with work left
	receivedRPS atomic.Uint64 // packets steered here from another CPU
	backlogLen  atomic.Int64  // packets in input_pkt_queue and process_queue
	rxActions   atomic.Uint64 // net_rx_action runs
	txActions   atomic.Uint64 // net_tx_action runs
}

func newSoftnet(c *Core, cpu int) *Softnet {
	sd := &Softnet{
		core:          c,
		cpu:           cpu,
		inputPktQueue: skb.NewQueue(c.cfg.MaxBacklog),
		processQueue:  skb.NewQueue(c.cfg.MaxBacklog),
		wake:          make(chan struct{}, 1),
	}
	sd.backlog = NAPI{weight: c.cfg.DevWeight, sd: sd, backlog: true}
	sd.backlog.poll = sd.processBacklog
	return sd
}

// CPU is the softnet's index.
func (sd *Softnet) CPU() int { return sd.cpu }

// raise marks softirqs pending and wakes the goroutine (raise_softirq).
// Each 0->1 transition of a bit sends one wake-up, so none is lost.
func (sd *Softnet) raise(bits uint32) {
	if sd.pending.Or(bits)&bits != bits {
		select {
		case sd.wake <- struct{}{}:
		default:
		}
	}
}

func (sd *Softnet) run() {
	defer sd.core.wg.Done()
	// Only a pinned softnet keeps an OS thread of its own. Unpinned, it
	// runs on whatever thread the Go scheduler has, so handing the
	// processor to it (from the interrupt goroutine that raised NET_RX, or
	// a sender that yields) is a goroutine switch, not a futex wake-up of
	// another thread and a kernel context switch; with one CPU that was
	// most of what a busy-poll run spent.
	if sd.core.cfg.PinCPUs {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := pinThread(sd.cpu); err != nil {
			sd.core.log.Warn("softnet: cannot pin thread", "cpu", sd.cpu, "err", err)
		}
	}
	for {
		select {
		case <-sd.core.stop:
			return
		case <-sd.wake:
		}
		for p := sd.pending.Swap(0); p != 0; p = sd.pending.Swap(0) {
			if p&netTxSoftirq != 0 {
				sd.netTxAction()
			}
			if p&netRxSoftirq != 0 {
				if sd.netRxAction() {
					// Squeezed: serve the interrupts that fired
					// meanwhile and let other goroutines (the
					// senders) run before the next round, as
					// ksoftirqd yields.
					sd.core.pollIRQs()
					runtime.Gosched()
				}
			}
			if p&netBarrier != 0 {
				sd.releaseBarriers()
			}
			select {
			case <-sd.core.stop:
				return
			default:
			}
		}
	}
}

// barrier returns a channel closed once this softnet has run every
// softirq raised before the call.
func (sd *Softnet) barrier() <-chan struct{} {
	ch := make(chan struct{})
	sd.mu.Lock()
	sd.barriers = append(sd.barriers, ch)
	sd.mu.Unlock()
	sd.raise(netBarrier)
	return ch
}

func (sd *Softnet) releaseBarriers() {
	sd.mu.Lock()
	bs := sd.barriers
	sd.barriers = nil
	sd.mu.Unlock()
	for _, ch := range bs {
		close(ch)
	}
}

// idle reports whether nothing waits on this softnet: no packet in the
// backlog, no NAPI on the poll list, no device on the output queue, no
// softirq raised but the barrier.
func (sd *Softnet) idle() bool {
	sd.mu.Lock()
	defer sd.mu.Unlock()
	return sd.pollHead == nil && sd.outputHead == nil && sd.backlogLen.Load() == 0 &&
		sd.pending.Load()&^netBarrier == 0
}

// work counts what this softnet has done: Quiesce compares it across a
// barrier round.
func (sd *Softnet) work() uint64 {
	return sd.processed.Load() + sd.rxActions.Load() + sd.txActions.Load() + sd.dropped.Load()
}

// netRxAction is net_rx_action: poll the devices on the poll list, each up
// to its weight, until the list is empty, the budget is spent or the time
// limit passes. It reports whether it was squeezed.
func (sd *Softnet) netRxAction() (squeezed bool) {
	sd.rxActions.Add(1)
	limit := time.Now().Add(sd.core.cfg.BudgetUsecs)
	budget := sd.core.cfg.Budget

	sd.mu.Lock()
	list := napiList{sd.pollHead, sd.pollTail}
	sd.pollHead, sd.pollTail = nil, nil
	sd.mu.Unlock()

	var repoll napiList
	for {
		n := list.pop()
		if n == nil {
			break
		}
		budget -= sd.napiPoll(n, &repoll)
		if budget <= 0 || !time.Now().Before(limit) {
			sd.timeSqueeze.Add(1)
			squeezed = true
			break
		}
	}
	if fns := sd.core.rxFlush.Load(); fns != nil {
		for _, fn := range *fns {
			fn()
		}
	}

	// What is left goes first, then what was scheduled meanwhile, then the
	// devices that used their whole weight: they wait their turn.
	sd.mu.Lock()
	list.append(napiList{sd.pollHead, sd.pollTail})
	list.append(repoll)
	sd.pollHead, sd.pollTail = list.head, list.tail
	more := sd.pollHead != nil
	sd.mu.Unlock()
	if more {
		sd.raise(netRxSoftirq)
	}
	return squeezed
}

// napiPoll polls one NAPI instance. A poll that used its whole weight still
// owns the device: it goes on repoll, unless it is being disabled.
func (sd *Softnet) napiPoll(n *NAPI, repoll *napiList) int {
	work := n.poll(n.weight)
	n.polls.Add(1)
	if n.gro.Len() > 0 {
		// napi_gro_flush: what the poll held goes up before anything
		// else runs, so GRO adds no latency past the poll.
		n.gro.Flush(n.deliver)
	}
	if work > n.weight {
		sd.core.log.Error("netcore: NAPI poll exceeded its weight", "dev", n.devName(), "work", work, "weight", n.weight)
		work = n.weight
	}
	if work < n.weight {
		// The driver completed (or must have): it is off the list.
		// A poll that did less than its weight and did not complete leaves
		// the instance scheduled but on no list: nothing would poll it
		// again. Count the driver bug loudly rather than hang silently.
		if n.state.Load()&napiSched != 0 && !n.onList.Load() {
			if n.misuse.Add(1) == 1 {
				sd.core.log.Error("netcore: NAPI poll returned less than its weight without completing", "dev", n.devName())
			}
		}
		return work
	}
	if n.state.Load()&napiDisable != 0 {
		n.Complete()
		return work
	}
	repoll.push(n)
	return work
}

// netTxAction is net_tx_action: restart the qdiscs of devices whose queues
// were woken or whose qdisc has more to send.
func (sd *Softnet) netTxAction() {
	sd.txActions.Add(1)
	sd.mu.Lock()
	d := sd.outputHead
	sd.outputHead, sd.outputTail = nil, nil
	sd.mu.Unlock()
	for d != nil {
		next := d.txNext
		d.txNext = nil
		d.txScheduled.Store(false)
		d.qdiscRun()
		d = next
	}
}

// netifSchedule puts the device on this softnet's output queue and raises
// NET_TX (__netif_schedule).
func (sd *Softnet) netifSchedule(d *Device) {
	if d.txScheduled.Swap(true) {
		return
	}
	sd.mu.Lock()
	if sd.outputTail == nil {
		sd.outputHead = d
	} else {
		sd.outputTail.txNext = d
	}
	sd.outputTail = d
	sd.mu.Unlock()
	sd.raise(netTxSoftirq)
}

// enqueueToBacklog queues a packet on this CPU's input_pkt_queue
// (enqueue_to_backlog). At the bound the packet is dropped and counted.
func (sd *Softnet) enqueueToBacklog(b *skb.Buff, dev *Device) bool {
	sd.mu.Lock()
	if !sd.inputPktQueue.Push(b) {
		sd.mu.Unlock()
		sd.dropped.Add(1)
		dev.Stats.RxDropped.Add(1)
		b.Free()
		return false
	}
	sd.backlogLen.Add(1)
	sched := sd.backlog.state.Load()&napiSched == 0
	if sched {
		sd.backlog.state.Store(napiSched)
		sd.pollAddLocked(&sd.backlog)
	}
	sd.mu.Unlock()
	if sched {
		sd.raise(netRxSoftirq)
	}
	return true
}

// processBacklog is the backlog's NAPI poll (process_backlog): drain the
// process queue, refill it from the input queue under the lock, and
// complete when both are empty.
func (sd *Softnet) processBacklog(quota int) int {
	work := 0
	for {
		for work < quota {
			b := sd.processQueue.Pop()
			if b == nil {
				break
			}
			sd.backlogLen.Add(-1)
			sd.netifReceiveSkb(b)
			work++
		}
		if work >= quota {
			return work
		}
		sd.mu.Lock()
		if sd.inputPktQueue.Len() == 0 {
			// Completed under the lock that enqueue takes, so a packet
			// queued now reschedules the backlog.
			sd.backlog.state.Store(0)
			sd.mu.Unlock()
			return work
		}
		for sd.processQueue.Len() < sd.processQueue.Cap() {
			b := sd.inputPktQueue.Pop()
			if b == nil {
				break
			}
			sd.processQueue.Push(b)
		}
		sd.mu.Unlock()
	}
}

// netifReceiveSkb is __netif_receive_skb: taps first, then the protocol
// handler for the ethertype. It runs in softirq context and owns b.
func (sd *Softnet) netifReceiveSkb(b *skb.Buff) {
	sd.processed.Add(1)
	dev, _ := b.Dev.(*Device)
	if dev == nil {
		b.Free()
		return
	}
another:
	if !b.Hooked {
		if taps := *sd.core.ptypeAll.Load(); len(taps) > 0 {
			frame := b.MACHeader()
			for _, t := range taps {
				t.Func(dev, frame, b.PktType, b.Stamp)
			}
		}
		if rx := dev.ingress.Load(); rx != nil && (*rx)(b) {
			return
		}
	}
	b.Hooked = false
	if b.VlanPresent && !dev.isVLAN() {
		// The NIC took the tag off (vlan_hwaccel): on to the VLAN
		// device, as vlan_do_receive does, or stay for a priority tag.
		to := vlanHWAccelReceive(dev, b)
		if to == nil {
			return
		}
		if to != dev {
			dev = to
			goto another
		}
	}
	if b.Protocol == EthP8021Q && !b.VlanPresent {
		// Another round on the VLAN device, taps included (Linux's
		// another_round after vlan_do_receive). One tag is taken off;
		// a second (QinQ) goes to its handler, if any.
		if dev = vlanReceive(dev, b); dev == nil {
			return
		}
		goto another
	}
	h := (*sd.core.ptypeBase.Load())[b.Protocol]
	if h == nil {
		dev.Stats.RxNoHandler.Add(1)
		b.Free()
		return
	}
	h(b)
}

// pollAddLocked appends n to the poll list; sd.mu is held.
func (sd *Softnet) pollAddLocked(n *NAPI) {
	n.next = nil
	n.onList.Store(true)
	if sd.pollTail == nil {
		sd.pollHead = n
	} else {
		sd.pollTail.next = n
	}
	sd.pollTail = n
}

func (sd *Softnet) purge() {
	sd.mu.Lock()
	sd.inputPktQueue.Purge()
	sd.mu.Unlock()
	sd.processQueue.Purge()
}

// SoftnetStat is one line of /proc/net/softnet_stat.
type SoftnetStat struct {
	CPU         int
	Processed   uint64
	Dropped     uint64
	TimeSqueeze uint64
	ReceivedRPS uint64
	BacklogLen  int
	RxActions   uint64
	TxActions   uint64
}

// Stat reads this softnet's counters.
func (sd *Softnet) Stat() SoftnetStat {
	return SoftnetStat{
		CPU:         sd.cpu,
		Processed:   sd.processed.Load(),
		Dropped:     sd.dropped.Load(),
		TimeSqueeze: sd.timeSqueeze.Load(),
		ReceivedRPS: sd.receivedRPS.Load(),
		BacklogLen:  int(sd.backlogLen.Load()),
		RxActions:   sd.rxActions.Load(),
		TxActions:   sd.txActions.Load(),
	}
}

// SoftnetStats reads every CPU's counters.
func (c *Core) SoftnetStats() []SoftnetStat {
	out := make([]SoftnetStat, len(c.cpus))
	for i, sd := range c.cpus {
		out[i] = sd.Stat()
	}
	return out
}

// WriteSoftnetStat prints the counters in the layout of
// /proc/net/softnet_stat: hexadecimal columns processed, dropped,
// time_squeeze, five zero columns, received_rps, flow_limit_count,
// backlog length, cpu index.
func (c *Core) WriteSoftnetStat(w io.Writer) error {
	for _, s := range c.SoftnetStats() {
		if _, err := fmt.Fprintf(w, "%08x %08x %08x 00000000 00000000 00000000 00000000 00000000 %08x 00000000 %08x %08x\n",
			uint32(s.Processed), uint32(s.Dropped), uint32(s.TimeSqueeze), uint32(s.ReceivedRPS), s.BacklogLen, s.CPU); err != nil {
			return err
		}
	}
	return nil
}
