package header

import "encoding/binary"

// ICMPv6 message types (RFC 4443 2.1, RFC 4861 4, RFC 3810).
const (
	ICMPv6DstUnreach   = 1
	ICMPv6PacketTooBig = 2
	ICMPv6TimeExceeded = 3
	ICMPv6ParamProblem = 4
	ICMPv6EchoRequest  = 128
	ICMPv6EchoReply    = 129
	ICMPv6MLDQuery     = 130
	ICMPv6MLDReport    = 131
	ICMPv6MLDDone      = 132
	ICMPv6RouterSol    = 133
	ICMPv6RouterAdv    = 134
	ICMPv6NeighborSol  = 135
	ICMPv6NeighborAdv  = 136
	ICMPv6Redirect     = 137
	ICMPv6MLDv2Report  = 143
	ICMPv6Len          = 8 // type, code, checksum and the first word of the body

	// Destination Unreachable codes.
	ICMPv6NoRoute       = 0
	ICMPv6AdminProhib   = 1
	ICMPv6AddrUnreach   = 3
	ICMPv6PortUnreach   = 4
	ICMPv6SrcPolicyFail = 5
	// Parameter Problem codes.
	ICMPv6ErrHeaderField  = 0
	ICMPv6UnknownNextHdr  = 1
	ICMPv6UnknownOption   = 2
	ICMPv6FirstFragNoHdrs = 3 // RFC 7112
	// Time Exceeded codes.
	ICMPv6HopLimitExceeded = 0
	ICMPv6ReasmTimeout     = 1
)

// ICMPv6 is a view of an ICMPv6 message.
type ICMPv6 []byte

// ParseICMPv6 checks the length (the 8-byte header every message has)
// and the checksum over the IPv6 pseudo-header.
func ParseICMPv6(b []byte, src, dst [16]byte) (ICMPv6, error) {
	if len(b) < ICMPv6Len {
		return nil, ErrTruncated
	}
	if Fold(Checksum(b, PseudoHeaderSum6(src, dst, ProtoICMPv6, len(b)))) != 0 {
		return nil, ErrChecksum
	}
	return ICMPv6(b), nil
}

func (m ICMPv6) Type() uint8     { return m[0] }
func (m ICMPv6) Code() uint8     { return m[1] }
func (m ICMPv6) Word() uint32    { return binary.BigEndian.Uint32(m[4:]) } // MTU, pointer, or ident/seq
func (m ICMPv6) Ident() uint16   { return binary.BigEndian.Uint16(m[4:]) }
func (m ICMPv6) Seq() uint16     { return binary.BigEndian.Uint16(m[6:]) }
func (m ICMPv6) Body() []byte    { return m[4:] }
func (m ICMPv6) Payload() []byte { return m[ICMPv6Len:] }

// IsError reports an error message (types below 128, RFC 4443 2.1).
func (m ICMPv6) IsError() bool { return m[0] < 128 }

// EncodeICMPv6 writes an ICMPv6 header with word as its first body word;
// the message (b, header and what follows) gets its checksum with
// SetICMPv6Checksum once complete.
func EncodeICMPv6(b []byte, typ, code uint8, word uint32) {
	b[0], b[1] = typ, code
	b[2], b[3] = 0, 0
	binary.BigEndian.PutUint32(b[4:], word)
}

// SetICMPv6Checksum computes the checksum of the whole message m.
func SetICMPv6Checksum(m []byte, src, dst [16]byte) {
	m[2], m[3] = 0, 0
	binary.BigEndian.PutUint16(m[2:], Fold(Checksum(m, PseudoHeaderSum6(src, dst, ProtoICMPv6, len(m)))))
}

// Neighbour discovery (RFC 4861 4.3-4.6).
const (
	NDNSLen = 24 // type..reserved, target
	NDNALen = 24
	NDRSLen = 8
	NDRALen = 16 // type..retrans timer

	NDFlagRouter    = 0x80000000
	NDFlagSolicited = 0x40000000
	NDFlagOverride  = 0x20000000

	NDRAFlagManaged = 0x80
	NDRAFlagOther   = 0x40

	NDOptSourceLL   = 1
	NDOptTargetLL   = 2
	NDOptPrefixInfo = 3
	NDOptRedirected = 4
	NDOptMTU        = 5

	NDPrefixOnLink = 0x80 // L
	NDPrefixAuto   = 0x40 // A

	// NDMaxPrefixes bounds the prefix options one RA is read for.
	NDMaxPrefixes = 8
)

// NDTarget is the target address of an NS or NA (m at least 24 bytes).
func (m ICMPv6) NDTarget() [16]byte { return [16]byte(m[8:24]) }

// NDPrefix is a Prefix Information option (RFC 4861 4.6.2).
type NDPrefix struct {
	Len               uint8
	Flags             uint8
	ValidLifetime     uint32 // seconds; 0xffffffff: infinity
	PreferredLifetime uint32
	Prefix            [16]byte
}

// NDOptions are the options of a neighbour discovery message that ringo
// reads.
type NDOptions struct {
	SourceLL, TargetLL []byte // a link-layer address option's address, nil if absent
	MTU                uint32
	Prefixes           [NDMaxPrefixes]NDPrefix
	NPrefix            int
	PrefixesDropped    int // past NDMaxPrefixes
}

// ParseNDOptions reads the options in b (RFC 4861 4.6): each a type, a
// length in 8-octet units, and data. A zero length, or one past the end,
// is malformed: the whole message must be dropped (RFC 4861 4.6, 6.1).
// Unknown options are skipped.
func ParseNDOptions(b []byte) (NDOptions, error) {
	var o NDOptions
	for len(b) > 0 {
		if len(b) < 2 || b[1] == 0 || int(b[1])*8 > len(b) {
			return o, ErrMalformed
		}
		n := int(b[1]) * 8
		opt := b[:n]
		switch b[0] {
		case NDOptSourceLL:
			if n >= 8 {
				o.SourceLL = opt[2:8]
			}
		case NDOptTargetLL:
			if n >= 8 {
				o.TargetLL = opt[2:8]
			}
		case NDOptMTU:
			if n == 8 {
				o.MTU = binary.BigEndian.Uint32(opt[4:])
			}
		case NDOptPrefixInfo:
			if n != 32 {
				return o, ErrMalformed // RFC 4861 4.6.2: length 4
			}
			if o.NPrefix == NDMaxPrefixes {
				o.PrefixesDropped++
				break
			}
			o.Prefixes[o.NPrefix] = NDPrefix{Len: opt[2], Flags: opt[3],
				ValidLifetime: binary.BigEndian.Uint32(opt[4:]), PreferredLifetime: binary.BigEndian.Uint32(opt[8:]),
				Prefix: [16]byte(opt[16:32])}
			o.NPrefix++
		}
		b = b[n:]
	}
	return o, nil
}

// PutNDLinkAddrOption writes a source or target link-layer address option
// for an Ethernet address into b[:8].
func PutNDLinkAddrOption(b []byte, typ uint8, mac []byte) {
	b[0], b[1] = typ, 1
	copy(b[2:8], mac)
}
