package gro

import (
	"bytes"
	"encoding/binary"
	"math/rand"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringonet/ringo/netcore/gso"
	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/netcore/skb"
)

var (
	srcIP = [4]byte{10, 0, 0, 1}
	dstIP = [4]byte{10, 0, 0, 2}
)

// seg describes one test segment.
type seg struct {
	sport   uint16
	seq     uint32
	ack     uint32
	flags   uint8
	id      uint16
	window  uint16
	tsval   uint32
	payload []byte
	ttl     uint8
}

// packet builds a received frame for s: Ethernet, IPv4 (DF), TCP with a
// timestamp option, pulled to the IPv4 header as eth_type_trans leaves it.
func packet(t testing.TB, s seg) *skb.Buff {
	t.Helper()
	if s.flags == 0 {
		s.flags = header.TCPFlagACK
	}
	if s.ttl == 0 {
		s.ttl = 64
	}
	if s.window == 0 {
		s.window = 500
	}
	f := header.TCPFields{SrcPort: s.sport, DstPort: 80, Seq: s.seq, Ack: s.ack, Flags: s.flags, Window: s.window,
		WScale: -1, TS: true, TSVal: s.tsval, TSEcr: 7}
	thl := header.TCPHeaderLen(f)
	n := 14 + 20 + thl + len(s.payload)
	b := skb.Alloc(n)
	require.NotNil(t, b)
	frame := b.Put(n)
	copy(frame[0:6], []byte{2, 0, 0, 0, 0, 2})
	copy(frame[6:12], []byte{2, 0, 0, 0, 0, 1})
	frame[12], frame[13] = 0x08, 0x00
	ip := frame[14:]
	copy(ip[20+thl:], s.payload)
	header.EncodeTCP(ip[20:], f, srcIP, dstIP)
	header.EncodeIPv4(ip, header.IPv4Fields{TotalLen: len(ip), ID: s.id, Flags: header.IPv4FlagDF, TTL: s.ttl, Protocol: header.ProtoTCP, Src: srcIP, Dst: dstIP})
	b.SetMACHeader()
	b.Pull(14)
	b.SetNetworkHeader()
	b.Protocol = 0x0800
	return b
}

func payload(n int, fill byte) []byte { return bytes.Repeat([]byte{fill}, n) }

// collect is a deliver function that keeps copies of what goes up.
type collect struct{ got []*skb.Buff }

func (c *collect) deliver(b *skb.Buff) { c.got = append(c.got, b) }

func (c *collect) free() {
	for _, b := range c.got {
		b.Free()
	}
	c.got = nil
}

// A train of full segments becomes one packet that IP and TCP accept:
// right IPv4 header checksum and length, CHECKSUM_PARTIAL marks, GSOSize,
// the payloads in order; cut again by GSO it gives back the very segments
// that came in.
func TestMergeTrainRoundTrip(t *testing.T) {
	var tb Table
	var c collect
	defer c.free()
	const mss, n = 1448, 5
	var in [][]byte
	for i := 0; i < n; i++ {
		b := packet(t, seg{sport: 1000, seq: 1 + uint32(i*mss), ack: 9, id: 100 + uint16(i), tsval: 5, payload: payload(mss, byte('a'+i))})
		in = append(in, append([]byte(nil), b.Data()...))
		tb.Receive(b, c.deliver)
	}
	require.Empty(t, c.got, "a train of full segments is held until the flush")
	tb.Flush(c.deliver)
	require.Len(t, c.got, 1)
	b := c.got[0]
	ip, err := header.ParseIPv4(b.Data())
	require.NoError(t, err, "the merged packet's IPv4 header is valid")
	assert.Equal(t, b.Len(), len(ip))
	assert.True(t, b.CsumPartial)
	assert.True(t, b.CsumValid)
	assert.EqualValues(t, mss, b.GSOSize)
	assert.Len(t, ip.Payload(), header.TCPHeaderLen(header.TCPFields{WScale: -1, TS: true})+n*mss)
	assert.EqualValues(t, n-1, tb.Stats.Merged.Load())
	assert.EqualValues(t, 1, tb.Stats.Packets.Load())

	var out [][]byte
	scratch := make([]byte, 70000)
	require.NoError(t, gso.Segment(b.Data(), int(b.GSOSize), scratch, func(s []byte) error {
		out = append(out, append([]byte(nil), s...))
		return nil
	}))
	require.Len(t, out, n)
	for i := range in {
		assert.True(t, bytes.Equal(in[i], out[i]), "segment %d differs after GRO and GSO", i)
	}
}

// What may not be merged goes up on its own, after whatever its flow had
// held, so every flow keeps its order.
func TestNoMerge(t *testing.T) {
	const mss = 1000
	first := seg{sport: 1, seq: 1000, ack: 1, id: 1, tsval: 5, payload: payload(mss, 1)}
	next := seg{sport: 1, seq: 2000, ack: 1, id: 2, tsval: 5, payload: payload(mss, 2)}
	cases := []struct {
		name   string
		mutate func(s *seg)
		edit   func(p []byte) // on the IPv4 packet, after it is built
	}{
		{"a gap in the sequence", func(s *seg) { s.seq += 10 }, nil},
		{"another ACK number", func(s *seg) { s.ack++ }, nil},
		{"another timestamp", func(s *seg) { s.tsval++ }, nil},
		{"another TTL", func(s *seg) { s.ttl = 63 }, nil},
		{"longer than the first", func(s *seg) { s.payload = payload(mss+1, 2) }, nil},
		{"FIN", func(s *seg) { s.flags = header.TCPFlagACK | header.TCPFlagFIN }, nil},
		{"RST", func(s *seg) { s.flags = header.TCPFlagACK | header.TCPFlagRST }, nil},
		{"URG", func(s *seg) { s.flags = header.TCPFlagACK | header.TCPFlagURG }, nil},
		{"no data", func(s *seg) { s.payload = nil }, nil},
		{"bad TCP checksum", nil, func(p []byte) { p[len(p)-1] ^= 0xff }},
		{"bad IP checksum", nil, func(p []byte) { p[10] ^= 0xff }},
		{"a fragment", nil, func(p []byte) {
			binary.BigEndian.PutUint16(p[6:], header.IPv4FlagMF)
			p[10], p[11] = 0, 0
			binary.BigEndian.PutUint16(p[10:], header.Fold(header.Checksum(p[:20], 0)))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var tb Table
			var c collect
			defer c.free()
			a := packet(t, first)
			want := append([]byte(nil), a.Data()...)
			s := next
			if tc.mutate != nil {
				tc.mutate(&s)
			}
			b := packet(t, s)
			if tc.edit != nil {
				tc.edit(b.Data())
			}
			wantB := append([]byte(nil), b.Data()...)
			tb.Receive(a, c.deliver)
			tb.Receive(b, c.deliver)
			tb.Flush(c.deliver)
			require.Len(t, c.got, 2, "nothing merged")
			assert.Equal(t, want, c.got[0].Data(), "the held segment first, untouched")
			assert.Equal(t, wantB, c.got[1].Data(), "then the other, untouched")
			assert.Zero(t, tb.Stats.Merged.Load())
		})
	}
}

// PSH and a short segment end a train: merged, then sent up at once; the
// next segment starts a new packet.
func TestTrainEnds(t *testing.T) {
	for _, tc := range []struct {
		name string
		last seg
	}{
		{"PSH", seg{sport: 1, seq: 201, ack: 1, flags: header.TCPFlagACK | header.TCPFlagPSH, payload: payload(100, 2)}},
		{"short", seg{sport: 1, seq: 201, ack: 1, payload: payload(50, 2)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tb Table
			var c collect
			defer c.free()
			tb.Receive(packet(t, seg{sport: 1, seq: 101, ack: 1, payload: payload(100, 1)}), c.deliver)
			tb.Receive(packet(t, tc.last), c.deliver)
			require.Len(t, c.got, 1, "the train went up when it ended")
			assert.Zero(t, tb.Len())
			tcp := header.TCP(c.got[0].Data()[20:])
			assert.Equal(t, tc.last.flags&header.TCPFlagPSH, tcp.Flags()&header.TCPFlagPSH, "PSH carried over")
			assert.Len(t, tcp.Payload(), 100+len(tc.last.payload))
		})
	}
}

// A merged packet never passes the IPv4 total length.
func TestMergeLimit(t *testing.T) {
	var tb Table
	var c collect
	defer c.free()
	const mss = 1448
	for i := 0; i < 60; i++ {
		tb.Receive(packet(t, seg{sport: 1, seq: uint32(i * mss), ack: 1, payload: payload(mss, byte(i))}), c.deliver)
	}
	tb.Flush(c.deliver)
	total := 0
	for _, b := range c.got {
		assert.LessOrEqual(t, b.Len(), 0xffff)
		total += len(header.TCP(b.Data()[20:]).Payload())
	}
	assert.Equal(t, 60*mss, total)
	assert.Greater(t, len(c.got), 1)
}

// Non-IPv4 frames pass straight through; a ninth flow flushes the oldest.
func TestPassThroughAndCapacity(t *testing.T) {
	var tb Table
	var c collect
	defer c.free()
	arp := skb.Alloc(28)
	arp.Put(28)
	arp.Protocol = 0x0806
	tb.Receive(arp, c.deliver)
	require.Len(t, c.got, 1)
	for f := 0; f <= MaxHeld; f++ {
		tb.Receive(packet(t, seg{sport: uint16(100 + f), seq: 1, ack: 1, payload: payload(100, 1)}), c.deliver)
	}
	assert.Equal(t, MaxHeld, tb.Len())
	require.Len(t, c.got, 2)
	assert.EqualValues(t, 100, header.TCP(c.got[1].Data()[20:]).SrcPort(), "the oldest flow went up")
	tb.Flush(c.deliver)
	assert.Len(t, c.got, 2+MaxHeld)
}

// A device that vouched for the checksum (CsumValid) has its segments
// merged without summing them (the field may hold anything, as a TAP's
// NEEDS_CSUM leaves it); a packet that is several segments already
// (GSOSize) goes up whole, after what its flow held, and merges nothing.
func TestDeviceOffloads(t *testing.T) {
	var tb Table
	var c collect
	defer c.free()
	const mss = 1000
	for i := 0; i < 2; i++ {
		b := packet(t, seg{sport: 7, seq: 1 + uint32(i*mss), ack: 1, payload: payload(mss, 1)})
		b.Data()[36], b.Data()[37] = 0, 0 // TCP checksum field: undone
		b.CsumValid = true
		tb.Receive(b, c.deliver)
	}
	assert.EqualValues(t, 1, tb.Stats.Merged.Load(), "vouched-for segments merge")
	gsoPkt := packet(t, seg{sport: 7, seq: 1 + 2*mss, ack: 1, payload: payload(3*mss, 2)})
	gsoPkt.GSOSize, gsoPkt.CsumValid, gsoPkt.CsumPartial = mss, true, true
	tb.Receive(gsoPkt, c.deliver)
	require.Len(t, c.got, 2, "the held train, then the GSO packet")
	assert.EqualValues(t, 2*mss, c.got[0].Len()-20-header.TCPHeaderLen(header.TCPFields{WScale: -1, TS: true}))
	assert.Same(t, gsoPkt, c.got[1])
	assert.EqualValues(t, mss, c.got[1].GSOSize)
	assert.Zero(t, tb.Len())
	assert.Zero(t, tb.Stats.Skipped.Load())
}

// Interleaved flows with random segment sizes, gaps, PSH and pure ACKs:
// per flow, the bytes that go up are the bytes that came in, in order, and
// every packet that goes up is valid IPv4 and TCP.
func TestFlowsKeepOrder(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	live := skb.Live()
	var tb Table
	var c collect
	defer c.free()
	const flows = 12
	next := make([]uint32, flows)
	var sent [flows][]byte
	for i := 0; i < 5000; i++ {
		f := rng.Intn(flows)
		s := seg{sport: uint16(2000 + f), seq: next[f], ack: 1, tsval: uint32(i / 50)}
		switch r := rng.Intn(20); {
		case r == 0:
			s.flags = header.TCPFlagACK | header.TCPFlagPSH
			s.payload = payload(1+rng.Intn(1448), byte(rng.Intn(256)))
		case r == 1: // a pure ACK
		default:
			s.payload = payload(1448-rng.Intn(2)*rng.Intn(1448), byte(rng.Intn(256)))
		}
		next[f] += uint32(len(s.payload))
		sent[f] = append(sent[f], s.payload...)
		tb.Receive(packet(t, s), c.deliver)
		if rng.Intn(30) == 0 {
			tb.Flush(c.deliver) // the end of a poll
		}
	}
	tb.Flush(c.deliver)
	var got [flows][]byte
	for _, b := range c.got {
		ip, err := header.ParseIPv4(b.Data())
		require.NoError(t, err)
		tcp := header.TCP(ip.Payload())
		if !b.CsumPartial {
			_, err := header.ParseTCP(ip.Payload(), ip.Src(), ip.Dst())
			require.NoError(t, err)
		}
		f := int(tcp.SrcPort() - 2000)
		got[f] = append(got[f], tcp.Payload()...)
	}
	for f := range sent {
		assert.True(t, bytes.Equal(sent[f], got[f]), "flow %d: %d bytes in, %d out", f, len(sent[f]), len(got[f]))
	}
	assert.Greater(t, tb.Stats.Merged.Load(), uint64(1000))
	assert.Equal(t, live+int64(len(c.got)), skb.Live(), "every buffer either went up or was freed")
}

// Merging allocates nothing in steady state: the large buffers come from
// skb's pool.
func BenchmarkMerge(b *testing.B) {
	var tb Table
	frames := make([][]byte, 44)
	for i := range frames {
		p := packet(b, seg{sport: 1, seq: uint32(i * 1448), ack: 1, payload: payload(1448, byte(i))})
		frames[i] = append([]byte(nil), p.MACHeader()...)
		p.Free()
	}
	deliver := func(p *skb.Buff) { p.Free() }
	b.ReportAllocs()
	b.SetBytes(int64(len(frames) * 1448))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, f := range frames {
			p := skb.Alloc(len(f))
			copy(p.Put(len(f)), f)
			p.SetMACHeader()
			p.Pull(14)
			p.SetNetworkHeader()
			p.Protocol = 0x0800
			tb.Receive(p, deliver)
		}
		tb.Flush(deliver)
	}
}

// Hostile packets: whatever bytes arrive, GRO neither panics nor loses or
// invents a buffer, and every packet it merged is valid IPv4 holding
// exactly the payloads it took in.
func FuzzReceive(f *testing.F) {
	a := packet(f, seg{sport: 1, seq: 1, ack: 1, payload: payload(100, 1)})
	b := packet(f, seg{sport: 1, seq: 101, ack: 1, payload: payload(100, 2)})
	f.Add(append(append([]byte(nil), a.Data()...), b.Data()...), uint8(len(a.Data())))
	a.Free()
	b.Free()
	a6 := packet6(f, seg{sport: 1, seq: 1, ack: 1, payload: payload(100, 1)})
	b6 := packet6(f, seg{sport: 1, seq: 101, ack: 1, payload: payload(100, 2)})
	f.Add(append(append([]byte(nil), a6.Data()...), b6.Data()...), uint8(len(a6.Data())))
	a6.Free()
	b6.Free()
	f.Fuzz(func(t *testing.T, data []byte, cut uint8) {
		live := skb.Live()
		var tb Table
		var c collect
		// Three packets: data cut at cut, and the second half again with
		// its sequence number moved on, so merges are tried.
		parts := [][]byte{data[:min(int(cut), len(data))], data[min(int(cut), len(data)):]}
		v6 := len(data) > 0 && data[0]>>4 == 6
		ipLen := 20
		if v6 {
			ipLen = 40
		}
		if p := parts[1]; len(p) >= ipLen+20 {
			q := append([]byte(nil), p...)
			binary.BigEndian.PutUint32(q[ipLen+4:], binary.BigEndian.Uint32(q[ipLen+4:])+uint32(len(q)-ipLen-20))
			parts = append(parts, q)
		}
		in := 0
		for _, p := range parts {
			sk := skb.Alloc(len(p))
			if sk == nil {
				continue
			}
			copy(sk.Put(len(p)), p)
			sk.Protocol = etherTypeIPv4
			if v6 {
				sk.Protocol = etherTypeIPv6
			}
			tb.Receive(sk, c.deliver)
			in++
		}
		tb.Flush(c.deliver)
		for _, sk := range c.got {
			if sk.GSOSize > 0 && v6 {
				ip, err := header.ParseIPv6(sk.Data())
				require.NoError(t, err, "a merged packet is valid IPv6")
				require.Equal(t, len(ip), sk.Len())
			} else if sk.GSOSize > 0 {
				_, err := header.ParseIPv4(sk.Data())
				require.NoError(t, err, "a merged packet is valid IPv4")
			}
		}
		require.LessOrEqual(t, len(c.got), in)
		require.Equal(t, live+int64(len(c.got)), skb.Live(), "no buffer lost or made up")
		c.free()
	})
}

// packet6 is packet over IPv6: TCP right after the fixed header.
func packet6(t testing.TB, s seg) *skb.Buff {
	t.Helper()
	src := [16]byte{0x20, 0x01, 0x0d, 0xb8, 15: 1}
	dst := [16]byte{0x20, 0x01, 0x0d, 0xb8, 15: 2}
	f := header.TCPFields{SrcPort: s.sport, DstPort: 80, Seq: s.seq, Ack: s.ack, Flags: header.TCPFlagACK | s.flags, Window: 500,
		WScale: -1, TS: true, TSVal: s.tsval, TSEcr: 7}
	thl := header.TCPHeaderLen(f)
	n := 14 + header.IPv6Len + thl + len(s.payload)
	b := skb.Alloc(n)
	require.NotNil(t, b)
	frame := b.Put(n)
	copy(frame[0:12], []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1})
	frame[12], frame[13] = 0x86, 0xdd
	ip := frame[14:]
	copy(ip[header.IPv6Len+thl:], s.payload)
	header.EncodeTCP6(ip[header.IPv6Len:], f, src, dst)
	header.EncodeIPv6(ip, header.IPv6Fields{PayloadLen: thl + len(s.payload), NextHeader: header.ProtoTCP, HopLimit: 64, Src: src, Dst: dst})
	b.SetMACHeader()
	b.Pull(14)
	b.SetNetworkHeader()
	b.Protocol = 0x86dd
	return b
}

// TCP over IPv6 merges as over IPv4 (ipv6_gro_receive): one packet with
// the payload length rewritten, the checksum left partial, and cut again
// by GSO it gives back the segments that came in; a segment from another
// flow, or with PSH, ends the train.
func TestMergeIPv6(t *testing.T) {
	var tb Table
	var c collect
	defer c.free()
	const mss, n = 1428, 4
	for i := 0; i < n; i++ {
		tb.Receive(packet6(t, seg{sport: 2000, seq: 1 + uint32(i*mss), ack: 9, tsval: 5, payload: payload(mss, byte('a'+i))}), c.deliver)
	}
	require.Empty(t, c.got)
	tb.Flush(c.deliver)
	require.Len(t, c.got, 1)
	b := c.got[0]
	ip, err := header.ParseIPv6(b.Data())
	require.NoError(t, err)
	assert.Equal(t, b.Len(), len(ip), "payload length rewritten")
	assert.True(t, b.CsumPartial && b.CsumValid)
	assert.EqualValues(t, mss, b.GSOSize)
	assert.Len(t, ip.Payload(), header.TCPHeaderLen(header.TCPFields{WScale: -1, TS: true})+n*mss)
	assert.EqualValues(t, n-1, tb.Stats.Merged.Load())

	// A bad checksum is not merged (nor held with the others).
	bad := packet6(t, seg{sport: 2001, seq: 1, ack: 9, payload: payload(mss, 'x')})
	bad.Data()[header.IPv6Len+16] ^= 0xff
	tb.Receive(bad, c.deliver)
	assert.Len(t, c.got, 2, "up at once")
	assert.EqualValues(t, 1, tb.Stats.Skipped.Load())
}
