package ipv6_test

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/netcore/ipv6"
	"github.com/ringonet/ringo/netcore/link"
	"github.com/ringonet/ringo/netcore/neigh"
	"github.com/ringonet/ringo/netcore/nf"
	"github.com/ringonet/ringo/netcore/skb"
)

// pair joins two IPv6 stacks with a pipe: a is the attacker (it also
// writes raw frames), b the victim at 2001:db8:1::2.
type pair struct {
	ca, cb *netcore.Core
	a, b   *ipv6.Stack
	da, db *netcore.Device
}

var (
	atkAddr = netip.MustParseAddr("2001:db8:1::1")
	vicAddr = netip.MustParseAddr("2001:db8:1::2")
)

func newPair(t *testing.T, cfg ipv6.Config) *pair {
	ca, a := newStack(t, cfg)
	cb, b := newStack(t, cfg)
	ea, eb, err := link.NewPipe(ca, link.PipeConfig{PeerCore: cb})
	require.NoError(t, err)
	require.NoError(t, ea.Dev.Up())
	require.NoError(t, eb.Dev.Up())
	require.NoError(t, a.AddAddress(ea.Dev, netip.PrefixFrom(atkAddr, 64)))
	require.NoError(t, b.AddAddress(eb.Dev, netip.PrefixFrom(vicAddr, 64)))
	require.Equal(t, ipv6.Preferred, waitState(t, a, ea.Dev, atkAddr))
	require.Equal(t, ipv6.Preferred, waitState(t, b, eb.Dev, vicAddr))
	return &pair{ca: ca, cb: cb, a: a, b: b, da: ea.Dev, db: eb.Dev}
}

func (p *pair) settle(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, netcore.Quiesce(ctx, p.ca, p.cb))
}

// send writes a raw IPv6 packet from the attacker: src, dst, hop limit,
// next header and payload (an ICMPv6 payload gets its checksum).
func (p *pair) send(t *testing.T, src, dst netip.Addr, hop, nh uint8, payload []byte) {
	t.Helper()
	f := make([]byte, header.EthernetLen+header.IPv6Len+len(payload))
	dmac := p.db.HardwareAddr
	if dst.IsMulticast() {
		var m [6]byte
		header.IPv6MulticastMAC(dst.As16(), &m)
		dmac = m[:]
	}
	header.EncodeEthernet(f, dmac, p.da.HardwareAddr, netcore.EthPIPv6)
	header.EncodeIPv6(f[header.EthernetLen:], header.IPv6Fields{PayloadLen: len(payload), NextHeader: nh, HopLimit: hop, Src: src.As16(), Dst: dst.As16()})
	body := f[header.EthernetLen+header.IPv6Len:]
	copy(body, payload)
	if nh == header.ProtoICMPv6 && len(body) >= 4 {
		header.SetICMPv6Checksum(body, src.As16(), dst.As16())
	}
	b := skb.Alloc(len(f))
	copy(b.Put(len(f)), f)
	b.Dev = p.da
	require.NoError(t, netcore.DevQueueXmit(b))
}

// echo is an echo request from the attacker to the victim, its checksum
// set (whatever headers go before it).
func echo(n int) []byte {
	m := make([]byte, header.ICMPv6Len+n)
	header.EncodeICMPv6(m, header.ICMPv6EchoRequest, 0, 0x42<<16|1)
	header.SetICMPv6Checksum(m, atkAddr.As16(), vicAddr.As16())
	return m
}

// ext makes an extension header (Hop-by-Hop, Destination Options or
// Routing) carrying body, padded to 8 octets, before next.
func ext(next uint8, body []byte) []byte {
	n := (2 + len(body) + 7) / 8 * 8
	h := make([]byte, n)
	h[0], h[1] = next, byte(n/8-1)
	copy(h[2:], body)
	if pad := n - 2 - len(body); pad >= 2 {
		h[2+len(body)], h[3+len(body)] = header.IPv6OptPadN, byte(pad-2)
	}
	return h
}

func frag(next uint8, off int, more bool, id uint32, data []byte) []byte {
	h := make([]byte, header.IPv6FragLen+len(data))
	header.EncodeIPv6Frag(h, next, off, more, id)
	copy(h[header.IPv6FragLen:], data)
	return h
}

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// TestHostile sends malformed and hostile IPv6 at a ringo host and checks,
// for each, the counter that must move; after them ordinary traffic still
// flows and memory stayed bounded.
func TestHostile(t *testing.T) {
	p := newPair(t, ipv6.Config{})
	mib, icmp := &p.b.MIB, &p.b.ICMP
	delta := func(c interface{ Load() uint64 }, f func()) uint64 {
		before := c.Load()
		f()
		p.settle(t)
		return c.Load() - before
	}
	echoed := func(f func()) uint64 { return delta(&icmp.Icmp6OutEchoReplies, f) }

	t.Run("echo", func(t *testing.T) {
		assert.EqualValues(t, 1, echoed(func() { p.send(t, atkAddr, vicAddr, 64, header.ProtoICMPv6, echo(8)) }))
	})
	t.Run("not-forwarded", func(t *testing.T) {
		// For an address not ours, on a host that does not forward
		// (Linux's default): an address error, nothing sent.
		other := netip.MustParseAddr("2001:db8:1::99")
		m := echo(8)
		header.SetICMPv6Checksum(m, atkAddr.As16(), other.As16())
		assert.EqualValues(t, 1, delta(&mib.Ip6InAddrErrors, func() {
			assert.Zero(t, delta(&icmp.Icmp6OutMsgs, func() { p.send(t, atkAddr, other, 64, header.ProtoICMPv6, m) }))
		}))
	})
	t.Run("routing-header-type-0", func(t *testing.T) {
		rh0 := ext(header.ProtoICMPv6, cat([]byte{0, 1, 0, 0, 0, 0}, atkAddr.AsSlice()))
		assert.EqualValues(t, 1, delta(&icmp.Icmp6OutParmProblems, func() {
			assert.Zero(t, echoed(func() { p.send(t, atkAddr, vicAddr, 64, header.ProtoRouting, cat(rh0, echo(8))) }))
		}), "RFC 5095: refused with a Parameter Problem")
	})
	t.Run("routing-header-no-segments-left", func(t *testing.T) {
		rh := ext(header.ProtoICMPv6, cat([]byte{0, 0, 0, 0, 0, 0}, atkAddr.AsSlice()))
		assert.EqualValues(t, 1, echoed(func() { p.send(t, atkAddr, vicAddr, 64, header.ProtoRouting, cat(rh, echo(8))) }), "ignored, processed")
	})
	t.Run("unknown-next-header", func(t *testing.T) {
		assert.EqualValues(t, 1, delta(&mib.Ip6InUnknownProtos, func() {
			assert.EqualValues(t, 1, delta(&icmp.Icmp6OutParmProblems, func() { p.send(t, atkAddr, vicAddr, 64, 253, make([]byte, 8)) }))
		}))
	})
	t.Run("hop-by-hop-not-first", func(t *testing.T) {
		d := ext(header.ProtoHopByHop, nil)
		h := ext(header.ProtoICMPv6, nil)
		assert.EqualValues(t, 1, delta(&icmp.Icmp6OutParmProblems, func() {
			assert.Zero(t, echoed(func() { p.send(t, atkAddr, vicAddr, 64, header.ProtoDstOpts, cat(d, h, echo(8))) }))
		}))
	})
	t.Run("unknown-option-actions", func(t *testing.T) {
		skip := ext(header.ProtoICMPv6, []byte{0x1e, 0}) // 00: skip
		assert.EqualValues(t, 1, echoed(func() { p.send(t, atkAddr, vicAddr, 64, header.ProtoDstOpts, cat(skip, echo(8))) }))
		discard := ext(header.ProtoICMPv6, []byte{0x5e, 0}) // 01: discard silently
		assert.Zero(t, delta(&icmp.Icmp6OutMsgs, func() { p.send(t, atkAddr, vicAddr, 64, header.ProtoDstOpts, cat(discard, echo(8))) }))
		prob := ext(header.ProtoICMPv6, []byte{0x9e, 0}) // 10: Parameter Problem
		assert.EqualValues(t, 1, delta(&icmp.Icmp6OutParmProblems, func() { p.send(t, atkAddr, vicAddr, 64, header.ProtoDstOpts, cat(prob, echo(8))) }))
	})
	t.Run("truncated-extension-header", func(t *testing.T) {
		h := ext(header.ProtoICMPv6, nil)
		h[1] = 9 // says 80 bytes
		assert.EqualValues(t, 1, delta(&mib.Ip6InHdrErrors, func() { p.send(t, atkAddr, vicAddr, 64, header.ProtoDstOpts, h) }))
	})
	t.Run("fragments-reassembled", func(t *testing.T) {
		m := echo(64)
		assert.EqualValues(t, 1, echoed(func() {
			p.send(t, atkAddr, vicAddr, 64, header.ProtoFragment, frag(header.ProtoICMPv6, 0, true, 7, m[:32]))
			p.send(t, atkAddr, vicAddr, 64, header.ProtoFragment, frag(header.ProtoICMPv6, 32, false, 7, m[32:]))
		}))
	})
	t.Run("overlapping-fragments", func(t *testing.T) {
		m := echo(64)
		assert.EqualValues(t, 1, delta(&mib.ReasmOverlaps, func() {
			assert.Zero(t, echoed(func() {
				p.send(t, atkAddr, vicAddr, 64, header.ProtoFragment, frag(header.ProtoICMPv6, 0, true, 8, m[:40]))
				p.send(t, atkAddr, vicAddr, 64, header.ProtoFragment, frag(header.ProtoICMPv6, 32, true, 8, m[32:48]))
				p.send(t, atkAddr, vicAddr, 64, header.ProtoFragment, frag(header.ProtoICMPv6, 40, false, 8, m[40:]))
			}))
		}), "RFC 5722: the whole datagram is dropped, the rest of it too")
	})
	t.Run("tiny-first-fragment", func(t *testing.T) {
		// The first fragment ends inside a Destination Options header:
		// the upper-layer header is in a later one (RFC 7112).
		d := ext(header.ProtoICMPv6, make([]byte, 20))
		assert.EqualValues(t, 1, delta(&icmp.Icmp6OutParmProblems, func() {
			p.send(t, atkAddr, vicAddr, 64, header.ProtoFragment, frag(header.ProtoDstOpts, 0, true, 9, d[:8]))
		}))
	})
	t.Run("atomic-fragment", func(t *testing.T) {
		m := echo(8)
		assert.EqualValues(t, 1, echoed(func() {
			p.send(t, atkAddr, vicAddr, 64, header.ProtoFragment, frag(header.ProtoICMPv6, 0, false, 10, m))
		}))
	})
	t.Run("nd-validity", func(t *testing.T) {
		ns := make([]byte, header.NDNSLen+8)
		header.EncodeICMPv6(ns, header.ICMPv6NeighborSol, 0, 0)
		copy(ns[8:24], vicAddr.AsSlice())
		header.PutNDLinkAddrOption(ns[24:], header.NDOptSourceLL, p.da.HardwareAddr)
		bad := append([]byte(nil), ns...)
		bad[25] = 0 // a zero-length option
		assert.EqualValues(t, 1, delta(&icmp.NDInvalid, func() { p.send(t, atkAddr, vicAddr, 255, header.ProtoICMPv6, bad) }))
		assert.EqualValues(t, 1, delta(&icmp.NDInvalid, func() { p.send(t, atkAddr, vicAddr, 64, header.ProtoICMPv6, ns) }), "hop limit not 255: off-link")
		assert.EqualValues(t, 1, delta(&icmp.Icmp6OutNeighborAdvertisements, func() { p.send(t, atkAddr, vicAddr, 255, header.ProtoICMPv6, ns) }))
	})
	t.Run("spoofed-na-for-a-static-neighbour", func(t *testing.T) {
		gw := netip.MustParseAddr("2001:db8:1::fe")
		real := []byte{2, 0, 0, 0, 0, 0xfe}
		p.b.Neigh.AddStatic(p.db, gw, real)
		na := make([]byte, header.NDNALen+8)
		header.EncodeICMPv6(na, header.ICMPv6NeighborAdv, 0, header.NDFlagOverride)
		copy(na[8:24], gw.AsSlice())
		header.PutNDLinkAddrOption(na[24:], header.NDOptTargetLL, p.da.HardwareAddr)
		assert.EqualValues(t, 1, delta(&p.b.Neigh.Stats.SpoofIgnored, func() {
			p.send(t, atkAddr, netip.AddrFrom16(header.IPv6AllNodes), 255, header.ProtoICMPv6, na)
		}))
		st, mac := p.b.Neigh.Lookup(p.db, gw)
		assert.Equal(t, neigh.Permanent, st)
		assert.Equal(t, real, []byte(mac))
	})
	t.Run("ra-flood", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		for i := 0; i < 10000; i++ {
			src := netip.AddrFrom16([16]byte{0xfe, 0x80, 8: byte(i >> 8), 9: byte(i), 15: 1})
			ra := make([]byte, header.NDRALen+32)
			header.EncodeICMPv6(ra, header.ICMPv6RouterAdv, 0, 64<<24)
			binary.BigEndian.PutUint16(ra[6:], 1800) // router lifetime
			pi := ra[header.NDRALen:]
			pi[0], pi[1], pi[2], pi[3] = header.NDOptPrefixInfo, 4, 64, header.NDPrefixOnLink|header.NDPrefixAuto
			binary.BigEndian.PutUint32(pi[4:], 3600)
			binary.BigEndian.PutUint32(pi[8:], 1800)
			pi[16], pi[17], pi[18], pi[19] = 0x20, 0x01, byte(rng.IntN(256)), byte(rng.IntN(256))
			binary.BigEndian.PutUint32(pi[20:], rng.Uint32())
			p.send(t, src, netip.AddrFrom16(header.IPv6AllNodes), 255, header.ProtoICMPv6, ra)
			if i%500 == 499 {
				p.settle(t)
			}
		}
		p.settle(t)
		n := 0
		for _, a := range p.b.Addrs() {
			if a.Dev == p.db {
				n++
			}
		}
		assert.LessOrEqual(t, n, 16, "addresses bounded by MaxAddrs")
		assert.LessOrEqual(t, len(p.b.Routes()), 16+8+4, "prefix routes and default routers bounded")
		assert.Greater(t, p.b.MIB.RADrops.Load()+p.b.MIB.AddrLimitDrops.Load(), uint64(9000))
	})
	t.Run("ns-flood", func(t *testing.T) {
		// NSs for our address from 5,000 random sources, each with a
		// source link-layer option: the table learns them, bounded.
		rng := rand.New(rand.NewPCG(3, 4))
		for i := 0; i < 5000; i++ {
			var a [16]byte
			copy(a[:8], atkAddr.AsSlice()[:8])
			binary.BigEndian.PutUint64(a[8:], rng.Uint64())
			ns := make([]byte, header.NDNSLen+8)
			header.EncodeICMPv6(ns, header.ICMPv6NeighborSol, 0, 0)
			copy(ns[8:24], vicAddr.AsSlice())
			header.PutNDLinkAddrOption(ns[24:], header.NDOptSourceLL, p.da.HardwareAddr)
			p.send(t, netip.AddrFrom16(a), netip.AddrFrom16(header.SolicitedNode(vicAddr.As16())), 255, header.ProtoICMPv6, ns)
			if i%500 == 499 {
				p.settle(t)
			}
		}
		p.settle(t)
		assert.LessOrEqual(t, len(p.b.Neigh.Entries()), 1024, "gc_thresh3")
	})

	// Through all of it, ordinary traffic.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, err := p.a.Ping(ctx, vicAddr, nil, 56, 9)
	require.NoError(t, err)
}

// Filters at IPv6's hook points see what the IPv4 ones see: one at
// PreRouting drops the echo requests it is given, one at LocalOut the
// replies; both are counted.
func TestHooks(t *testing.T) {
	p := newPair(t, ipv6.Config{})
	dropEchoes := func(typ uint8) nf.Hook {
		return func(b *skb.Buff, _ *netcore.Device) nf.Verdict {
			ip := header.IPv6(b.Data())
			if ip.NextHeader() == header.ProtoICMPv6 && len(ip.Payload()) > 0 && ip.Payload()[0] == typ {
				return nf.Drop
			}
			return nf.Accept
		}
	}
	p.b.AddHook(nf.PreRouting, dropEchoes(header.ICMPv6EchoRequest))
	p.send(t, atkAddr, vicAddr, 64, header.ProtoICMPv6, echo(8))
	p.settle(t)
	assert.EqualValues(t, 1, p.b.MIB.HookDrops.Load())
	assert.Zero(t, p.b.ICMP.Icmp6InEchos.Load())

	p.a.AddHook(nf.LocalOut, dropEchoes(header.ICMPv6EchoRequest))
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err := p.a.Ping(ctx, vicAddr, nil, 8, 1)
	assert.ErrorIs(t, err, ipv6.ErrHookDrop)
	assert.EqualValues(t, 1, p.a.MIB.HookDrops.Load())
}
