package header

import (
	"encoding/binary"
	"fmt"
)

// IPv4 header (RFC 791 3.1):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|Version|  IHL  |Type of Service|          Total Length         |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|         Identification        |Flags|      Fragment Offset    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  Time to Live |    Protocol   |         Header Checksum       |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                       Source Address                          |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    Destination Address                        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    Options                    |    Padding    |
const (
	ipVerIHL     = 0
	ipTOS        = 1
	ipTotalLen   = 2
	ipID         = 4
	ipFlagsFrag  = 6
	ipTTL        = 8
	ipProto      = 9
	ipCheck      = 10
	ipSrc        = 12
	ipDst        = 16
	IPv4MinLen   = 20
	IPv4MaxLen   = 60 // IHL 15 * 4
	IPv4MaxTotal = 65535

	IPv4FlagDF     = 0x4000
	IPv4FlagMF     = 0x2000
	IPv4OffsetMask = 0x1fff

	ProtoICMP = 1
	ProtoTCP  = 6
	ProtoUDP  = 17
)

// IP option types (RFC 791 3.1).
const (
	IPOptEnd       = 0
	IPOptNOP       = 1
	IPOptRR        = 7 // record route
	IPOptTimestamp = 68
	IPOptLSRR      = 0x83 // loose source and record route
	IPOptSSRR      = 0x89 // strict source and record route
)

// IPv4 is a view of an IPv4 header and what follows it.
type IPv4 []byte

// ParseIPv4 checks an IPv4 packet as ip_rcv does: version 4, IHL at least
// 5 and within the buffer, total length at least the header and at most the
// buffer (the buffer may be longer: Ethernet padding), header checksum, and
// options well formed. The view returned is cut to the total length.
// ErrTruncated means the buffer is shorter than the header says.
func ParseIPv4(b []byte) (IPv4, error) {
	if len(b) < IPv4MinLen {
		return nil, ErrTruncated
	}
	if b[ipVerIHL]>>4 != 4 {
		return nil, ErrMalformed
	}
	hl := int(b[ipVerIHL]&0x0f) * 4
	if hl < IPv4MinLen {
		return nil, ErrMalformed
	}
	if len(b) < hl {
		return nil, ErrTruncated
	}
	total := int(binary.BigEndian.Uint16(b[ipTotalLen:]))
	if total < hl {
		return nil, ErrMalformed
	}
	if total > len(b) {
		return nil, ErrTruncated
	}
	if Fold(Checksum(b[:hl], 0)) != 0 {
		return nil, ErrChecksum
	}
	ip := IPv4(b[:total])
	if err := checkOptions(ip.Options()); err != nil {
		return nil, err
	}
	return ip, nil
}

// OptionError is a malformed IPv4 option: Offset is the byte at fault,
// counted from the start of the header, as ICMP Parameter Problem's
// pointer gives it (RFC 792, ip_options_compile). It is ErrMalformed.
type OptionError struct{ Offset int }

func (e *OptionError) Error() string {
	return fmt.Sprintf("header: malformed IPv4 option at byte %d", e.Offset)
}
func (e *OptionError) Unwrap() error { return ErrMalformed }

// checkOptions walks the option list (RFC 791) as ip_options_compile
// does: END and NOP are one byte, every other option has a length byte
// of at least 2 that fits; record route and timestamp have their
// minimum lengths and pointers. Options are not acted on, only checked
// so that nothing reads past them.
func checkOptions(opts []byte) error {
	bad := func(i int) error { return &OptionError{Offset: IPv4MinLen + i} }
	for i := 0; i < len(opts); {
		switch opts[i] {
		case IPOptEnd:
			return nil
		case IPOptNOP:
			i++
			continue
		}
		if i+1 >= len(opts) {
			return bad(i)
		}
		l := int(opts[i+1])
		if l < 2 || i+l > len(opts) {
			return bad(i)
		}
		switch opts[i] {
		case IPOptRR, IPOptLSRR, IPOptSSRR:
			if l < 3 {
				return bad(i + 1)
			}
			if opts[i+2] < 4 {
				return bad(i + 2)
			}
		case IPOptTimestamp:
			if l < 4 {
				return bad(i + 1)
			}
			if opts[i+2] < 5 {
				return bad(i + 2)
			}
		}
		i += l
	}
	return nil
}

// SourceRouted reports whether the header carries a loose or strict
// source route (the view was checked by ParseIPv4).
func (ip IPv4) SourceRouted() bool {
	opts := ip.Options()
	for i := 0; i < len(opts); {
		switch opts[i] {
		case IPOptEnd:
			return false
		case IPOptNOP:
			i++
			continue
		case IPOptLSRR, IPOptSSRR:
			return true
		}
		if i+1 >= len(opts) || opts[i+1] < 2 {
			return false
		}
		i += int(opts[i+1])
	}
	return false
}

func (ip IPv4) HeaderLen() int { return int(ip[ipVerIHL]&0x0f) * 4 }
func (ip IPv4) TOS() uint8     { return ip[ipTOS] }
func (ip IPv4) TotalLen() int  { return int(binary.BigEndian.Uint16(ip[ipTotalLen:])) }
func (ip IPv4) ID() uint16     { return binary.BigEndian.Uint16(ip[ipID:]) }
func (ip IPv4) Flags() uint16  { return binary.BigEndian.Uint16(ip[ipFlagsFrag:]) &^ IPv4OffsetMask }
func (ip IPv4) FragOffset() int {
	return int(binary.BigEndian.Uint16(ip[ipFlagsFrag:])&IPv4OffsetMask) * 8
}
func (ip IPv4) MoreFragments() bool { return binary.BigEndian.Uint16(ip[ipFlagsFrag:])&IPv4FlagMF != 0 }
func (ip IPv4) DontFragment() bool  { return binary.BigEndian.Uint16(ip[ipFlagsFrag:])&IPv4FlagDF != 0 }
func (ip IPv4) IsFragment() bool {
	return binary.BigEndian.Uint16(ip[ipFlagsFrag:])&(IPv4FlagMF|IPv4OffsetMask) != 0
}
func (ip IPv4) TTL() uint8       { return ip[ipTTL] }
func (ip IPv4) Protocol() uint8  { return ip[ipProto] }
func (ip IPv4) Checksum() uint16 { return binary.BigEndian.Uint16(ip[ipCheck:]) }
func (ip IPv4) Src() [4]byte     { return [4]byte(ip[ipSrc : ipSrc+4]) }
func (ip IPv4) Dst() [4]byte     { return [4]byte(ip[ipDst : ipDst+4]) }
func (ip IPv4) Options() []byte  { return ip[IPv4MinLen:ip.HeaderLen()] }
func (ip IPv4) Payload() []byte  { return ip[ip.HeaderLen():] }

// DecTTL decrements the TTL and updates the checksum incrementally (the
// forwarding path, RFC 1624).
func (ip IPv4) DecTTL() {
	old := binary.BigEndian.Uint16(ip[ipTTL:])
	ip[ipTTL]--
	binary.BigEndian.PutUint16(ip[ipCheck:], ChecksumUpdate16(ip.Checksum(), old, binary.BigEndian.Uint16(ip[ipTTL:])))
}

// IPv4Fields describes a header to encode (no options).
type IPv4Fields struct {
	TOS      uint8
	TotalLen int
	ID       uint16
	Flags    uint16 // IPv4FlagDF, IPv4FlagMF
	FragOff  int    // bytes, a multiple of 8
	TTL      uint8
	Protocol uint8
	Src, Dst [4]byte
}

// EncodeIPv4 writes a 20-byte header with its checksum into b.
func EncodeIPv4(b []byte, f IPv4Fields) {
	b[ipVerIHL] = 4<<4 | 5
	b[ipTOS] = f.TOS
	binary.BigEndian.PutUint16(b[ipTotalLen:], uint16(f.TotalLen))
	binary.BigEndian.PutUint16(b[ipID:], f.ID)
	binary.BigEndian.PutUint16(b[ipFlagsFrag:], f.Flags|uint16(f.FragOff/8)&IPv4OffsetMask)
	b[ipTTL] = f.TTL
	b[ipProto] = f.Protocol
	binary.BigEndian.PutUint16(b[ipCheck:], 0)
	copy(b[ipSrc:ipSrc+4], f.Src[:])
	copy(b[ipDst:ipDst+4], f.Dst[:])
	binary.BigEndian.PutUint16(b[ipCheck:], Fold(Checksum(b[:IPv4MinLen], 0)))
}

// SetFragment rewrites the flags, offset and total length of a header (a
// fragment being built) and recomputes its checksum.
// OptionsFragment replaces every option without the copied flag (the
// type's high bit) with NOPs, as a fragment after the first carries them
// (RFC 791 3.1, Linux's ip_options_fragment). The header was checked by
// ParseIPv4: lengths stay within it.
func (ip IPv4) OptionsFragment() {
	opts := ip[IPv4MinLen:ip.HeaderLen()]
	for i := 0; i < len(opts); {
		switch opts[i] {
		case IPOptEnd:
			return
		case IPOptNOP:
			i++
			continue
		}
		if i+1 >= len(opts) || opts[i+1] < 2 || i+int(opts[i+1]) > len(opts) {
			return
		}
		n := int(opts[i+1])
		if opts[i]&0x80 == 0 {
			for j := i; j < i+n; j++ {
				opts[j] = IPOptNOP
			}
		}
		i += n
	}
}

func (ip IPv4) SetFragment(flags uint16, off, total int) {
	binary.BigEndian.PutUint16(ip[ipFlagsFrag:], flags|uint16(off/8)&IPv4OffsetMask)
	binary.BigEndian.PutUint16(ip[ipTotalLen:], uint16(total))
	binary.BigEndian.PutUint16(ip[ipCheck:], 0)
	binary.BigEndian.PutUint16(ip[ipCheck:], Fold(Checksum(ip[:ip.HeaderLen()], 0)))
}
