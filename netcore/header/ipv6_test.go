package header

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A header written field by field, and read back.
func TestIPv6Golden(t *testing.T) {
	src := netip.MustParseAddr("2001:db8::1").As16()
	dst := netip.MustParseAddr("ff02::1:ff00:2").As16()
	b := make([]byte, IPv6Len+4)
	EncodeIPv6(b, IPv6Fields{TrafficClass: 0xb8, FlowLabel: 0x12345, PayloadLen: 4, NextHeader: ProtoICMPv6, HopLimit: 255, Src: src, Dst: dst})
	want := []byte{
		0x6b, 0x81, 0x23, 0x45, // version 6, class 0xb8, flow 0x12345
		0x00, 0x04, 58, 255,
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
		0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 2,
	}
	assert.Equal(t, want, b[:IPv6Len])
	ip, err := ParseIPv6(append(b, 0, 0)) // Ethernet padding past the payload
	require.NoError(t, err)
	assert.Len(t, ip, IPv6Len+4)
	assert.Equal(t, uint8(0xb8), ip.TrafficClass())
	assert.Equal(t, uint32(0x12345), ip.FlowLabel())
	assert.Equal(t, uint8(58), ip.NextHeader())
	assert.Equal(t, uint8(255), ip.HopLimit())
	assert.Equal(t, src, ip.Src())
	assert.Equal(t, dst, ip.Dst())

	_, err = ParseIPv6(b[:IPv6Len+3])
	assert.ErrorIs(t, err, ErrTruncated, "payload length past the buffer")
	b[0] = 0x45
	_, err = ParseIPv6(b)
	assert.ErrorIs(t, err, ErrMalformed, "version 4")
}

// The checksum of an echo request, as an independent implementation
// (RFC 1071 over the RFC 8200 8.1 pseudo-header, in Python) computes it.
func TestICMPv6ChecksumGolden(t *testing.T) {
	src := netip.MustParseAddr("fe80::1").As16()
	dst := netip.MustParseAddr("fe80::2").As16()
	m := []byte{128, 0, 0, 0, 0x12, 0x34, 0, 1, 'a', 'b', 'c', 'd'}
	SetICMPv6Checksum(m, src, dst)
	assert.Equal(t, []byte{0xab, 0xb8}, m[2:4])
	msg, err := ParseICMPv6(m, src, dst)
	require.NoError(t, err)
	assert.Equal(t, uint16(0x1234), msg.Ident())
	m[9] ^= 1
	_, err = ParseICMPv6(m, src, dst)
	assert.ErrorIs(t, err, ErrChecksum)
}

func TestSolicitedNodeAndMAC(t *testing.T) {
	a := netip.MustParseAddr("2001:db8::abcd:1234:5678").As16()
	assert.Equal(t, netip.MustParseAddr("ff02::1:ff34:5678"), netip.AddrFrom16(SolicitedNode(a)))
	var mac [6]byte
	IPv6MulticastMAC(SolicitedNode(a), &mac)
	assert.Equal(t, [6]byte{0x33, 0x33, 0xff, 0x34, 0x56, 0x78}, mac)
}

func TestNDOptions(t *testing.T) {
	var opts []byte
	sll := make([]byte, 8)
	PutNDLinkAddrOption(sll, NDOptSourceLL, []byte{2, 0, 0, 0, 0, 1})
	opts = append(opts, sll...)
	pi := make([]byte, 32)
	pi[0], pi[1], pi[2], pi[3] = NDOptPrefixInfo, 4, 64, NDPrefixOnLink|NDPrefixAuto
	pi[7] = 100 // valid 100 s
	copy(pi[16:], netip.MustParseAddr("2001:db8:1::").AsSlice())
	opts = append(opts, pi...)
	opts = append(opts, 99, 1, 0, 0, 0, 0, 0, 0) // unknown: skipped
	o, err := ParseNDOptions(opts)
	require.NoError(t, err)
	assert.Equal(t, []byte{2, 0, 0, 0, 0, 1}, o.SourceLL)
	require.Equal(t, 1, o.NPrefix)
	assert.Equal(t, uint32(100), o.Prefixes[0].ValidLifetime)
	assert.Equal(t, uint8(64), o.Prefixes[0].Len)

	_, err = ParseNDOptions([]byte{1, 0, 0, 0, 0, 0, 0, 0})
	assert.ErrorIs(t, err, ErrMalformed, "a zero-length option drops the message")
	_, err = ParseNDOptions([]byte{1, 2, 0, 0, 0, 0, 0, 0})
	assert.ErrorIs(t, err, ErrMalformed, "past the end")
	_, err = ParseNDOptions(append(sll, 3, 1, 0, 0, 0, 0, 0, 0))
	assert.ErrorIs(t, err, ErrMalformed, "a prefix option of the wrong length")
}

func TestIPv6OptionsWalk(t *testing.T) {
	// Pad1, PadN(2), Router Alert.
	opts := []byte{0, 1, 2, 0, 0, 5, 2, 0, 0}
	var types []uint8
	require.NoError(t, WalkIPv6Options(opts, func(typ uint8, off int, data []byte) bool {
		types = append(types, typ)
		return true
	}))
	assert.Equal(t, []uint8{1, 5}, types)
	assert.ErrorIs(t, WalkIPv6Options([]byte{5, 4, 0}, func(uint8, int, []byte) bool { return true }), ErrMalformed)
}
