package header

import "encoding/binary"

// ICMPv4 (RFC 792): type, code, checksum, then 4 bytes whose meaning
// depends on the type (echo: identifier and sequence), then data.
const (
	icmpType  = 0
	icmpCode  = 1
	icmpCheck = 2
	icmpRest  = 4
	ICMPv4Len = 8

	ICMPEchoReply      = 0
	ICMPDestUnreach    = 3
	ICMPRedirect       = 5
	ICMPEcho           = 8
	ICMPTimeExceeded   = 11
	ICMPParamProblem   = 12
	ICMPTimestamp      = 13
	ICMPTimestampReply = 14

	// Destination unreachable codes.
	ICMPNetUnreach  = 0
	ICMPHostUnreach = 1
	ICMPProtUnreach = 2
	ICMPPortUnreach = 3
	ICMPFragNeeded  = 4
	// Time exceeded codes.
	ICMPExcTTL      = 0
	ICMPExcFragTime = 1
)

// ICMPv4 is a view of an ICMP message.
type ICMPv4 []byte

// ParseICMPv4 checks length and checksum.
func ParseICMPv4(b []byte) (ICMPv4, error) {
	if len(b) < ICMPv4Len {
		return nil, ErrTruncated
	}
	if Fold(Checksum(b, 0)) != 0 {
		return nil, ErrChecksum
	}
	return ICMPv4(b), nil
}

func (m ICMPv4) Type() uint8     { return m[icmpType] }
func (m ICMPv4) Code() uint8     { return m[icmpCode] }
func (m ICMPv4) Ident() uint16   { return binary.BigEndian.Uint16(m[icmpRest:]) }
func (m ICMPv4) Seq() uint16     { return binary.BigEndian.Uint16(m[icmpRest+2:]) }
func (m ICMPv4) MTU() uint16     { return binary.BigEndian.Uint16(m[icmpRest+2:]) }
func (m ICMPv4) Payload() []byte { return m[ICMPv4Len:] }

// SetType changes the type and updates the checksum incrementally (an echo
// request turned into its reply in place).
func (m ICMPv4) SetType(t uint8) {
	old := binary.BigEndian.Uint16(m[icmpType:])
	m[icmpType] = t
	binary.BigEndian.PutUint16(m[icmpCheck:], ChecksumUpdate16(binary.BigEndian.Uint16(m[icmpCheck:]), old, binary.BigEndian.Uint16(m[icmpType:])))
}

// EncodeICMPv4 writes type, code and the 4-byte rest of the header into
// b, then the checksum over all of b (whose data the caller has filled).
func EncodeICMPv4(b []byte, typ, code uint8, rest uint32) {
	b[icmpType], b[icmpCode] = typ, code
	binary.BigEndian.PutUint16(b[icmpCheck:], 0)
	binary.BigEndian.PutUint32(b[icmpRest:], rest)
	binary.BigEndian.PutUint16(b[icmpCheck:], Fold(Checksum(b, 0)))
}
