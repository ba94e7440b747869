package netcore

import (
	"sync"
	"sync/atomic"

	"github.com/ringonet/ringo/netcore/skb"
)

// pfifo_fast's priority map (TC_PRIO_* to band): band 0 is sent first.
var prio2band = [16]uint8{1, 2, 2, 2, 1, 2, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1}

// Priorities (TC_PRIO_*) a sender puts in skb.Priority.
const (
	PrioBestEffort  = 0
	PrioBulk        = 2
	PrioInteractive = 6
	PrioControl     = 7
)

// PfifoFast is Linux's default qdisc: three FIFO bands, band 0 first, with
// one bound on the packets held in all bands together.
type PfifoFast struct {
	mu    sync.Mutex
	bands [3]*skb.Queue
	qlen  int
	limit int

	Drops    atomic.Uint64
	Requeues atomic.Uint64
	Enqueued atomic.Uint64
	backlogB atomic.Int64
}

// NewPfifoFast holds at most limit packets.
func NewPfifoFast(limit int) *PfifoFast {
	q := &PfifoFast{limit: limit}
	for i := range q.bands {
		// Each band can hold the whole limit, plus one requeued packet.
		q.bands[i] = skb.NewQueue(limit + 1)
	}
	return q
}

// Band returns the band for a priority.
func Band(prio uint32) int { return int(prio2band[prio&15]) }

// Enqueue adds b to its band; false (counted) when the qdisc is full.
func (q *PfifoFast) Enqueue(b *skb.Buff) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.qlen >= q.limit {
		q.Drops.Add(1)
		return false
	}
	q.bands[Band(b.Priority)].Push(b)
	q.qlen++
	q.Enqueued.Add(1)
	q.backlogB.Add(int64(b.Len()))
	return true
}

// Dequeue takes the head of the first non-empty band, or nil.
func (q *PfifoFast) Dequeue() *skb.Buff {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, band := range q.bands {
		if b := band.Pop(); b != nil {
			q.qlen--
			q.backlogB.Add(-int64(b.Len()))
			return b
		}
	}
	return nil
}

// Requeue puts back a packet the driver refused, at the head of its band.
// It never drops: the band has room for the packet just taken.
func (q *PfifoFast) Requeue(b *skb.Buff) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.bands[Band(b.Priority)].PushFront(b)
	q.qlen++
	q.Requeues.Add(1)
	q.backlogB.Add(int64(b.Len()))
}

// Len is the number of packets held.
func (q *PfifoFast) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.qlen
}

// Backlog is the number of bytes held.
func (q *PfifoFast) Backlog() int64 { return q.backlogB.Load() }

// Reset drops everything held (on device down), without counting drops.
func (q *PfifoFast) Reset() {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, band := range q.bands {
		band.Purge()
	}
	q.qlen = 0
	q.backlogB.Store(0)
}
