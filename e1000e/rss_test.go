package e1000e

import (
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
)

// The verification key and vectors of Microsoft's RSS specification, which
// Intel's datasheets (82574 7.1.9.1.1) reproduce.
var rssTestKey, _ = hex.DecodeString("6d5a56da255b0ec24167253d43a38fb0d0ca2bcbae7b30b477cb2da38030f20c6a42b73bbeac01fa")

func rssTuple(src, dst string, sport, dport uint16, ports bool) []byte {
	s, d := netip.MustParseAddr(src), netip.MustParseAddr(dst)
	in := append(s.AsSlice(), d.AsSlice()...)
	if ports {
		in = binary.BigEndian.AppendUint16(in, sport)
		in = binary.BigEndian.AppendUint16(in, dport)
	}
	return in
}

func TestToeplitzVectors(t *testing.T) {
	for _, v := range []struct {
		src, dst     string
		sport, dport uint16
		ip, tcp      uint32
	}{
		{"66.9.149.187", "161.142.100.80", 2794, 1766, 0x323e8fc2, 0x51ccc178},
		{"199.92.111.2", "65.69.140.83", 14230, 4739, 0xd718262a, 0xc626b0ea},
		{"24.19.198.95", "12.22.207.184", 12898, 38024, 0xd2d0a5de, 0x5c2b394a},
		{"38.27.205.30", "209.142.163.6", 48228, 2217, 0x82989176, 0xafc7327f},
		{"153.39.163.191", "202.188.127.2", 44251, 1303, 0x5d1809c5, 0x10e828a2},
		{"3ffe:2501:200:1fff::7", "3ffe:2501:200:3::1", 2794, 1766, 0x2cc18cd5, 0x40207d3d},
		{"3ffe:501:8::260:97ff:fe40:efab", "ff02::1", 14230, 4739, 0x0f0c461c, 0xdde51bbf},
		{"3ffe:1900:4545:3:200:f8ff:fe21:67cf", "fe80::200:f8ff:fe21:67cf", 44251, 38024, 0x4b61e985, 0x02d1feef},
	} {
		assert.Equal(t, v.ip, toeplitz(rssTestKey, rssTuple(v.src, v.dst, 0, 0, false)), "%s -> %s", v.src, v.dst)
		assert.Equal(t, v.tcp, toeplitz(rssTestKey, rssTuple(v.src, v.dst, v.sport, v.dport, true)), "%s:%d -> %s:%d", v.src, v.sport, v.dst, v.dport)
	}
}
