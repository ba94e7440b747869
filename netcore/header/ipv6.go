package header

import (
	"encoding/binary"
	"net/netip"
)

// IPv6 header (RFC 8200 3):
//
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|Version| Traffic Class |           Flow Label                  |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|         Payload Length        |  Next Header  |   Hop Limit   |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                      Source Address (128)                     |
//	|                   Destination Address (128)                   |
const (
	ip6VerTCFlow  = 0
	ip6PayloadLen = 4
	ip6NextHeader = 6
	ip6HopLimit   = 7
	ip6Src        = 8
	ip6Dst        = 24
	IPv6Len       = 40
	IPv6MinMTU    = 1280 // RFC 8200 5
)

// Next Header values (IANA protocol numbers) IPv6 uses.
const (
	ProtoHopByHop = 0
	ProtoRouting  = 43
	ProtoFragment = 44
	ProtoESP      = 50
	ProtoAH       = 51
	ProtoICMPv6   = 58
	ProtoNoNext   = 59
	ProtoDstOpts  = 60
)

// IPv6 is a view of an IPv6 header and what follows it.
type IPv6 []byte

// ParseIPv6 checks an IPv6 packet as ipv6_rcv does: version 6, the whole
// fixed header, and a payload length within the buffer (the buffer may be
// longer: Ethernet padding). The view returned is cut to the payload
// length. Jumbograms (RFC 2675) are not taken: a zero payload length is
// an empty payload.
func ParseIPv6(b []byte) (IPv6, error) {
	if len(b) < IPv6Len {
		return nil, ErrTruncated
	}
	if b[ip6VerTCFlow]>>4 != 6 {
		return nil, ErrMalformed
	}
	n := IPv6Len + int(binary.BigEndian.Uint16(b[ip6PayloadLen:]))
	if n > len(b) {
		return nil, ErrTruncated
	}
	return IPv6(b[:n]), nil
}

func (ip IPv6) TrafficClass() uint8 {
	return uint8(binary.BigEndian.Uint16(ip[ip6VerTCFlow:]) >> 4)
}
func (ip IPv6) FlowLabel() uint32 {
	return binary.BigEndian.Uint32(ip[ip6VerTCFlow:]) & 0xfffff
}
func (ip IPv6) PayloadLen() int     { return int(binary.BigEndian.Uint16(ip[ip6PayloadLen:])) }
func (ip IPv6) NextHeader() uint8   { return ip[ip6NextHeader] }
func (ip IPv6) HopLimit() uint8     { return ip[ip6HopLimit] }
func (ip IPv6) Src() [16]byte       { return [16]byte(ip[ip6Src : ip6Src+16]) }
func (ip IPv6) Dst() [16]byte       { return [16]byte(ip[ip6Dst : ip6Dst+16]) }
func (ip IPv6) SrcAddr() netip.Addr { return netip.AddrFrom16(ip.Src()) }
func (ip IPv6) DstAddr() netip.Addr { return netip.AddrFrom16(ip.Dst()) }
func (ip IPv6) Payload() []byte     { return ip[IPv6Len:] }

// SetHopLimit rewrites the hop limit (forwarding; no checksum to fix).
func (ip IPv6) SetHopLimit(h uint8) { ip[ip6HopLimit] = h }

// IPv6Fields are the values EncodeIPv6 writes.
type IPv6Fields struct {
	TrafficClass uint8
	FlowLabel    uint32
	PayloadLen   int
	NextHeader   uint8
	HopLimit     uint8
	Src, Dst     [16]byte
}

// EncodeIPv6 writes a fixed IPv6 header into b[:IPv6Len].
func EncodeIPv6(b []byte, f IPv6Fields) {
	binary.BigEndian.PutUint32(b[ip6VerTCFlow:], 6<<28|uint32(f.TrafficClass)<<20|f.FlowLabel&0xfffff)
	binary.BigEndian.PutUint16(b[ip6PayloadLen:], uint16(f.PayloadLen))
	b[ip6NextHeader] = f.NextHeader
	b[ip6HopLimit] = f.HopLimit
	copy(b[ip6Src:], f.Src[:])
	copy(b[ip6Dst:], f.Dst[:])
}

// PseudoHeaderSum6 is the partial sum of the IPv6 pseudo-header (RFC 8200
// 8.1): source, destination, upper-layer length, next header.
func PseudoHeaderSum6(src, dst [16]byte, proto uint8, length int) uint32 {
	sum := Checksum(src[:], 0)
	sum = Checksum(dst[:], sum)
	return sum + uint32(length>>16) + uint32(length&0xffff) + uint32(proto)
}

// ExtHeader is a view of a Hop-by-Hop, Routing or Destination Options
// header (RFC 8200 4.3-4.6): next header, length in 8-octet units past
// the first 8, then its data.
type ExtHeader []byte

// ParseExtHeader bounds the extension header at the start of b.
func ParseExtHeader(b []byte) (ExtHeader, error) {
	if len(b) < 8 {
		return nil, ErrTruncated
	}
	n := (int(b[1]) + 1) * 8
	if n > len(b) {
		return nil, ErrTruncated
	}
	return ExtHeader(b[:n]), nil
}

func (h ExtHeader) NextHeader() uint8 { return h[0] }
func (h ExtHeader) Len() int          { return len(h) }

// Options are the TLV-encoded options of a Hop-by-Hop or Destination
// Options header.
func (h ExtHeader) Options() []byte { return h[2:] }

// Routing header fields (RFC 8200 4.4).
func (h ExtHeader) RoutingType() uint8  { return h[2] }
func (h ExtHeader) SegmentsLeft() uint8 { return h[3] }

// IPv6 options (RFC 8200 4.2) and the two high bits of their type: what a
// node that does not know the option must do.
const (
	IPv6OptPad1        = 0
	IPv6OptPadN        = 1
	IPv6OptRouterAlert = 5 // RFC 2711
	IPv6OptJumbo       = 0xc2

	IPv6OptActionSkip        = 0 // skip it
	IPv6OptActionDiscard     = 1 // discard the packet
	IPv6OptActionParamProb   = 2 // discard, ICMP Parameter Problem code 2
	IPv6OptActionParamProbMC = 3 // the same, unless the destination was multicast
)

// WalkIPv6Options calls f with each option's type, its offset within
// opts and its data; f returns false to stop. A malformed option (its
// length past the end) is an error.
func WalkIPv6Options(opts []byte, f func(typ uint8, off int, data []byte) bool) error {
	for i := 0; i < len(opts); {
		typ := opts[i]
		if typ == IPv6OptPad1 {
			i++
			continue
		}
		if i+2 > len(opts) {
			return ErrMalformed
		}
		n := int(opts[i+1])
		if i+2+n > len(opts) {
			return ErrMalformed
		}
		if !f(typ, i, opts[i+2:i+2+n]) {
			return nil
		}
		i += 2 + n
	}
	return nil
}

// Fragment header (RFC 8200 4.5).
const (
	IPv6FragLen      = 8
	IPv6FragMF       = 1
	IPv6FragOffsMask = 0xfff8
)

// IPv6Frag is a view of a Fragment header.
type IPv6Frag []byte

func (f IPv6Frag) NextHeader() uint8   { return f[0] }
func (f IPv6Frag) Offset() int         { return int(binary.BigEndian.Uint16(f[2:]) & IPv6FragOffsMask) }
func (f IPv6Frag) MoreFragments() bool { return binary.BigEndian.Uint16(f[2:])&IPv6FragMF != 0 }
func (f IPv6Frag) ID() uint32          { return binary.BigEndian.Uint32(f[4:]) }

// EncodeIPv6Frag writes a Fragment header.
func EncodeIPv6Frag(b []byte, next uint8, off int, more bool, id uint32) {
	b[0], b[1] = next, 0
	v := uint16(off) & IPv6FragOffsMask
	if more {
		v |= IPv6FragMF
	}
	binary.BigEndian.PutUint16(b[2:], v)
	binary.BigEndian.PutUint32(b[4:], id)
}

// IPv6 address helpers.

// SolicitedNode is the solicited-node multicast address of a (RFC 4291
// 2.7.1): ff02::1:ffXX:XXXX with a's low 24 bits.
func SolicitedNode(a [16]byte) [16]byte {
	return [16]byte{0xff, 0x02, 10: 0, 11: 0x01, 12: 0xff, 13: a[13], 14: a[14], 15: a[15]}
}

// IPv6MulticastMAC is the Ethernet address of an IPv6 multicast group
// (RFC 2464 7): 33:33 and the group's low 32 bits.
func IPv6MulticastMAC(a [16]byte, mac *[6]byte) {
	*mac = [6]byte{0x33, 0x33, a[12], a[13], a[14], a[15]}
}

// Well-known IPv6 multicast groups.
var (
	IPv6AllNodes   = [16]byte{0xff, 0x02, 15: 0x01}
	IPv6AllRouters = [16]byte{0xff, 0x02, 15: 0x02}
	IPv6AllMLDv2   = [16]byte{0xff, 0x02, 15: 0x16}
)
