package udp_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/netcore/internal/stacktest"
	"github.com/ringonet/ringo/netcore/skb"
	"github.com/ringonet/ringo/netcore/socket"
	"github.com/ringonet/ringo/netcore/tcp"
	"github.com/ringonet/ringo/netcore/udp"
)

var quiet = slog.New(slog.DiscardHandler)

func newStack(t testing.TB) *socket.Stack { return stacktest.Stack(t, tcp.Config{}) }

// pair is two hosts on a pipe: a 10.1.0.1, b 10.1.0.2.
func pair(t testing.TB, loss ...float64) (*socket.Stack, *socket.Stack) {
	l := 0.0
	if len(loss) > 0 {
		l = loss[0]
	}
	return stacktest.Pair(t, tcp.Config{}, l)
}

func echoServer(t testing.TB, s *socket.Stack, addr string) net.PacketConn {
	pc, err := s.ListenPacket("udp", addr)
	require.NoError(t, err)
	go func() {
		buf := make([]byte, 65536)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(buf[:n], from)
		}
	}()
	t.Cleanup(func() { pc.Close() })
	return pc
}

func TestEchoSizesAndFragments(t *testing.T) {
	a, b := pair(t)
	echoServer(t, b, ":7")
	c, err := a.Dial("udp", "10.1.0.2:7")
	require.NoError(t, err)
	defer c.Close()
	buf := make([]byte, 65536)
	for _, size := range []int{0, 1, 100, 1472, 1473, 8000, 65507} {
		msg := bytes.Repeat([]byte{byte(size)}, size)
		_, err := c.Write(msg)
		require.NoError(t, err, "size %d", size)
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		n, err := c.Read(buf)
		require.NoError(t, err, "size %d", size)
		assert.Equal(t, msg, buf[:n], "size %d", size)
	}
	_, err = c.Write(make([]byte, 65508))
	assert.Error(t, err)
	assert.Greater(t, b.IP.MIB.ReasmOKs.Load(), uint64(0))
	assert.EqualValues(t, 7, b.UDP.Stats.InDatagrams.Load())
	assert.Equal(t, "10.1.0.2:7", c.RemoteAddr().String())
}

func TestPortUnreachable(t *testing.T) {
	a, b := pair(t)
	c, err := a.Dial("udp", "10.1.0.2:9999")
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write([]byte("anyone?"))
	require.NoError(t, err)
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	_, err = c.Read(make([]byte, 10))
	require.Error(t, err)
	assert.True(t, errors.Is(err, errConnRefused()), "%v", err)
	assert.EqualValues(t, 1, b.UDP.Stats.NoPorts.Load())
	assert.EqualValues(t, 1, b.IP.ICMP.OutDestUnreachs.Load())
}

func errConnRefused() error { return udp.ErrConnRefused }

func TestDeadlineAndClose(t *testing.T) {
	a, _ := pair(t)
	pc, err := a.ListenPacket("udp", ":5000")
	require.NoError(t, err)
	pc.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, _, err = pc.ReadFrom(make([]byte, 10))
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	assert.True(t, ne.Timeout())
	assert.True(t, errors.Is(err, os.ErrDeadlineExceeded))

	pc.SetReadDeadline(time.Time{})
	done := make(chan error)
	for i := 0; i < 3; i++ {
		go func() { _, _, err := pc.ReadFrom(make([]byte, 10)); done <- err }()
	}
	time.Sleep(20 * time.Millisecond)
	require.NoError(t, pc.Close())
	for i := 0; i < 3; i++ {
		select {
		case err := <-done:
			assert.True(t, errors.Is(err, net.ErrClosed), "%v", err)
		case <-time.After(2 * time.Second):
			t.Fatal("Close did not unblock a reader")
		}
	}
	_, err = a.ListenPacket("udp", ":5000")
	assert.NoError(t, err, "the port is free after Close")
}

func TestBindRules(t *testing.T) {
	a, _ := pair(t)
	p1, err := a.ListenPacket("udp", ":6000")
	require.NoError(t, err)
	defer p1.Close()
	_, err = a.ListenPacket("udp", ":6000")
	assert.Error(t, err, "port in use")
	p2, err := a.ListenPacket("udp", ":0")
	require.NoError(t, err)
	defer p2.Close()
	port := p2.LocalAddr().(*net.UDPAddr).Port
	assert.GreaterOrEqual(t, port, 32768)
	assert.LessOrEqual(t, port, 60999)
}

// A connected socket gets its peer's datagrams before a wildcard socket on
// the same port.
func TestConnectedBeforeWildcard(t *testing.T) {
	a, b := pair(t)
	wild, err := b.ListenPacket("udp", ":7000")
	require.NoError(t, err)
	defer wild.Close()
	conn, err := b.DialUDP(&net.UDPAddr{Port: 7000}, &net.UDPAddr{IP: net.IPv4(10, 1, 0, 1), Port: 7001})
	require.NoError(t, err)
	defer conn.Close()
	from, err := a.ListenPacket("udp", ":7001")
	require.NoError(t, err)
	defer from.Close()
	other, err := a.ListenPacket("udp", ":7002")
	require.NoError(t, err)
	defer other.Close()
	dst := &net.UDPAddr{IP: net.IPv4(10, 1, 0, 2), Port: 7000}
	_, err = from.WriteTo([]byte("to connected"), dst)
	require.NoError(t, err)
	_, err = other.WriteTo([]byte("to wildcard"), dst)
	require.NoError(t, err)
	buf := make([]byte, 100)
	conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, err := conn.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "to connected", string(buf[:n]))
	wild.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, _, err = wild.ReadFrom(buf)
	require.NoError(t, err)
	assert.Equal(t, "to wildcard", string(buf[:n]))
}

// A full receive queue drops and counts; nothing else breaks.
func TestReceiveBufferFull(t *testing.T) {
	a, b := pair(t)
	srv, err := b.ListenUDP(&net.UDPAddr{Port: 8000})
	require.NoError(t, err)
	defer srv.Close()
	srv.SetReadBuffer(10 * 2048)
	c, err := a.Dial("udp", "10.1.0.2:8000")
	require.NoError(t, err)
	for i := 0; i < 50; i++ {
		_, err := c.Write([]byte(fmt.Sprint(i)))
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool {
		return b.UDP.Stats.InDatagrams.Load()+b.UDP.Stats.RcvbufErrors.Load() == 50
	}, 3*time.Second, time.Millisecond)
	assert.EqualValues(t, 10, b.UDP.Stats.InDatagrams.Load())
	assert.EqualValues(t, 40, srv.Drops())
	t.Logf("FAULT | UDP socket receive buffer full (50 datagrams into room for 10) | 10 delivered, 40 dropped and counted (RcvbufErrors, socket drops)")
}

func TestBroadcast(t *testing.T) {
	a, b := pair(t)
	r1, err := b.ListenPacket("udp", ":9000")
	require.NoError(t, err)
	defer r1.Close()
	s, err := a.ListenPacket("udp", ":0")
	require.NoError(t, err)
	defer s.Close()
	for _, dst := range []string{"255.255.255.255", "10.1.0.255"} {
		_, err = s.WriteTo([]byte("hello all"), &net.UDPAddr{IP: net.ParseIP(dst), Port: 9000})
		require.NoError(t, err)
		r1.SetReadDeadline(time.Now().Add(2 * time.Second))
		buf := make([]byte, 100)
		n, from, err := r1.ReadFrom(buf)
		require.NoError(t, err, dst)
		assert.Equal(t, "hello all", string(buf[:n]))
		assert.Equal(t, "10.1.0.1", from.(*net.UDPAddr).IP.String())
	}
}

// A socket bound to the host's unicast address hears no broadcast; one
// bound to the subnet's broadcast address does (Linux's
// __udp_is_mcast_sock delivers a broadcast to the wildcard and to the
// broadcast address itself).
func TestBroadcastBoundSockets(t *testing.T) {
	a, b := pair(t)
	uni, err := b.ListenPacket("udp", "10.1.0.2:9000")
	require.NoError(t, err)
	defer uni.Close()
	bc, err := b.ListenPacket("udp", "10.1.0.255:9000")
	require.NoError(t, err)
	defer bc.Close()
	s, err := a.ListenPacket("udp", ":0")
	require.NoError(t, err)
	defer s.Close()
	noPorts := b.UDP.Stats.NoPorts.Load()
	for _, dst := range []string{"10.1.0.255", "255.255.255.255"} {
		_, err = s.WriteTo([]byte("hello all"), &net.UDPAddr{IP: net.ParseIP(dst), Port: 9000})
		require.NoError(t, err)
	}
	stacktest.Settle(t, a, b)
	bc.SetReadDeadline(time.Now().Add(time.Second))
	buf := make([]byte, 100)
	n, _, err := bc.ReadFrom(buf)
	require.NoError(t, err)
	assert.Equal(t, "hello all", string(buf[:n]))
	uni.SetReadDeadline(time.Now())
	_, _, err = uni.ReadFrom(buf)
	assert.ErrorIs(t, err, os.ErrDeadlineExceeded, "the unicast-bound socket heard a broadcast")
	assert.Equal(t, noPorts+1, b.UDP.Stats.NoPorts.Load(), "255.255.255.255 had no wildcard socket to go to")
}

// Many goroutines read and write one socket (run with -race).
func TestConcurrentOneSocket(t *testing.T) {
	a, b := pair(t)
	echoServer(t, b, ":7")
	pc, err := a.ListenPacket("udp", ":0")
	require.NoError(t, err)
	defer pc.Close()
	dst := &net.UDPAddr{IP: net.IPv4(10, 1, 0, 2), Port: 7}
	// One echo first: both neighbour entries resolved, so no datagram
	// waits in (or overflows) an unresolved entry's queue.
	_, err = pc.WriteTo([]byte("warm"), dst)
	require.NoError(t, err)
	pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err = pc.ReadFrom(make([]byte, 16))
	require.NoError(t, err)
	pc.SetReadDeadline(time.Time{})
	const writers, per = 8, 200
	got := make(chan struct{}, writers*per)
	var rg sync.WaitGroup
	for i := 0; i < 4; i++ {
		rg.Add(1)
		go func() {
			defer rg.Done()
			buf := make([]byte, 2000)
			for {
				if _, _, err := pc.ReadFrom(buf); err != nil {
					return
				}
				got <- struct{}{}
			}
		}()
	}
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < per; i++ {
				pc.WriteTo(make([]byte, 100+w*100), dst)
				if i%20 == 0 {
					time.Sleep(time.Millisecond)
				}
			}
		}(w)
	}
	wg.Wait()
	n := 0
	timeout := time.After(5 * time.Second)
loop:
	for n < writers*per {
		select {
		case <-got:
			n++
		case <-timeout:
			break loop
		}
	}
	// A datagram is delivered, or counted where it was dropped: a full
	// receive buffer, or a full qdisc under the sender (the writers' own,
	// or the echo server's reply) — this under -race on a loaded machine.
	drops := a.UDP.Stats.RcvbufErrors.Load() + b.UDP.Stats.RcvbufErrors.Load() +
		a.UDP.Stats.SndbufErrors.Load() + b.UDP.Stats.SndbufErrors.Load()
	assert.EqualValues(t, writers*per, uint64(n)+drops, "every datagram delivered or counted")
	pc.Close()
	rg.Wait()
}

// A datagram to a multicast group leaves for the group's MAC (RFC 1112
// 6.4, 01:00:5e and the low 23 bits), not through ARP or the default
// gateway.
func TestMulticastDestinationMAC(t *testing.T) {
	a, b := pair(t)
	require.NoError(t, a.IP.SetDefaultGateway(netip.MustParseAddr("10.1.0.9")))
	var mu sync.Mutex
	var dsts []string
	b.Core.AddTap(&netcore.Tap{Func: func(_ *netcore.Device, frame []byte, dir skb.PktType, _ time.Time) {
		if len(frame) >= 14 && binary.BigEndian.Uint16(frame[12:]) == header.EtherTypeIPv4 {
			mu.Lock()
			dsts = append(dsts, net.HardwareAddr(frame[:6]).String())
			mu.Unlock()
		}
	}})
	s, err := a.ListenPacket("udp", ":0")
	require.NoError(t, err)
	defer s.Close()
	requests := a.IP.Neigh.Stats.RequestsOut.Load()
	_, err = s.WriteTo([]byte("mdns"), &net.UDPAddr{IP: net.IPv4(224, 0, 0, 251), Port: 5353})
	require.NoError(t, err)
	_, err = s.WriteTo([]byte("ssdp"), &net.UDPAddr{IP: net.IPv4(239, 255, 255, 250), Port: 1900})
	require.NoError(t, err)
	stacktest.Settle(t, a, b)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []string{"01:00:5e:00:00:fb", "01:00:5e:7f:ff:fa"}, dsts)
	assert.Equal(t, requests, a.IP.Neigh.Stats.RequestsOut.Load(), "no ARP for a group or the gateway")
}
