// Package ipv6 is the IPv6 layer with ICMPv6 and neighbour discovery
// (Linux's net/ipv6: ip6_input.c, ip6_output.c, route.c, icmp.c, ndisc.c,
// addrconf.c): addresses that pass duplicate address detection before use
// and a link-local address on every device, routes by longest prefix,
// source address selection, ipv6_rcv with the extension-header chain
// walked under bounds, local delivery by next header, output through the
// neighbour table shared with ARP's code, forwarding (off by default),
// ICMPv6 echo and errors with Linux's rate limit, MLDv2 reports.
package ipv6

import (
	"errors"
	"fmt"
	"log/slog"
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

// Config sets up the IPv6 layer. Zero values take Linux's defaults.
type Config struct {
	HopLimit uint8 // net.ipv6.conf.all.hop_limit: 64
	// Forwarding routes packets not for this host (net.ipv6.conf.all.
	// forwarding; off, as Linux has it).
	Forwarding bool
	// DADTransmits is how many Neighbor Solicitations duplicate address
	// detection sends (dad_transmits: 1); negative turns DAD off.
	DADTransmits int
	// RetransTimer is the wait between them and after the last
	// (RetransTimer, RFC 4861 10: 1 s).
	RetransTimer time.Duration
	// ICMP errors sent per second and the burst (net.ipv6.icmp.ratelimit
	// is 1 s per 1000 ms... here as the IPv4 side has it: 1000, 50).
	ICMPRate, ICMPBurst int
	// StableSecret keys the stable link-local interface identifiers of
	// RFC 7217 (stable_secret); zero: random per stack. EUI64 uses the
	// MAC-derived identifier instead (addr_gen_mode eui64).
	StableSecret [16]byte
	EUI64        bool
	// MaxAddrs bounds the addresses of one device (SLAAC from RAs
	// cannot grow it past this).
	MaxAddrs int
	Neigh    neigh.Config
	Logger   *slog.Logger
}

// Handler is an upper-layer protocol (struct inet6_protocol).
type Handler interface {
	// Receive takes a datagram for local delivery in softirq context: b's
	// data starts at the upper-layer header, its network header is the
	// IPv6 header. It owns b.
	Receive(b *skb.Buff)
	// Error reports an ICMPv6 error about a packet this host sent: orig
	// is the quoted IPv6 header and what followed of it.
	Error(orig header.IPv6, typ, code uint8, info uint32)
}

// AddrState is where an address is in its life (IFA_F_TENTATIVE and kin).
type AddrState uint8

const (
	Tentative  AddrState = iota // duplicate address detection running: not used
	Preferred                   // in use
	Deprecated                  // usable, not chosen as a source
	DADFailed                   // another node has it: never used
)

func (s AddrState) String() string {
	return [...]string{"tentative", "preferred", "deprecated", "dadfailed"}[s]
}

// Addr is an address assigned to a device.
type Addr struct {
	Dev      *netcore.Device
	Prefix   netip.Prefix
	State    AddrState
	Autoconf bool      // from SLAAC or the link-local generator
	Valid    time.Time // zero: forever
}

// Route is one entry of the routing table.
type Route struct {
	Dst     netip.Prefix
	Gateway netip.Addr // invalid: on-link
	Dev     *netcore.Device
	Metric  int
	Expires time.Time // zero: never (RA routes expire)
}

// Stack is the IPv6 layer of one netcore.Core.
type Stack struct {
	core  *netcore.Core
	cfg   Config
	log   *slog.Logger
	Neigh *neigh.Table

	mu     sync.RWMutex // guards addrs, routes, devs
	addrs  []*addrEntry
	routes []Route // sorted: longest prefix first, then metric
	devs   map[*netcore.Device]*devState

	protos  [256]atomic.Pointer[Handler]
	hooks   nf.Chains
	fragID  atomic.Uint32
	icmpLim *ratelimit.Bucket
	pings   pingwait.Table
	frags   *reassembler
	pmtu    pmtuCache
	routers routerList

	readyMu sync.Mutex
	ready   chan struct{} // closed and replaced when an address changes state

	stop       chan struct{}
	verifyDone chan struct{}

	MIB  IPStats
	ICMP ICMPStats
}

// devState is what IPv6 keeps per device (struct inet6_dev).
type devState struct {
	groups     map[[16]byte]int // joined multicast groups and their users
	mldPending bool             // an answer to an MLD query is scheduled
}

type addrEntry struct {
	Addr
	dadLeft int         // solicitations still to send
	dadTick *time.Timer // the DAD timer
}

// Errors.
var (
	ErrNoRoute  = errors.New("ipv6: no route to host")
	ErrNoSource = errors.New("ipv6: no usable source address")
	ErrMsgSize  = errors.New("ipv6: message too long")
)

// New creates the IPv6 layer: registers the IPv6 ethertype, ICMPv6 and
// the neighbour table with neighbour discovery as its resolver. Devices
// take part once Enable gives them their link-local address.
func New(c *netcore.Core, cfg Config) *Stack {
	if cfg.HopLimit == 0 {
		cfg.HopLimit = 64
	}
	if cfg.DADTransmits == 0 {
		cfg.DADTransmits = 1
	}
	if cfg.RetransTimer == 0 {
		cfg.RetransTimer = time.Second
	}
	if cfg.ICMPRate == 0 {
		cfg.ICMPRate = 1000
	}
	if cfg.ICMPBurst == 0 {
		cfg.ICMPBurst = 50
	}
	if cfg.MaxAddrs == 0 {
		cfg.MaxAddrs = 16
	}
	if cfg.StableSecret == ([16]byte{}) {
		cfg.StableSecret = randomSecret()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Neigh.Logger == nil {
		cfg.Neigh.Logger = cfg.Logger
	}
	s := &Stack{core: c, cfg: cfg, log: cfg.Logger, devs: map[*netcore.Device]*devState{},
		ready: make(chan struct{}), stop: make(chan struct{}), verifyDone: make(chan struct{})}
	s.icmpLim = ratelimit.New(cfg.ICMPRate, cfg.ICMPBurst)
	s.Neigh = neigh.NewTable(cfg.Neigh, neigh.Proto{Name: "ndisc", EtherType: netcore.EthPIPv6, Solicit: s.solicit}, neigh.Hooks{
		IsLocal: func(dev *netcore.Device, ip netip.Addr) bool { return s.isLocalOn(dev, ip) },
		Martian: func(ip netip.Addr) bool {
			return !ip.Is6() || ip.IsMulticast() || ip.IsUnspecified() || ip.IsLoopback()
		},
		Unreachable: s.neighUnreachable,
	})
	s.frags = newReassembler(s)
	c.AddPacketType(netcore.EthPIPv6, s.ipv6Rcv)
	s.AddProtocol(header.ProtoICMPv6, icmpHandler{s})
	go s.verify()
	return s
}

// Close stops the timers.
func (s *Stack) Close() {
	close(s.stop)
	<-s.verifyDone
	s.frags.close()
	s.mu.Lock()
	for _, a := range s.addrs {
		if a.dadTick != nil {
			a.dadTick.Stop()
		}
	}
	s.mu.Unlock()
	s.Neigh.Close()
}

// AddHook adds a filter at p (package nf; the IPv4 side has the same
// points): PreRouting after ipv6_rcv's checks, LocalOut on a locally
// generated packet, PostRouting as it leaves. Neighbour discovery's own
// messages are not hooked.
func (s *Stack) AddHook(p nf.HookPoint, h nf.Hook) { s.hooks.Add(p, h) }

// AddProtocol registers the handler for a next-header value.
func (s *Stack) AddProtocol(proto uint8, h Handler) { s.protos[proto].Store(&h) }

// Enable makes dev an IPv6 interface (addrconf_dev_config): it joins the
// all-nodes group and gets its link-local address, fe80::/64 with a stable
// interface identifier (RFC 7217) or the EUI-64 one, after DAD.
func (s *Stack) Enable(dev *netcore.Device) error {
	s.mu.Lock()
	if _, ok := s.devs[dev]; ok {
		s.mu.Unlock()
		return nil
	}
	s.devs[dev] = &devState{groups: map[[16]byte]int{}}
	s.mu.Unlock()
	s.join(dev, header.IPv6AllNodes)
	s.AddRoute(Route{Dst: netip.MustParsePrefix("fe80::/64"), Dev: dev, Metric: 256})
	s.AddRoute(Route{Dst: netip.MustParsePrefix("ff00::/8"), Dev: dev, Metric: 256})
	ll := s.interfaceID(dev, netip.MustParsePrefix("fe80::/64"), 0)
	return s.addAddress(dev, netip.PrefixFrom(ll, 64), true)
}

// AddAddress assigns p on dev (ip -6 addr add) with its on-link prefix
// route; the address is tentative until DAD passes.
func (s *Stack) AddAddress(dev *netcore.Device, p netip.Prefix) error {
	if !p.Addr().Is6() || p.Addr().Is4In6() || p.Addr().IsMulticast() || p.Addr().IsUnspecified() {
		return fmt.Errorf("ipv6: %v is not an IPv6 unicast prefix", p)
	}
	if err := s.Enable(dev); err != nil {
		return err
	}
	return s.addAddress(dev, p, false)
}

func (s *Stack) addAddress(dev *netcore.Device, p netip.Prefix, auto bool) error {
	s.mu.Lock()
	n := 0
	for _, a := range s.addrs {
		if a.Dev == dev && a.Prefix.Addr() == p.Addr() {
			s.mu.Unlock()
			return nil
		}
		if a.Dev == dev {
			n++
		}
	}
	if n >= s.cfg.MaxAddrs {
		s.mu.Unlock()
		s.MIB.AddrLimitDrops.Add(1)
		return fmt.Errorf("ipv6: %s has %d addresses already", dev.Name, n)
	}
	a := &addrEntry{Addr: Addr{Dev: dev, Prefix: p, State: Tentative, Autoconf: auto}, dadLeft: s.cfg.DADTransmits}
	s.addrs = append(s.addrs, a)
	if p.Bits() < 128 && !p.Addr().IsLinkLocalUnicast() {
		s.addRouteLocked(Route{Dst: p.Masked(), Dev: dev, Metric: 256})
	}
	s.mu.Unlock()
	s.join(dev, header.SolicitedNode(p.Addr().As16()))
	s.log.Info("address added", "dev", dev.Name, "addr", p, "state", "tentative")
	s.startDAD(a)
	return nil
}

// DelAddress removes an address, its prefix route and its group.
func (s *Stack) DelAddress(dev *netcore.Device, p netip.Prefix) {
	s.mu.Lock()
	found := false
	for i, a := range s.addrs {
		if a.Dev == dev && a.Prefix == p {
			if a.dadTick != nil {
				a.dadTick.Stop()
			}
			s.addrs = append(s.addrs[:i], s.addrs[i+1:]...)
			found = true
			break
		}
	}
	if found {
		routes := s.routes[:0]
		for _, r := range s.routes {
			if !(r.Dev == dev && r.Dst == p.Masked() && !r.Gateway.IsValid() && !p.Addr().IsLinkLocalUnicast()) {
				routes = append(routes, r)
			}
		}
		s.routes = routes
	}
	s.mu.Unlock()
	if found {
		s.leave(dev, header.SolicitedNode(p.Addr().As16()))
	}
}

// Addrs lists the addresses (ip -6 addr), sorted by device and address.
func (s *Stack) Addrs() []Addr {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Addr, 0, len(s.addrs))
	for _, a := range s.addrs {
		out = append(out, a.Addr)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Dev.Index != out[j].Dev.Index {
			return out[i].Dev.Index < out[j].Dev.Index
		}
		return out[i].Prefix.Addr().Less(out[j].Prefix.Addr())
	})
	return out
}

// AddRoute adds a route (ip -6 route add).
func (s *Stack) AddRoute(r Route) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addRouteLocked(r)
}

func (s *Stack) addRouteLocked(r Route) {
	r.Dst = r.Dst.Masked()
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

// DelRoute removes the routes to dst through gw (any gateway if invalid).
func (s *Stack) DelRoute(dst netip.Prefix, gw netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	routes := s.routes[:0]
	for _, r := range s.routes {
		if r.Dst == dst.Masked() && (!gw.IsValid() || r.Gateway == gw) {
			continue
		}
		routes = append(routes, r)
	}
	s.routes = routes
}

// Routes lists the routing table (ip -6 route).
func (s *Stack) Routes() []Route {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return append([]Route(nil), s.routes...)
}

// Lookup finds the route for dst by longest-prefix match; a link-local or
// multicast link-scope destination needs its device (the zone), given
// as dev, and so does any destination when dev is not nil.
func (s *Stack) Lookup(dst netip.Addr, dev *netcore.Device) (Route, bool) {
	now := time.Now()
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, r := range s.routes {
		if dev != nil && r.Dev != dev {
			continue
		}
		if !r.Expires.IsZero() && now.After(r.Expires) {
			continue
		}
		if r.Dst.Contains(dst) {
			return r, true
		}
	}
	return Route{}, false
}

// isLocal reports whether a is one of our unicast addresses (tentative
// ones are not: they may belong to another node yet).
func (s *Stack) isLocal(a netip.Addr) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, e := range s.addrs {
		if e.Prefix.Addr() == a && (e.State == Preferred || e.State == Deprecated) {
			return true
		}
	}
	return false
}

func (s *Stack) isLocalOn(dev *netcore.Device, a netip.Addr) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, e := range s.addrs {
		if e.Dev == dev && e.Prefix.Addr() == a && (e.State == Preferred || e.State == Deprecated) {
			return true
		}
	}
	return false
}

// addrOn finds our address a on dev, in any state.
func (s *Stack) addrOn(dev *netcore.Device, a netip.Addr) *addrEntry {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.findLocked(dev, a)
}

// joined reports whether dev listens to group g.
func (s *Stack) joined(dev *netcore.Device, g [16]byte) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	d := s.devs[dev]
	return d != nil && d.groups[g] > 0
}

// join adds a user of group g on dev (ipv6_dev_mc_inc): the device's
// link-layer filter takes the group's MAC.
func (s *Stack) join(dev *netcore.Device, g [16]byte) {
	s.mu.Lock()
	d := s.devs[dev]
	if d == nil {
		s.mu.Unlock()
		return
	}
	d.groups[g]++
	first := d.groups[g] == 1
	s.mu.Unlock()
	if first {
		var mac [6]byte
		header.IPv6MulticastMAC(g, &mac)
		dev.McAdd(mac)
		if g != header.IPv6AllNodes {
			s.mldReport(dev, mldChangeToExclude, [][16]byte{g})
		}
	}
}

func (s *Stack) leave(dev *netcore.Device, g [16]byte) {
	s.mu.Lock()
	d := s.devs[dev]
	if d == nil || d.groups[g] == 0 {
		s.mu.Unlock()
		return
	}
	d.groups[g]--
	last := d.groups[g] == 0
	if last {
		delete(d.groups, g)
	}
	s.mu.Unlock()
	if last {
		var mac [6]byte
		header.IPv6MulticastMAC(g, &mac)
		dev.McDel(mac)
		if g != header.IPv6AllNodes {
			s.mldReport(dev, mldChangeToInclude, [][16]byte{g})
		}
	}
}

// scope is an address's scope for source selection (RFC 4291 2.5.6,
// 2.7; RFC 6724 3.1).
func scope(a netip.Addr) int {
	switch {
	case a.IsMulticast():
		return int(a.As16()[1] & 0x0f)
	case a.IsLinkLocalUnicast(), a.IsLoopback():
		return 2
	}
	return 14
}

// SourceFor picks the source address for dst leaving by dev (RFC 6724 5:
// rules 1 same address, 2 appropriate scope, 3 avoid deprecated, 5 prefer
// the outgoing interface, 8 longest matching prefix). Tentative and
// failed addresses are never chosen.
func (s *Stack) SourceFor(dst netip.Addr, dev *netcore.Device) (netip.Addr, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var best *addrEntry
	better := func(a, b *addrEntry) bool { // is a better than b
		if b == nil {
			return true
		}
		if (a.Prefix.Addr() == dst) != (b.Prefix.Addr() == dst) { // rule 1
			return a.Prefix.Addr() == dst
		}
		sa, sb, sd := scope(a.Prefix.Addr()), scope(b.Prefix.Addr()), scope(dst)
		if sa != sb { // rule 2
			if sa < sb {
				return sa >= sd
			}
			return sb < sd
		}
		if (a.State == Deprecated) != (b.State == Deprecated) { // rule 3
			return b.State == Deprecated
		}
		if (a.Dev == dev) != (b.Dev == dev) { // rule 5
			return a.Dev == dev
		}
		return commonPrefix(a.Prefix.Addr(), dst) > commonPrefix(b.Prefix.Addr(), dst) // rule 8
	}
	for _, a := range s.addrs {
		if a.State != Preferred && a.State != Deprecated {
			continue
		}
		if scope(a.Prefix.Addr()) == 2 && a.Dev != dev {
			continue // a link-local address belongs to its link
		}
		if better(a, best) {
			best = a
		}
	}
	if best == nil {
		return netip.Addr{}, false
	}
	return best.Prefix.Addr(), true
}

func commonPrefix(a, b netip.Addr) int {
	x, y := a.As16(), b.As16()
	for i := range x {
		if d := x[i] ^ y[i]; d != 0 {
			n := i * 8
			for d&0x80 == 0 {
				d <<= 1
				n++
			}
			return n
		}
	}
	return 128
}

// mtu is the MTU IPv6 uses on dev: never below 1280 (RFC 8200 5).
func mtu(dev *netcore.Device) int { return max(dev.MTU(), header.IPv6MinMTU) }
