package ipv4

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/gso"
	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/netcore/neigh"
	"github.com/ringonet/ringo/netcore/skb"
)

// Output errors.
var (
	ErrNoRoute    = errors.New("ipv4: no route to host")
	ErrMsgSize    = errors.New("ipv4: message too long")
	ErrHookDrop   = errors.New("ipv4: dropped by a filter")
	ErrNoHeadroom = errors.New("ipv4: no headroom for headers")
)

// OutputOpts are per-packet settings.
type OutputOpts struct {
	TTL      uint8 // 0: default
	TOS      uint8
	DF       bool // set Don't Fragment; too big then fails with ErrMsgSize
	Priority uint32
}

// Output sends a locally generated datagram (ip_queue_xmit / ip_send_skb):
// b's data is the transport header and payload, with headroom for IP and
// Ethernet. src may be zero to pick the route's source. The stack owns b
// after the call, whatever the result.
func (s *Stack) Output(b *skb.Buff, src, dst [4]byte, proto uint8, o OutputOpts) error {
	rt, ok := s.Lookup(dst)
	if !ok {
		if dst == [4]byte{255, 255, 255, 255} {
			// Limited broadcast with no route: the first device with an
			// address takes it (as Linux does with a single interface).
			rt, ok = s.firstDeviceRoute()
		}
		if !ok {
			s.MIB.OutNoRoutes.Add(1)
			b.Free()
			return ErrNoRoute
		}
	}
	if s.classify(dst) == addrLocal {
		rt = Route{Dev: s.lo}
	}
	rt.mtu = s.routeMTU(rt, dst)
	if src == [4]byte{} {
		if rt.Src.IsValid() {
			src = rt.Src.As4()
		} else if a, ok := s.sourceFor(rt.Dev, dst); ok {
			src = a
		}
	}
	total := b.Len() + header.IPv4MinLen
	if total > header.IPv4MaxTotal {
		b.Free()
		return ErrMsgSize
	}
	h := b.Push(header.IPv4MinLen)
	if h == nil {
		b.Free()
		return ErrNoHeadroom
	}
	b.SetNetworkHeader()
	ttl := o.TTL
	if ttl == 0 {
		ttl = s.cfg.DefaultTTL
	}
	var flags uint16
	if o.DF {
		flags = header.IPv4FlagDF
	}
	header.EncodeIPv4(h, header.IPv4Fields{
		TOS: o.TOS, TotalLen: total, ID: uint16(s.ipID.Add(1)), Flags: flags,
		TTL: ttl, Protocol: proto, Src: src, Dst: dst,
	})
	b.Priority = o.Priority
	s.MIB.OutRequests.Add(1)
	if s.runHooks(LocalOut, b, rt.Dev) == Drop {
		s.MIB.HookDrops.Add(1)
		s.MIB.OutDiscards.Add(1)
		b.Free()
		return ErrHookDrop
	}
	if total > rt.MTU() && o.DF && b.GSOSize == 0 {
		s.MIB.FragFails.Add(1)
		b.Free()
		return fmt.Errorf("%w: %d bytes, mtu %d", ErrMsgSize, total, rt.MTU())
	}
	return s.finishOutput(b, rt)
}

func (s *Stack) firstDeviceRoute() (Route, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, a := range s.addrs {
		if a.Dev != s.lo && a.Dev.IsUp() {
			return Route{Dev: a.Dev, Src: a.Prefix.Addr()}, true
		}
	}
	return Route{}, false
}

// finishOutput is ip_finish_output: post-routing hook, fragmentation to
// the device MTU, then the neighbour layer.
func (s *Stack) finishOutput(b *skb.Buff, rt Route) error {
	if s.runHooks(PostRouting, b, rt.Dev) == Drop {
		s.MIB.HookDrops.Add(1)
		s.MIB.OutDiscards.Add(1)
		b.Free()
		return ErrHookDrop
	}
	return s.xmitRouted(b, rt)
}

// xmitRouted sends a routed packet on: offloads the device lacks done in
// software first (validate_xmit_skb), then fragmentation to the MTU, then
// the neighbour layer.
func (s *Stack) xmitRouted(b *skb.Buff, rt Route) error {
	if b.GSOSize > 0 || b.CsumPartial {
		need := netcore.FeatureIPCsum
		if b.GSOSize > 0 {
			need |= netcore.FeatureTSO
		}
		if !rt.Dev.Features.Has(need) {
			return s.softOffload(b, rt)
		}
		if b.GSOSize > 0 {
			return s.neighOutput(b, rt) // the device cuts it to the MTU
		}
	}
	if b.Len() > rt.MTU() {
		return s.fragment(b, rt)
	}
	return s.neighOutput(b, rt)
}

// softOffload does what the device cannot: the transport checksum, and
// for a GSO packet the segmentation (Linux's skb_gso_segment). Segments
// go on as ordinary packets.
func (s *Stack) softOffload(b *skb.Buff, rt Route) error {
	s.MIB.SoftOffloads.Add(1)
	err, sendErr := gso.Apply(b, func(f *skb.Buff) error { return s.xmitRouted(f, rt) })
	if err != nil {
		s.MIB.OutDiscards.Add(1)
		return err
	}
	return sendErr
}

// RouteFeatures are the offloads of the device the route to dst leaves
// by (Linux's sk_route_caps): TCP builds packets for them. Local
// destinations go by loopback, which has none.
func (s *Stack) RouteFeatures(dst [4]byte) netcore.Features {
	if s.classify(dst) == addrLocal {
		return 0
	}
	rt, ok := s.Lookup(dst)
	if !ok {
		return 0
	}
	return rt.Dev.TxFeatures()
}

// neighOutput picks the link address: broadcast for broadcast
// destinations, the device's own for loopback, else the neighbour table
// for the next hop.
func (s *Stack) neighOutput(b *skb.Buff, rt Route) error {
	ip := header.IPv4(b.Data())
	dst := ip.Dst()
	if rt.Dev == s.lo {
		return neigh.OutputDirect(b, rt.Dev, rt.Dev.HardwareAddr)
	}
	if s.classify(dst) == addrBroadcast {
		return neigh.OutputDirect(b, rt.Dev, header.Broadcast)
	}
	if dst[0]&0xf0 == 0xe0 {
		// A multicast group's frames go to its MAC (RFC 1112 6.4,
		// ip_eth_mc_map): 01:00:5e and the group's low 23 bits, never
		// through ARP or a gateway.
		var mac [6]byte
		MulticastMAC(dst, &mac)
		return neigh.OutputDirect(b, rt.Dev, mac[:])
	}
	next := dst
	if rt.Gateway.IsValid() {
		next = rt.Gateway.As4()
	}
	return s.Neigh.Output(b, rt.Dev, netip.AddrFrom4(next))
}

// fragment is ip_fragment: split the payload into pieces that fit the MTU,
// each a multiple of 8 bytes but the last, with the header copied.
func (s *Stack) fragment(b *skb.Buff, rt Route) error {
	defer b.Free()
	ip := header.IPv4(b.Data())
	if ip.DontFragment() {
		s.MIB.FragFails.Add(1)
		return ErrMsgSize
	}
	hl := ip.HeaderLen()
	payload := ip.Payload()
	chunk := (rt.MTU() - hl) &^ 7
	if chunk <= 0 {
		s.MIB.FragFails.Add(1)
		return ErrMsgSize
	}
	baseOff := ip.FragOffset()
	moreAfter := ip.MoreFragments()
	// Fragments after the first carry only the options whose copied
	// flag is set (RFC 791 3.1; ip_options_fragment puts NOPs in place
	// of the others, keeping the header's length).
	var buf [60]byte // the longest IPv4 header
	later := buf[:hl]
	copy(later, ip[:hl])
	header.IPv4(later).OptionsFragment()
	for off := 0; off < len(payload); off += chunk {
		n := min(chunk, len(payload)-off)
		f := skb.Alloc(hl + n)
		if f == nil {
			s.MIB.FragFails.Add(1)
			return ErrMsgSize
		}
		p := f.Put(hl + n)
		if baseOff+off == 0 {
			copy(p, ip[:hl])
		} else {
			copy(p, later)
		}
		copy(p[hl:], payload[off:off+n])
		flags := uint16(0)
		if off+n < len(payload) || moreAfter {
			flags = header.IPv4FlagMF
		}
		header.IPv4(p).SetFragment(flags, baseOff+off, hl+n)
		f.SetNetworkHeader()
		f.Priority = b.Priority
		s.MIB.FragCreates.Add(1)
		if err := s.neighOutput(f, rt); err != nil && !errors.Is(err, netcore.ErrQueueFull) {
			s.MIB.FragFails.Add(1)
			return err
		}
	}
	s.MIB.FragOKs.Add(1)
	return nil
}

// MulticastMAC maps an IPv4 multicast group to its Ethernet address
// (RFC 1112 6.4): 01:00:5e, then the group's low 23 bits.
func MulticastMAC(group [4]byte, mac *[6]byte) {
	*mac = [6]byte{0x01, 0x00, 0x5e, group[1] & 0x7f, group[2], group[3]}
}
