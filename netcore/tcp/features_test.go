package tcp_test

import (
	"io"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/netcore/internal/stacktest"
	"github.com/ringonet/ringo/netcore/ipv4"
	"github.com/ringonet/ringo/netcore/ipv6"
	"github.com/ringonet/ringo/netcore/neigh"
	"github.com/ringonet/ringo/netcore/socket"
	"github.com/ringonet/ringo/netcore/tcp"
)

// 10,000 SYNs from spoofed sources fill the listener's SYN queue many
// times over; SYN cookies answer them without state, and a legitimate
// client connects during the flood, through a cookie, and moves data.
func TestSYNFloodCookies(t *testing.T) {
	cfg := tcp.Config{MSL: 100 * time.Millisecond, Backlog: 16}
	a, b := stacktest.Stack(t, cfg), stacktest.Stack(t, cfg)
	ea, eb := stacktest.Wire(t, a, b, 0)
	// The spoofed sources are off-link, behind a (as a router would be),
	// so b's SYN-ACKs to them go to a, which drops them.
	require.NoError(t, b.IP.AddRoute(ipv4.Route{Dst: netip.MustParsePrefix("198.18.0.0/15"),
		Gateway: netip.MustParseAddr("10.1.0.1"), Dev: eb.Dev}))
	stacktest.EchoTCP(t, b, ":80")

	rng := rand.New(rand.NewPCG(1, 2))
	const flood = 10000
	dst := [4]byte{10, 1, 0, 2}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < flood; i++ {
			src := [4]byte{198, 18 + byte(rng.IntN(2)), byte(rng.IntN(256)), byte(1 + rng.IntN(254))}
			seg := stacktest.Segment(header.TCPFields{SrcPort: uint16(1024 + rng.IntN(60000)), DstPort: 80,
				Seq: rng.Uint32(), Flags: header.TCPFlagSYN, Window: 65535, MSS: 1460, WScale: -1}, src, dst, nil)
			f := stacktest.Frame(eb.Dev.HardwareAddr, ea.Dev.HardwareAddr,
				header.IPv4Fields{Protocol: header.ProtoTCP, Src: src, Dst: dst, ID: uint16(i)}, seg)
			for stacktest.Send(ea.Dev, f) != nil {
				time.Sleep(50 * time.Microsecond)
			}
		}
	}()
	// Connect while the flood runs: once the SYN queue is full and
	// cookies go out.
	require.Eventually(t, func() bool { return b.TCP.Ext.SyncookiesSent.Load() > 0 }, 10*time.Second, 100*time.Microsecond)
	start := time.Now()
	c, err := a.Dial("tcp", "10.1.0.2:80")
	require.NoError(t, err, "a legitimate client connects during the flood")
	connected := time.Since(start)
	t.Logf("connected in %v during the flood", connected)
	msg := []byte("through a SYN flood")
	_, err = c.Write(msg)
	require.NoError(t, err)
	got := make([]byte, len(msg))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = io.ReadFull(c, got)
	require.NoError(t, err)
	assert.Equal(t, msg, got)
	c.Close()
	<-done
	// Once more after the flood: the SYN queue is still full of half-open
	// connections waiting out their SYN-ACK retries.
	c, err = a.Dial("tcp", "10.1.0.2:80")
	require.NoError(t, err)
	c.Close()

	sent := b.TCP.Ext.SyncookiesSent.Load()
	t.Logf("SYN cookies sent %d, received %d, failed %d; listen drops %d", sent,
		b.TCP.Ext.SyncookiesRecv.Load(), b.TCP.Ext.SyncookiesFailed.Load(), b.TCP.Ext.ListenDrops.Load())
	assert.Greater(t, sent, uint64(flood-100), "the flood beyond the SYN queue got cookies")
	assert.GreaterOrEqual(t, b.TCP.Ext.SyncookiesRecv.Load(), uint64(1), "the legitimate client came in on a cookie")
	assert.Zero(t, b.TCP.Ext.ListenDrops.Load(), "no SYN dropped")
	t.Logf("FAULT | SYN flood: 10,000 spoofed SYNs at a listener with a 16-entry SYN queue | %d SYN cookies sent, legitimate client connected during the flood (%v) and moved data",
		sent, connected.Round(time.Millisecond))
}

// A forged ACK with a wrong cookie makes no connection.
func TestSYNCookieForgery(t *testing.T) {
	cfg := tcp.Config{MSL: 100 * time.Millisecond, Backlog: 1}
	a, b := stacktest.Stack(t, cfg), stacktest.Stack(t, cfg)
	ea, eb := stacktest.Wire(t, a, b, 0)
	l, err := b.Listen("tcp", ":80")
	require.NoError(t, err)
	defer l.Close()
	src, dst := [4]byte{10, 1, 0, 1}, [4]byte{10, 1, 0, 2}
	for i := 0; i < 50; i++ {
		seg := stacktest.Segment(header.TCPFields{SrcPort: uint16(2000 + i), DstPort: 80, Seq: 1000, Ack: uint32(i) * 7919,
			Flags: header.TCPFlagACK, Window: 100, WScale: -1}, src, dst, nil)
		require.NoError(t, stacktest.Send(ea.Dev, stacktest.Frame(eb.Dev.HardwareAddr, ea.Dev.HardwareAddr,
			header.IPv4Fields{Protocol: header.ProtoTCP, Src: src, Dst: dst}, seg)))
	}
	require.Eventually(t, func() bool { return b.TCP.Stats.OutRsts.Load() == 50 }, 2*time.Second, time.Millisecond,
		"each forged ACK is answered with RST")
	assert.Zero(t, b.TCP.Ext.SyncookiesRecv.Load())
	assert.Zero(t, b.TCP.Stats.PassiveOpens.Load())
}

// A receiver acknowledges at most every second full segment — once per
// receive batch, and at least every maxBatchedACK (16) segments — and sends
// a lone segment's ACK after the delayed-ACK timer (two round trips, 2-40
// ms); Nagle holds small writes
// while data is unacknowledged, and SetNoDelay(true) sends them at once.
func TestDelayedACKAndNagle(t *testing.T) {
	a, b := pair(t, 0)
	l, err := b.Listen("tcp", ":9")
	require.NoError(t, err)
	defer l.Close()
	got := make(chan int, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		n, _ := io.Copy(io.Discard, c)
		got <- int(n)
	}()
	cc, err := a.Dial("tcp", "10.1.0.2:9")
	require.NoError(t, err)
	c := cc.(*tcp.Conn)
	// Bulk: one ACK per batch, between 2 and 16 segments.
	inSegs, outSegs := b.TCP.Stats.InSegs.Load(), b.TCP.Stats.OutSegs.Load()
	_, err = c.Write(make([]byte, 2<<20))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return c.Info().SndUna == c.Info().SndNxt }, 5*time.Second, time.Millisecond)
	in, out := b.TCP.Stats.InSegs.Load()-inSegs, b.TCP.Stats.OutSegs.Load()-outSegs
	t.Logf("bulk: %d segments in, %d ACKs out", in, out)
	assert.Less(t, float64(out), 0.7*float64(in), "ACKs are delayed")
	assert.GreaterOrEqual(t, out, in/16, "but never past 16 segments")
	assert.NotZero(t, b.TCP.Ext.TCPACKBatched.Load(), "batches are acknowledged at their end")

	// One small segment: its ACK waits for the timer, two round trips
	// (here the 2 ms floor), not the 40 ms of a lone segment's
	// TCP_DELACK_MIN.
	delayed := b.TCP.Ext.DelayedACKs.Load()
	start := time.Now()
	_, err = c.Write([]byte("x"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return b.TCP.Ext.DelayedACKs.Load() == delayed+1 }, time.Second, 100*time.Microsecond)
	t.Logf("lone segment acknowledged after %v", time.Since(start))
	assert.Less(t, time.Since(start), 30*time.Millisecond, "the delayed ACK waits two round trips, not 40 ms")

	// Nagle: 100 one-byte writes go out in far fewer segments.
	require.NoError(t, c.SetNoDelay(false))
	outA := a.TCP.Stats.OutSegs.Load()
	for i := 0; i < 100; i++ {
		_, err = c.Write([]byte("y"))
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return c.Info().SndUna == c.Info().SndNxt }, 5*time.Second, time.Millisecond)
	nagle := a.TCP.Stats.OutSegs.Load() - outA
	require.NoError(t, c.SetNoDelay(true))
	outA = a.TCP.Stats.OutSegs.Load()
	for i := 0; i < 100; i++ {
		_, err = c.Write([]byte("z"))
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return c.Info().SndUna == c.Info().SndNxt }, 5*time.Second, time.Millisecond)
	noDelay := a.TCP.Stats.OutSegs.Load() - outA
	t.Logf("100 one-byte writes: %d segments with Nagle, %d without", nagle, noDelay)
	assert.Less(t, nagle, uint64(50))
	assert.GreaterOrEqual(t, noDelay, uint64(100))
	c.Close()
	assert.Equal(t, 2<<20+1+200, <-got)
}

// Keepalive probes an idle connection and the peer's answers keep it; a
// peer that vanished is declared dead after the probes go unanswered.
func TestKeepAlive(t *testing.T) {
	a, b := stacktest.Stack(t, tcp.Config{MSL: 100 * time.Millisecond}), stacktest.Stack(t, tcp.Config{MSL: 100 * time.Millisecond})
	_, eb := stacktest.Wire(t, a, b, 0)
	l, err := b.Listen("tcp", ":9")
	require.NoError(t, err)
	defer l.Close()
	go l.Accept()
	cc, err := a.Dial("tcp", "10.1.0.2:9")
	require.NoError(t, err)
	c := cc.(*tcp.Conn)
	require.NoError(t, c.SetKeepAlivePeriod(20*time.Millisecond))
	require.NoError(t, c.SetKeepAlive(true))
	require.Eventually(t, func() bool { return a.TCP.Ext.TCPKeepAlive.Load() >= 3 }, 10*time.Second, time.Millisecond, "idle connection probed")
	probes := a.TCP.Ext.TCPKeepAlive.Load()
	assert.Equal(t, tcp.Established, c.State(), "answered probes keep it up")

	require.NoError(t, eb.Dev.Down()) // the peer vanishes
	start := time.Now()
	_, err = c.Read(make([]byte, 1))
	require.ErrorIs(t, err, tcp.ErrTimedOut)
	t.Logf("dead peer detected in %v after %d probes", time.Since(start), a.TCP.Ext.TCPKeepAlive.Load()-probes)
	t.Logf("FAULT | TCP peer vanishes from an idle connection (keepalive every 20 ms) | declared dead after %d unanswered probes, %v; Read returns ETIMEDOUT",
		a.TCP.Ext.TCPKeepAlive.Load()-probes, time.Since(start).Round(time.Millisecond))
}

// A sender whose data is being acknowledged confirms its next hop
// (dst_confirm_neigh): the neighbour entry stays REACHABLE through many
// reachable times, with no ARP probe, as Linux's does.
func TestForwardProgressConfirmsNeighbour(t *testing.T) {
	nc := neigh.Config{BaseReachable: 300 * time.Millisecond, DelayFirstProbe: 100 * time.Millisecond, RetransTime: 50 * time.Millisecond}
	a := stacktest.Stack(t, tcp.Config{}, ipv4.Config{Neigh: nc})
	b := stacktest.Stack(t, tcp.Config{}, ipv4.Config{Neigh: nc})
	stacktest.Wire(t, a, b, 0)
	stacktest.EchoTCP(t, b, ":7")
	c, err := a.Dial("tcp", "10.1.0.2:7")
	require.NoError(t, err)
	defer c.Close()
	go io.Copy(io.Discard, c)
	requests := a.IP.Neigh.Stats.RequestsOut.Load()
	buf := make([]byte, 1000)
	tick := time.NewTicker(2 * time.Millisecond) // a steady trickle across five reachable times
	defer tick.Stop()
	for end := time.Now().Add(1500 * time.Millisecond); time.Now().Before(end); <-tick.C {
		_, err := c.Write(buf)
		require.NoError(t, err)
	}
	assert.Equal(t, requests, a.IP.Neigh.Stats.RequestsOut.Load(), "no ARP probe while TCP made progress")
}

// The SYN flood over IPv6: cookies answer what the SYN queue cannot hold,
// and a legitimate client connects through one (a cookie's hash covers
// the 16-byte addresses).
func TestSYNFloodCookies6(t *testing.T) {
	cfg := tcp.Config{MSL: 100 * time.Millisecond, Backlog: 4}
	a, b := stacktest.Stack(t, cfg), stacktest.Stack(t, cfg)
	ea, eb := stacktest.Wire(t, a, b, 0)
	for _, x := range []struct {
		s    *socket.Stack
		dev  *netcore.Device
		addr string
	}{{a, ea.Dev, "2001:db8:1::1/64"}, {b, eb.Dev, "2001:db8:1::2/64"}} {
		require.NoError(t, x.s.IP6.AddAddress(x.dev, netip.MustParsePrefix(x.addr)))
	}
	for _, s := range []*socket.Stack{a, b} {
		for deadline := time.After(5 * time.Second); ; {
			ch := s.IP6.Changed()
			ready := 0
			for _, ad := range s.IP6.Addrs() {
				if ad.State == ipv6.Preferred {
					ready++
				}
			}
			if ready == 2 {
				break
			}
			select {
			case <-ch:
			case <-deadline:
				t.Fatal("addresses not ready")
			}
		}
	}
	stacktest.EchoTCP(t, b, ":80")
	rng := rand.New(rand.NewPCG(3, 4))
	dst := netip.MustParseAddr("2001:db8:1::2").As16()
	for i := 0; i < 200; i++ {
		src := netip.MustParseAddr("2001:db8:1::1").As16()
		src[14], src[15] = byte(i>>8)|0x80, byte(i)
		seg := make([]byte, header.TCPHeaderLen(header.TCPFields{MSS: 1440, WScale: -1}))
		header.EncodeTCP6(seg, header.TCPFields{SrcPort: uint16(1024 + rng.IntN(60000)), DstPort: 80,
			Seq: rng.Uint32(), Flags: header.TCPFlagSYN, Window: 65535, MSS: 1440, WScale: -1}, src, dst)
		f := make([]byte, header.EthernetLen+header.IPv6Len+len(seg))
		header.EncodeEthernet(f, eb.Dev.HardwareAddr, ea.Dev.HardwareAddr, netcore.EthPIPv6)
		header.EncodeIPv6(f[header.EthernetLen:], header.IPv6Fields{PayloadLen: len(seg), NextHeader: header.ProtoTCP, HopLimit: 64, Src: src, Dst: dst})
		copy(f[header.EthernetLen+header.IPv6Len:], seg)
		require.NoError(t, stacktest.Send(ea.Dev, f))
	}
	stacktest.Settle(t, a, b)
	require.Greater(t, b.TCP.Ext.SyncookiesSent.Load(), uint64(100), "past the 4-entry SYN queue, cookies")
	c, err := a.Dial("tcp", "[2001:db8:1::2]:80")
	require.NoError(t, err, "a legitimate client connects with the queue still full")
	msg := []byte("through a SYN flood over IPv6")
	_, err = c.Write(msg)
	require.NoError(t, err)
	got := make([]byte, len(msg))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = io.ReadFull(c, got)
	require.NoError(t, err)
	assert.Equal(t, msg, got)
	c.Close()
	assert.GreaterOrEqual(t, b.TCP.Ext.SyncookiesRecv.Load(), uint64(1), "it came in on a cookie")
}
