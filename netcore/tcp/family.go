package tcp

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/netcore/internal/ip46"
	"github.com/ringonet/ringo/netcore/ipv4"
	"github.com/ringonet/ringo/netcore/ipv6"
	"github.com/ringonet/ringo/netcore/skb"
)

// One table serves both IP versions, as Linux's tcp_hashinfo serves
// tcp_v4 and tcp_v6: addresses are 16 bytes, an IPv4 one in its mapped
// form (::ffff:a.b.c.d, RFC 4291 2.5.5.2), and what differs by version —
// the pseudo-header, the route, the path MTU, ICMP — goes through here.

func mapped(a [4]byte) [16]byte { return ip46.Mapped(a) }
func is4(a [16]byte) bool       { return ip46.Is4(a) }
func as4(a [16]byte) [4]byte    { return ip46.As4(a) }

func (id fourTuple) is4() bool { return is4(id.raddr) }

// tcpAddr is the net.TCPAddr of a and port, with the zone of a
// link-local IPv6 address.
func tcpAddr(a [16]byte, port uint16, dev *netcore.Device) *net.TCPAddr {
	return &net.TCPAddr{IP: ip46.IP(a), Port: int(port), Zone: ip46.Zone(a, dev)}
}

// netHeaderLen is the IP header TCP's segments go behind.
func (id fourTuple) netHeaderLen() int {
	if id.is4() {
		return header.IPv4MinLen
	}
	return header.IPv6Len
}

// output sends a built segment (data at the TCP header) for id. DF on
// every IPv4 segment: path MTU discovery (RFC 1191, Linux's
// ip_no_pmtu_disc=0); IPv6 never fragments in flight anyway.
func (t *Table) output(id fourTuple, b *skb.Buff) error {
	if id.is4() {
		return t.ip.Output(b, as4(id.laddr), as4(id.raddr), header.ProtoTCP, ipv4.OutputOpts{DF: true})
	}
	if t.ip6 == nil {
		b.Free()
		return ipv6.ErrNoRoute
	}
	return t.ip6.Output(b, netip.AddrFrom16(id.laddr), netip.AddrFrom16(id.raddr), header.ProtoTCP, ipv6.OutputOpts{Dev: id.dev, DontFrag: true})
}

// encode writes the header and, with no checksum offload, the checksum.
func encode(id fourTuple, p []byte, f header.TCPFields) {
	if id.is4() {
		header.EncodeTCP(p, f, as4(id.laddr), as4(id.raddr))
		return
	}
	header.EncodeTCP6(p, f, id.laddr, id.raddr)
}

// pathMTU is the MTU toward the peer.
func (t *Table) pathMTU(id fourTuple) int {
	if id.is4() {
		if m := t.ip.PathMTU(as4(id.raddr)); m > 0 {
			return m
		}
		return 1500
	}
	if t.ip6 == nil {
		return header.IPv6MinMTU
	}
	return t.ip6.PathMTU(netip.AddrFrom16(id.raddr), id.dev)
}

// updatePMTU lowers the path MTU toward the peer.
func (t *Table) updatePMTU(id fourTuple, mtu int) {
	if id.is4() {
		t.ip.UpdatePMTU(as4(id.raddr), mtu)
	} else if t.ip6 != nil {
		t.ip6.UpdatePMTU(netip.AddrFrom16(id.raddr), mtu)
	}
}

// confirmNeighbour says the next hop toward the peer is alive.
func (t *Table) confirmNeighbour(id fourTuple) {
	if id.is4() {
		t.ip.ConfirmNeighbour(as4(id.raddr))
	} else if t.ip6 != nil {
		t.ip6.ConfirmNeighbour(netip.AddrFrom16(id.raddr), id.dev)
	}
}

// routeFeatures are the offloads of the device toward the peer; over
// IPv6 only GSO, done in software (the 82540EM's TSO and checksum offload
// are IPv4 only).
func (t *Table) routeFeatures(id fourTuple) netcore.Features {
	if id.is4() {
		return t.ip.RouteFeatures(as4(id.raddr))
	}
	if t.ip6 == nil {
		return 0
	}
	return t.ip6.RouteFeatures(netip.AddrFrom16(id.raddr), id.dev)
}

// AttachIPv6 makes the table serve IPv6 too: it registers with ip6.
func (t *Table) AttachIPv6(ip6 *ipv6.Stack) {
	t.ip6 = ip6
	ip6.AddProtocol(header.ProtoTCP, v6Handler{t})
}

// v6Handler is TCP's ipv6.Handler (tcp_v6_rcv, tcp_v6_err).
type v6Handler struct{ t *Table }

func (h v6Handler) Receive(b *skb.Buff) {
	defer b.Free()
	t := h.t
	ip := header.IPv6(b.NetworkHeader())
	src, dst := ip.Src(), ip.Dst()
	var seg header.TCP
	var err error
	if b.CsumValid {
		seg, err = header.ParseTCPVerified(b.Data())
	} else {
		seg, err = header.ParseTCP6(b.Data(), src, dst)
	}
	if !t.parsed(err) {
		return
	}
	segs := gsoSegs(b, seg)
	t.Stats.InSegs.Add(uint64(segs))
	if b.PktType != 0 || dst[0] == 0xff || src == dst && seg.SrcPort() == seg.DstPort() {
		return // never to multicast; LAND dropped
	}
	id := fourTuple{laddr: dst, raddr: src, lport: seg.DstPort(), rport: seg.SrcPort()}
	if netip.AddrFrom16(src).IsLinkLocalUnicast() || netip.AddrFrom16(dst).IsLinkLocalUnicast() {
		id.dev, _ = b.Dev.(*netcore.Device)
	}
	t.demux(id, seg, segs, b)
}

// Error takes an ICMPv6 error about a segment of ours: Packet Too Big
// lowers the MSS (RFC 8201), the others as the IPv4 ones.
func (h v6Handler) Error(orig header.IPv6, typ, code uint8, info uint32) {
	p := orig.Payload()
	if len(p) < 8 || orig.NextHeader() != header.ProtoTCP {
		return
	}
	id := fourTuple{laddr: orig.Src(), raddr: orig.Dst()}
	var kind icmpKind
	switch typ {
	case header.ICMPv6PacketTooBig:
		kind = icmpTooBig
	case header.ICMPv6DstUnreach, header.ICMPv6TimeExceeded, header.ICMPv6ParamProblem:
		kind = icmpUnreach
	default:
		return
	}
	h.t.icmpError(id, p, kind, int(info), &ipv6.UnreachableError{Type: typ, Code: code, From: orig.DstAddr()})
}

// route picks the local address (and for a link-local peer the device)
// for a connection to dst.
func (t *Table) route(dst netip.Addr, zone string) (fourTuple, error) {
	if dst.Is4() {
		src, ok := t.ip.SourceFor(dst.As4())
		if !ok {
			return fourTuple{}, ipv4.ErrNoRoute
		}
		return fourTuple{laddr: mapped(src), raddr: mapped(dst.As4())}, nil
	}
	if t.ip6 == nil {
		return fourTuple{}, ipv6.ErrNoRoute
	}
	var dev *netcore.Device
	if zone != "" {
		if dev = t.ip.Core().DeviceByName(zone); dev == nil {
			return fourTuple{}, fmt.Errorf("tcp: no device %q", zone)
		}
	}
	rt, src, err := t.ip6.Route(dst, dev)
	if err != nil {
		return fourTuple{}, err
	}
	id := fourTuple{laddr: src.As16(), raddr: dst.As16()}
	if dst.IsLinkLocalUnicast() {
		id.dev = rt.Dev
	}
	return id, nil
}
