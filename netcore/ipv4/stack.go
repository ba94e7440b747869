// Package ipv4 is the IPv4 layer with ICMP (Linux's net/ipv4 ip_input.c,
// ip_output.c, ip_fragment.c, route.c, icmp.c): addresses and routes,
// ip_rcv with the IP MIB's counted drops, local delivery by protocol,
// optional forwarding, output with fragmentation, reassembly bounded in
// time and memory, hook points for filters, and ICMP echo and errors.
package ipv4

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/netcore/internal/pingwait"
	"github.com/ringonet/ringo/netcore/internal/ratelimit"
	"github.com/ringonet/ringo/netcore/neigh"
	"github.com/ringonet/ringo/netcore/nf"
	"github.com/ringonet/ringo/netcore/skb"
)

// Config sets up the IPv4 layer. Zero values take Linux's defaults.
type Config struct {
	Forwarding    bool          // net.ipv4.ip_forward
	DefaultTTL    uint8         // net.ipv4.ip_default_ttl: 64
	FragTimeout   time.Duration // net.ipv4.ipfrag_time: 30 s
	FragHighBytes int           // net.ipv4.ipfrag_high_thresh: 4 MiB
	// ICMP errors and echo replies sent per second, and the burst
	// (net.ipv4.icmp_msgs_per_sec 1000, icmp_msgs_burst 50).
	ICMPRate, ICMPBurst int
	// EchoIgnoreBroadcasts: do not answer pings to broadcast addresses
	// (net.ipv4.icmp_echo_ignore_broadcasts, default on).
	EchoReplyBroadcasts bool
	Neigh               neigh.Config
	Logger              *slog.Logger
}

// Handler is a transport protocol (struct net_protocol).
type Handler interface {
	// Receive takes a datagram for local delivery in softirq context: b's
	// data starts at the transport header, its network header is set. It
	// owns b.
	Receive(b *skb.Buff)
	// Error reports an ICMP error about a datagram this host sent: orig is
	// the quoted IP header and at least 8 bytes after it; info is the
	// ICMP header's second word (the next-hop MTU of a Fragmentation
	// Needed in its low 16 bits, RFC 1191).
	Error(orig header.IPv4, typ, code uint8, info uint32)
}

// Addr is an address assigned to a device.
type Addr struct {
	Dev    *netcore.Device
	Prefix netip.Prefix // address and prefix length, e.g. 10.0.2.15/24
}

// Route is one entry of the routing table.
type Route struct {
	Dst     netip.Prefix
	Gateway netip.Addr // invalid: on-link
	Dev     *netcore.Device
	Src     netip.Addr // preferred source; invalid: the device's first address
	Metric  int

	mtu int // set on output: the path MTU toward the packet's destination
}

// MTU is the largest packet the route takes: the path MTU toward the
// destination on output, the device's MTU otherwise.
func (r Route) MTU() int {
	if r.mtu > 0 {
		return r.mtu
	}
	return r.Dev.MTU()
}

// Hook points for filters (the netfilter hooks IPv4 has on these paths),
// shared with IPv6 (package nf).
type (
	HookPoint = nf.HookPoint
	Verdict   = nf.Verdict
	Hook      = nf.Hook
)

const (
	PreRouting  = nf.PreRouting
	LocalOut    = nf.LocalOut
	PostRouting = nf.PostRouting
	Accept      = nf.Accept
	Drop        = nf.Drop
)

// Stack is the IPv4 layer of one netcore.Core.
type Stack struct {
	core  *netcore.Core
	cfg   Config
	log   *slog.Logger
	Neigh *neigh.Table
	lo    *netcore.Device

	mu     sync.RWMutex // guards addrs, routes
	addrs  []Addr
	routes []Route // sorted: longest prefix first, then metric

	protos [256]atomic.Pointer[Handler]
	hooks  nf.Chains
	ipID   atomic.Uint32

	frags   *reassembler
	pmtu    pmtuCache
	icmpLim *ratelimit.Bucket
	pings   pingwait.Table

	MIB  IPStats
	ICMP ICMPStats
}

// New creates the IPv4 layer: registers the IPv4 ethertype, a loopback
// device "lo" with 127.0.0.1/8, the neighbour table, and ICMP.
func New(c *netcore.Core, cfg Config) (*Stack, error) {
	if cfg.DefaultTTL == 0 {
		cfg.DefaultTTL = 64
	}
	if cfg.FragTimeout == 0 {
		cfg.FragTimeout = 30 * time.Second
	}
	if cfg.FragHighBytes == 0 {
		cfg.FragHighBytes = 4 << 20
	}
	if cfg.ICMPRate == 0 {
		cfg.ICMPRate = 1000
	}
	if cfg.ICMPBurst == 0 {
		cfg.ICMPBurst = 50
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Neigh.Logger == nil {
		cfg.Neigh.Logger = cfg.Logger
	}
	s := &Stack{core: c, cfg: cfg, log: cfg.Logger}
	s.icmpLim = ratelimit.New(cfg.ICMPRate, cfg.ICMPBurst)
	s.Neigh = neigh.New(c, cfg.Neigh, neigh.Hooks{
		IsLocal: func(dev *netcore.Device, ip netip.Addr) bool { return ip.Is4() && s.isLocalOn(dev, ip.As4()) },
		Martian: func(ip netip.Addr) bool { return !ip.Is4() || s.classify(ip.As4()) != addrRemote },
		SourceFor: func(dev *netcore.Device, target netip.Addr) (netip.Addr, bool) {
			if !target.Is4() {
				return netip.Addr{}, false
			}
			src, ok := s.sourceFor(dev, target.As4())
			return netip.AddrFrom4(src), ok
		},
		Unreachable: s.neighUnreachable,
	})
	s.frags = newReassembler(s, cfg.FragTimeout, cfg.FragHighBytes)
	var err error
	if s.lo, err = newLoopback(c); err != nil {
		return nil, err
	}
	c.AddPacketType(netcore.EthPIPv4, s.ipRcv)
	s.AddProtocol(header.ProtoICMP, icmpHandler{s})
	if err := s.AddAddress(s.lo, netip.MustParsePrefix("127.0.0.1/8")); err != nil {
		return nil, err
	}
	return s, nil
}

// Close stops the timers.
func (s *Stack) Close() {
	s.frags.close()
	s.Neigh.Close()
}

// Core is the network core underneath.
func (s *Stack) Core() *netcore.Core { return s.core }

// Loopback is the stack's loopback device.
func (s *Stack) Loopback() *netcore.Device { return s.lo }

// Config returns the settings in force.
func (s *Stack) Config() Config { return s.cfg }

// AddProtocol registers a transport protocol (inet_add_protocol).
func (s *Stack) AddProtocol(proto uint8, h Handler) { s.protos[proto].Store(&h) }

// AddHook adds a filter at a hook point.
func (s *Stack) AddHook(p HookPoint, h Hook) { s.hooks.Add(p, h) }

func (s *Stack) runHooks(p HookPoint, b *skb.Buff, dev *netcore.Device) Verdict {
	return s.hooks.Run(p, b, dev)
}

// AddAddress assigns an address to a device, adds the connected route and
// announces the address with a gratuitous ARP.
func (s *Stack) AddAddress(dev *netcore.Device, p netip.Prefix) error {
	if !p.Addr().Is4() {
		return fmt.Errorf("ipv4: %v is not an IPv4 prefix", p)
	}
	s.mu.Lock()
	for _, a := range s.addrs {
		if a.Dev == dev && a.Prefix == p {
			s.mu.Unlock()
			return nil
		}
	}
	s.addrs = append(s.addrs, Addr{Dev: dev, Prefix: p})
	s.addRouteLocked(Route{Dst: p.Masked(), Dev: dev, Src: p.Addr()})
	s.mu.Unlock()
	if dev != s.lo && dev.IsUp() {
		s.Neigh.Gratuitous(dev, p.Addr().As4())
	}
	s.log.Info("address added", "dev", dev.Name, "addr", p)
	return nil
}

// DelAddress removes an address and the routes through it.
func (s *Stack) DelAddress(dev *netcore.Device, p netip.Prefix) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var keep []Addr
	for _, a := range s.addrs {
		if !(a.Dev == dev && a.Prefix == p) {
			keep = append(keep, a)
		}
	}
	s.addrs = keep
	var routes []Route
	for _, r := range s.routes {
		if !(r.Dev == dev && r.Dst == p.Masked() && !r.Gateway.IsValid()) {
			routes = append(routes, r)
		}
	}
	s.routes = routes
}

// Addresses lists every address.
func (s *Stack) Addresses() []Addr {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return append([]Addr(nil), s.addrs...)
}

// AddRoute adds a route; a gateway route must have an on-link gateway.
func (s *Stack) AddRoute(r Route) error {
	if !r.Dst.Addr().Is4() {
		return fmt.Errorf("ipv4: route %v is not IPv4", r.Dst)
	}
	r.Dst = r.Dst.Masked()
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Gateway.IsValid() && r.Dev == nil {
		rt, ok := s.lookupLocked(r.Gateway.As4())
		if !ok || rt.Gateway.IsValid() {
			return fmt.Errorf("ipv4: gateway %v is not on a connected network", r.Gateway)
		}
		r.Dev = rt.Dev
	}
	if r.Dev == nil {
		return errors.New("ipv4: route without a device")
	}
	s.addRouteLocked(r)
	return nil
}

// SetDefaultGateway replaces the default route.
func (s *Stack) SetDefaultGateway(gw netip.Addr) error {
	s.mu.Lock()
	var routes []Route
	for _, r := range s.routes {
		if r.Dst.Bits() != 0 {
			routes = append(routes, r)
		}
	}
	s.routes = routes
	s.mu.Unlock()
	return s.AddRoute(Route{Dst: netip.PrefixFrom(netip.IPv4Unspecified(), 0), Gateway: gw})
}

func (s *Stack) addRouteLocked(r Route) {
	for i, o := range s.routes {
		if o.Dst == r.Dst && o.Dev == r.Dev && o.Gateway == r.Gateway {
			s.routes[i] = r
			return
		}
	}
	s.routes = append(s.routes, r)
	sort.SliceStable(s.routes, func(i, j int) bool {
		if s.routes[i].Dst.Bits() != s.routes[j].Dst.Bits() {
			return s.routes[i].Dst.Bits() > s.routes[j].Dst.Bits()
		}
		return s.routes[i].Metric < s.routes[j].Metric
	})
}

// Routes lists the routing table, longest prefix first.
func (s *Stack) Routes() []Route {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return append([]Route(nil), s.routes...)
}

// ConfirmNeighbour tells the neighbour layer that the next hop toward dst
// answers (Linux's dst_confirm_neigh): a protocol that sees forward
// progress, TCP's ACKs of new data, keeps the entry REACHABLE without
// ARP probes.
func (s *Stack) ConfirmNeighbour(dst [4]byte) {
	rt, ok := s.Lookup(dst)
	if !ok || rt.Dev == s.lo {
		return
	}
	hop := dst
	if rt.Gateway.IsValid() {
		hop = rt.Gateway.As4()
	}
	s.Neigh.Confirm(rt.Dev, netip.AddrFrom4(hop))
}

// Lookup finds the route for dst by longest-prefix match (fib_lookup).
func (s *Stack) Lookup(dst [4]byte) (Route, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.lookupLocked(dst)
}

func (s *Stack) lookupLocked(dst [4]byte) (Route, bool) {
	a := netip.AddrFrom4(dst)
	for _, r := range s.routes {
		if r.Dst.Contains(a) && r.Dev.IsUp() {
			return r, true
		}
	}
	return Route{}, false
}

// addrKind says how an address relates to this host.
type addrKind int

const (
	addrRemote addrKind = iota
	addrLocal
	addrBroadcast // limited or directed broadcast of one of our subnets
	addrMartian   // must not appear as a source: 0/8 except 0.0.0.0, 127/8 off lo, multicast, class E
)

// classify says what dst is to this host, as seen arriving on dev.
func (s *Stack) classify(ip [4]byte) addrKind {
	if ip == [4]byte{255, 255, 255, 255} {
		return addrBroadcast
	}
	a := netip.AddrFrom4(ip)
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, ad := range s.addrs {
		if ad.Prefix.Addr() == a {
			return addrLocal
		}
		if ad.Prefix.Bits() < 31 && ad.Dev != s.lo && broadcastOf(ad.Prefix) == a {
			return addrBroadcast
		}
	}
	return addrRemote
}

func broadcastOf(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	host := ^uint32(0) >> p.Bits()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func (s *Stack) isLocalOn(dev *netcore.Device, ip [4]byte) bool {
	a := netip.AddrFrom4(ip)
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, ad := range s.addrs {
		if ad.Dev == dev && ad.Prefix.Addr() == a {
			return true
		}
	}
	return false
}

// sourceFor picks the address to send from on dev: one in the target's
// subnet if any, else the device's first.
func (s *Stack) sourceFor(dev *netcore.Device, target [4]byte) ([4]byte, bool) {
	t := netip.AddrFrom4(target)
	s.mu.RLock()
	defer s.mu.RUnlock()
	var first netip.Addr
	for _, ad := range s.addrs {
		if ad.Dev != dev {
			continue
		}
		if ad.Prefix.Contains(t) {
			return ad.Prefix.Addr().As4(), true
		}
		if !first.IsValid() {
			first = ad.Prefix.Addr()
		}
	}
	if first.IsValid() {
		return first.As4(), true
	}
	return [4]byte{}, false
}

// SourceFor returns the source address this host would use to reach dst,
// for sockets that bind to the wildcard.
func (s *Stack) SourceFor(dst [4]byte) ([4]byte, bool) {
	rt, ok := s.Lookup(dst)
	if !ok && dst == [4]byte{255, 255, 255, 255} {
		rt, ok = s.firstDeviceRoute()
	}
	if !ok {
		return [4]byte{}, false
	}
	if rt.Src.IsValid() {
		return rt.Src.As4(), true
	}
	return s.sourceFor(rt.Dev, dst)
}

func isMartianSource(ip [4]byte) bool {
	return ip[0] >= 224 || (ip[0] == 0 && ip != [4]byte{}) || ip == [4]byte{255, 255, 255, 255}
}

// IP returns the address as net.IP (for display).
func IP(a [4]byte) net.IP { return net.IPv4(a[0], a[1], a[2], a[3]) }
