package ipv6_test

import (
	"context"
	"errors"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/netcore/ipv6"
	"github.com/ringonet/ringo/netcore/link"
	"github.com/ringonet/ringo/netcore/skb"
)

// A router between two links (ip6_forward): a host on one reaches a host
// on the other through it; the hop limit goes down by one and at 1 draws
// Time Exceeded; a packet too big for the next link draws Packet Too Big
// (a router never fragments IPv6) and the sender's next try, cut to the
// path MTU, gets through. (TestHostile's not-forwarded: a host without
// Forwarding routes nothing.)
func TestForward(t *testing.T) {
	ca, a := newStack(t, ipv6.Config{})
	cr, r := newStack(t, ipv6.Config{Forwarding: true})
	cb, b := newStack(t, ipv6.Config{})
	a1, r1, err := link.NewPipe(ca, link.PipeConfig{PeerCore: cr})
	require.NoError(t, err)
	r2, b2, err := link.NewPipe(cr, link.PipeConfig{PeerCore: cb, MTU: 1280})
	require.NoError(t, err)
	for _, x := range []struct {
		s   *ipv6.Stack
		dev *netcore.Device
		a   string
	}{{a, a1.Dev, "2001:db8:a::1/64"}, {r, r1.Dev, "2001:db8:a::fe/64"}, {r, r2.Dev, "2001:db8:b::fe/64"}, {b, b2.Dev, "2001:db8:b::2/64"}} {
		require.NoError(t, x.dev.Up())
		require.NoError(t, x.s.AddAddress(x.dev, netip.MustParsePrefix(x.a)))
		require.Equal(t, ipv6.Preferred, waitState(t, x.s, x.dev, netip.MustParsePrefix(x.a).Addr()))
	}
	def := netip.MustParsePrefix("::/0")
	a.AddRoute(ipv6.Route{Dst: def, Gateway: netip.MustParseAddr("2001:db8:a::fe"), Dev: a1.Dev})
	b.AddRoute(ipv6.Route{Dst: def, Gateway: netip.MustParseAddr("2001:db8:b::fe"), Dev: b2.Dev})
	bAddr := netip.MustParseAddr("2001:db8:b::2")
	ping := func(size int, seq uint16) error {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_, err := a.Ping(ctx, bAddr, nil, size, seq)
		return err
	}
	require.NoError(t, ping(56, 1))
	assert.EqualValues(t, 2, r.MIB.Ip6OutForwDatagrams.Load(), "the request and the reply")

	// Too big for the 1280-byte link: Packet Too Big, then through.
	err = ping(1400, 2)
	require.Error(t, err)
	assert.True(t, errors.Is(err, syscall.EMSGSIZE), "%v", err)
	assert.EqualValues(t, 1, r.MIB.Ip6InTooBigErrors.Load())
	assert.Equal(t, 1280, a.PathMTU(bAddr, nil))
	require.NoError(t, ping(1400, 3), "cut to the path MTU by the sender")
	assert.Greater(t, a.MIB.Ip6FragCreates.Load(), uint64(0))

	// Hop limit 1: Time Exceeded.
	before := a.ICMP.Icmp6InTimeExcds.Load()
	m := make([]byte, header.ICMPv6Len)
	header.EncodeICMPv6(m, header.ICMPv6EchoRequest, 0, 1)
	src := netip.MustParseAddr("2001:db8:a::1")
	header.SetICMPv6Checksum(m, src.As16(), bAddr.As16())
	f := make([]byte, header.EthernetLen+header.IPv6Len+len(m))
	header.EncodeEthernet(f, r1.Dev.HardwareAddr, a1.Dev.HardwareAddr, netcore.EthPIPv6)
	header.EncodeIPv6(f[header.EthernetLen:], header.IPv6Fields{PayloadLen: len(m), NextHeader: header.ProtoICMPv6, HopLimit: 1, Src: src.As16(), Dst: bAddr.As16()})
	copy(f[header.EthernetLen+header.IPv6Len:], m)
	sk := skb.Alloc(len(f))
	copy(sk.Put(len(f)), f)
	sk.Dev = a1.Dev
	require.NoError(t, netcore.DevQueueXmit(sk))
	require.Eventually(t, func() bool { return a.ICMP.Icmp6InTimeExcds.Load() > before }, 3*time.Second, time.Millisecond)
}
