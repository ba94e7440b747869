package tcp

import (
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/ringonet/ringo/netcore/header"
)

// Listener is a listening socket; it implements net.Listener. Its SYN
// queue (half-open connections) and its accept queue are each bounded by
// the backlog: with the SYN queue full, SYNs are answered with SYN
// cookies; with the accept queue full, they are dropped and counted
// (ListenOverflows, ListenDrops), as Linux does.
type Listener struct {
	t       *Table
	laddr   [16]byte // zero: any
	only    int      // 4 or 6: that IP version only; 0: both
	port    uint16
	backlog int

	mu       sync.Mutex // guards the fields below
	queue    []*Conn    // established, not yet accepted
	halfOpen int
	closed   bool
	wake     chan struct{}
}

// syn handles a SYN for the listener (tcp_v4_conn_request): a new
// connection in SYN-RECEIVED answers with SYN-ACK.
func (l *Listener) syn(id fourTuple, seg header.TCP) {
	t := l.t
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	if len(l.queue) >= l.backlog {
		l.mu.Unlock()
		t.Ext.ListenOverflows.Add(1)
		t.Ext.ListenDrops.Add(1)
		return
	}
	if l.halfOpen >= l.backlog {
		l.mu.Unlock()
		if t.cfg.NoSYNCookies {
			t.Ext.ListenDrops.Add(1)
			return
		}
		l.sendCookie(id, seg)
		return
	}
	l.halfOpen++
	l.mu.Unlock()
	c := newConn(t, id)
	c.listener = l
	c.mu.Lock()
	defer c.unlock()
	t.mu.Lock()
	if _, dup := t.conns[id]; dup {
		t.mu.Unlock()
		l.mu.Lock()
		l.halfOpen--
		l.mu.Unlock()
		return
	}
	t.conns[id] = c
	t.mu.Unlock()
	c.irs = seg.Seq()
	c.rcvNxt = seg.Seq() + 1
	c.takeOptionsLocked(seg)
	c.sndWnd = uint32(seg.Window()) // unscaled in a SYN
	c.sndWL1, c.sndWL2 = seg.Seq(), c.iss
	c.setStateLocked(SynRcvd)
	c.sendSynLocked(true)
	c.armRTOLocked()
}

// established moves a connection from the half-open count to the queue.
func (l *Listener) established(c *Conn) {
	l.mu.Lock()
	l.halfOpen--
	if l.closed {
		l.mu.Unlock()
		c.mu.Lock()
		c.resetLocked()
		c.rcvQ.Purge()
		c.unlock()
		return
	}
	l.queue = append(l.queue, c)
	select {
	case l.wake <- struct{}{}:
	default:
	}
	l.mu.Unlock()
	l.t.Stats.PassiveOpens.Add(1)
}

// dropHalfOpen forgets a connection that died in SYN-RECEIVED.
func (l *Listener) dropHalfOpen() {
	l.mu.Lock()
	l.halfOpen--
	l.mu.Unlock()
}

// Accept implements net.Listener.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: net.ErrClosed}
		}
		if len(l.queue) > 0 {
			c := l.queue[0]
			l.queue = l.queue[1:]
			if len(l.queue) > 0 {
				select {
				case l.wake <- struct{}{}:
				default:
				}
			}
			l.mu.Unlock()
			return c, nil
		}
		l.mu.Unlock()
		<-l.wake
	}
}

// Close implements net.Listener: unaccepted connections are reset.
func (l *Listener) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return &net.OpError{Op: "close", Net: "tcp", Addr: l.Addr(), Err: net.ErrClosed}
	}
	l.closed = true
	q := l.queue
	l.queue = nil
	close(l.wake)
	l.mu.Unlock()
	l.t.mu.Lock()
	if l.t.listeners[l.port] == l {
		delete(l.t.listeners, l.port)
	}
	l.t.mu.Unlock()
	for _, c := range q {
		c.mu.Lock()
		c.resetLocked()
		c.rcvQ.Purge()
		c.unlock()
	}
	return nil
}

// Addr implements net.Listener: [::] for one taking both IP versions,
// 0.0.0.0 for an IPv4-only one, as Go's net shows them.
func (l *Listener) Addr() net.Addr {
	if l.laddr == ([16]byte{}) {
		if l.only == 4 {
			return &net.TCPAddr{IP: net.IPv4zero.To4(), Port: int(l.port)}
		}
		return &net.TCPAddr{IP: net.IPv6unspecified, Port: int(l.port)}
	}
	return tcpAddr(l.laddr, l.port, nil)
}

// accepts reports whether a segment to laddr is the listener's.
func (l *Listener) accepts(laddr [16]byte) bool {
	switch {
	case l.laddr != [16]byte{}:
		return l.laddr == laddr
	case l.only == 4:
		return is4(laddr)
	case l.only == 6:
		return !is4(laddr)
	}
	return true
}

// newISS picks an initial sequence number: clock-driven as RFC 9293 3.4.1
// asks, plus a random offset per connection (RFC 6528's aim, without a
// keyed hash).
func newISS() uint32 {
	return uint32(time.Now().UnixNano()/4000) + rand.Uint32()
}
