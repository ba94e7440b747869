package link

import (
	"encoding/binary"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/netcore/skb"
)

var (
	vnetSrc = [4]byte{10, 0, 0, 1}
	vnetDst = [4]byte{10, 0, 0, 2}
)

// tcpFrame is an Ethernet frame with an IPv4 TCP packet of payload bytes
// as the stack builds it for an offloading device: checksum field 0,
// CsumPartial, and GSOSize mss when the payload is longer than mss.
func tcpFrame(t *testing.T, payload, mss int) *skb.Buff {
	t.Helper()
	f := header.TCPFields{SrcPort: 40000, DstPort: 5001, Seq: 1, Ack: 1, Flags: header.TCPFlagACK, Window: 512, WScale: -1, TS: true, TSVal: 7}
	hl := header.TCPHeaderLen(f)
	b := skb.Alloc(header.EthernetLen + header.IPv4MinLen + hl + payload)
	require.NotNil(t, b)
	p := b.Put(header.EthernetLen + header.IPv4MinLen + hl + payload)
	header.EncodeEthernet(p, net.HardwareAddr{2, 0, 0, 0, 0, 2}, net.HardwareAddr{2, 0, 0, 0, 0, 1}, netcore.EthPIPv4)
	ip := p[header.EthernetLen:]
	header.EncodeIPv4(ip, header.IPv4Fields{TotalLen: len(ip), TTL: 64, Protocol: header.ProtoTCP, Src: vnetSrc, Dst: vnetDst, Flags: header.IPv4FlagDF})
	seg := ip[header.IPv4MinLen:]
	header.EncodeTCPPartial(seg, f)
	for i := hl; i < len(seg); i++ {
		seg[i] = byte(i * 7)
	}
	b.CsumPartial = true
	if payload > mss {
		b.GSOSize = uint16(mss)
	}
	return b
}

// deviceChecksum does what the kernel does with NEEDS_CSUM
// (skb_checksum_help): sum from csum_start to the end, the field
// included, and store the folded complement at csum_start+csum_offset.
func deviceChecksum(frame []byte, start, off int) {
	binary.BigEndian.PutUint16(frame[start+off:], header.Fold(header.Checksum(frame[start:], 0)))
}

// TestPushVnet: a TSO packet leaves with GSO_TCPV4, its segment size and
// header length, and NEEDS_CSUM whose start and offset, once the kernel
// has summed over them, give the packet its right TCP checksum.
func TestPushVnet(t *testing.T) {
	tap := &TAP{offload: true}
	b := tap.pushVnet(tcpFrame(t, 4000, 1448))
	require.NotNil(t, b)
	defer b.Free()
	h := vnetHdr(b.Data()[:vnetHdrLen])
	frame := b.Data()[vnetHdrLen:]
	hl := header.TCPHeaderLen(header.TCPFields{WScale: -1, TS: true})
	assert.EqualValues(t, vnetFlagNeedsCsum, h.flags())
	assert.EqualValues(t, vnetGSOTCPv4, h.gsoType())
	assert.EqualValues(t, 1448, h.gsoSize())
	assert.EqualValues(t, header.EthernetLen+header.IPv4MinLen+hl, binary.NativeEndian.Uint16(h[2:]), "hdr_len")
	assert.EqualValues(t, header.EthernetLen+header.IPv4MinLen, h.csumStart())
	assert.EqualValues(t, 16, h.csumOffset())
	deviceChecksum(frame, int(h.csumStart()), int(h.csumOffset()))
	_, err := header.ParseTCP(frame[header.EthernetLen+header.IPv4MinLen:], vnetSrc, vnetDst)
	assert.NoError(t, err, "the checksum the kernel completes is the packet's")
	assert.EqualValues(t, 1, tap.TxGSO.Load())

	// A frame with nothing left to the device gets an empty header.
	plain := tcpFrame(t, 100, 1448)
	plain.CsumPartial = false
	plain = tap.pushVnet(plain)
	require.NotNil(t, plain)
	defer plain.Free()
	assert.Equal(t, make([]byte, vnetHdrLen), plain.Data()[:vnetHdrLen])

	// GSO on anything but TCP cannot be described: refused, not sent.
	bad := tcpFrame(t, 4000, 1448)
	bad.Data()[header.EthernetLen+9] = header.ProtoUDP
	assert.Nil(t, tap.pushVnet(bad))
}

// TestPushVnetShared: a frame whose data a clone shares is copied before
// the header and the pseudo-header sum are written; the clone's bytes do
// not change.
func TestPushVnetShared(t *testing.T) {
	tap := &TAP{offload: true}
	b := tcpFrame(t, 100, 1448)
	keep := b.Clone()
	defer keep.Free()
	before := append([]byte(nil), keep.Data()...)
	out := tap.pushVnet(b)
	require.NotNil(t, out)
	defer out.Free()
	assert.Equal(t, before, keep.Data())
	assert.Len(t, out.Data(), vnetHdrLen+len(before))
}

// TestApplyVnet: what the kernel hands over is checked against the frame
// before it is believed.
func TestApplyVnet(t *testing.T) {
	mk := func(flags, gso uint8, gsoSize, start, off uint16) vnetHdr {
		h := make(vnetHdr, vnetHdrLen)
		h.set(flags, gso, 0, gsoSize, start, off)
		return h
	}
	start := uint16(header.EthernetLen + header.IPv4MinLen)
	dev := &netcore.Device{}
	tap := &TAP{offload: true, Dev: dev}

	b := tcpFrame(t, 4000, 1448)
	b.CsumPartial, b.GSOSize = false, 0
	seg := b.Data()[start:]
	seg[16], seg[17] = 0xab, 0xcd // the pseudo-header sum the kernel leaves
	require.True(t, tap.applyVnet(b, mk(vnetFlagNeedsCsum, vnetGSOTCPv4|vnetGSOECN, 1448, start, 16)))
	assert.EqualValues(t, 1448, b.GSOSize)
	assert.True(t, b.CsumValid)
	assert.True(t, b.CsumPartial)
	assert.Zero(t, binary.BigEndian.Uint16(seg[16:]), "the stack's CHECKSUM_PARTIAL has the field 0")
	b.Free()

	for name, h := range map[string]vnetHdr{
		"checksum past the end":      mk(vnetFlagNeedsCsum, 0, 0, start, 5000),
		"checksum in the MAC header": mk(vnetFlagNeedsCsum, 0, 0, 4, 0),
		"GSO without NEEDS_CSUM":     mk(0, vnetGSOTCPv4, 1448, 0, 0),
		"GSO size 0":                 mk(vnetFlagNeedsCsum, vnetGSOTCPv4, 0, start, 16),
		"TCPv6 GSO, never offered":   mk(vnetFlagNeedsCsum, 4, 1448, start, 16),
	} {
		b := tcpFrame(t, 100, 1448)
		b.CsumPartial = false
		assert.False(t, tap.applyVnet(b, h), name)
		b.Free()
	}

	b = tcpFrame(t, 100, 1448)
	require.True(t, tap.applyVnet(b, mk(vnetFlagDataValid, 0, 0, 0, 0)))
	assert.True(t, b.CsumValid)
	b.Free()
}

// FuzzApplyVnet: whatever header and frame the TAP hands over, applyVnet
// never reads or writes outside the frame, and what it accepts is
// consistent: a GSO packet has its checksum left (so it is vouched for),
// a left checksum's field lies inside the frame and past the MAC header.
func FuzzApplyVnet(f *testing.F) {
	good := make(vnetHdr, vnetHdrLen)
	good.set(vnetFlagNeedsCsum, vnetGSOTCPv4, 66, 1448, 34, 16)
	f.Add([]byte(good), make([]byte, 200))
	f.Add(make([]byte, vnetHdrLen), make([]byte, 60))
	f.Fuzz(func(t *testing.T, h, frame []byte) {
		if len(h) < vnetHdrLen {
			return
		}
		h = h[:vnetHdrLen]
		b := skb.Alloc(len(frame))
		if b == nil {
			return
		}
		defer b.Free()
		copy(b.Put(len(frame)), frame)
		tap := &TAP{offload: true}
		if !tap.applyVnet(b, vnetHdr(h)) {
			return
		}
		if b.GSOSize > 0 {
			require.True(t, b.CsumValid && b.CsumPartial, "GSO only with NEEDS_CSUM")
		}
		if vnetHdr(h).flags()&vnetFlagNeedsCsum != 0 {
			off := int(vnetHdr(h).csumStart()) + int(vnetHdr(h).csumOffset())
			require.LessOrEqual(t, off+2, len(frame))
			require.GreaterOrEqual(t, int(vnetHdr(h).csumStart()), header.EthernetLen)
		}
	})
}
