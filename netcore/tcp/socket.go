package tcp

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/ringonet/ringo/netcore/internal/wait"
)

// signalLocked wakes every waiter (readers, writers, Dial): each waits on
// a channel of its own, and each re-checks its own condition, so one
// reader cannot swallow the wake-up a blocked writer needed. The channels
// come from a pool: waking allocates nothing.
func (c *Conn) signalLocked() {
	for i, w := range c.waitq {
		select {
		case w <- struct{}{}:
		default:
		}
		c.waitq[i] = nil
	}
	c.waitq = c.waitq[:0]
}

// waiterPool holds wake-up channels, one token deep.
var waiterPool = sync.Pool{New: func() any { return make(chan struct{}, 1) }}

// waitChanLocked registers a wake-up channel for the caller.
func (c *Conn) waitChanLocked() chan struct{} {
	ch := waiterPool.Get().(chan struct{})
	c.waitq = append(c.waitq, ch)
	return ch
}

// doneWaitingLocked takes ch off the wait list (a deadline or a cancel
// ended the wait) and returns it to the pool empty.
func (c *Conn) doneWaitingLocked(ch chan struct{}) {
	for i, w := range c.waitq {
		if w == ch {
			c.waitq = append(c.waitq[:i], c.waitq[i+1:]...)
			break
		}
	}
	select {
	case <-ch:
	default:
	}
	waiterPool.Put(ch)
}

// SetKeepAlive turns keepalive probes on or off (SO_KEEPALIVE).
func (c *Conn) SetKeepAlive(on bool) error {
	c.mu.Lock()
	defer c.unlock()
	c.keepAlive = on
	if on {
		c.lastRecv = c.t.clock.Now()
		c.ka.arm(c.kaIdle)
	} else {
		c.ka.stop()
	}
	return nil
}

// SetKeepAlivePeriod sets the idle time before the first probe and
// between probes (TCP_KEEPIDLE and TCP_KEEPINTVL, as Go sets both).
func (c *Conn) SetKeepAlivePeriod(d time.Duration) error {
	if d <= 0 {
		return errors.New("tcp: keepalive period must be positive")
	}
	c.mu.Lock()
	defer c.unlock()
	c.kaIdle = d
	if c.keepAlive {
		c.ka.arm(d)
	}
	return nil
}

// SetNoDelay turns Nagle's algorithm off (true, Go's default) or on
// (TCP_NODELAY).
func (c *Conn) SetNoDelay(noDelay bool) error {
	c.mu.Lock()
	defer c.unlock()
	c.noDelay = noDelay
	c.outputLocked()
	return nil
}

// Dial opens a connection (active open) to an IPv4 or IPv6 address; a
// link-local IPv6 one needs its zone (fe80::1%eth0).
func (t *Table) Dial(ctx context.Context, raddr *net.TCPAddr) (*Conn, error) {
	a, ok := netip.AddrFromSlice(raddr.IP)
	if !ok || raddr.Port <= 0 || raddr.Port > 65535 {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: raddr, Err: errors.New("need an IP address and port")}
	}
	id, err := t.route(a.Unmap(), raddr.Zone)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: raddr, Err: err}
	}
	t.mu.Lock()
	port, err := t.ephemeralLocked(id.laddr, id.raddr, uint16(raddr.Port), id.dev)
	if err != nil {
		t.mu.Unlock()
		return nil, err
	}
	id.lport, id.rport = port, uint16(raddr.Port)
	c := newConn(t, id)
	t.conns[c.id] = c
	t.mu.Unlock()
	t.Stats.ActiveOpens.Add(1)
	c.mu.Lock()
	c.setStateLocked(SynSent)
	c.timing, c.rttSeq, c.rttStart = true, c.iss+1, c.t.clock.Now()
	c.sendSynLocked(false)
	c.armRTOLocked()
	for !c.estab && c.state != Closed {
		ch := c.waitChanLocked()
		c.unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			c.mu.Lock()
			c.doneWaitingLocked(ch)
			c.closeLocked(ctx.Err())
			c.unlock()
			return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: raddr, Err: ctx.Err()}
		}
		c.mu.Lock()
		c.doneWaitingLocked(ch)
	}
	err = c.err
	c.unlock()
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: raddr, Err: err}
	}
	return c, nil
}

// waitLocked blocks until signalled or the deadline; c.mu is held on
// entry and on return.
func (c *Conn) waitLocked(dl time.Time) error {
	ch := c.waitChanLocked()
	c.unlock()
	err := wait.Until(ch, dl)
	c.mu.Lock()
	c.doneWaitingLocked(ch)
	return err
}

// Read implements net.Conn: io.EOF after the peer's FIN.
func (c *Conn) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.unlock()
	for {
		switch {
		case c.rcvQ.Len() > 0:
			before := c.rcvWndLocked()
			n := c.rcvQ.Read(p)
			c.rcvSpaceAdjustLocked(n)
			// Tell the peer about a window that opened by a segment or
			// more, or from (nearly) zero, or by half the buffer.
			if c.state == Established || c.state == FinWait1 || c.state == FinWait2 {
				after := c.rcvWndLocked()
				if before < uint32(c.mss) && after >= uint32(c.mss) || int(after)-int(c.lastWnd) >= c.rcvBufCap/2 {
					c.sendAckLocked()
				}
			}
			if c.rcvQ.Len() > 0 {
				c.signalLocked()
			}
			return n, nil
		case c.userClosed:
			return 0, c.opErr("read", net.ErrClosed)
		case c.finRcvd:
			return 0, io.EOF
		case c.err != nil:
			return 0, c.opErr("read", c.err)
		case c.state == Closed:
			return 0, io.EOF
		}
		if err := c.waitLocked(c.rdl); err != nil {
			return 0, c.opErr("read", err)
		}
	}
}

// Write implements net.Conn: it returns when all of p is in the send
// buffer.
func (c *Conn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.unlock()
	done := 0
	for done < len(p) {
		switch {
		case c.userClosed:
			return done, c.opErr("write", net.ErrClosed)
		case c.err != nil:
			return done, c.opErr("write", c.err)
		case c.finQueued || (c.state != Established && c.state != CloseWait):
			return done, c.opErr("write", errors.New("tcp: connection not open for writing"))
		}
		if room := c.sndBufCap - c.sndQ.Len(); room > 0 {
			n := min(room, len(p)-done)
			c.sndQ.Append(p[done:done+n], c.sndBufCap)
			done += n
			c.outputLocked()
			continue
		}
		if err := c.waitLocked(c.wdl); err != nil {
			return done, c.opErr("write", err)
		}
	}
	return done, nil
}

// CloseWrite sends FIN after the buffered data (shutdown(SHUT_WR)).
func (c *Conn) CloseWrite() error {
	c.mu.Lock()
	defer c.unlock()
	return c.shutdownLocked()
}

func (c *Conn) shutdownLocked() error {
	if c.finQueued {
		return nil
	}
	switch c.state {
	case Established:
		c.setStateLocked(FinWait1)
	case CloseWait:
		c.setStateLocked(LastAck)
	default:
		return nil
	}
	c.finQueued = true
	c.outputLocked()
	return nil
}

// Close implements net.Conn. Buffered data is still delivered and the
// connection closed in the background (SO_LINGER off); with data unread,
// the peer gets RST as RFC 2525 asks. With SetLinger(0) Close aborts
// (RST, buffered data dropped); with SetLinger(sec > 0) it returns once
// the peer has acknowledged every byte and the FIN, or after sec seconds
// with the rest still going in the background (Linux's tcp_close and
// sk_stream_wait_close).
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.unlock()
	if c.userClosed {
		return c.opErr("close", net.ErrClosed)
	}
	c.userClosed = true
	unread := c.rcvQ.Len() > 0
	c.rcvQ.Purge() // nobody reads it now: its buffers go back to the pool
	if unread || c.linger == 0 {
		c.resetLocked()
		return nil
	}
	c.shutdownLocked()
	c.armFinWait2Locked() // closed after CloseWrite, in FIN-WAIT-2 already
	c.signalLocked()
	if c.linger > 0 {
		dl := time.Now().Add(c.linger)
		for c.finPendingLocked() {
			if c.waitLocked(dl) != nil {
				break // the rest goes on in the background
			}
		}
	}
	return nil
}

// finPendingLocked: our FIN, or data before it, is not acknowledged yet
// and the connection is still alive to deliver it.
func (c *Conn) finPendingLocked() bool {
	switch c.state {
	case SynRcvd, Established, CloseWait, FinWait1, Closing, LastAck:
		return true
	}
	return false
}

// SetLinger is SO_LINGER, as net.TCPConn's: sec < 0 (the default) closes
// in the background, 0 makes Close abortive (RST, unsent data dropped),
// sec > 0 makes Close wait up to sec seconds for the peer to acknowledge
// everything.
func (c *Conn) SetLinger(sec int) error {
	c.mu.Lock()
	defer c.unlock()
	c.linger = time.Duration(sec) * time.Second
	if sec < 0 {
		c.linger = -1
	}
	return nil
}

// LocalAddr and RemoteAddr implement net.Conn.
func (c *Conn) LocalAddr() net.Addr { return tcpAddr(c.id.laddr, c.id.lport, c.id.dev) }

func (c *Conn) RemoteAddr() net.Addr { return tcpAddr(c.id.raddr, c.id.rport, c.id.dev) }

// SetDeadline, SetReadDeadline and SetWriteDeadline implement net.Conn.
func (c *Conn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.rdl, c.wdl = t, t
	c.signalLocked()
	c.unlock()
	return nil
}

func (c *Conn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.rdl = t
	c.signalLocked()
	c.unlock()
	return nil
}

func (c *Conn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.wdl = t
	c.signalLocked()
	c.unlock()
	return nil
}

func (c *Conn) opErr(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}
