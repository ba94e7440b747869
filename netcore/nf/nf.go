// Package nf is the hook points both IP layers offer filters (Linux's
// netfilter hooks, without its tables): a chain of functions at each point
// that see a packet and may drop it.
package nf

import (
	"sync"
	"sync/atomic"

	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/skb"
)

// HookPoint is where on the packet's path a hook runs.
type HookPoint int

const (
	PreRouting  HookPoint = iota // after the input checks, before the routing decision
	LocalOut                     // locally generated, before routing output
	PostRouting                  // leaving, after routing (forwarded and local)
	numHooks
)

// Verdict is what a hook decides.
type Verdict int

const (
	Accept Verdict = iota
	Drop
)

// Hook sees a packet (data at the IP header) and may drop it. It must not
// keep b.
type Hook func(b *skb.Buff, dev *netcore.Device) Verdict

// Chains are the hooks at each point. The zero value has none; adding is
// rare and locked, running is a lock-free read.
type Chains struct {
	mu     sync.Mutex
	chains [numHooks]atomic.Pointer[[]Hook]
}

// Add appends h at p.
func (c *Chains) Add(p HookPoint, h Hook) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var old []Hook
	if cur := c.chains[p].Load(); cur != nil {
		old = *cur
	}
	hs := append(append([]Hook(nil), old...), h)
	c.chains[p].Store(&hs)
}

// Run is the verdict of p's hooks on b: Drop as soon as one drops it.
func (c *Chains) Run(p HookPoint, b *skb.Buff, dev *netcore.Device) Verdict {
	hs := c.chains[p].Load()
	if hs == nil {
		return Accept
	}
	for _, h := range *hs {
		if h(b, dev) == Drop {
			return Drop
		}
	}
	return Accept
}
