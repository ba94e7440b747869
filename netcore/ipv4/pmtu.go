package ipv4

import (
	"sync"
	"sync/atomic"
	"time"
)

// Path MTU discovery (RFC 1191): an ICMP Fragmentation Needed lowers the
// MTU toward one destination for a while, as Linux keeps a next-hop
// exception (fib_nh_exception) on the route.
const (
	// MinPMTU is the lowest path MTU taken from ICMP (ip_rt_min_pmtu):
	// a forged Fragmentation Needed cannot shrink packets below it.
	MinPMTU = 552
	// PMTUExpires is how long a learnt path MTU lasts (ip_rt_mtu_expires).
	PMTUExpires = 10 * time.Minute
	// maxPMTUEntries bounds the cache: past it the oldest entry goes.
	maxPMTUEntries = 4096
)

type pmtuEntry struct {
	mtu     int
	expires time.Time
}

type pmtuCache struct {
	mu sync.Mutex
	m  map[[4]byte]pmtuEntry
	n  atomic.Int32 // entries: output skips the lock while there are none
}

// UpdatePMTU records that packets to dst must not exceed mtu (clamped to
// MinPMTU); it only ever lowers the path's MTU below the route's device.
// It reports whether the MTU toward dst went down.
func (s *Stack) UpdatePMTU(dst [4]byte, mtu int) bool {
	rt, ok := s.Lookup(dst)
	if !ok {
		return false
	}
	mtu = max(mtu, MinPMTU)
	if mtu >= s.PathMTU(dst) || mtu >= rt.Dev.MTU() {
		return false
	}
	c := &s.pmtu
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[[4]byte]pmtuEntry{}
	}
	if len(c.m) >= maxPMTUEntries {
		var oldest [4]byte
		first := true
		for k, e := range c.m {
			if first || e.expires.Before(c.m[oldest].expires) {
				oldest, first = k, false
			}
		}
		delete(c.m, oldest)
	}
	c.m[dst] = pmtuEntry{mtu: mtu, expires: time.Now().Add(PMTUExpires)}
	c.n.Store(int32(len(c.m)))
	return true
}

// PathMTU is the MTU toward dst: the route's device's, or less where
// Fragmentation Needed said so.
func (s *Stack) PathMTU(dst [4]byte) int {
	rt, ok := s.Lookup(dst)
	if !ok {
		return 0
	}
	return s.routeMTU(rt, dst)
}

func (s *Stack) routeMTU(rt Route, dst [4]byte) int {
	mtu := rt.Dev.MTU()
	c := &s.pmtu
	if c.n.Load() == 0 {
		return mtu // the common case: nothing learnt, no lock on the output path
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[dst]; ok {
		if time.Now().After(e.expires) {
			delete(c.m, dst)
			c.n.Store(int32(len(c.m)))
		} else if e.mtu < mtu {
			mtu = e.mtu
		}
	}
	return mtu
}
