package gso_test

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringonet/ringo/netcore/gso"
	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/netcore/skb"
)

var src, dst = [4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2}

// superPacket is an IPv4 TCP packet of n payload bytes with its
// checksum left to the device, as TCP builds one for TSO.
func superPacket(n int, flags uint8) (pkt, payload []byte) {
	f := header.TCPFields{SrcPort: 1000, DstPort: 2000, Seq: 0xfffff000, Ack: 7, Flags: flags, Window: 500, WScale: -1, TS: true, TSVal: 1, TSEcr: 2}
	hl := header.TCPHeaderLen(f)
	pkt = make([]byte, header.IPv4MinLen+hl+n)
	payload = pkt[header.IPv4MinLen+hl:]
	rand.NewChaCha8([32]byte{1}).Read(payload)
	header.EncodeTCPPartial(pkt[header.IPv4MinLen:], f)
	header.EncodeIPv4(pkt, header.IPv4Fields{TotalLen: len(pkt), ID: 65530, TTL: 64, Protocol: header.ProtoTCP, Src: src, Dst: dst})
	return pkt, slicesClone(payload)
}

func slicesClone(b []byte) []byte { return append([]byte(nil), b...) }

func TestSegment(t *testing.T) {
	for _, n := range []int{1, 1448, 1449, 10 * 1448, 64000} {
		pkt, payload := superPacket(n, header.TCPFlagACK|header.TCPFlagPSH|header.TCPFlagFIN)
		var got []byte
		var segs int
		err := gso.Segment(pkt, 1448, make([]byte, 2048), func(seg []byte) error {
			ip, err := header.ParseIPv4(seg)
			require.NoError(t, err, "segment %d: IP header and checksum", segs)
			assert.Equal(t, uint16(65530+segs), ip.ID(), "IP ID counts up per segment, wrapping")
			tcp, err := header.ParseTCP(ip.Payload(), src, dst)
			require.NoError(t, err, "segment %d: TCP checksum", segs)
			assert.Equal(t, uint32(0xfffff000)+uint32(len(got)), tcp.Seq(), "sequence number follows the bytes before it")
			last := len(got)+len(tcp.Payload()) == n
			assert.Equal(t, last, tcp.Flags()&header.TCPFlagFIN != 0, "FIN on the last segment only")
			assert.Equal(t, last, tcp.Flags()&header.TCPFlagPSH != 0, "PSH on the last segment only")
			assert.LessOrEqual(t, len(tcp.Payload()), 1448)
			got = append(got, tcp.Payload()...)
			segs++
			return nil
		})
		require.NoError(t, err)
		assert.Equal(t, (n+1447)/1448, segs, "%d bytes", n)
		assert.True(t, bytes.Equal(payload, got), "%d bytes: the payload, in order", n)
	}
}

func TestChecksum(t *testing.T) {
	pkt, _ := superPacket(100, header.TCPFlagACK)
	require.NoError(t, gso.Checksum(pkt))
	_, err := header.ParseTCP(pkt[header.IPv4MinLen:], src, dst)
	assert.NoError(t, err)

	// UDP whose checksum comes out 0 sends 0xffff.
	u := make([]byte, header.IPv4MinLen+header.UDPLen+2)
	header.EncodeIPv4(u, header.IPv4Fields{TotalLen: len(u), TTL: 64, Protocol: header.ProtoUDP, Src: src, Dst: dst})
	binary.BigEndian.PutUint16(u[20:], 1)
	binary.BigEndian.PutUint16(u[22:], 2)
	binary.BigEndian.PutUint16(u[24:], 10)
	sum := header.Fold(header.Checksum(u[20:], header.PseudoHeaderSum(src, dst, header.ProtoUDP, 10)))
	binary.BigEndian.PutUint16(u[28:], sum) // payload that makes the sum 0
	require.NoError(t, gso.Checksum(u))
	assert.Equal(t, uint16(0xffff), binary.BigEndian.Uint16(u[26:]))
}

func TestHostile(t *testing.T) {
	pkt, _ := superPacket(3000, header.TCPFlagACK)
	scratch := make([]byte, 2048)
	nop := func([]byte) error { return nil }
	for name, p := range map[string][]byte{
		"empty":        nil,
		"short":        pkt[:10],
		"ihl past end": append([]byte{0x4f}, pkt[1:30]...),
		"not ipv4":     append([]byte{0x65}, pkt[1:]...),
		"length lies":  pkt[:len(pkt)-1],
		"tcp header":   pkt[:header.IPv4MinLen+10],
	} {
		assert.Error(t, gso.Segment(p, 1448, scratch, nop), name)
	}
	assert.Error(t, gso.Segment(pkt, 4000, scratch, nop), "scratch smaller than a segment")
	assert.Error(t, gso.Segment(pkt, 0, scratch, nop), "mss 0")
}

// FuzzSegments: any bytes and any segment size either fail Init or walk
// to the end, each segment within headers plus mss, the payloads adding
// up to the packet's; nothing panics.
func FuzzSegments(f *testing.F) {
	pkt, _ := superPacket(3000, header.TCPFlagACK)
	f.Add(pkt, 1448)
	f.Add(pkt[:header.IPv4MinLen+20], 1)
	f.Fuzz(func(t *testing.T, pkt []byte, mss int) {
		var sg gso.Segments
		if err := sg.Init(pkt, mss); err != nil {
			assert.Zero(t, sg.Len(), "a failed Init walks nothing")
			return
		}
		ihl := int(pkt[0]&0x0f) * 4
		hdr := ihl + int(pkt[ihl+12]>>4)*4
		total := 0
		buf := make([]byte, len(pkt)) // no segment is longer than the packet
		for n, i := sg.Len(), 0; n > 0; n, i = sg.Len(), i+1 {
			// Plain checks: a walk may be tens of thousands of segments.
			if n > len(pkt) || n-hdr > mss || i > len(pkt) {
				t.Fatalf("segment %d of %d bytes: packet %d, headers %d, mss %d", i, n, len(pkt), hdr, mss)
			}
			if err := sg.Next(buf[:n]); err != nil {
				t.Fatal(err)
			}
			total += n - hdr
		}
		assert.Equal(t, len(pkt)-hdr, total, "every payload byte in one segment")
	})
}

// An IPv6 TCP packet built for GSO (payload length, checksum left) cut
// by Apply: segments of mss bytes that IPv6 and TCP accept, sequence
// numbers in order, FIN and PSH on the last only.
func TestApplyIPv6(t *testing.T) {
	src := [16]byte{0x20, 0x01, 0x0d, 0xb8, 15: 1}
	dst := [16]byte{0x20, 0x01, 0x0d, 0xb8, 15: 2}
	const mss, n = 1000, 3500
	f := header.TCPFields{SrcPort: 1, DstPort: 2, Seq: 100, Ack: 5, Flags: header.TCPFlagACK | header.TCPFlagPSH | header.TCPFlagFIN, Window: 9, WScale: -1}
	thl := header.TCPHeaderLen(f)
	b := skb.Alloc(header.IPv6Len + thl + n)
	p := b.Put(header.IPv6Len + thl + n)
	header.EncodeIPv6(p, header.IPv6Fields{PayloadLen: thl + n, NextHeader: header.ProtoTCP, HopLimit: 64, Src: src, Dst: dst})
	header.EncodeTCPPartial(p[header.IPv6Len:], f)
	for i := range p[header.IPv6Len+thl:] {
		p[header.IPv6Len+thl+i] = byte(i)
	}
	b.CsumPartial, b.GSOSize = true, mss
	var segs [][]byte
	err, sendErr := gso.Apply(b, func(s *skb.Buff) error {
		segs = append(segs, append([]byte(nil), s.Data()...))
		s.Free()
		return nil
	})
	require.NoError(t, err)
	require.NoError(t, sendErr)
	require.Len(t, segs, 4)
	off := 0
	for i, s := range segs {
		ip, err := header.ParseIPv6(s)
		require.NoError(t, err)
		require.Len(t, ip, len(s), "payload length rewritten")
		tcp, err := header.ParseTCP6(ip.Payload(), src, dst)
		require.NoError(t, err, "segment %d's checksum", i)
		assert.Equal(t, uint32(100+off), tcp.Seq())
		last := i == len(segs)-1
		assert.Equal(t, last, tcp.Flags()&header.TCPFlagFIN != 0)
		for j, c := range tcp.Payload() {
			require.Equal(t, byte(off+j), c)
		}
		off += len(tcp.Payload())
	}
	assert.Equal(t, n, off)
}
