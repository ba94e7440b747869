package appliance

import (
	"net"
	"net/netip"
	"sync"
	"time"
)

// limitListener bounds the connections a TCP service holds: one past the
// bound is closed as soon as it is accepted (counted), as is one from a
// source over its connection rate when a rate is set. Closing an
// accepted connection frees its slot. Unlike a listener that stops
// accepting when full, the kernel-side queues never fill with the
// excess: each is answered (with a FIN) at once.
type limitListener struct {
	net.Listener
	slots chan struct{}
	rate  *sourceRate // nil: no per-source limit
	stats *ServiceStats
}

func newLimitListener(l net.Listener, max int, rate *sourceRate, stats *ServiceStats) *limitListener {
	return &limitListener{Listener: l, slots: make(chan struct{}, max), rate: rate, stats: stats}
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.rate != nil {
			if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil && !l.rate.allow(ap.Addr(), time.Now()) {
				l.stats.ConnsRateLimited.Add(1)
				c.Close()
				continue
			}
		}
		select {
		case l.slots <- struct{}{}:
			return &slotConn{Conn: c, slots: l.slots}, nil
		default:
			l.stats.ConnsRefused.Add(1)
			c.Close()
		}
	}
}

// slotConn gives its slot back on its first Close.
type slotConn struct {
	net.Conn
	slots chan struct{}
	once  sync.Once
}

func (c *slotConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { <-c.slots })
	return err
}

// maxRateSources bounds the sources sourceRate remembers; past it the
// table starts again (a flood from many sources forgets old ones, never
// grows memory).
const maxRateSources = 4096

// sourceRate is a token bucket per source address: perSec new
// connections a second, bursts of perSec. Shared by the services.
type sourceRate struct {
	mu      sync.Mutex
	perSec  float64
	sources map[netip.Addr]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newSourceRate(perSec int) *sourceRate {
	if perSec <= 0 {
		return nil
	}
	return &sourceRate{perSec: float64(perSec), sources: map[netip.Addr]*bucket{}}
}

func (r *sourceRate) allow(a netip.Addr, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	a = a.Unmap()
	b := r.sources[a]
	if b == nil {
		if len(r.sources) >= maxRateSources {
			r.sources = map[netip.Addr]*bucket{}
		}
		b = &bucket{tokens: r.perSec, last: now}
		r.sources[a] = b
	}
	b.tokens = min(r.perSec, b.tokens+now.Sub(b.last).Seconds()*r.perSec)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
