package netcore

import (
	"sync/atomic"
	"time"

	"github.com/ringonet/ringo/netcore/gro"
	"github.com/ringonet/ringo/netcore/skb"
)

// NAPI state bits.
const (
	napiSched   = 1 << 0 // on a poll list, or being polled
	napiMissed  = 1 << 1 // scheduled again while being polled
	napiDisable = 1 << 2 // being disabled: do not schedule
)

// NAPI is one polling context (struct napi_struct).
//
// The contract, as in Linux: Schedule (from the interrupt handler, with the
// device's interrupts masked) puts the instance on its softnet's poll list.
// The softnet calls the driver's poll with a budget equal to the weight.
// A poll that did less than the budget has run out of work: it calls
// Complete and, if Complete reports true, re-enables the device's
// interrupts. A poll that did the whole budget must not call Complete: it
// still owns the device and is polled again, interrupts staying off.
type NAPI struct {
	poll   func(budget int) int
	weight int
	dev    *Device
	sd     *Softnet

	state   atomic.Uint32
	next    *NAPI       // poll list link, guarded by sd.mu
	onList  atomic.Bool // on sd's poll list or a local list of net_rx_action
	backlog bool        // the softnet's own backlog instance

	polls  atomic.Uint64
	misuse atomic.Uint64

	// gro holds the packets of one poll for merging (napi_struct's
	// gro_hash); only the goroutine polling the instance touches it.
	gro     gro.Table
	deliver func(*skb.Buff) // n.receive, bound once
}

// NetifNAPIAdd creates the device's NAPI instance (netif_napi_add). poll
// runs in softirq context on the device's softnet. weight <= 0 means 64.
func (d *Device) NetifNAPIAdd(poll func(budget int) int, weight int) *NAPI {
	return d.NetifNAPIAddOn(d.cpu, poll, weight)
}

// NetifNAPIAddOn creates a NAPI instance polled on softnet cpu (taken
// modulo the core's CPUs): a multi-queue device gives each queue its own
// instance on the CPU that queue's interrupt vector is meant for, as
// Linux drivers add a napi_struct per queue vector and set its IRQ's
// affinity. Drivers add their instances before the device comes up.
func (d *Device) NetifNAPIAddOn(cpu int, poll func(budget int) int, weight int) *NAPI {
	if weight <= 0 {
		weight = DefaultWeight
	}
	if cpu < 0 {
		cpu = 0
	}
	n := &NAPI{poll: poll, weight: weight, dev: d, sd: d.core.cpus[cpu%len(d.core.cpus)]}
	n.deliver = n.receive
	// Created disabled, like Linux; Device.Up enables it.
	n.state.Store(napiSched | napiDisable)
	d.napis = append(d.napis, n)
	return n
}

// Weight is the instance's budget per poll.
func (n *NAPI) Weight() int { return n.weight }

// CPU is the softnet the instance is polled on.
func (n *NAPI) CPU() int { return n.sd.cpu }

// Polls is how many times the instance was polled.
func (n *NAPI) Polls() uint64 { return n.polls.Load() }

// Schedule puts the instance on its softnet's poll list and raises
// NET_RX (napi_schedule). If it is already scheduled it records that it was
// missed, so Complete keeps it polling. It returns true if this call
// scheduled it. Callable from any context.
func (n *NAPI) Schedule() bool {
	for {
		old := n.state.Load()
		if old&napiDisable != 0 {
			return false
		}
		nw := old | napiSched
		if old&napiSched != 0 {
			nw |= napiMissed
		}
		if n.state.CompareAndSwap(old, nw) {
			if old&napiSched != 0 {
				return false
			}
			break
		}
	}
	n.sd.mu.Lock()
	n.sd.pollAddLocked(n)
	n.sd.mu.Unlock()
	n.sd.raise(netRxSoftirq)
	return true
}

// Complete ends polling (napi_complete_done). It reports false when a
// Schedule came in meanwhile: the instance stays scheduled and the driver
// must leave its interrupts off. Call it only from the instance's poll.
func (n *NAPI) Complete() bool {
	for {
		old := n.state.Load()
		nw := old &^ (napiSched | napiMissed)
		if old&napiMissed != 0 {
			nw |= napiSched
		}
		if n.state.CompareAndSwap(old, nw) {
			if old&napiMissed != 0 {
				n.sd.mu.Lock()
				n.sd.pollAddLocked(n)
				n.sd.mu.Unlock()
				n.sd.raise(netRxSoftirq)
				return false
			}
			return true
		}
	}
}

// Disable waits until the instance is not being polled and keeps it from
// being scheduled (napi_disable). Process context only.
func (n *NAPI) Disable() {
	for {
		old := n.state.Load()
		if old&napiDisable != 0 {
			return // disabled already: never enabled (added after Up), or disabled before
		}
		if n.state.CompareAndSwap(old, old|napiDisable) {
			break
		}
	}
	for {
		old := n.state.Load()
		if old&napiSched == 0 && n.state.CompareAndSwap(old, old|napiSched) {
			return
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// Enable allows scheduling again (napi_enable).
func (n *NAPI) Enable() {
	n.state.Store(0)
}

// ReceiveSkb hands a received frame to the stack from the poll
// (netif_receive_skb): with RPS it may go to another CPU's backlog,
// otherwise it goes up at once. The stack owns b after the call.
func (n *NAPI) ReceiveSkb(b *skb.Buff) {
	d := n.dev
	d.Stats.RxPackets.Add(1)
	d.Stats.RxBytes.Add(uint64(b.Len() + ethHeaderLen))
	n.receive(b)
}

// GROReceive is ReceiveSkb through generic receive offload
// (napi_gro_receive): TCP segments of a flow that arrive in order within
// one poll go up as one packet when the poll returns (package gro). With
// GRO off on the device (SetGRO) it is ReceiveSkb, and so it is with an
// ingress hook: the hook stands for the wire (package impair plays netem
// on the peer's egress), so it must see frames as they crossed it, not
// GRO's merges of them — one loss would take a whole batch, and 2% of
// frames would be a fraction of that of segments. Only from the poll.
func (n *NAPI) GROReceive(b *skb.Buff) {
	d := n.dev
	if d.noGRO.Load() || d.ingress.Load() != nil {
		n.ReceiveSkb(b)
		return
	}
	d.Stats.RxPackets.Add(1)
	d.Stats.RxBytes.Add(uint64(b.Len() + ethHeaderLen))
	n.gro.Receive(b, n.deliver)
}

// GROStats are the instance's GRO counters.
func (n *NAPI) GROStats() *gro.Stats { return &n.gro.Stats }

// receive is netif_receive_skb after the counting: RPS, or up at once.
// A device with a NAPI instance per hardware queue is steered by its NIC
// (RSS) already: RPS is for single-queue devices.
func (n *NAPI) receive(b *skb.Buff) {
	d := n.dev
	if d.core.cfg.RPS && len(d.core.cpus) > 1 && len(d.napis) == 1 {
		if cpu := d.core.rpsCPU(b); cpu != n.sd.cpu {
			target := d.core.cpus[cpu]
			if target.enqueueToBacklog(b, d) {
				target.receivedRPS.Add(1)
			}
			return
		}
	}
	n.sd.netifReceiveSkb(b)
}

func (n *NAPI) devName() string {
	if n.dev == nil {
		return "backlog"
	}
	return n.dev.Name
}

// napiList is an intrusive FIFO of NAPI instances.
type napiList struct{ head, tail *NAPI }

func (l *napiList) pop() *NAPI {
	n := l.head
	if n == nil {
		return nil
	}
	l.head = n.next
	if l.head == nil {
		l.tail = nil
	}
	n.next = nil
	n.onList.Store(false)
	return n
}

func (l *napiList) push(n *NAPI) {
	n.next = nil
	n.onList.Store(true)
	if l.tail == nil {
		l.head = n
	} else {
		l.tail.next = n
	}
	l.tail = n
}

func (l *napiList) append(o napiList) {
	if o.head == nil {
		return
	}
	if l.tail == nil {
		*l = o
		return
	}
	l.tail.next = o.head
	l.tail = o.tail
}
