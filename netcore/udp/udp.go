// Package udp is UDP over ringo's IPv4 (RFC 768; Linux's net/ipv4/udp.c)
// and its sockets: Conn implements net.PacketConn and net.Conn, so code
// written for the standard library's UDP runs on ringo unchanged.
package udp

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/netcore/ipv4"
	"github.com/ringonet/ringo/netcore/skb"
)

// Ephemeral ports (net.ipv4.ip_local_port_range).
const (
	ephemeralLow  = 32768
	ephemeralHigh = 60999
	// DefaultRcvBuf bounds a socket's receive queue in bytes of buffer
	// (net.core.rmem_default).
	DefaultRcvBuf = 212992
)

// Stats are the Udp: counters of /proc/net/snmp.
type Stats struct {
	InDatagrams  atomic.Uint64
	NoPorts      atomic.Uint64
	InErrors     atomic.Uint64
	OutDatagrams atomic.Uint64
	RcvbufErrors atomic.Uint64
	SndbufErrors atomic.Uint64
	InCsumErrors atomic.Uint64
}

// Table is the UDP layer of one IPv4 stack: the socket lookup table and
// the protocol handler.
type Table struct {
	ip *ipv4.Stack

	mu    sync.RWMutex // guards ports
	ports map[uint16][]*Conn

	Stats Stats
}

// New registers UDP with the IPv4 stack.
func New(ip *ipv4.Stack) *Table {
	t := &Table{ip: ip, ports: map[uint16][]*Conn{}}
	ip.AddProtocol(header.ProtoUDP, t)
	return t
}

// ErrAddrInUse is returned when a port is taken.
var ErrAddrInUse = errors.New("udp: address already in use")

// bind adds c under its local port, choosing an ephemeral one if 0. Two
// unconnected sockets may share a port only with different local
// addresses; a connected socket may share its port with unconnected ones
// (as with SO_REUSEADDR) and with sockets connected to other peers.
func (t *Table) bind(c *Conn) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c.lport == 0 {
		start := ephemeralLow + rand.IntN(ephemeralHigh-ephemeralLow+1)
		for i := 0; i <= ephemeralHigh-ephemeralLow; i++ {
			p := uint16(ephemeralLow + (start-ephemeralLow+i)%(ephemeralHigh-ephemeralLow+1))
			if len(t.ports[p]) == 0 {
				c.lport = p
				break
			}
		}
		if c.lport == 0 {
			return fmt.Errorf("udp: no free ephemeral port: %w", ErrAddrInUse)
		}
	}
	for _, o := range t.ports[c.lport] {
		if conflicts(o, c) {
			return fmt.Errorf("udp: port %d: %w", c.lport, ErrAddrInUse)
		}
	}
	t.ports[c.lport] = append(t.ports[c.lport], c)
	return nil
}

func conflicts(a, b *Conn) bool {
	wild := a.laddr == [4]byte{} || b.laddr == [4]byte{}
	if !wild && a.laddr != b.laddr {
		return false
	}
	if a.connected != b.connected {
		return false
	}
	if a.connected && (a.raddr != b.raddr || a.rport != b.rport) {
		return false
	}
	return true
}

func (t *Table) unbind(c *Conn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	list := t.ports[c.lport]
	for i, o := range list {
		if o == c {
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(t.ports, c.lport)
	} else {
		t.ports[c.lport] = list
	}
}

// lookup finds the socket for a datagram (__udp4_lib_lookup): the best
// scored match, connected sockets before bound before wildcard.
func (t *Table) lookupLocked(src, dst [4]byte, sport, dport uint16) *Conn {
	var best *Conn
	bestScore := -1
	for _, c := range t.ports[dport] {
		score := 0
		if c.laddr != [4]byte{} {
			if c.laddr != dst {
				continue
			}
			score += 2
		}
		if c.connected {
			if c.raddr != src || c.rport != sport {
				continue
			}
			score += 4
		}
		if score > bestScore {
			best, bestScore = c, score
		}
	}
	return best
}

// Receive implements ipv4.Handler (udp_rcv), in softirq context.
func (t *Table) Receive(b *skb.Buff) {
	ip := header.IPv4(b.NetworkHeader())
	src, dst := ip.Src(), ip.Dst()
	var u header.UDP
	var err error
	if b.CsumValid {
		u, err = header.ParseUDPVerified(b.Data())
	} else {
		u, err = header.ParseUDP(b.Data(), src, dst)
	}
	if err != nil {
		if errors.Is(err, header.ErrChecksum) {
			t.Stats.InCsumErrors.Add(1)
		}
		t.Stats.InErrors.Add(1)
		b.Free()
		return
	}
	sport, dport := u.SrcPort(), u.DstPort()
	b.Trim(u.Length())
	b.Pull(header.UDPLen)
	broadcast := b.PktType == skb.PacketBroadcast || dst == [4]byte{255, 255, 255, 255}
	t.mu.RLock()
	if broadcast {
		// Every socket bound to the port hears a broadcast, but one
		// bound to another local address (__udp_is_mcast_sock): a
		// socket on 10.1.0.2 hears 10.1.0.2, one on 10.1.0.255 or the
		// wildcard hears the broadcast.
		var targets []*Conn
		for _, c := range t.ports[dport] {
			if c.laddr != [4]byte{} && c.laddr != dst {
				continue
			}
			if !c.connected || (c.raddr == src && c.rport == sport) {
				targets = append(targets, c)
			}
		}
		t.mu.RUnlock()
		if len(targets) == 0 {
			t.Stats.NoPorts.Add(1)
			b.Free()
			return
		}
		for _, c := range targets[1:] {
			t.deliver(c, b.Clone(), src, sport)
		}
		t.deliver(targets[0], b, src, sport)
		return
	}
	c := t.lookupLocked(src, dst, sport, dport)
	t.mu.RUnlock()
	if c == nil {
		t.Stats.NoPorts.Add(1)
		b.Push(header.UDPLen)
		t.ip.SendError(b, header.ICMPDestUnreach, header.ICMPPortUnreach, 0)
		b.Free()
		return
	}
	t.deliver(c, b, src, sport)
}

func (t *Table) deliver(c *Conn, b *skb.Buff, src [4]byte, sport uint16) {
	if !c.enqueue(b, src, sport) {
		t.Stats.RcvbufErrors.Add(1)
		t.Stats.InErrors.Add(1)
		b.Free()
		return
	}
}

// Error implements ipv4.Handler (udp_err): an ICMP error about a datagram
// we sent goes to the connected socket that sent it, as ECONNREFUSED for
// port unreachable.
func (t *Table) Error(orig header.IPv4, typ, code uint8, info uint32) {
	p := orig.Payload()
	if len(p) < 8 {
		return
	}
	if typ == header.ICMPDestUnreach && code == header.ICMPFragNeeded {
		// The route's PMTU goes down for every sender (udp_err's
		// ipv4_sk_update_pmtu); UDP has no sequence to check it by.
		t.ip.UpdatePMTU(orig.Dst(), int(info&0xffff))
		return
	}
	u := header.UDP(p[:8])
	t.mu.RLock()
	c := t.lookupLocked(orig.Dst(), orig.Src(), u.DstPort(), u.SrcPort())
	t.mu.RUnlock()
	if c == nil || !c.connected {
		return // Linux reports errors only to connected sockets by default
	}
	var err error = &ipv4.UnreachableError{Type: typ, Code: code, From: orig.Dst()}
	if typ == header.ICMPDestUnreach && code == header.ICMPPortUnreach {
		err = ErrConnRefused
	}
	c.setError(err)
}

// ErrConnRefused is what a connected socket reads after an ICMP port
// unreachable (ECONNREFUSED).
var ErrConnRefused = errors.New("udp: connection refused")

// Listen binds a socket to laddr (nil or zero fields: any address, an
// ephemeral port).
func (t *Table) Listen(laddr *net.UDPAddr) (*Conn, error) {
	c := newConn(t)
	if laddr != nil {
		if laddr.IP != nil && !laddr.IP.IsUnspecified() {
			a, ok := netip.AddrFromSlice(laddr.IP.To4())
			if !ok {
				return nil, fmt.Errorf("udp: listen %v: not an IPv4 address", laddr)
			}
			c.laddr = a.As4()
		}
		if laddr.Port < 0 || laddr.Port > 65535 {
			return nil, fmt.Errorf("udp: listen %v: bad port", laddr)
		}
		c.lport = uint16(laddr.Port)
	}
	if err := t.bind(c); err != nil {
		return nil, err
	}
	return c, nil
}

// Dial makes a connected socket to raddr, bound to laddr (may be nil).
func (t *Table) Dial(laddr, raddr *net.UDPAddr) (*Conn, error) {
	if raddr == nil || raddr.IP.To4() == nil || raddr.Port <= 0 || raddr.Port > 65535 {
		return nil, fmt.Errorf("udp: dial %v: need an IPv4 address and port", raddr)
	}
	c := newConn(t)
	c.connected = true
	c.raddr = [4]byte(raddr.IP.To4())
	c.rport = uint16(raddr.Port)
	if laddr != nil {
		if laddr.IP != nil && !laddr.IP.IsUnspecified() {
			c.laddr = [4]byte(laddr.IP.To4())
		}
		c.lport = uint16(laddr.Port)
	}
	if c.laddr == [4]byte{} {
		src, ok := t.ip.SourceFor(c.raddr)
		if !ok {
			return nil, fmt.Errorf("udp: dial %v: %w", raddr, ipv4.ErrNoRoute)
		}
		c.laddr = src
	}
	if err := t.bind(c); err != nil {
		return nil, err
	}
	return c, nil
}

// Sockets lists the open sockets (for ss -u).
func (t *Table) Sockets() []SocketInfo {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var out []SocketInfo
	for _, list := range t.ports {
		for _, c := range list {
			out = append(out, c.info())
		}
	}
	return out
}

// SocketInfo is one row of ss -u.
type SocketInfo struct {
	Local, Remote string
	RecvQ         int // bytes queued
	Drops         uint64
}
