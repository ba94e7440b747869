package ipv4

import (
	"errors"

	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/netcore/skb"
)

// ipRcv is ip_rcv + ip_rcv_finish, in softirq context: validate, run the
// pre-routing hook, then deliver locally or forward. Every drop is counted
// in the IP MIB.
func (s *Stack) ipRcv(b *skb.Buff) {
	dev := b.Dev.(*netcore.Device)
	if b.PktType == skb.PacketOtherHost {
		b.Free() // not for us at L2: promiscuous capture only
		return
	}
	s.MIB.InReceives.Add(1)
	ip, err := header.ParseIPv4(b.Data())
	if err != nil {
		// errors.As takes optErr's address, which puts it on the heap:
		// only on this path, not for every good packet.
		var optErr *header.OptionError
		switch {
		case errors.As(err, &optErr):
			// A malformed option: ICMP Parameter Problem pointing at
			// it (ip_options_compile's error path).
			s.MIB.InHdrErrors.Add(1)
			b.SetNetworkHeader()
			s.SendError(b, header.ICMPParamProblem, 0, uint32(optErr.Offset)<<24)
		case errors.Is(err, header.ErrTruncated):
			s.MIB.InTruncatedPkts.Add(1)
		case errors.Is(err, header.ErrChecksum):
			s.MIB.InCsumErrors.Add(1)
			s.MIB.InHdrErrors.Add(1)
		default:
			s.MIB.InHdrErrors.Add(1)
		}
		b.Free()
		return
	}
	b.Trim(len(ip)) // drop Ethernet padding past the total length
	b.SetNetworkHeader()
	src, dst := ip.Src(), ip.Dst()
	// Martians, loopback from the wire (either way), and our own address as the source
	// of a packet from outside (Linux's accept_local=0: LAND and friends).
	if isMartianSource(src) || dev != s.lo && (src[0] == 127 || dst[0] == 127 || s.classify(src) == addrLocal) {
		s.MIB.InAddrErrors.Add(1)
		b.Free()
		return
	}
	if ip.SourceRouted() {
		// Source routing lets a sender steer replies through hosts of
		// its choosing: dropped, as Linux does (accept_source_route=0).
		s.MIB.InDiscards.Add(1)
		b.Free()
		return
	}
	if s.runHooks(PreRouting, b, dev) == Drop {
		s.MIB.HookDrops.Add(1)
		s.MIB.InDiscards.Add(1)
		b.Free()
		return
	}
	switch s.classify(dst) {
	case addrLocal, addrBroadcast:
		s.localDeliver(b)
	default:
		if dst[0] >= 224 && dst[0] < 240 {
			s.MIB.InDiscards.Add(1) // no multicast memberships
			b.Free()
			return
		}
		if !s.cfg.Forwarding || b.PktType != skb.PacketHost {
			s.MIB.InAddrErrors.Add(1)
			b.Free()
			return
		}
		s.forward(b, dev)
	}
}

// localDeliver is ip_local_deliver: reassemble, then hand to the protocol.
func (s *Stack) localDeliver(b *skb.Buff) {
	ip := header.IPv4(b.NetworkHeader())
	if ip.IsFragment() {
		s.MIB.ReasmReqds.Add(1)
		if b = s.frags.add(b); b == nil {
			return // held, or dropped and counted
		}
		ip = header.IPv4(b.NetworkHeader())
	}
	h := s.protos[ip.Protocol()].Load()
	if h == nil {
		s.MIB.InUnknownProtos.Add(1)
		if s.classify(ip.Dst()) == addrLocal {
			s.SendError(b, header.ICMPDestUnreach, header.ICMPProtUnreach, 0)
		}
		b.Free()
		return
	}
	s.MIB.InDelivers.Add(1)
	b.Pull(ip.HeaderLen())
	b.SetTransportHeader()
	(*h).Receive(b)
}

// forward is ip_forward: TTL, route, MTU, then out.
func (s *Stack) forward(b *skb.Buff, in *netcore.Device) {
	ip := header.IPv4(b.NetworkHeader())
	if ip.TTL() <= 1 {
		s.SendError(b, header.ICMPTimeExceeded, header.ICMPExcTTL, 0)
		s.MIB.InHdrErrors.Add(1)
		b.Free()
		return
	}
	rt, ok := s.Lookup(ip.Dst())
	if !ok {
		s.MIB.OutNoRoutes.Add(1)
		s.SendError(b, header.ICMPDestUnreach, header.ICMPNetUnreach, 0)
		b.Free()
		return
	}
	if rt.Dev == s.lo {
		s.MIB.InAddrErrors.Add(1)
		b.Free()
		return
	}
	if fwdLen(b, ip) > rt.Dev.MTU() && ip.DontFragment() {
		s.MIB.FragFails.Add(1)
		s.SendError(b, header.ICMPDestUnreach, header.ICMPFragNeeded, uint32(rt.Dev.MTU()))
		b.Free()
		return
	}
	if b.Cloned() {
		c := b.Copy()
		b.Free()
		if b = c; b == nil {
			s.MIB.OutDiscards.Add(1)
			return
		}
		ip = header.IPv4(b.Data())
	}
	ip.DecTTL()
	s.MIB.ForwDatagrams.Add(1)
	s.finishOutput(b, rt)
}

// fwdLen is the size the packet leaves with: a GRO packet (GSOSize set)
// leaves as segments of its headers and GSOSize bytes, cut by the device
// or by software GSO, so it is the segments that must fit the MTU
// (Linux's ip_exceeds_mtu with skb_gso_validate_network_len).
func fwdLen(b *skb.Buff, ip header.IPv4) int {
	if b.GSOSize == 0 {
		return len(ip)
	}
	p := ip.Payload()
	if len(p) < header.TCPMinLen {
		return len(ip)
	}
	return ip.HeaderLen() + int(p[12]>>4)*4 + int(b.GSOSize)
}
