// Package pingwait matches echo replies to the Ping calls waiting for
// them, by identifier, for both IP versions.
package pingwait

import (
	"sync"
	"time"
)

// Table holds the waiting calls.
type Table struct {
	mu      sync.Mutex
	next    uint16
	waiters map[uint16]chan Result
}

// Result is a reply (or an error reported about the request).
type Result struct {
	Seq uint16
	At  time.Time
	Err error
}

// Register takes a free identifier and the channel its replies come on.
func (p *Table) Register() (uint16, chan Result) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.waiters == nil {
		p.waiters = map[uint16]chan Result{}
	}
	for {
		p.next++
		if _, busy := p.waiters[p.next]; !busy && p.next != 0 {
			ch := make(chan Result, 4)
			p.waiters[p.next] = ch
			return p.next, ch
		}
	}
}

// Unregister frees id.
func (p *Table) Unregister(id uint16) {
	p.mu.Lock()
	delete(p.waiters, id)
	p.mu.Unlock()
}

// Deliver hands a reply or error to id's caller, if one waits and has
// room; from softirq, so it never blocks.
func (p *Table) Deliver(id, seq uint16, err error) {
	p.mu.Lock()
	ch := p.waiters[id]
	p.mu.Unlock()
	if ch != nil {
		select {
		case ch <- Result{Seq: seq, At: time.Now(), Err: err}:
		default:
		}
	}
}
