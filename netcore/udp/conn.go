package udp

import (
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/netcore/internal/memcopy"
	"github.com/ringonet/ringo/netcore/internal/wait"
	"github.com/ringonet/ringo/netcore/ipv4"
	"github.com/ringonet/ringo/netcore/skb"
)

// maxPayload is the largest UDP payload in one IPv4 datagram.
const maxPayload = header.IPv4MaxTotal - header.IPv4MinLen - header.UDPLen

// Conn is a UDP socket. It implements net.PacketConn and, when made by
// Dial, net.Conn. Any number of goroutines may read and write it at once.
//
// Received datagrams wait on a queue bounded by RcvBuf bytes; past it they
// are dropped and counted (Udp: RcvbufErrors). Close makes pending and
// later calls fail with net.ErrClosed.
type Conn struct {
	t *Table

	// Set before the socket is bound, read-only after.
	laddr, raddr [4]byte
	lport, rport uint16
	connected    bool

	mu       sync.Mutex // guards the fields below
	queue    rxQueue    // received datagrams, bounded by rcvbuf bytes
	qbytes   int
	rcvbuf   int
	err      error // pending asynchronous error (ICMP)
	closed   bool
	rdl, wdl time.Time
	wake     chan struct{} // pinged on enqueue, close, deadline change
	drops    atomic.Uint64
}

type rxEntry struct {
	b     *skb.Buff
	src   [4]byte
	sport uint16
}

// rxQueue is a socket's FIFO of received datagrams: a ring that doubles
// when full and never shrinks, so that once it has held as many as the
// receive buffer lets in, queueing a datagram allocates nothing. (A slice
// resliced from the front would reallocate on nearly every datagram when
// the reader keeps up: its capacity runs out behind it.)
type rxQueue struct {
	ring []rxEntry // len a power of two, or 0
	head int       // index of the oldest entry
	n    int
}

func (q *rxQueue) len() int { return q.n }

func (q *rxQueue) push(e rxEntry) {
	if q.n == len(q.ring) {
		ring := make([]rxEntry, max(8, 2*len(q.ring)))
		for i := range q.n {
			ring[i] = q.ring[(q.head+i)&(len(q.ring)-1)]
		}
		q.ring, q.head = ring, 0
	}
	q.ring[(q.head+q.n)&(len(q.ring)-1)] = e
	q.n++
}

// pop removes the oldest entry; the queue must not be empty.
func (q *rxQueue) pop() rxEntry {
	e := q.ring[q.head]
	q.ring[q.head] = rxEntry{}
	q.head = (q.head + 1) & (len(q.ring) - 1)
	q.n--
	return e
}

func newConn(t *Table) *Conn {
	return &Conn{t: t, rcvbuf: DefaultRcvBuf, wake: make(chan struct{}, 1)}
}

// signal wakes one waiter; c.mu must be held (Close closes wake under it).
func (c *Conn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// enqueue runs in softirq context; it owns b only if it returns true.
func (c *Conn) enqueue(b *skb.Buff, src [4]byte, sport uint16) bool {
	size := b.Len() + b.Headroom() + b.Tailroom()
	c.mu.Lock()
	if c.closed || c.qbytes+size > c.rcvbuf {
		c.mu.Unlock()
		c.drops.Add(1)
		return false
	}
	c.queue.push(rxEntry{b, src, sport})
	c.qbytes += size
	// Counted before the reader can take it: whoever has read a datagram
	// (or its reply) finds it in InDatagrams.
	c.t.Stats.InDatagrams.Add(1)
	c.signal()
	c.mu.Unlock()
	return true
}

func (c *Conn) setError(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.err = err
		c.signal()
	}
}

// SetReadBuffer sets the receive queue bound in bytes (SO_RCVBUF).
func (c *Conn) SetReadBuffer(n int) error {
	c.mu.Lock()
	c.rcvbuf = n
	c.mu.Unlock()
	return nil
}

// ReadFrom implements net.PacketConn. A datagram longer than p is cut.
func (c *Conn) ReadFrom(p []byte) (int, net.Addr, error) {
	n, src, sport, err := c.read(p)
	if err != nil {
		return 0, nil, err
	}
	return n, newUDPAddr(src, sport), nil
}

// newUDPAddr makes the address ReadFrom returns in one allocation, the
// IP's bytes in the same object (net.IPv4 would be a second).
func newUDPAddr(ip [4]byte, port uint16) *net.UDPAddr {
	a := &struct {
		net.UDPAddr
		ip [net.IPv6len]byte
	}{}
	a.ip = [net.IPv6len]byte{10: 0xff, 11: 0xff, 12: ip[0], 13: ip[1], 14: ip[2], 15: ip[3]}
	a.IP, a.Port = a.ip[:], int(port)
	return &a.UDPAddr
}

// ReadFromAddrPort is ReadFrom without allocating an address.
func (c *Conn) ReadFromAddrPort(p []byte) (int, [4]byte, uint16, error) { return c.read(p) }

// Read implements net.Conn.
func (c *Conn) Read(p []byte) (int, error) {
	n, _, _, err := c.read(p)
	return n, err
}

func (c *Conn) read(p []byte) (int, [4]byte, uint16, error) {
	for {
		c.mu.Lock()
		switch {
		case c.closed:
			c.mu.Unlock()
			return 0, [4]byte{}, 0, c.opErr("read", net.ErrClosed)
		case c.err != nil:
			err := c.err
			c.err = nil
			c.mu.Unlock()
			return 0, [4]byte{}, 0, c.opErr("read", err)
		case c.queue.len() > 0:
			e := c.queue.pop()
			c.qbytes -= e.b.Len() + e.b.Headroom() + e.b.Tailroom()
			if c.queue.len() > 0 {
				c.signal() // one wake-up may stand for several datagrams
			}
			c.mu.Unlock()
			n := memcopy.Copy(p, e.b.Data())
			e.b.Free()
			return n, e.src, e.sport, nil
		}
		dl, w := c.rdl, c.wake
		c.mu.Unlock()
		if err := wait.Until(w, dl); err != nil {
			return 0, [4]byte{}, 0, c.opErr("read", err)
		}
	}
}

// WriteTo implements net.PacketConn.
func (c *Conn) WriteTo(p []byte, addr net.Addr) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok || ua.IP.To4() == nil {
		return 0, c.opErr("write", fmt.Errorf("udp: %v is not an IPv4 UDP address", addr))
	}
	if c.connected {
		return 0, c.opErr("write", fmt.Errorf("udp: WriteTo on a connected socket"))
	}
	return c.write(p, [4]byte(ua.IP.To4()), uint16(ua.Port))
}

// WriteToAddrPort sends without an address allocation.
func (c *Conn) WriteToAddrPort(p []byte, dst [4]byte, port uint16) (int, error) {
	return c.write(p, dst, port)
}

// Write implements net.Conn.
func (c *Conn) Write(p []byte) (int, error) {
	if !c.connected {
		return 0, c.opErr("write", fmt.Errorf("udp: Write on an unconnected socket"))
	}
	return c.write(p, c.raddr, c.rport)
}

func (c *Conn) write(p []byte, dst [4]byte, dport uint16) (int, error) {
	c.mu.Lock()
	closed, wdl, pending := c.closed, c.wdl, c.err
	if pending != nil && c.connected {
		c.err = nil
	}
	c.mu.Unlock()
	switch {
	case closed:
		return 0, c.opErr("write", net.ErrClosed)
	case !wdl.IsZero() && !time.Now().Before(wdl):
		return 0, c.opErr("write", os.ErrDeadlineExceeded)
	case pending != nil && c.connected:
		return 0, c.opErr("write", pending)
	case len(p) > maxPayload:
		return 0, c.opErr("write", ipv4.ErrMsgSize)
	case dport == 0:
		return 0, c.opErr("write", fmt.Errorf("udp: destination port 0"))
	}
	src := c.laddr
	if src == [4]byte{} {
		if s, ok := c.t.ip.SourceFor(dst); ok {
			src = s
		}
	}
	b := skb.Alloc(header.UDPLen + len(p))
	u := b.Put(header.UDPLen + len(p))
	memcopy.Copy(u[header.UDPLen:], p)
	header.EncodeUDP(u, c.lport, dport, src, dst)
	b.SetTransportHeader()
	err := c.t.ip.Output(b, src, dst, header.ProtoUDP, ipv4.OutputOpts{})
	switch {
	case err == nil:
		c.t.Stats.OutDatagrams.Add(1)
	case err == netcore.ErrQueueFull:
		c.t.Stats.SndbufErrors.Add(1)
		return 0, c.opErr("write", err)
	default:
		return 0, c.opErr("write", err)
	}
	return len(p), nil
}

// Close implements net.Conn: unbinds, drops the queue, wakes readers.
func (c *Conn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return c.opErr("close", net.ErrClosed)
	}
	c.closed = true
	q := c.queue
	c.queue, c.qbytes = rxQueue{}, 0
	close(c.wake) // every waiter wakes and sees closed
	c.mu.Unlock()
	c.t.unbind(c)
	for q.len() > 0 {
		q.pop().b.Free()
	}
	return nil
}

// LocalAddr implements net.Conn.
func (c *Conn) LocalAddr() net.Addr { return &net.UDPAddr{IP: ipv4.IP(c.laddr), Port: int(c.lport)} }

// RemoteAddr implements net.Conn (nil when not connected).
func (c *Conn) RemoteAddr() net.Addr {
	if !c.connected {
		return nil
	}
	return &net.UDPAddr{IP: ipv4.IP(c.raddr), Port: int(c.rport)}
}

// SetDeadline implements net.Conn.
func (c *Conn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.rdl, c.wdl = t, t
	c.mu.Unlock()
	c.signalIfOpen()
	return nil
}

// SetReadDeadline implements net.Conn.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.rdl = t
	c.mu.Unlock()
	c.signalIfOpen()
	return nil
}

// SetWriteDeadline implements net.Conn.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.wdl = t
	c.mu.Unlock()
	return nil
}

func (c *Conn) signalIfOpen() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.signal()
	}
}

// Drops is the number of datagrams this socket dropped (queue full).
func (c *Conn) Drops() uint64 { return c.drops.Load() }

func (c *Conn) info() SocketInfo {
	c.mu.Lock()
	q := c.qbytes
	c.mu.Unlock()
	si := SocketInfo{Local: c.LocalAddr().String(), Remote: "*:*", RecvQ: q, Drops: c.drops.Load()}
	if c.connected {
		si.Remote = c.RemoteAddr().String()
	}
	return si
}

func (c *Conn) opErr(op string, err error) error {
	return &net.OpError{Op: op, Net: "udp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}

var (
	_ net.PacketConn = (*Conn)(nil)
	_ net.Conn       = (*Conn)(nil)
)
