package netcore

import (
	"sync"

	"github.com/ringonet/ringo/netcore/skb"
)

// BulkXmit gathers the frames a receive-path forwarder sends out of one
// device and hands them over in bursts (XDP's redirect bulk queue,
// bq_enqueue and __dev_flush): a burst is sent when it fills and at the
// end of each net_rx_action round, so forwarding a poll's worth of frames
// costs a doorbell per burst instead of one per frame, and no frame waits
// past the round that received it.
type BulkXmit struct {
	dev *Device

	mu sync.Mutex // the softnets' flushes and the forwarders
	q  [bulkXmitSize]*skb.Buff
	n  int
}

// bulkXmitSize is a burst: DPDK's 32 and the e1000's doorbell batch (XDP's
// devmap bulk queue takes 16).
const bulkXmitSize = 32

// NewBulkXmit makes the bulk queue of frames for dev. Make one per
// forwarding path and keep it: its flush stays registered with the core
// (AddRxFlush) for the core's life.
func (c *Core) NewBulkXmit(dev *Device) *BulkXmit {
	x := &BulkXmit{dev: dev}
	c.AddRxFlush(x.Flush)
	return x
}

// Xmit queues b, a whole Ethernet frame, for the device; the core owns it
// after the call (sent, or dropped and counted as DevQueueXmit drops).
// Softirq context.
func (x *BulkXmit) Xmit(b *skb.Buff) {
	b.Dev = x.dev
	x.mu.Lock()
	x.q[x.n] = b
	if x.n++; x.n == len(x.q) {
		x.flushLocked()
	}
	x.mu.Unlock()
}

// Flush sends what is queued. The end of each net_rx_action round calls
// it.
func (x *BulkXmit) Flush() {
	x.mu.Lock()
	if x.n > 0 {
		x.flushLocked()
	}
	x.mu.Unlock()
}

func (x *BulkXmit) flushLocked() {
	DevQueueXmitBurst(x.q[:x.n]) // drops are counted on the device
	clear(x.q[:x.n])
	x.n = 0
}
