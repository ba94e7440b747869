package header

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An IPv4 header with a known checksum (0xb861), UDP 192.168.0.1 ->
// 192.168.0.199, total length 115.
var goldenIPv4 = []byte{
	0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61,
	0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
}

func goldenPacket() []byte {
	p := make([]byte, 115+4) // 4 bytes of Ethernet padding after it
	copy(p, goldenIPv4)
	return p
}

func TestIPv4Golden(t *testing.T) {
	ip, err := ParseIPv4(goldenPacket())
	require.NoError(t, err)
	assert.Equal(t, 115, len(ip), "cut to total length")
	assert.Equal(t, 20, ip.HeaderLen())
	assert.Equal(t, uint8(ProtoUDP), ip.Protocol())
	assert.Equal(t, uint8(64), ip.TTL())
	assert.True(t, ip.DontFragment())
	assert.False(t, ip.IsFragment())
	assert.Equal(t, [4]byte{192, 168, 0, 1}, ip.Src())
	assert.Equal(t, [4]byte{192, 168, 0, 199}, ip.Dst())
	assert.Equal(t, uint16(0xb861), ip.Checksum())

	b := make([]byte, 20)
	EncodeIPv4(b, IPv4Fields{TotalLen: 115, Flags: IPv4FlagDF, TTL: 64, Protocol: ProtoUDP, Src: ip.Src(), Dst: ip.Dst()})
	assert.Equal(t, goldenIPv4, b)

	// The forwarding path's incremental update equals a full recompute.
	ip.DecTTL()
	full := make([]byte, 20)
	EncodeIPv4(full, IPv4Fields{TotalLen: 115, Flags: IPv4FlagDF, TTL: 63, Protocol: ProtoUDP, Src: ip.Src(), Dst: ip.Dst()})
	assert.Equal(t, full, []byte(ip[:20]))
}

func TestIPv4Rejects(t *testing.T) {
	mut := func(f func(p []byte)) []byte { p := goldenPacket(); f(p); return p }
	cases := []struct {
		name string
		pkt  []byte
		want error
	}{
		{"short", goldenIPv4[:19], ErrTruncated},
		{"version 6", mut(func(p []byte) { p[0] = 0x65 }), ErrMalformed},
		{"ihl 4", mut(func(p []byte) { p[0] = 0x44 }), ErrMalformed},
		{"ihl past buffer", goldenIPv4[:20:20], nil}, // placeholder, replaced below
		{"total below header", mut(func(p []byte) { p[3] = 10 }), ErrMalformed},
		{"total past buffer", mut(func(p []byte) { p[2] = 0x10 }), ErrTruncated},
		{"bad checksum", mut(func(p []byte) { p[8] = 1 }), ErrChecksum},
	}
	cases[3].pkt = func() []byte { p := make([]byte, 22); copy(p, goldenIPv4); p[0] = 0x46; return p }()
	cases[3].want = ErrTruncated
	for _, c := range cases {
		_, err := ParseIPv4(c.pkt)
		assert.ErrorIs(t, err, c.want, c.name)
	}
}

func withOptions(opts []byte) []byte {
	hl := 20 + len(opts)
	p := make([]byte, hl+8)
	EncodeIPv4(p, IPv4Fields{TotalLen: hl + 8, TTL: 64, Protocol: ProtoUDP})
	p[0] = byte(0x40 | hl/4)
	copy(p[20:], opts)
	p[10], p[11] = 0, 0
	c := Fold(Checksum(p[:hl], 0))
	p[10], p[11] = byte(c>>8), byte(c)
	return p
}

func TestIPv4Options(t *testing.T) {
	// Record route (7), length 7, pointer 4, one empty slot; NOP; END.
	ok := withOptions([]byte{7, 7, 4, 0, 0, 0, 0, IPOptNOP, IPOptEnd, 0, 0, 0})
	ip, err := ParseIPv4(ok)
	require.NoError(t, err)
	assert.Equal(t, 32, ip.HeaderLen())
	assert.Len(t, ip.Payload(), 8)

	for name, opts := range map[string][]byte{
		"length 0":        {7, 0, 0, 0},
		"length 1":        {7, 1, 0, 0},
		"length past end": {7, 40, 0, 0},
		"no length byte":  {1, 1, 1, 7},
	} {
		_, err := ParseIPv4(withOptions(opts))
		assert.ErrorIs(t, err, ErrMalformed, name)
	}
}

var goldenUDP = []byte{0x04, 0xd2, 0x00, 0x07, 0x00, 0x0d, 0xa3, 0x26, 'h', 'e', 'l', 'l', 'o'}

func TestUDPGolden(t *testing.T) {
	src, dst := [4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2}
	u, err := ParseUDP(append(append([]byte(nil), goldenUDP...), 0, 0), src, dst)
	require.NoError(t, err)
	assert.Equal(t, uint16(1234), u.SrcPort())
	assert.Equal(t, uint16(7), u.DstPort())
	assert.Equal(t, "hello", string(u.Payload()))

	b := make([]byte, 13)
	copy(b[8:], "hello")
	EncodeUDP(b, 1234, 7, src, dst)
	assert.Equal(t, goldenUDP, b)

	bad := append([]byte(nil), goldenUDP...)
	bad[8] = 'H'
	_, err = ParseUDP(bad, src, dst)
	assert.ErrorIs(t, err, ErrChecksum)
	zero := append([]byte(nil), bad...)
	zero[6], zero[7] = 0, 0 // no checksum: accepted
	_, err = ParseUDP(zero, src, dst)
	assert.NoError(t, err)
	_, err = ParseUDPVerified(bad) // the device vouched for it: not summed again
	assert.NoError(t, err)
	_, err = ParseUDPVerified(goldenUDP[:12]) // but the lengths are still checked
	assert.ErrorIs(t, err, ErrTruncated)
	_, err = ParseUDP(goldenUDP[:12], src, dst)
	assert.ErrorIs(t, err, ErrTruncated)
	short := append([]byte(nil), goldenUDP...)
	short[5] = 7
	_, err = ParseUDP(short, src, dst)
	assert.ErrorIs(t, err, ErrMalformed)
}

var goldenEcho = []byte{0x08, 0x00, 0x21, 0x04, 0x12, 0x34, 0x00, 0x01, 'a', 'b', 'c', 'd'}

func TestICMPGolden(t *testing.T) {
	m, err := ParseICMPv4(append([]byte(nil), goldenEcho...))
	require.NoError(t, err)
	assert.Equal(t, uint8(ICMPEcho), m.Type())
	assert.Equal(t, uint16(0x1234), m.Ident())
	assert.Equal(t, uint16(1), m.Seq())
	b := make([]byte, 12)
	copy(b[8:], "abcd")
	EncodeICMPv4(b, ICMPEcho, 0, 0x12340001)
	assert.Equal(t, goldenEcho, b)

	// Echo request to reply in place: the incremental checksum is valid.
	m.SetType(ICMPEchoReply)
	_, err = ParseICMPv4(m)
	assert.NoError(t, err)
	full := make([]byte, 12)
	copy(full[8:], "abcd")
	EncodeICMPv4(full, ICMPEchoReply, 0, 0x12340001)
	assert.Equal(t, full, []byte(m))

	_, err = ParseICMPv4(goldenEcho[:7])
	assert.ErrorIs(t, err, ErrTruncated)
}

func TestARPGolden(t *testing.T) {
	b := make([]byte, ARPLen)
	EncodeARP(b, ARPFields{Op: ARPRequest, SenderMAC: []byte{2, 0, 0, 0, 0, 1}, SenderIP: [4]byte{10, 0, 2, 15}, TargetIP: [4]byte{10, 0, 2, 2}})
	want := []byte{0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 10, 0, 2, 15, 0, 0, 0, 0, 0, 0, 10, 0, 2, 2}
	assert.Equal(t, want, b)
	a, err := ParseARP(b)
	require.NoError(t, err)
	assert.Equal(t, uint16(ARPRequest), a.Op())
	assert.Equal(t, [4]byte{10, 0, 2, 2}, a.TargetIP())
	b[5] = 16 // IPv6 address length
	_, err = ParseARP(b)
	assert.ErrorIs(t, err, ErrMalformed)
	_, err = ParseARP(b[:27])
	assert.ErrorIs(t, err, ErrTruncated)
}

func TestChecksumOddAndUpdate(t *testing.T) {
	assert.Equal(t, Fold(Checksum([]byte{1, 2, 3}, 0)), Fold(Checksum([]byte{1, 2, 3, 0}, 0)))
	// RFC 1624's example: updating a field from 0x5555 to 0x3285.
	hc := Fold(Checksum([]byte{0x55, 0x55, 0xdd, 0x11}, 0))
	upd := ChecksumUpdate16(hc, 0x5555, 0x3285)
	assert.Equal(t, Fold(Checksum([]byte{0x32, 0x85, 0xdd, 0x11}, 0)), upd)
}

func TestTCPEncodeParse(t *testing.T) {
	src, dst := [4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2}
	f := TCPFields{SrcPort: 40000, DstPort: 80, Seq: 0xfffffff0, Ack: 7, Flags: TCPFlagSYN | TCPFlagACK, Window: 65535, MSS: 1460, WScale: 7}
	b := make([]byte, TCPHeaderLen(f)+3)
	copy(b[TCPHeaderLen(f):], "abc")
	EncodeTCP(b, f, src, dst)
	seg, err := ParseTCP(b, src, dst)
	require.NoError(t, err)
	assert.Equal(t, uint16(40000), seg.SrcPort())
	assert.Equal(t, uint32(0xfffffff0), seg.Seq())
	assert.Equal(t, 28, seg.DataOffset())
	assert.Equal(t, "abc", string(seg.Payload()))
	assert.Equal(t, TCPOptions{MSS: 1460, WScale: 7}, seg.ParsedOptions())
	b[len(b)-1] ^= 1
	_, err = ParseTCP(b, src, dst)
	assert.ErrorIs(t, err, ErrChecksum)
	b[12] = 0x10 // data offset 4
	_, err = ParseTCP(b, src, dst)
	assert.ErrorIs(t, err, ErrMalformed)
}

// Every option ringo writes reads back, and the SACK blocks that do not
// fit beside the others are left out.
func TestTCPOptionsRoundTrip(t *testing.T) {
	src, dst := [4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2}
	for _, f := range []TCPFields{
		{Flags: TCPFlagSYN, MSS: 1460, WScale: 7, SACKOK: true, TS: true, TSVal: 1, TSEcr: 0},
		{Flags: TCPFlagSYN, MSS: 1460, WScale: -1, SACKOK: true},
		{Flags: TCPFlagACK, WScale: -1, TS: true, TSVal: 0xdeadbeef, TSEcr: 7, NSACK: 4,
			SACK: [4]SACKBlock{{100, 200}, {300, 400}, {500, 600}, {700, 800}}},
		{Flags: TCPFlagACK, WScale: -1, NSACK: 4, SACK: [4]SACKBlock{{100, 200}, {300, 400}, {500, 600}, {700, 800}}},
	} {
		hl := TCPHeaderLen(f)
		require.Zero(t, hl%4)
		require.LessOrEqual(t, hl, 60)
		b := make([]byte, hl+3)
		EncodeTCP(b, f, src, dst)
		seg, err := ParseTCP(b, src, dst)
		require.NoError(t, err)
		o := seg.ParsedOptions()
		assert.Equal(t, f.MSS, o.MSS)
		assert.Equal(t, f.WScale, o.WScale)
		assert.Equal(t, f.SACKOK, o.SACKOK)
		assert.Equal(t, f.TS, o.TS)
		assert.Equal(t, f.TSVal, o.TSVal)
		assert.Equal(t, f.TSEcr, o.TSEcr)
		want := f.NSACK
		if f.TS {
			want = min(want, 3) // RFC 2018: three blocks beside a timestamp
		}
		assert.Equal(t, want, o.NSACK)
		assert.Equal(t, f.SACK[:want], o.SACK[:o.NSACK])
	}
}

// checksumRef is RFC 1071 word by word, the definition Checksum must match.
func checksumRef(b []byte, initial uint32) uint16 {
	sum := initial
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
		sum = sum&0xffff + sum>>16
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	return Fold(sum)
}

func TestChecksumMatchesRFC1071(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 2100)
	for i := range 5000 {
		n := rng.IntN(len(buf))
		if i%10 == 0 {
			for j := range buf[:n] {
				buf[j] = 0xff // every add carries
			}
		} else {
			for j := range buf[:n] {
				buf[j] = byte(rng.Uint32())
			}
		}
		init := rng.Uint32() & 0x3ffff
		require.Equal(t, checksumRef(buf[:n], init), Fold(Checksum(buf[:n], init)), "len %d init %#x", n, init)
	}
}

func BenchmarkChecksum1460(b *testing.B) {
	buf := make([]byte, 1460)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		Checksum(buf, 0)
	}
}

// OptionsFragment keeps the options a later fragment carries (copied
// flag set: LSRR) and turns the rest (record route, timestamp) into NOPs.
func TestOptionsFragment(t *testing.T) {
	opts := []byte{
		IPOptRR, 7, 4, 0, 0, 0, 0, // record route: not copied
		IPOptLSRR, 7, 4, 10, 0, 0, 1, // loose source route: copied
		68, 4, 5, 0, // timestamp: not copied
		IPOptNOP, IPOptEnd,
	}
	ip := make(IPv4, IPv4MinLen+len(opts))
	EncodeIPv4(ip, IPv4Fields{TotalLen: len(ip), TTL: 64, Protocol: ProtoUDP})
	ip[0] = 0x40 | byte(len(ip)/4) // 20 bytes of options: a 40-byte header
	copy(ip[IPv4MinLen:], opts)
	ip.OptionsFragment()
	want := []byte{
		1, 1, 1, 1, 1, 1, 1,
		IPOptLSRR, 7, 4, 10, 0, 0, 1,
		1, 1, 1, 1,
		IPOptNOP, IPOptEnd,
	}
	assert.Equal(t, want, []byte(ip[IPv4MinLen:]))
	// A bad length stops the walk; nothing past it is touched.
	bad := make(IPv4, IPv4MinLen+4)
	copy(bad[IPv4MinLen:], []byte{IPOptRR, 40, 9, 9})
	bad[0] = 0x46
	bad.OptionsFragment()
	assert.Equal(t, []byte{IPOptRR, 40, 9, 9}, []byte(bad[IPv4MinLen:]))
}
