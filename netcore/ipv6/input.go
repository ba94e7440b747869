package ipv6

import (
	"errors"
	"net/netip"

	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/netcore/nf"
	"github.com/ringonet/ringo/netcore/skb"
)

// maxExtHeaders bounds the extension headers one packet may chain before
// its upper-layer header (Linux bounds options per header with
// max_dst_opts_number; a chain longer than this is an attack).
const maxExtHeaders = 16

// ipv6Rcv is ipv6_rcv and ip6_rcv_finish, in softirq context: the header's
// checks with counted drops, then local delivery (forwarding is off, as
// Linux has it by default).
func (s *Stack) ipv6Rcv(b *skb.Buff) {
	dev := b.Dev.(*netcore.Device)
	if b.PktType == skb.PacketOtherHost {
		b.Free() // not for us at L2: promiscuous capture only
		return
	}
	s.MIB.Ip6InReceives.Add(1)
	ip, err := header.ParseIPv6(b.Data())
	if err != nil {
		if errors.Is(err, header.ErrTruncated) {
			s.MIB.Ip6InTruncatedPkts.Add(1)
		} else {
			s.MIB.Ip6InHdrErrors.Add(1)
		}
		b.Free()
		return
	}
	if !s.enabled(dev) {
		s.MIB.Ip6InDiscards.Add(1) // IPv6 is off on this device (disable_ipv6)
		b.Free()
		return
	}
	b.Trim(len(ip)) // drop Ethernet padding past the payload length
	b.SetNetworkHeader()
	src, dst := ip.SrcAddr(), ip.DstAddr()
	// RFC 4291 2.5.3, 2.5.5.2, 2.7 and ipv6_rcv's checks: a multicast,
	// loopback or IPv4-mapped source, loopback from the wire, an
	// interface-local or reserved-scope multicast destination.
	if src.IsMulticast() || src.IsLoopback() || src.Is4In6() || dst.IsLoopback() || dst.IsUnspecified() ||
		dst.IsMulticast() && scope(dst) <= 1 {
		s.MIB.Ip6InAddrErrors.Add(1)
		b.Free()
		return
	}
	if s.hooks.Run(nf.PreRouting, b, dev) == nf.Drop {
		s.MIB.HookDrops.Add(1)
		s.MIB.Ip6InDiscards.Add(1)
		b.Free()
		return
	}
	if dst.IsMulticast() {
		if !s.joined(dev, dst.As16()) {
			s.MIB.Ip6InDiscards.Add(1) // a group nobody here joined
			b.Free()
			return
		}
		s.MIB.Ip6InMcastPkts.Add(1)
		s.localDeliver(b, dev)
		return
	}
	if !s.acceptsUnicast(dev, dst) {
		if !s.cfg.Forwarding || b.PktType != skb.PacketHost {
			// Not ours, and IPv6 forwarding is off (ip6_forward counts
			// these as address errors).
			s.MIB.Ip6InAddrErrors.Add(1)
			b.Free()
			return
		}
		s.forward(b, dev)
		return
	}
	s.localDeliver(b, dev)
}

// forward is ip6_forward: never a link-local source or destination off
// its link, the hop limit (Time Exceeded at 1), a route, Packet Too Big
// for what the next link cannot take (routers never fragment IPv6, RFC
// 8200 5), then out with the hop limit one less. No Redirects are sent.
func (s *Stack) forward(b *skb.Buff, in *netcore.Device) {
	ip := header.IPv6(b.NetworkHeader())
	src, dst := ip.SrcAddr(), ip.DstAddr()
	if src.IsLinkLocalUnicast() || dst.IsLinkLocalUnicast() || src.IsUnspecified() {
		s.MIB.Ip6InAddrErrors.Add(1) // link scope: never beyond the link (RFC 4291 2.5.6)
		b.Free()
		return
	}
	if ip.HopLimit() <= 1 {
		s.MIB.Ip6InHdrErrors.Add(1)
		s.SendError(b, header.ICMPv6TimeExceeded, header.ICMPv6HopLimitExceeded, 0)
		b.Free()
		return
	}
	rt, ok := s.Lookup(dst, nil)
	if !ok {
		s.MIB.Ip6InNoRoutes.Add(1)
		s.SendError(b, header.ICMPv6DstUnreach, header.ICMPv6NoRoute, 0)
		b.Free()
		return
	}
	if m := s.pathMTU(dst, rt.Dev); len(ip) > m && b.GSOSize == 0 {
		s.MIB.Ip6InTooBigErrors.Add(1)
		s.SendError(b, header.ICMPv6PacketTooBig, 0, uint32(m))
		b.Free()
		return
	}
	if b.Cloned() {
		c := b.Copy()
		b.Free()
		if b = c; b == nil {
			s.MIB.Ip6OutDiscards.Add(1)
			return
		}
		ip = header.IPv6(b.Data())
	}
	ip.SetHopLimit(ip.HopLimit() - 1)
	s.MIB.Ip6OutForwDatagrams.Add(1)
	if b.GSOSize > 0 || b.CsumPartial {
		s.softOffload(b, rt) // a GRO packet: cut again before it leaves
		return
	}
	s.finishOutput(b, rt)
}

// acceptsUnicast reports whether dst, arriving on dev, is one of our
// addresses in use: a link-local one only on its own link, another on any
// device (the weak host model Linux has). A tentative address takes
// nothing (RFC 4862 5.4).
func (s *Stack) acceptsUnicast(dev *netcore.Device, dst netip.Addr) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, e := range s.addrs {
		if e.Prefix.Addr() != dst || e.State != Preferred && e.State != Deprecated {
			continue
		}
		if e.Dev == dev || !dst.IsLinkLocalUnicast() {
			return true
		}
	}
	return false
}

// enabled reports whether Enable made dev an IPv6 interface.
func (s *Stack) enabled(dev *netcore.Device) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.devs[dev] != nil
}

// localDeliver is ip6_input_finish: walk the extension headers, each
// bounded by the packet, then hand the payload to its protocol. b's data
// is the IPv6 header.
func (s *Stack) localDeliver(b *skb.Buff, dev *netcore.Device) {
	pkt := header.IPv6(b.Data())
	multicast := pkt.DstAddr().IsMulticast()
	nh := pkt.NextHeader()
	off := header.IPv6Len // where the header nh names starts
	nhOff := 6            // where nh itself is: the pointer of a Parameter Problem about it
	for n := 0; ; n++ {
		if n > maxExtHeaders {
			s.MIB.Ip6InHdrErrors.Add(1)
			b.Free()
			return
		}
		switch nh {
		case header.ProtoHopByHop, header.ProtoDstOpts:
			if nh == header.ProtoHopByHop && off != header.IPv6Len {
				// Hop-by-Hop only right after the header (RFC 8200 4.1).
				s.paramProblem(b, header.ICMPv6UnknownNextHdr, nhOff)
				return
			}
			h, err := header.ParseExtHeader(pkt[off:])
			if err != nil {
				s.MIB.Ip6InHdrErrors.Add(1)
				b.Free()
				return
			}
			if !s.options(b, h, off, nh == header.ProtoHopByHop, multicast) {
				return
			}
			nhOff, nh, off = off, h.NextHeader(), off+h.Len()
		case header.ProtoRouting:
			h, err := header.ParseExtHeader(pkt[off:])
			if err != nil {
				s.MIB.Ip6InHdrErrors.Add(1)
				b.Free()
				return
			}
			if h.SegmentsLeft() != 0 {
				// ringo routes no source-routed packets: type 0 is
				// deprecated (RFC 5095), the others are not ours to
				// process; with segments left, RFC 8200 4.4 asks for a
				// Parameter Problem at the routing type.
				s.paramProblem(b, header.ICMPv6ErrHeaderField, off+2)
				return
			}
			nhOff, nh, off = off, h.NextHeader(), off+h.Len()
		case header.ProtoFragment:
			if len(pkt) < off+header.IPv6FragLen {
				s.MIB.Ip6InHdrErrors.Add(1)
				b.Free()
				return
			}
			f := header.IPv6Frag(pkt[off:])
			if f.Offset() == 0 && !f.MoreFragments() {
				// An atomic fragment (RFC 6946): the whole datagram,
				// processed in isolation from any reassembly.
				nhOff, nh, off = off, f.NextHeader(), off+header.IPv6FragLen
				continue
			}
			s.MIB.Ip6ReasmReqds.Add(1)
			whole := s.frags.add(b, off)
			if whole == nil {
				return // held, or dropped and counted
			}
			b, pkt = whole, header.IPv6(whole.Data())
			nhOff, nh, off = 6, pkt.NextHeader(), header.IPv6Len
		case header.ProtoNoNext:
			b.Free()
			return
		default:
			h := s.protos[nh].Load()
			if h == nil {
				s.MIB.Ip6InUnknownProtos.Add(1)
				s.paramProblem(b, header.ICMPv6UnknownNextHdr, nhOff)
				return
			}
			s.MIB.Ip6InDelivers.Add(1)
			b.Pull(off)
			b.SetTransportHeader()
			(*h).Receive(b)
			return
		}
	}
}

// options runs the TLV options of a Hop-by-Hop or Destination Options
// header at off (RFC 8200 4.2): padding and the Router Alert are known;
// an unknown option's type says what to do. It reports whether the
// packet goes on; if not, b has been consumed.
func (s *Stack) options(b *skb.Buff, h header.ExtHeader, off int, hopByHop, multicast bool) bool {
	verdict, at := header.IPv6OptActionSkip, 0
	err := header.WalkIPv6Options(h.Options(), func(typ uint8, o int, data []byte) bool {
		switch {
		case typ == header.IPv6OptPadN:
			return true
		case typ == header.IPv6OptRouterAlert && hopByHop && len(data) == 2:
			return true
		}
		verdict, at = int(typ>>6), off+2+o
		return verdict == header.IPv6OptActionSkip
	})
	if err != nil {
		s.MIB.Ip6InHdrErrors.Add(1)
		b.Free()
		return false
	}
	switch verdict {
	case header.IPv6OptActionSkip:
		return true
	case header.IPv6OptActionParamProb:
		s.paramProblem(b, header.ICMPv6UnknownOption, at)
		return false
	case header.IPv6OptActionParamProbMC:
		if !multicast {
			s.paramProblem(b, header.ICMPv6UnknownOption, at)
			return false
		}
	}
	s.MIB.Ip6InHdrErrors.Add(1)
	b.Free()
	return false
}

// paramProblem drops b (data at its IPv6 header) with an ICMPv6
// Parameter Problem pointing at offset ptr (RFC 4443 3.4).
func (s *Stack) paramProblem(b *skb.Buff, code uint8, ptr int) {
	if code != header.ICMPv6UnknownNextHdr {
		s.MIB.Ip6InHdrErrors.Add(1)
	}
	s.SendError(b, header.ICMPv6ParamProblem, code, uint32(ptr))
	b.Free()
}
