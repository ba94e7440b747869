package ipv6

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/gso"
	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/netcore/neigh"
	"github.com/ringonet/ringo/netcore/nf"
	"github.com/ringonet/ringo/netcore/skb"
)

// Output errors.
var (
	ErrNoHeadroom = errors.New("ipv6: no headroom for headers")
	ErrHookDrop   = errors.New("ipv6: dropped by a filter")
)

// OutputOpts are per-packet settings.
type OutputOpts struct {
	HopLimit     uint8 // 0: the default (1 for multicast, as sockets have it)
	TrafficClass uint8
	// Dev is the outgoing device: the zone of a link-local or
	// link-scope multicast destination, or a restriction (SO_BINDTODEVICE).
	Dev *netcore.Device
	// DontFrag refuses to fragment: too big fails with ErrMsgSize
	// (IPV6_DONTFRAG).
	DontFrag bool
}

// RouteFeatures are what TCP may build packets for toward dst (leaving
// by dev, or its route's device): GSO where the device has it on, done
// in software on output; no hardware offload over IPv6.
func (s *Stack) RouteFeatures(dst netip.Addr, dev *netcore.Device) netcore.Features {
	rt, ok := s.Lookup(dst, dev)
	if !ok {
		return 0
	}
	return rt.Dev.TxFeatures() & netcore.FeatureGSO
}

// Route finds how dst is reached: the route, and the source address to
// use from it (RFC 6724) unless src is already set.
func (s *Stack) Route(dst netip.Addr, dev *netcore.Device) (Route, netip.Addr, error) {
	rt, ok := s.Lookup(dst, dev)
	if !ok {
		s.MIB.Ip6OutNoRoutes.Add(1)
		return Route{}, netip.Addr{}, fmt.Errorf("%w: %v", ErrNoRoute, dst)
	}
	src, ok := s.SourceFor(dst, rt.Dev)
	if !ok {
		return Route{}, netip.Addr{}, fmt.Errorf("%w for %v on %s", ErrNoSource, dst, rt.Dev.Name)
	}
	return rt, src, nil
}

// Output sends a locally generated datagram (ip6_xmit / ip6_send_skb): b's
// data is the upper-layer header and payload, with headroom for IPv6 and
// Ethernet; src is an address of ours (Route picks one). Too big for the
// path, it is fragmented (by the source only, RFC 8200 4.5). The stack
// owns b after the call, whatever the result.
func (s *Stack) Output(b *skb.Buff, src, dst netip.Addr, proto uint8, o OutputOpts) error {
	rt, ok := s.Lookup(dst, o.Dev)
	if !ok {
		s.MIB.Ip6OutNoRoutes.Add(1)
		b.Free()
		return fmt.Errorf("%w: %v", ErrNoRoute, dst)
	}
	plen := b.Len()
	if plen > 0xffff {
		b.Free()
		return ErrMsgSize
	}
	h := b.Push(header.IPv6Len)
	if h == nil {
		b.Free()
		return ErrNoHeadroom
	}
	b.SetNetworkHeader()
	hl := o.HopLimit
	if hl == 0 {
		hl = s.cfg.HopLimit
		if dst.IsMulticast() {
			hl = 1
		}
	}
	header.EncodeIPv6(h, header.IPv6Fields{TrafficClass: o.TrafficClass, PayloadLen: plen, NextHeader: proto,
		HopLimit: hl, Src: src.As16(), Dst: dst.As16()})
	s.MIB.Ip6OutRequests.Add(1)
	if dst.IsMulticast() {
		s.MIB.Ip6OutMcastPkts.Add(1)
	}
	if s.hooks.Run(nf.LocalOut, b, rt.Dev) == nf.Drop {
		s.MIB.HookDrops.Add(1)
		s.MIB.Ip6OutDiscards.Add(1)
		b.Free()
		return ErrHookDrop
	}
	if b.GSOSize > 0 || b.CsumPartial {
		return s.softOffload(b, rt)
	}
	if m := s.pathMTU(dst, rt.Dev); header.IPv6Len+plen > m {
		if o.DontFrag {
			s.MIB.Ip6FragFails.Add(1)
			b.Free()
			return fmt.Errorf("%w: %d bytes, mtu %d", ErrMsgSize, header.IPv6Len+plen, m)
		}
		return s.fragment(b, rt, m)
	}
	return s.finishOutput(b, rt)
}

// softOffload does in software what a packet built for offloads needs
// (no device here has any over IPv6: the 82540EM's TSO and checksum
// offload are IPv4 only): the checksum, or segments that each go on as an
// ordinary packet. A locally built GSO packet and a forwarded GRO one
// both come here.
func (s *Stack) softOffload(b *skb.Buff, rt Route) error {
	s.MIB.SoftOffloads.Add(1)
	err, sendErr := gso.Apply(b, func(f *skb.Buff) error { return s.finishOutput(f, rt) })
	if err != nil {
		s.MIB.Ip6OutDiscards.Add(1)
		return err
	}
	return sendErr
}

// finishOutput is ip6_finish_output2: a multicast destination's frame
// goes to its MAC (RFC 2464 7), anything else through the neighbour
// table to the next hop.
func (s *Stack) finishOutput(b *skb.Buff, rt Route) error {
	if s.hooks.Run(nf.PostRouting, b, rt.Dev) == nf.Drop {
		s.MIB.HookDrops.Add(1)
		s.MIB.Ip6OutDiscards.Add(1)
		b.Free()
		return ErrHookDrop
	}
	dst := header.IPv6(b.Data()).Dst()
	if dst[0] == 0xff {
		var mac [6]byte
		header.IPv6MulticastMAC(dst, &mac)
		return neigh.OutputDirectProto(b, rt.Dev, mac[:], netcore.EthPIPv6)
	}
	next := netip.AddrFrom16(dst)
	if rt.Gateway.IsValid() {
		next = rt.Gateway
	}
	return s.Neigh.Output(b, rt.Dev, next)
}

// fragment splits b (data at its IPv6 header, nothing but the fixed
// header before the payload) into fragments of at most mtu bytes, each
// with a Fragment header (ip6_fragment).
func (s *Stack) fragment(b *skb.Buff, rt Route, mtu int) error {
	defer b.Free()
	ip := header.IPv6(b.Data())
	payload := ip.Payload()
	chunk := (mtu - header.IPv6Len - header.IPv6FragLen) &^ 7
	id := s.fragID.Add(1)
	for off := 0; off < len(payload); off += chunk {
		n := min(chunk, len(payload)-off)
		f := skb.Alloc(header.IPv6Len + header.IPv6FragLen + n)
		if f == nil {
			s.MIB.Ip6FragFails.Add(1)
			return ErrMsgSize
		}
		p := f.Put(header.IPv6Len + header.IPv6FragLen + n)
		copy(p, ip[:header.IPv6Len])
		p[6] = header.ProtoFragment
		p[4], p[5] = byte((header.IPv6FragLen+n)>>8), byte(header.IPv6FragLen+n)
		header.EncodeIPv6Frag(p[header.IPv6Len:], ip.NextHeader(), off, off+n < len(payload), id)
		copy(p[header.IPv6Len+header.IPv6FragLen:], payload[off:off+n])
		f.SetNetworkHeader()
		f.Priority = b.Priority
		s.MIB.Ip6FragCreates.Add(1)
		if err := s.finishOutput(f, rt); err != nil && !errors.Is(err, netcore.ErrQueueFull) {
			s.MIB.Ip6FragFails.Add(1)
			return err
		}
	}
	s.MIB.Ip6FragOKs.Add(1)
	return nil
}
