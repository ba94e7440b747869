package ipv6

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/netcore/skb"
)

// icmpHandler is ICMPv6 (RFC 4443; Linux's icmpv6_rcv) with neighbour
// discovery's messages (ndisc.go).
type icmpHandler struct{ s *Stack }

func (h icmpHandler) Receive(b *skb.Buff) {
	s := h.s
	ip := header.IPv6(b.NetworkHeader())
	s.ICMP.Icmp6InMsgs.Add(1)
	m, err := header.ParseICMPv6(b.Data(), ip.Src(), ip.Dst())
	if err != nil {
		if err == header.ErrChecksum {
			s.ICMP.Icmp6InCsumErrors.Add(1)
		}
		s.ICMP.Icmp6InErrors.Add(1)
		b.Free()
		return
	}
	dev := b.Dev.(*netcore.Device)
	switch m.Type() {
	case header.ICMPv6EchoRequest:
		s.ICMP.Icmp6InEchos.Add(1)
		s.echoReply(dev, ip, m)
	case header.ICMPv6EchoReply:
		s.ICMP.Icmp6InEchoReplies.Add(1)
		s.pings.Deliver(m.Ident(), m.Seq(), nil)
	case header.ICMPv6NeighborSol:
		s.ICMP.Icmp6InNeighborSolicits.Add(1)
		s.ndiscNS(dev, ip, m)
	case header.ICMPv6NeighborAdv:
		s.ICMP.Icmp6InNeighborAdvertisements.Add(1)
		s.ndiscNA(dev, ip, m)
	case header.ICMPv6RouterAdv:
		s.ICMP.Icmp6InRouterAdvertisements.Add(1)
		s.ndiscRA(dev, ip, m)
	case header.ICMPv6RouterSol:
		s.ICMP.Icmp6InRouterSolicits.Add(1) // a host answers none
	case header.ICMPv6Redirect:
		s.ICMP.Icmp6InRedirects.Add(1) // counted, not followed
	case header.ICMPv6MLDQuery:
		s.ICMP.Icmp6InGroupMembQueries.Add(1)
		s.mldQuery(dev, ip, m)
	case header.ICMPv6MLDv2Report:
		s.ICMP.Icmp6InMLDv2Reports.Add(1)
	case header.ICMPv6DstUnreach, header.ICMPv6PacketTooBig, header.ICMPv6TimeExceeded, header.ICMPv6ParamProblem:
		s.icmpError(m)
	}
	b.Free()
}

func (icmpHandler) Error(header.IPv6, uint8, uint8, uint32) {}

// icmpError takes an error about a packet we sent (icmpv6_notify): Packet
// Too Big lowers the path MTU (never below 1280, RFC 8201 4), and the
// protocol that sent it hears of it.
func (s *Stack) icmpError(m header.ICMPv6) {
	switch m.Type() {
	case header.ICMPv6DstUnreach:
		s.ICMP.Icmp6InDestUnreachs.Add(1)
	case header.ICMPv6PacketTooBig:
		s.ICMP.Icmp6InPktTooBigs.Add(1)
	case header.ICMPv6TimeExceeded:
		s.ICMP.Icmp6InTimeExcds.Add(1)
	case header.ICMPv6ParamProblem:
		s.ICMP.Icmp6InParmProblems.Add(1)
	}
	orig := header.IPv6(m.Payload())
	if len(orig) < header.IPv6Len || orig[0]>>4 != 6 {
		return
	}
	if len(orig) > header.IPv6Len+orig.PayloadLen() {
		orig = orig[:header.IPv6Len+orig.PayloadLen()]
	}
	if !s.isLocal(orig.SrcAddr()) {
		return // not about a packet of ours
	}
	if m.Type() == header.ICMPv6PacketTooBig {
		s.UpdatePMTU(orig.DstAddr(), int(m.Word()))
	}
	s.reportError(orig, m.Type(), m.Code(), m.Word())
}

// reportError tells the sender of orig, a packet of ours, of an error:
// a waiting Ping, or the upper-layer protocol.
func (s *Stack) reportError(orig header.IPv6, typ, code uint8, info uint32) {
	proto, off := upperLayer(orig)
	if proto == header.ProtoICMPv6 && len(orig) >= off+8 && orig[off] == header.ICMPv6EchoRequest {
		q := header.ICMPv6(orig[off:])
		s.pings.Deliver(q.Ident(), q.Seq(), &UnreachableError{Type: typ, Code: code, From: orig.DstAddr()})
		return
	}
	if h := s.protos[proto].Load(); h != nil && proto != header.ProtoICMPv6 {
		(*h).Error(orig, typ, code, info)
	}
}

// upperLayer walks what extension headers fit in p (an IPv6 packet, maybe
// cut short) and returns the upper-layer protocol and where its header
// starts; an extension header cut short reports ProtoNoNext.
func upperLayer(p header.IPv6) (uint8, int) {
	nh, off := p.NextHeader(), header.IPv6Len
	for n := 0; n <= maxExtHeaders; n++ {
		switch nh {
		case header.ProtoHopByHop, header.ProtoDstOpts, header.ProtoRouting:
			h, err := header.ParseExtHeader(p[off:])
			if err != nil {
				return header.ProtoNoNext, off
			}
			nh, off = h.NextHeader(), off+h.Len()
		case header.ProtoFragment:
			if len(p) < off+header.IPv6FragLen {
				return header.ProtoNoNext, off
			}
			nh, off = header.IPv6Frag(p[off:]).NextHeader(), off+header.IPv6FragLen
		default:
			return nh, off
		}
	}
	return header.ProtoNoNext, off
}

// echoReply answers an echo request (icmpv6_echo_reply): the same
// identifier, sequence and data back, from the address it was sent to,
// or for a multicast one from our best address toward the sender.
func (s *Stack) echoReply(dev *netcore.Device, ip header.IPv6, m header.ICMPv6) {
	dst, src := ip.SrcAddr(), ip.DstAddr()
	if dst.IsUnspecified() {
		return
	}
	if src.IsMulticast() {
		var ok bool
		if src, ok = s.SourceFor(dst, dev); !ok {
			return
		}
	}
	b := skb.Alloc(len(m))
	if b == nil {
		return
	}
	p := b.Put(len(m))
	copy(p, m)
	p[0] = header.ICMPv6EchoReply
	header.SetICMPv6Checksum(p, src.As16(), dst.As16())
	s.ICMP.Icmp6OutMsgs.Add(1)
	s.ICMP.Icmp6OutEchoReplies.Add(1)
	s.Output(b, src, dst, header.ProtoICMPv6, OutputOpts{Dev: dev, TrafficClass: ip.TrafficClass()})
}

// SendError sends an ICMPv6 error about orig (its network header set to
// the IPv6 header), which arrived on orig.Dev (icmp6_send, RFC 4443 2.4): never about an
// ICMPv6 error, never to a multicast destination or from an unspecified
// or multicast source (except Packet Too Big and an unknown option whose
// type asks for it), quoting as much of orig as keeps the error within
// the minimum MTU, rate limited. orig is not consumed.
func (s *Stack) SendError(orig *skb.Buff, typ, code uint8, info uint32) {
	ip := header.IPv6(orig.NetworkHeader())
	if len(ip) < header.IPv6Len {
		return
	}
	src, dst := ip.SrcAddr(), ip.DstAddr()
	if src.IsUnspecified() || src.IsMulticast() {
		return
	}
	if dst.IsMulticast() && typ != header.ICMPv6PacketTooBig &&
		!(typ == header.ICMPv6ParamProblem && code == header.ICMPv6UnknownOption) {
		return
	}
	if proto, off := upperLayer(ip); proto == header.ProtoICMPv6 && (len(ip) <= off || ip[off] < 128 || ip[off] == header.ICMPv6Redirect) {
		return // never about an error (or a redirect), RFC 4443 2.4 (e.1, e.2)
	}
	dev, _ := orig.Dev.(*netcore.Device)
	from := dst
	if dst.IsMulticast() || !s.isLocal(dst) {
		var ok bool
		if from, ok = s.SourceFor(src, dev); !ok {
			return
		}
	}
	if !s.icmpLim.Allow() {
		s.ICMP.RateLimited.Add(1)
		return
	}
	quote := min(len(ip), header.IPv6MinMTU-header.IPv6Len-header.ICMPv6Len)
	b := skb.Alloc(header.ICMPv6Len + quote)
	if b == nil {
		return
	}
	p := b.Put(header.ICMPv6Len + quote)
	header.EncodeICMPv6(p, typ, code, info)
	copy(p[header.ICMPv6Len:], ip[:quote])
	header.SetICMPv6Checksum(p, from.As16(), src.As16())
	s.ICMP.Icmp6OutMsgs.Add(1)
	s.ICMP.Icmp6OutErrors.Add(1)
	switch typ {
	case header.ICMPv6DstUnreach:
		s.ICMP.Icmp6OutDestUnreachs.Add(1)
	case header.ICMPv6PacketTooBig:
		s.ICMP.Icmp6OutPktTooBigs.Add(1)
	case header.ICMPv6TimeExceeded:
		s.ICMP.Icmp6OutTimeExcds.Add(1)
	case header.ICMPv6ParamProblem:
		s.ICMP.Icmp6OutParmProblems.Add(1)
	}
	o := OutputOpts{HopLimit: 255}
	if src.IsLinkLocalUnicast() {
		o.Dev = dev
	}
	s.Output(b, from, src, header.ProtoICMPv6, o)
}

// UnreachableError is an ICMPv6 error reported to a sender.
type UnreachableError struct {
	Type, Code uint8
	From       netip.Addr // the destination the failed packet was for
}

// Unwrap is the errno a Linux socket reports for the error
// (icmpv6_err_convert), for errors.Is(err, syscall.EHOSTUNREACH).
func (e *UnreachableError) Unwrap() error {
	switch e.Type {
	case header.ICMPv6DstUnreach:
		switch e.Code {
		case header.ICMPv6NoRoute:
			return syscall.ENETUNREACH
		case header.ICMPv6AdminProhib:
			return syscall.EACCES
		case header.ICMPv6PortUnreach:
			return syscall.ECONNREFUSED
		}
		return syscall.EHOSTUNREACH
	case header.ICMPv6PacketTooBig:
		return syscall.EMSGSIZE
	case header.ICMPv6ParamProblem:
		return syscall.EPROTO
	}
	return syscall.EHOSTUNREACH
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("icmpv6 type %d code %d about %v", e.Type, e.Code, e.From)
}

// Ping sends one echo request with size bytes of data to dst (dev: the
// zone of a link-local address) and waits for the reply, an ICMPv6 error
// or ctx. It returns the round-trip time.
func (s *Stack) Ping(ctx context.Context, dst netip.Addr, dev *netcore.Device, size int, seq uint16) (time.Duration, error) {
	if size < 0 || size > 0xffff-header.ICMPv6Len {
		return 0, fmt.Errorf("ipv6: ping size %d out of range", size)
	}
	rt, src, err := s.Route(dst, dev)
	if err != nil {
		return 0, err
	}
	id, ch := s.pings.Register()
	defer s.pings.Unregister(id)
	b := skb.Alloc(header.ICMPv6Len + size)
	if b == nil {
		return 0, ErrMsgSize
	}
	p := b.Put(header.ICMPv6Len + size)
	for i := range p[header.ICMPv6Len:] {
		p[header.ICMPv6Len+i] = byte(i)
	}
	header.EncodeICMPv6(p, header.ICMPv6EchoRequest, 0, uint32(id)<<16|uint32(seq))
	header.SetICMPv6Checksum(p, src.As16(), dst.As16())
	s.ICMP.Icmp6OutMsgs.Add(1)
	s.ICMP.Icmp6OutEchos.Add(1)
	start := time.Now()
	if err := s.Output(b, src, dst, header.ProtoICMPv6, OutputOpts{Dev: rt.Dev}); err != nil {
		return 0, err
	}
	for {
		select {
		case r := <-ch:
			if r.Err != nil {
				return 0, r.Err
			}
			if r.Seq == seq {
				return r.At.Sub(start), nil
			}
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// Path MTU (RFC 8201): what Packet Too Big messages said, per
// destination, for ten minutes (ip6_rt_mtu_expires), bounded.
type pmtuEntry struct {
	mtu     int
	expires time.Time
}

const (
	pmtuExpiry     = 10 * time.Minute
	pmtuMaxEntries = 1024
)

type pmtuCache struct {
	mu sync.Mutex
	m  map[netip.Addr]pmtuEntry
}

// UpdatePMTU lowers the path MTU toward dst (never below 1280; a PTB
// claiming more than the device's MTU changes nothing).
func (s *Stack) UpdatePMTU(dst netip.Addr, mtu int) {
	mtu = max(mtu, header.IPv6MinMTU)
	s.pmtu.mu.Lock()
	defer s.pmtu.mu.Unlock()
	if s.pmtu.m == nil {
		s.pmtu.m = map[netip.Addr]pmtuEntry{}
	}
	if e, ok := s.pmtu.m[dst]; ok && e.mtu <= mtu {
		return
	}
	if len(s.pmtu.m) >= pmtuMaxEntries {
		for k := range s.pmtu.m { // drop one: the map's order is as good as any
			delete(s.pmtu.m, k)
			break
		}
	}
	s.pmtu.m[dst] = pmtuEntry{mtu: mtu, expires: time.Now().Add(pmtuExpiry)}
}

// pathMTU is the MTU toward dst leaving by dev.
func (s *Stack) pathMTU(dst netip.Addr, dev *netcore.Device) int {
	m := mtu(dev)
	s.pmtu.mu.Lock()
	defer s.pmtu.mu.Unlock()
	if e, ok := s.pmtu.m[dst]; ok {
		if time.Now().After(e.expires) {
			delete(s.pmtu.m, dst)
		} else {
			m = min(m, e.mtu)
		}
	}
	return m
}

// PathMTU is the MTU toward dst (leaving by dev, or by its route's
// device when dev is nil): the device's, or less where a Packet Too Big
// said so.
func (s *Stack) PathMTU(dst netip.Addr, dev *netcore.Device) int {
	if dev == nil {
		rt, ok := s.Lookup(dst, nil)
		if !ok {
			return header.IPv6MinMTU
		}
		dev = rt.Dev
	}
	return s.pathMTU(dst, dev)
}

// ConfirmNeighbour records forward progress toward dst (a TCP ACK): the
// next hop's entry is reachable (dst_confirm_neigh).
func (s *Stack) ConfirmNeighbour(dst netip.Addr, dev *netcore.Device) {
	rt, ok := s.Lookup(dst, dev)
	if !ok || dst.IsMulticast() {
		return
	}
	hop := dst
	if rt.Gateway.IsValid() {
		hop = rt.Gateway
	}
	s.Neigh.Confirm(rt.Dev, hop)
}
