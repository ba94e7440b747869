package ipv4

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/netcore/skb"
)

// icmpHandler is ICMP's receive side (icmp_rcv).
type icmpHandler struct{ s *Stack }

func (h icmpHandler) Receive(b *skb.Buff) {
	s := h.s
	st := &s.ICMP
	st.InMsgs.Add(1)
	m, err := header.ParseICMPv4(b.Data())
	if err != nil {
		if errors.Is(err, header.ErrChecksum) {
			st.InCsumErrors.Add(1)
		}
		st.InErrors.Add(1)
		b.Free()
		return
	}
	ip := header.IPv4(b.NetworkHeader())
	switch m.Type() {
	case header.ICMPEcho:
		st.InEchos.Add(1)
		s.echoReply(b, ip)
		return
	case header.ICMPTimestamp:
		st.InTimestamps.Add(1)
		s.timestampReply(b, ip)
		return
	case header.ICMPEchoReply:
		st.InEchoReps.Add(1)
		s.pings.Deliver(m.Ident(), m.Seq(), nil)
	case header.ICMPDestUnreach, header.ICMPTimeExceeded, header.ICMPParamProblem:
		switch m.Type() {
		case header.ICMPDestUnreach:
			st.InDestUnreachs.Add(1)
		case header.ICMPTimeExceeded:
			st.InTimeExcds.Add(1)
		default:
			st.InParmProbs.Add(1)
		}
		s.icmpError(m)
	case header.ICMPRedirect:
		// Routes are the administrator's: redirects are counted, never
		// followed (accept_redirects=0).
		st.InRedirects.Add(1)
	}
	b.Free()
}

func (h icmpHandler) Error(orig header.IPv4, typ, code uint8, info uint32) {
	p := orig.Payload()
	if len(p) >= 8 && p[0] == header.ICMPEcho {
		h.s.pings.Deliver(binary.BigEndian.Uint16(p[4:]), binary.BigEndian.Uint16(p[6:]), &UnreachableError{Type: typ, Code: code, From: orig.Dst()})
	}
}

// icmpError hands an ICMP error to the protocol that sent the quoted
// datagram (icmp_unreach -> err_handler).
func (s *Stack) icmpError(m header.ICMPv4) {
	q := m.Payload()
	if len(q) < header.IPv4MinLen || q[0]>>4 != 4 {
		s.ICMP.InErrors.Add(1)
		return
	}
	hl := int(q[0]&0x0f) * 4
	if hl < header.IPv4MinLen || len(q) < hl+8 {
		s.ICMP.InErrors.Add(1)
		return
	}
	orig := header.IPv4(q)
	if h := s.protos[orig.Protocol()].Load(); h != nil {
		(*h).Error(orig, m.Type(), m.Code(), binary.BigEndian.Uint32(m[4:8]))
	}
}

// echoReply turns an echo request into its reply in place and sends it
// (icmp_echo). b's data is the ICMP message.
func (s *Stack) echoReply(b *skb.Buff, ip header.IPv4) {
	if s.classify(ip.Dst()) == addrBroadcast && !s.cfg.EchoReplyBroadcasts {
		s.ICMP.InBroadcastEcho.Add(1)
		b.Free()
		return
	}
	if b.Cloned() {
		c := b.Copy()
		b.Free()
		if b = c; b == nil {
			return
		}
	}
	src, dst := ip.Dst(), ip.Src()
	if s.classify(src) != addrLocal {
		src = [4]byte{} // answered a broadcast: reply from our own address
	}
	header.ICMPv4(b.Data()).SetType(header.ICMPEchoReply)
	s.ICMP.OutMsgs.Add(1)
	s.ICMP.OutEchoReps.Add(1)
	b.Dev = nil
	// The reply keeps the request's type of service (icmp_reply).
	if err := s.Output(b, src, dst, header.ProtoICMP, OutputOpts{TOS: ip.TOS()}); err != nil {
		s.ICMP.OutErrors.Add(1)
	}
}

// maxQuote keeps an ICMP error within 576 bytes (RFC 1812 4.3.2.3).
const maxQuote = 576 - header.IPv4MinLen - header.ICMPv4Len

// SendError sends an ICMP error about the datagram in b (whose network
// header is set) to its source (icmp_send). It never answers an ICMP
// error, a fragment other than the first, a broadcast or multicast, or a
// martian source; and it is rate limited. b stays the caller's.
func (s *Stack) SendError(b *skb.Buff, typ, code uint8, info uint32) {
	orig := header.IPv4(b.NetworkHeader())
	if len(orig) < header.IPv4MinLen {
		return
	}
	src, dst := orig.Src(), orig.Dst()
	if orig.FragOffset() != 0 || b.PktType == skb.PacketBroadcast || b.PktType == skb.PacketMulticast ||
		s.classify(dst) == addrBroadcast || src == [4]byte{} || isMartianSource(src) || dst[0] >= 224 {
		return
	}
	if orig.Protocol() == header.ProtoICMP {
		p := orig.Payload()
		if len(p) < 1 || (p[0] != header.ICMPEcho && p[0] != header.ICMPEchoReply) {
			return // never an error about an error
		}
	}
	if !s.icmpLim.Allow() {
		s.ICMP.OutRateLimited.Add(1)
		return
	}
	n := min(len(orig), maxQuote)
	e := skb.Alloc(header.ICMPv4Len + n)
	if e == nil {
		return
	}
	p := e.Put(header.ICMPv4Len + n)
	copy(p[header.ICMPv4Len:], orig[:n])
	header.EncodeICMPv4(p, typ, code, info)
	from := [4]byte{}
	if s.classify(dst) == addrLocal {
		from = dst
	}
	s.ICMP.OutMsgs.Add(1)
	switch typ {
	case header.ICMPDestUnreach:
		s.ICMP.OutDestUnreachs.Add(1)
	case header.ICMPTimeExceeded:
		s.ICMP.OutTimeExcds.Add(1)
	}
	// An error goes with internetwork-control precedence and the
	// offending packet's type of service (RFC 1812 4.3.2.5, icmp_send).
	tos := orig.TOS()&0x1e | iptosPrecInternetControl
	if err := s.Output(e, from, src, header.ProtoICMP, OutputOpts{Priority: 7, TOS: tos}); err != nil {
		s.ICMP.OutErrors.Add(1)
	}
}

// iptosPrecInternetControl is IP precedence 6 (IPTOS_PREC_INTERNETCONTROL).
const iptosPrecInternetControl = 0xc0

// neighUnreachable takes a packet the neighbour layer could not resolve:
// the local sender hears "host unreachable" (arp_error_report).
func (s *Stack) neighUnreachable(b *skb.Buff) {
	defer b.Free()
	ip := header.IPv4(b.Data())
	if len(ip) < header.IPv4MinLen || s.classify(ip.Src()) != addrLocal {
		return
	}
	s.ICMP.OutDestUnreachs.Add(1)
	if h := s.protos[ip.Protocol()].Load(); h != nil {
		(*h).Error(ip, header.ICMPDestUnreach, header.ICMPHostUnreach, 0)
	}
}

// UnreachableError is an ICMP error reported to a sender.
type UnreachableError struct {
	Type, Code uint8
	From       [4]byte
}

// Unwrap is the errno a Linux socket reports for the error
// (icmp_err_convert), for errors.Is(err, syscall.EHOSTUNREACH).
func (e *UnreachableError) Unwrap() error {
	switch e.Type {
	case header.ICMPDestUnreach:
		switch e.Code {
		case header.ICMPNetUnreach:
			return syscall.ENETUNREACH
		case header.ICMPProtUnreach:
			return syscall.ENOPROTOOPT
		case header.ICMPPortUnreach:
			return syscall.ECONNREFUSED
		case header.ICMPFragNeeded:
			return syscall.EMSGSIZE
		}
		return syscall.EHOSTUNREACH
	case header.ICMPParamProblem:
		return syscall.EPROTO
	}
	return syscall.EHOSTUNREACH
}

func (e *UnreachableError) Error() string {
	switch {
	case e.Type == header.ICMPDestUnreach && e.Code == header.ICMPHostUnreach:
		return fmt.Sprintf("host %v unreachable", IP(e.From))
	case e.Type == header.ICMPDestUnreach && e.Code == header.ICMPNetUnreach:
		return fmt.Sprintf("network of %v unreachable", IP(e.From))
	case e.Type == header.ICMPDestUnreach && e.Code == header.ICMPPortUnreach:
		return fmt.Sprintf("port unreachable at %v", IP(e.From))
	case e.Type == header.ICMPTimeExceeded:
		return fmt.Sprintf("time exceeded on the way to %v", IP(e.From))
	}
	return fmt.Sprintf("icmp type %d code %d about %v", e.Type, e.Code, IP(e.From))
}

// Ping sends one echo request of size data bytes to dst and waits for the
// reply (or an ICMP error, or ctx). It returns the round-trip time.
func (s *Stack) Ping(ctx context.Context, dst [4]byte, size int, seq uint16) (time.Duration, error) {
	if size < 0 || size > header.IPv4MaxTotal-header.IPv4MinLen-header.ICMPv4Len {
		return 0, fmt.Errorf("ipv4: ping size %d out of range", size)
	}
	id, ch := s.pings.Register()
	defer s.pings.Unregister(id)
	b := skb.Alloc(header.ICMPv4Len + size)
	if b == nil {
		return 0, ErrMsgSize
	}
	p := b.Put(header.ICMPv4Len + size)
	for i := range p[header.ICMPv4Len:] {
		p[header.ICMPv4Len+i] = byte(i)
	}
	header.EncodeICMPv4(p, header.ICMPEcho, 0, uint32(id)<<16|uint32(seq))
	s.ICMP.OutMsgs.Add(1)
	s.ICMP.OutEchos.Add(1)
	start := time.Now()
	if err := s.Output(b, [4]byte{}, dst, header.ProtoICMP, OutputOpts{}); err != nil {
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

// timestampReply answers an ICMP Timestamp request (RFC 792, Linux's
// icmp_timestamp): the originate time back, and the receive and transmit
// times, both now, in milliseconds since midnight UT. b's data is the
// ICMP message; b is consumed.
func (s *Stack) timestampReply(b *skb.Buff, ip header.IPv4) {
	defer b.Free()
	m := b.Data()
	if len(m) < 20 || s.classify(ip.Dst()) != addrLocal {
		s.ICMP.InErrors.Add(1)
		return
	}
	r := skb.Alloc(20)
	if r == nil {
		return
	}
	p := r.Put(20)
	copy(p[4:12], m[4:12]) // identifier, sequence, originate
	now := time.Now().UTC()
	ms := uint32(now.Sub(now.Truncate(24*time.Hour)) / time.Millisecond)
	binary.BigEndian.PutUint32(p[12:], ms)
	binary.BigEndian.PutUint32(p[16:], ms)
	header.EncodeICMPv4(p, header.ICMPTimestampReply, 0, binary.BigEndian.Uint32(m[4:8]))
	s.ICMP.OutMsgs.Add(1)
	s.ICMP.OutTimestampReps.Add(1)
	if err := s.Output(r, ip.Dst(), ip.Src(), header.ProtoICMP, OutputOpts{TOS: ip.TOS()}); err != nil {
		s.ICMP.OutErrors.Add(1)
	}
}
