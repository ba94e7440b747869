package header

import "encoding/binary"

// UDP header (RFC 768): source port, destination port, length, checksum.
const (
	udpSrc   = 0
	udpDst   = 2
	udpLen   = 4
	udpCheck = 6
	UDPLen   = 8
)

// UDP is a view of a UDP datagram.
type UDP []byte

// ParseUDP checks the length field against the buffer and, when the
// checksum is not zero, the checksum with the pseudo-header. The view is
// cut to the length field.
func ParseUDP(b []byte, src, dst [4]byte) (UDP, error) {
	u, err := parseUDP(b)
	if err == nil && u.Checksum() != 0 && Fold(Checksum(u, PseudoHeaderSum(src, dst, ProtoUDP, len(u)))) != 0 {
		return nil, ErrChecksum
	}
	return u, err
}

// ParseUDP6 is ParseUDP over IPv6, where the checksum is mandatory: a zero
// one is malformed (RFC 8200 8.1).
func ParseUDP6(b []byte, src, dst [16]byte) (UDP, error) {
	u, err := parseUDP(b)
	if err != nil {
		return nil, err
	}
	if u.Checksum() == 0 {
		return nil, ErrMalformed
	}
	if Fold(Checksum(u, PseudoHeaderSum6(src, dst, ProtoUDP, len(u)))) != 0 {
		return nil, ErrChecksum
	}
	return u, nil
}

// ParseUDPVerified is ParseUDP for a datagram whose checksum the device
// (or the kernel across a TAP) vouched for: the lengths are still checked.
func ParseUDPVerified(b []byte) (UDP, error) {
	return parseUDP(b)
}

func parseUDP(b []byte) (UDP, error) {
	if len(b) < UDPLen {
		return nil, ErrTruncated
	}
	l := int(binary.BigEndian.Uint16(b[udpLen:]))
	if l < UDPLen {
		return nil, ErrMalformed
	}
	if l > len(b) {
		return nil, ErrTruncated
	}
	return UDP(b[:l]), nil
}

func (u UDP) SrcPort() uint16  { return binary.BigEndian.Uint16(u[udpSrc:]) }
func (u UDP) DstPort() uint16  { return binary.BigEndian.Uint16(u[udpDst:]) }
func (u UDP) Length() int      { return int(binary.BigEndian.Uint16(u[udpLen:])) }
func (u UDP) Checksum() uint16 { return binary.BigEndian.Uint16(u[udpCheck:]) }
func (u UDP) Payload() []byte  { return u[UDPLen:] }

// EncodeUDP writes the header into b, whose payload (b[UDPLen:]) the caller
// has filled, and the checksum over pseudo-header, header and payload. A
// computed checksum of 0 is sent as 0xffff (RFC 768).
func EncodeUDP(b []byte, srcPort, dstPort uint16, src, dst [4]byte) {
	encodeUDP(b, srcPort, dstPort, PseudoHeaderSum(src, dst, ProtoUDP, len(b)))
}

// EncodeUDP6 is EncodeUDP over IPv6.
func EncodeUDP6(b []byte, srcPort, dstPort uint16, src, dst [16]byte) {
	encodeUDP(b, srcPort, dstPort, PseudoHeaderSum6(src, dst, ProtoUDP, len(b)))
}

func encodeUDP(b []byte, srcPort, dstPort uint16, pseudo uint32) {
	binary.BigEndian.PutUint16(b[udpSrc:], srcPort)
	binary.BigEndian.PutUint16(b[udpDst:], dstPort)
	binary.BigEndian.PutUint16(b[udpLen:], uint16(len(b)))
	binary.BigEndian.PutUint16(b[udpCheck:], 0)
	c := Fold(Checksum(b, pseudo))
	if c == 0 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(b[udpCheck:], c)
}
