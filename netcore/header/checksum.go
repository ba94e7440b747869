package header

import (
	"encoding/binary"
	"math/bits"
)

// Checksum is the Internet checksum (RFC 1071) of b added to initial, not
// complemented: chain calls, then Fold. The result is folded to 16 bits.
//
// It adds big-endian 64-bit words with end-around carry: 2^16 ≡ 1 modulo
// 2^16-1, so the one's-complement sum of 64-bit words folds down to the
// sum of 16-bit words (RFC 1071 2(B), "parallel summation").
func Checksum(b []byte, initial uint32) uint32 {
	sum := uint64(initial)
	var carries, c uint64
	for len(b) >= 32 {
		sum, c = bits.Add64(sum, binary.BigEndian.Uint64(b), 0)
		carries += c
		sum, c = bits.Add64(sum, binary.BigEndian.Uint64(b[8:]), 0)
		carries += c
		sum, c = bits.Add64(sum, binary.BigEndian.Uint64(b[16:]), 0)
		carries += c
		sum, c = bits.Add64(sum, binary.BigEndian.Uint64(b[24:]), 0)
		carries += c
		b = b[32:]
	}
	for len(b) >= 8 {
		sum, c = bits.Add64(sum, binary.BigEndian.Uint64(b), 0)
		carries += c
		b = b[8:]
	}
	var tail uint64
	for len(b) >= 2 {
		tail += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		tail += uint64(b[0]) << 8
	}
	sum, c = bits.Add64(sum, tail, 0)
	carries += c
	sum, c = bits.Add64(sum, carries, 0)
	sum += c
	// Fold 64 -> 32 -> 16 bits, end-around each time.
	sum = sum>>32 + sum&0xffffffff
	sum = sum>>32 + sum&0xffffffff
	sum = sum>>16 + sum&0xffff
	sum = sum>>16 + sum&0xffff
	return uint32(sum)
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
