// Package udp is UDP over ringo's IPv4 and IPv6 (RFC 768, RFC 8200 8.1;
// Linux's net/ipv4/udp.c and net/ipv6/udp.c, one table for both as its
// dual stack has it) and its sockets: Conn implements net.PacketConn and net.Conn, so code
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

	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/netcore/internal/ip46"
	"github.com/ringonet/ringo/netcore/ipv4"
	"github.com/ringonet/ringo/netcore/ipv6"
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
	ip  *ipv4.Stack
	ip6 *ipv6.Stack // nil until AttachIPv6

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
	wild := a.laddr == [16]byte{} || b.laddr == [16]byte{}
	if !wild && a.laddr != b.laddr {
		return false
	}
	if a.only != 0 && b.only != 0 && a.only != b.only {
		return false // 0.0.0.0:53 beside [::]:53 with IPV6_V6ONLY
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

// lookup finds the socket for a datagram (__udp4_lib_lookup,
// __udp6_lib_lookup): the best scored match, connected sockets before
// bound before wildcard.
func (t *Table) lookupLocked(src, dst [16]byte, sport, dport uint16) *Conn {
	var best *Conn
	bestScore := -1
	for _, c := range t.ports[dport] {
		if !c.takes(dst) {
			continue
		}
		score := 0
		if c.laddr != [16]byte{} {
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
	if !t.parsed(b, err) {
		return
	}
	broadcast := b.PktType == skb.PacketBroadcast || dst == [4]byte{255, 255, 255, 255}
	t.rcv(b, u, ip46.Mapped(src), ip46.Mapped(dst), nil, broadcast)
}

// parsed counts (and frees) a datagram that did not parse.
func (t *Table) parsed(b *skb.Buff, err error) bool {
	if err != nil {
		if errors.Is(err, header.ErrChecksum) {
			t.Stats.InCsumErrors.Add(1)
		}
		t.Stats.InErrors.Add(1)
		b.Free()
	}
	return err == nil
}

// rcv delivers a parsed datagram of either IP version; dev is the device
// of a link-local sender (its zone).
func (t *Table) rcv(b *skb.Buff, u header.UDP, src, dst [16]byte, dev *netcore.Device, broadcast bool) {
	sport, dport := u.SrcPort(), u.DstPort()
	b.Trim(u.Length())
	b.Pull(header.UDPLen)
	t.mu.RLock()
	if broadcast {
		// Every socket bound to the port hears a broadcast, but one
		// bound to another local address (__udp_is_mcast_sock): a
		// socket on 10.1.0.2 hears 10.1.0.2, one on 10.1.0.255 or the
		// wildcard hears the broadcast.
		var targets []*Conn
		for _, c := range t.ports[dport] {
			if !c.takes(dst) {
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
			t.deliver(c, b.Clone(), src, sport, dev)
		}
		t.deliver(targets[0], b, src, sport, dev)
		return
	}
	c := t.lookupLocked(src, dst, sport, dport)
	t.mu.RUnlock()
	if c == nil {
		t.Stats.NoPorts.Add(1)
		b.Push(header.UDPLen)
		if ip46.Is4(dst) {
			t.ip.SendError(b, header.ICMPDestUnreach, header.ICMPPortUnreach, 0)
		} else {
			t.ip6.SendError(b, header.ICMPv6DstUnreach, header.ICMPv6PortUnreach, 0)
		}
		b.Free()
		return
	}
	t.deliver(c, b, src, sport, dev)
}

func (t *Table) deliver(c *Conn, b *skb.Buff, src [16]byte, sport uint16, dev *netcore.Device) {
	if !c.enqueue(b, src, sport, dev) {
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
	var err error = &ipv4.UnreachableError{Type: typ, Code: code, From: orig.Dst()}
	if typ == header.ICMPDestUnreach && code == header.ICMPPortUnreach {
		err = ErrConnRefused
	}
	t.icmpError(p, ip46.Mapped(orig.Src()), ip46.Mapped(orig.Dst()), err)
}

// icmpError reports an error about the datagram p quotes, sent from src
// to dst, to the connected socket that sent it.
func (t *Table) icmpError(p []byte, src, dst [16]byte, err error) {
	u := header.UDP(p[:8])
	t.mu.RLock()
	c := t.lookupLocked(dst, src, u.DstPort(), u.SrcPort())
	t.mu.RUnlock()
	if c == nil || !c.connected {
		return // Linux reports errors only to connected sockets by default
	}
	c.setError(err)
}

// ErrConnRefused is what a connected socket reads after an ICMP port
// unreachable (ECONNREFUSED).
var ErrConnRefused = errors.New("udp: connection refused")

// Listen binds a socket to laddr (nil or zero fields: any address of
// either IP version, an ephemeral port; 0.0.0.0: any IPv4 address).
func (t *Table) Listen(laddr *net.UDPAddr) (*Conn, error) {
	only := 0
	if laddr != nil && laddr.IP != nil && laddr.IP.To4() != nil && laddr.IP.IsUnspecified() {
		only = 4
	}
	return t.ListenFamily(laddr, only)
}

// ListenFamily is Listen restricted to one IP version (4 or 6; 0: both),
// for "udp4" and "udp6".
func (t *Table) ListenFamily(laddr *net.UDPAddr, only int) (*Conn, error) {
	c := newConn(t)
	c.only = only
	if laddr != nil {
		if laddr.IP != nil && !laddr.IP.IsUnspecified() {
			a, ok := netip.AddrFromSlice(laddr.IP)
			if !ok {
				return nil, fmt.Errorf("udp: listen %v: bad address", laddr)
			}
			c.laddr, c.only = a.As16(), 6
			if a.Unmap().Is4() {
				c.only = 4
			}
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

// Dial makes a connected socket to raddr (IPv4 or IPv6, a link-local one
// with its zone), bound to laddr (may be nil).
func (t *Table) Dial(laddr, raddr *net.UDPAddr) (*Conn, error) {
	var dst netip.Addr
	if raddr != nil {
		dst, _ = netip.AddrFromSlice(raddr.IP)
	}
	if !dst.IsValid() || raddr.Port <= 0 || raddr.Port > 65535 {
		return nil, fmt.Errorf("udp: dial %v: need an IP address and port", raddr)
	}
	dst = dst.Unmap()
	c := newConn(t)
	c.connected = true
	c.raddr = dst.As16()
	c.rport = uint16(raddr.Port)
	c.only = 6
	if dst.Is4() {
		c.only = 4
	}
	if laddr != nil {
		if a, ok := netip.AddrFromSlice(laddr.IP); ok && !a.IsUnspecified() {
			c.laddr = a.As16()
		}
		c.lport = uint16(laddr.Port)
	}
	src, dev, err := t.source(dst, raddr.Zone)
	if err != nil {
		return nil, fmt.Errorf("udp: dial %v: %w", raddr, err)
	}
	c.dev = dev
	if c.laddr == [16]byte{} {
		c.laddr = src
	}
	if err := t.bind(c); err != nil {
		return nil, err
	}
	return c, nil
}

// source picks the local address (and for a link-local peer the device,
// named by zone) for datagrams to dst.
func (t *Table) source(dst netip.Addr, zone string) ([16]byte, *netcore.Device, error) {
	if dst.Is4() {
		src, ok := t.ip.SourceFor(dst.As4())
		if !ok {
			return [16]byte{}, nil, ipv4.ErrNoRoute
		}
		return ip46.Mapped(src), nil, nil
	}
	if t.ip6 == nil {
		return [16]byte{}, nil, ipv6.ErrNoRoute
	}
	var dev *netcore.Device
	if zone != "" {
		if dev = t.ip.Core().DeviceByName(zone); dev == nil {
			return [16]byte{}, nil, fmt.Errorf("no device %q", zone)
		}
	}
	rt, src, err := t.ip6.Route(dst, dev)
	if err != nil {
		return [16]byte{}, nil, err
	}
	if !dst.IsLinkLocalUnicast() && !dst.IsLinkLocalMulticast() {
		rt.Dev = nil
	}
	return src.As16(), rt.Dev, nil
}

// AttachIPv6 makes the table serve IPv6 too: it registers with ip6.
func (t *Table) AttachIPv6(ip6 *ipv6.Stack) {
	t.ip6 = ip6
	ip6.AddProtocol(header.ProtoUDP, v6Handler{t})
}

// v6Handler is UDP's ipv6.Handler (udpv6_rcv, udpv6_err).
type v6Handler struct{ t *Table }

func (h v6Handler) Receive(b *skb.Buff) {
	ip := header.IPv6(b.NetworkHeader())
	src, dst := ip.Src(), ip.Dst()
	var u header.UDP
	var err error
	if b.CsumValid {
		u, err = header.ParseUDPVerified(b.Data()) // the device (or the kernel across a TAP) vouched for it
	} else {
		u, err = header.ParseUDP6(b.Data(), src, dst)
	}
	if !h.t.parsed(b, err) {
		return
	}
	var dev *netcore.Device
	if ip46.LinkLocal(src) {
		dev, _ = b.Dev.(*netcore.Device)
	}
	h.t.rcv(b, u, src, dst, dev, dst[0] == 0xff)
}

// Error takes an ICMPv6 error about a datagram of ours: Packet Too Big
// lowers the path MTU (udpv6_err's ip6_sk_update_pmtu), the others go to
// the connected socket that sent it.
func (h v6Handler) Error(orig header.IPv6, typ, code uint8, info uint32) {
	p := orig.Payload()
	if len(p) < 8 || orig.NextHeader() != header.ProtoUDP {
		return
	}
	if typ == header.ICMPv6PacketTooBig {
		h.t.ip6.UpdatePMTU(orig.DstAddr(), int(info))
		return
	}
	var err error = &ipv6.UnreachableError{Type: typ, Code: code, From: orig.DstAddr()}
	if typ == header.ICMPv6DstUnreach && code == header.ICMPv6PortUnreach {
		err = ErrConnRefused
	}
	h.t.icmpError(p, orig.Src(), orig.Dst(), err)
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
