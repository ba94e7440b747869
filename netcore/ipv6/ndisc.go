package ipv6

import (
	"net"
	"net/netip"
	"time"

	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/netcore/neigh"
	"github.com/ringonet/ringo/netcore/skb"
)

// Neighbour discovery (RFC 4861; Linux's ndisc.c): the IPv6 neighbour
// table's resolver, answers for our addresses, and what routers say.

// solicit is the table's Proto.Solicit (ndisc_solicit): a Neighbor
// Solicitation for target, to its solicited-node group or, probing a
// cached address, to the neighbour itself.
func (s *Stack) solicit(dev *netcore.Device, target netip.Addr, mac net.HardwareAddr) {
	src, ok := s.SourceFor(target, dev)
	if !ok {
		return // no usable address yet (the link-local one is tentative)
	}
	dst := netip.AddrFrom16(header.SolicitedNode(target.As16()))
	if mac != nil {
		dst = target
	}
	s.sendNS(dev, src, dst, target, mac)
}

// sendNS sends a Neighbor Solicitation from src (unspecified for DAD,
// which carries no source link-layer option, RFC 4862 5.4.2); dstMAC is
// the unicast probe's link address, nil for a multicast one.
func (s *Stack) sendNS(dev *netcore.Device, src, dst, target netip.Addr, dstMAC net.HardwareAddr) {
	n := header.NDNSLen
	if src.IsValid() && !src.IsUnspecified() {
		n += 8
	}
	b := skb.Alloc(n)
	if b == nil {
		return
	}
	p := b.Put(n)
	header.EncodeICMPv6(p, header.ICMPv6NeighborSol, 0, 0)
	t := target.As16()
	copy(p[8:24], t[:])
	if n > header.NDNSLen {
		header.PutNDLinkAddrOption(p[header.NDNSLen:], header.NDOptSourceLL, dev.HardwareAddr)
	}
	if !src.IsValid() {
		src = netip.IPv6Unspecified()
	}
	header.SetICMPv6Checksum(p, src.As16(), dst.As16())
	s.ICMP.Icmp6OutMsgs.Add(1)
	s.ICMP.Icmp6OutNeighborSolicits.Add(1)
	s.sendND(b, dev, src, dst, dstMAC)
}

// sendNA sends a Neighbor Advertisement for target with our link address.
func (s *Stack) sendNA(dev *netcore.Device, src, dst, target netip.Addr, flags uint32) {
	b := skb.Alloc(header.NDNALen + 8)
	if b == nil {
		return
	}
	p := b.Put(header.NDNALen + 8)
	header.EncodeICMPv6(p, header.ICMPv6NeighborAdv, 0, flags)
	t := target.As16()
	copy(p[8:24], t[:])
	header.PutNDLinkAddrOption(p[header.NDNALen:], header.NDOptTargetLL, dev.HardwareAddr)
	header.SetICMPv6Checksum(p, src.As16(), dst.As16())
	s.ICMP.Icmp6OutMsgs.Add(1)
	s.ICMP.Icmp6OutNeighborAdvertisements.Add(1)
	s.sendND(b, dev, src, dst, nil)
}

// sendND sends a neighbour discovery message with hop limit 255 (RFC 4861
// 7.1: receivers drop anything less, proof it came from the link). A
// multicast destination, or a known link address, needs no resolution.
func (s *Stack) sendND(b *skb.Buff, dev *netcore.Device, src, dst netip.Addr, dstMAC net.HardwareAddr) {
	plen := b.Len()
	h := b.Push(header.IPv6Len)
	if h == nil {
		b.Free()
		return
	}
	b.SetNetworkHeader()
	header.EncodeIPv6(h, header.IPv6Fields{PayloadLen: plen, NextHeader: header.ProtoICMPv6, HopLimit: 255, Src: src.As16(), Dst: dst.As16()})
	s.MIB.Ip6OutRequests.Add(1)
	switch {
	case dst.IsMulticast():
		s.MIB.Ip6OutMcastPkts.Add(1)
		var mac [6]byte
		header.IPv6MulticastMAC(dst.As16(), &mac)
		neigh.OutputDirectProto(b, dev, mac[:], netcore.EthPIPv6)
	case dstMAC != nil:
		neigh.OutputDirectProto(b, dev, dstMAC, netcore.EthPIPv6)
	default:
		s.Neigh.Output(b, dev, dst)
	}
}

// sendRS sends a Router Solicitation to all routers from src, with our
// link address.
func (s *Stack) sendRS(dev *netcore.Device, src netip.Addr) {
	b := skb.Alloc(header.NDRSLen + 8)
	if b == nil {
		return
	}
	p := b.Put(header.NDRSLen + 8)
	header.EncodeICMPv6(p, header.ICMPv6RouterSol, 0, 0)
	header.PutNDLinkAddrOption(p[header.NDRSLen:], header.NDOptSourceLL, dev.HardwareAddr)
	dst := netip.AddrFrom16(header.IPv6AllRouters)
	header.SetICMPv6Checksum(p, src.As16(), dst.As16())
	s.ICMP.Icmp6OutMsgs.Add(1)
	s.ICMP.Icmp6OutRouterSolicits.Add(1)
	s.sendND(b, dev, src, dst, nil)
}

// ndValid is RFC 4861's common validity check (7.1.1, 7.1.2, 6.1.2):
// hop limit 255, code 0, the message long enough.
func (s *Stack) ndValid(ip header.IPv6, m header.ICMPv6, min int) bool {
	if ip.HopLimit() != 255 || m.Code() != 0 || len(m) < min {
		s.ICMP.NDInvalid.Add(1)
		return false
	}
	return true
}

// ndiscNS answers a Neighbor Solicitation for one of our addresses
// (ndisc_recv_ns), learns the sender's link address, and takes an NS for
// a tentative address from a node doing its own DAD as a duplicate.
func (s *Stack) ndiscNS(dev *netcore.Device, ip header.IPv6, m header.ICMPv6) {
	if !s.ndValid(ip, m, header.NDNSLen) {
		return
	}
	target := netip.AddrFrom16(m.NDTarget())
	src, dst := ip.SrcAddr(), ip.DstAddr()
	opts, err := header.ParseNDOptions(m[header.NDNSLen:])
	dad := src.IsUnspecified()
	if err != nil || target.IsMulticast() || dad && (dst.As16() != header.SolicitedNode(target.As16()) || opts.SourceLL != nil) {
		s.ICMP.NDInvalid.Add(1)
		return
	}
	a := s.addrOn(dev, target)
	if a == nil {
		return // not ours: ringo proxies for nobody
	}
	switch a.State {
	case Tentative:
		if dad {
			s.dadFailed(a, "a neighbour solicitation from another node probing it")
		}
		return // a tentative address answers nothing (RFC 4862 5.4.3)
	case DADFailed:
		return
	}
	if dad {
		// The other node's DAD hits our address: defend it, to all
		// nodes (it has no address to be answered at).
		s.sendNA(dev, target, netip.AddrFrom16(header.IPv6AllNodes), target, header.NDFlagOverride)
		return
	}
	if opts.SourceLL != nil {
		s.Neigh.Update(dev, src, opts.SourceLL, false, true, true)
	}
	s.sendNA(dev, target, src, target, header.NDFlagSolicited|header.NDFlagOverride)
}

// ndiscNA takes a Neighbor Advertisement (ndisc_recv_na): one for a
// tentative address of ours ends its DAD as a duplicate; others update
// the neighbour table by RFC 4861 7.2.5's rules.
func (s *Stack) ndiscNA(dev *netcore.Device, ip header.IPv6, m header.ICMPv6) {
	if !s.ndValid(ip, m, header.NDNALen) {
		return
	}
	target := netip.AddrFrom16(m.NDTarget())
	flags := m.Word()
	opts, err := header.ParseNDOptions(m[header.NDNALen:])
	if err != nil || target.IsMulticast() || ip.DstAddr().IsMulticast() && flags&header.NDFlagSolicited != 0 {
		s.ICMP.NDInvalid.Add(1)
		return
	}
	if a := s.addrOn(dev, target); a != nil {
		if a.State == Tentative {
			s.dadFailed(a, "a neighbour advertisement for it")
		} else {
			s.log.Warn("ndisc: another node advertises our address", "dev", dev.Name, "addr", target)
		}
		return
	}
	s.Neigh.Update(dev, target, opts.TargetLL, flags&header.NDFlagSolicited != 0, flags&header.NDFlagOverride != 0, false)
}

// Router advertisements (RFC 4861 6.3.4) and SLAAC (RFC 4862 5.5).

// Bounds on what routers can make this host hold: a flood of RAs with
// random prefixes leaves memory bounded (counted in RADrops).
const (
	maxRouters      = 8
	maxPrefixRoutes = 16
)

type router struct {
	dev     *netcore.Device
	addr    netip.Addr
	expires time.Time
}

type routerList struct {
	list    []router
	prefixN int // on-link prefix routes from RAs
}

// ndiscRA takes a Router Advertisement: the default router, on-link
// prefixes and, for prefixes with the autonomous flag, an address formed
// from the prefix and a stable interface identifier (RFC 7217).
func (s *Stack) ndiscRA(dev *netcore.Device, ip header.IPv6, m header.ICMPv6) {
	if !s.ndValid(ip, m, header.NDRALen) || !ip.SrcAddr().IsLinkLocalUnicast() {
		if ip.HopLimit() == 255 {
			s.ICMP.NDInvalid.Add(1)
		}
		return
	}
	opts, err := header.ParseNDOptions(m[header.NDRALen:])
	if err != nil {
		s.ICMP.NDInvalid.Add(1)
		return
	}
	src := ip.SrcAddr()
	if opts.SourceLL != nil {
		s.Neigh.Update(dev, src, opts.SourceLL, false, false, true)
	}
	lifetime := time.Duration(uint16(m[6])<<8|uint16(m[7])) * time.Second
	s.setRouter(dev, src, lifetime)
	if opts.MTU >= header.IPv6MinMTU && int(opts.MTU) < dev.MTU() {
		s.log.Info("ndisc: router announces a smaller MTU", "dev", dev.Name, "mtu", opts.MTU)
	}
	for i := 0; i < opts.NPrefix; i++ {
		s.takePrefix(dev, opts.Prefixes[i])
	}
	if opts.PrefixesDropped > 0 {
		s.MIB.RADrops.Add(uint64(opts.PrefixesDropped))
	}
}

// setRouter adds, refreshes or (lifetime 0) removes a default router.
func (s *Stack) setRouter(dev *netcore.Device, addr netip.Addr, lifetime time.Duration) {
	def := netip.MustParsePrefix("::/0")
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	rl := &s.routers
	for i, r := range rl.list {
		if r.dev == dev && r.addr == addr {
			if lifetime == 0 {
				rl.list = append(rl.list[:i], rl.list[i+1:]...)
				s.delRouteLocked(def, addr)
				return
			}
			rl.list[i].expires = now.Add(lifetime)
			s.addRouteLocked(Route{Dst: def, Gateway: addr, Dev: dev, Metric: 1024, Expires: now.Add(lifetime)})
			return
		}
	}
	if lifetime == 0 {
		return
	}
	if len(rl.list) >= maxRouters {
		s.MIB.RADrops.Add(1)
		return
	}
	rl.list = append(rl.list, router{dev: dev, addr: addr, expires: now.Add(lifetime)})
	s.addRouteLocked(Route{Dst: def, Gateway: addr, Dev: dev, Metric: 1024, Expires: now.Add(lifetime)})
	s.log.Info("ndisc: default router", "dev", dev.Name, "router", addr, "lifetime", lifetime)
}

func (s *Stack) delRouteLocked(dst netip.Prefix, gw netip.Addr) {
	routes := s.routes[:0]
	for _, r := range s.routes {
		if r.Dst == dst && r.Gateway == gw {
			continue
		}
		routes = append(routes, r)
	}
	s.routes = routes
}

// takePrefix applies one Prefix Information option (RFC 4861 6.3.4, RFC
// 4862 5.5.3): an on-link route, and with the A flag on a /64 an address.
func (s *Stack) takePrefix(dev *netcore.Device, pi header.NDPrefix) {
	p, err := netip.AddrFrom16(pi.Prefix).Prefix(int(pi.Len))
	if err != nil || p.Addr().IsLinkLocalUnicast() || p.Addr().IsMulticast() || pi.PreferredLifetime > pi.ValidLifetime {
		s.MIB.RADrops.Add(1)
		return
	}
	valid := lifetimeOf(pi.ValidLifetime)
	if pi.Flags&header.NDPrefixOnLink != 0 {
		s.mu.Lock()
		exists := false
		for _, r := range s.routes {
			if r.Dst == p && r.Dev == dev && !r.Gateway.IsValid() {
				exists = true
			}
		}
		switch {
		case exists || s.routers.prefixN < maxPrefixRoutes:
			if !exists {
				s.routers.prefixN++
			}
			s.addRouteLocked(Route{Dst: p, Dev: dev, Metric: 256, Expires: valid})
		default:
			s.MIB.RADrops.Add(1)
		}
		s.mu.Unlock()
	}
	if pi.Flags&header.NDPrefixAuto == 0 || pi.Len != 64 || pi.ValidLifetime == 0 {
		return
	}
	a := s.interfaceID(dev, p, 0)
	s.mu.Lock()
	for _, e := range s.addrs {
		if e.Dev == dev && e.Prefix.Addr() == a {
			e.Valid = valid // refresh (RFC 4862 5.5.3 e, without the two-hour rule's subtleties)
			s.mu.Unlock()
			return
		}
	}
	s.mu.Unlock()
	if err := s.addAddress(dev, netip.PrefixFrom(a, 64), true); err == nil {
		s.mu.Lock()
		if e := s.findLocked(dev, a); e != nil {
			e.Valid = valid
		}
		s.mu.Unlock()
	}
}

func (s *Stack) findLocked(dev *netcore.Device, a netip.Addr) *addrEntry {
	for _, e := range s.addrs {
		if e.Dev == dev && e.Prefix.Addr() == a {
			return e
		}
	}
	return nil
}

// lifetimeOf turns an RA lifetime in seconds into an expiry (infinity:
// never).
func lifetimeOf(sec uint32) time.Time {
	if sec == 0xffffffff {
		return time.Time{}
	}
	return time.Now().Add(time.Duration(sec) * time.Second)
}

// neighUnreachable takes a packet the neighbour table could not resolve
// (ndisc_error_report): the local sender hears "address unreachable".
func (s *Stack) neighUnreachable(b *skb.Buff) {
	defer b.Free()
	ip := header.IPv6(b.Data())
	if len(ip) < header.IPv6Len || !s.isLocal(ip.SrcAddr()) {
		return
	}
	s.reportError(ip, header.ICMPv6DstUnreach, header.ICMPv6AddrUnreach, 0)
}
