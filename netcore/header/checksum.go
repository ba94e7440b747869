package header

import "encoding/binary"

// Checksum is the Internet checksum (RFC 1071) of b added to initial, not
// folded or complemented: chain calls, then Fold.
func Checksum(b []byte, initial uint32) uint32 {
	sum := initial
	n := len(b)
	i := 0
	for ; i+8 <= n; i += 8 {
		sum += uint32(binary.BigEndian.Uint16(b[i:])) + uint32(binary.BigEndian.Uint16(b[i+2:])) +
			uint32(binary.BigEndian.Uint16(b[i+4:])) + uint32(binary.BigEndian.Uint16(b[i+6:]))
		sum = (sum & 0xffff) + (sum >> 16)
	}
	for ; i+1 < n; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if i < n {
		sum += uint32(b[i]) << 8
	}
	return sum
}

// Fold folds a 32-bit partial sum to 16 bits and complements it.
func Fold(sum uint32) uint16 {
	for sum > 0xffff {
		sum = (sum & 0xffff) + (sum >> 16)
	}
	return ^uint16(sum)
}

// PseudoHeaderSum is the partial sum of the IPv4 pseudo-header (RFC 768,
// RFC 9293 3.1): source, destination, zero, protocol, length.
func PseudoHeaderSum(src, dst [4]byte, proto uint8, length int) uint32 {
	return uint32(binary.BigEndian.Uint16(src[0:])) + uint32(binary.BigEndian.Uint16(src[2:])) +
		uint32(binary.BigEndian.Uint16(dst[0:])) + uint32(binary.BigEndian.Uint16(dst[2:])) +
		uint32(proto) + uint32(length)
}

// ChecksumUpdate16 updates a checksum for one 16-bit field changing from
// old to new (RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m')).
func ChecksumUpdate16(check, old, new uint16) uint16 {
	sum := uint32(^check) + uint32(^old) + uint32(new)
	for sum > 0xffff {
		sum = (sum & 0xffff) + (sum >> 16)
	}
	return ^uint16(sum)
}
