package udp

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/netcore/internal/ip46"
	"github.com/ringonet/ringo/netcore/internal/memcopy"
	"github.com/ringonet/ringo/netcore/internal/wait"
	"github.com/ringonet/ringo/netcore/ipv4"
	"github.com/ringonet/ringo/netcore/ipv6"
	"github.com/ringonet/ringo/netcore/skb"
)

// The largest UDP payload in one IPv4 datagram, and in one IPv6 one (whose
// payload length does not count the fixed header).
const (
	maxPayload  = header.IPv4MaxTotal - header.IPv4MinLen - header.UDPLen
	maxPayload6 = 0xffff - header.UDPLen
)

// Conn is a UDP socket. It implements net.PacketConn and, when made by
// Dial, net.Conn. Any number of goroutines may read and write it at once.
//
// Received datagrams wait on a queue bounded by RcvBuf bytes; past it they
// are dropped and counted (Udp: RcvbufErrors). Close makes pending and
// later calls fail with net.ErrClosed.
type Conn struct {
	t *Table

	// Set before the socket is bound, read-only after. Addresses are 16
	// bytes, IPv4 ones mapped (package ip46).
	laddr, raddr [16]byte
	lport, rport uint16
	connected    bool
	only         int             // 4 or 6: that IP version only; 0: both
	dev          *netcore.Device // a link-local peer's device (zone)

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
	src   [16]byte
	sport uint16
	dev   *netcore.Device // a link-local sender's device (zone)
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
func (c *Conn) enqueue(b *skb.Buff, src [16]byte, sport uint16, dev *netcore.Device) bool {
	size := b.Len() + b.Headroom() + b.Tailroom()
	c.mu.Lock()
	if c.closed || c.qbytes+size > c.rcvbuf {
		c.mu.Unlock()
		c.drops.Add(1)
		return false
	}
	c.queue.push(rxEntry{b, src, sport, dev})
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
	n, e, err := c.read(p)
	if err != nil {
		return 0, nil, err
	}
	return n, newUDPAddr(e.src, e.sport, ip46.Zone(e.src, e.dev)), nil
}

// newUDPAddr makes the address ReadFrom returns in one allocation, the
// IP's bytes in the same object (net.IPv4 would be a second).
func newUDPAddr(ip [16]byte, port uint16, zone string) *net.UDPAddr {
	a := &struct {
		net.UDPAddr
		ip [net.IPv6len]byte
	}{}
	a.ip = ip
	a.IP, a.Port, a.Zone = a.ip[:], int(port), zone
	return &a.UDPAddr
}

// ReadFromUDPAddrPort is ReadFrom without allocating an address, as
// net.UDPConn has it (an IPv4 sender unmapped).
func (c *Conn) ReadFromUDPAddrPort(p []byte) (int, netip.AddrPort, error) {
	n, e, err := c.read(p)
	a := ip46.Addr(e.src)
	if z := ip46.Zone(e.src, e.dev); z != "" {
		a = a.WithZone(z)
	}
	return n, netip.AddrPortFrom(a, e.sport), err
}

// Read implements net.Conn.
func (c *Conn) Read(p []byte) (int, error) {
	n, _, err := c.read(p)
	return n, err
}

func (c *Conn) read(p []byte) (int, rxEntry, error) {
	for {
		c.mu.Lock()
		switch {
		case c.closed:
			c.mu.Unlock()
			return 0, rxEntry{}, c.opErr("read", net.ErrClosed)
		case c.err != nil:
			err := c.err
			c.err = nil
			c.mu.Unlock()
			return 0, rxEntry{}, c.opErr("read", err)
		case c.queue.len() > 0:
			e := c.queue.pop()
			c.qbytes -= e.b.Len() + e.b.Headroom() + e.b.Tailroom()
			if c.queue.len() > 0 {
				c.signal() // one wake-up may stand for several datagrams
			}
			c.mu.Unlock()
			n := memcopy.Copy(p, e.b.Data())
			e.b.Free()
			e.b = nil
			return n, e, nil
		}
		dl, w := c.rdl, c.wake
		c.mu.Unlock()
		if err := wait.Until(w, dl); err != nil {
			return 0, rxEntry{}, c.opErr("read", err)
		}
	}
}

// WriteTo implements net.PacketConn.
func (c *Conn) WriteTo(p []byte, addr net.Addr) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	var a netip.Addr
	if ok {
		a, ok = netip.AddrFromSlice(ua.IP)
	}
	if !ok {
		return 0, c.opErr("write", fmt.Errorf("udp: %v is not a UDP address", addr))
	}
	return c.WriteToUDPAddrPort(p, netip.AddrPortFrom(a.WithZone(ua.Zone), uint16(ua.Port)))
}

// WriteToUDPAddrPort sends without an address allocation, as
// net.UDPConn has it.
func (c *Conn) WriteToUDPAddrPort(p []byte, to netip.AddrPort) (int, error) {
	if c.connected {
		return 0, c.opErr("write", fmt.Errorf("udp: WriteTo on a connected socket"))
	}
	a := to.Addr().Unmap()
	if a.Is4() && c.only == 6 || !a.Is4() && c.only == 4 {
		return 0, c.opErr("write", fmt.Errorf("udp: %v: wrong IP version for the socket", to))
	}
	var dev *netcore.Device
	if z := to.Addr().Zone(); z != "" {
		if dev = c.t.ip.Core().DeviceByName(z); dev == nil {
			return 0, c.opErr("write", fmt.Errorf("udp: no device %q", z))
		}
	}
	return c.write(p, a.As16(), to.Port(), dev)
}

// Write implements net.Conn.
func (c *Conn) Write(p []byte) (int, error) {
	if !c.connected {
		return 0, c.opErr("write", fmt.Errorf("udp: Write on an unconnected socket"))
	}
	return c.write(p, c.raddr, c.rport, c.dev)
}

func (c *Conn) write(p []byte, dst [16]byte, dport uint16, dev *netcore.Device) (int, error) {
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
	case ip46.Is4(dst) && len(p) > maxPayload, len(p) > maxPayload6:
		return 0, c.opErr("write", ipv4.ErrMsgSize)
	case dport == 0:
		return 0, c.opErr("write", fmt.Errorf("udp: destination port 0"))
	}
	src := c.laddr
	if src == [16]byte{} {
		s, d, err := c.t.source(ip46.Addr(dst), zoneOf(dev))
		if err != nil {
			return 0, c.opErr("write", err)
		}
		src, dev = s, d
	}
	b := skb.Alloc(header.UDPLen + len(p))
	u := b.Put(header.UDPLen + len(p))
	memcopy.Copy(u[header.UDPLen:], p)
	var err error
	if ip46.Is4(dst) {
		header.EncodeUDP(u, c.lport, dport, ip46.As4(src), ip46.As4(dst))
		b.SetTransportHeader()
		err = c.t.ip.Output(b, ip46.As4(src), ip46.As4(dst), header.ProtoUDP, ipv4.OutputOpts{})
	} else {
		header.EncodeUDP6(u, c.lport, dport, src, dst)
		b.SetTransportHeader()
		err = c.t.ip6.Output(b, netip.AddrFrom16(src), netip.AddrFrom16(dst), header.ProtoUDP, ipv6.OutputOpts{Dev: dev})
	}
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

// LocalAddr implements net.Conn: [::] for a socket on any address of
// both versions, 0.0.0.0 for an IPv4-only one, as Go's net shows them.
func (c *Conn) LocalAddr() net.Addr {
	if c.laddr == [16]byte{} {
		if c.only == 4 {
			return &net.UDPAddr{IP: net.IPv4zero.To4(), Port: int(c.lport)}
		}
		return &net.UDPAddr{IP: net.IPv6unspecified, Port: int(c.lport)}
	}
	return &net.UDPAddr{IP: ip46.IP(c.laddr), Port: int(c.lport), Zone: ip46.Zone(c.laddr, c.dev)}
}

// RemoteAddr implements net.Conn (nil when not connected).
func (c *Conn) RemoteAddr() net.Addr {
	if !c.connected {
		return nil
	}
	return &net.UDPAddr{IP: ip46.IP(c.raddr), Port: int(c.rport), Zone: ip46.Zone(c.raddr, c.dev)}
}

// takes reports whether the socket is bound to dst, or to any address of
// dst's IP version.
func (c *Conn) takes(dst [16]byte) bool {
	switch {
	case c.laddr != [16]byte{}:
		return c.laddr == dst
	case c.only == 4:
		return ip46.Is4(dst)
	case c.only == 6:
		return !ip46.Is4(dst)
	}
	return true
}

func zoneOf(dev *netcore.Device) string {
	if dev == nil {
		return ""
	}
	return dev.Name
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
