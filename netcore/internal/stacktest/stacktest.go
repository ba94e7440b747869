// Package stacktest makes ringo hosts for protocol tests: whole stacks,
// and pairs of them joined by an in-memory (optionally lossy) wire.
package stacktest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/netcore/ipv4"
	"github.com/ringonet/ringo/netcore/link"
	"github.com/ringonet/ringo/netcore/skb"
	"github.com/ringonet/ringo/netcore/socket"
	"github.com/ringonet/ringo/netcore/tcp"
)

// Stack is a ringo host for tests: its own core and protocols; ic, if
// given, configures IPv4.
func Stack(t testing.TB, tc tcp.Config, ic ...ipv4.Config) *socket.Stack {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	c := netcore.New(netcore.Config{Logger: quiet})
	var icfg ipv4.Config
	if len(ic) > 0 {
		icfg = ic[0]
	}
	icfg.Logger = quiet
	s, err := socket.New(c, socket.Config{IP: icfg, TCP: tc})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(); c.Close() })
	return s
}

// Pair is two hosts on an in-memory pipe, 10.1.0.1 and 10.1.0.2, the wire
// losing the given fraction of frames (seeded, reproducible).
func Pair(t testing.TB, tc tcp.Config, loss float64) (a, b *socket.Stack) {
	t.Helper()
	a, b = Stack(t, tc), Stack(t, tc)
	Wire(t, a, b, loss)
	return a, b
}

// Wire joins two hosts by a pipe and gives them 10.1.0.1 and 10.1.0.2;
// it returns a's end and b's end.
func Wire(t testing.TB, a, b *socket.Stack, loss float64) (*link.PipeEnd, *link.PipeEnd) {
	t.Helper()
	return WireConfig(t, a, b, link.PipeConfig{Loss: loss, Seed: 7})
}

// WireConfig is Wire with the pipe's settings (PeerCore is b's).
func WireConfig(t testing.TB, a, b *socket.Stack, cfg link.PipeConfig) (*link.PipeEnd, *link.PipeEnd) {
	t.Helper()
	cfg.PeerCore = b.Core
	ea, eb, err := link.NewPipe(a.Core, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range []*link.PipeEnd{ea, eb} {
		if err := e.Dev.Up(); err != nil {
			t.Fatal(err)
		}
		s := []*socket.Stack{a, b}[i]
		if err := s.IP.AddAddress(e.Dev, netip.MustParsePrefix(fmt.Sprintf("10.1.0.%d/24", i+1))); err != nil {
			t.Fatal(err)
		}
	}
	return ea, eb
}

// Frame builds an Ethernet frame holding an IPv4 packet with ip's fields
// (TotalLen and Protocol filled in unless set) and payload.
func Frame(dst, src net.HardwareAddr, ip header.IPv4Fields, payload []byte) []byte {
	b := make([]byte, header.EthernetLen+header.IPv4MinLen+len(payload))
	header.EncodeEthernet(b, dst, src, header.EtherTypeIPv4)
	if ip.TotalLen == 0 {
		ip.TotalLen = header.IPv4MinLen + len(payload)
	}
	if ip.TTL == 0 {
		ip.TTL = 64
	}
	header.EncodeIPv4(b[header.EthernetLen:], ip)
	copy(b[header.EthernetLen+header.IPv4MinLen:], payload)
	return b
}

// Segment encodes a TCP segment (header and payload) between src and dst.
func Segment(f header.TCPFields, src, dst [4]byte, payload []byte) []byte {
	hl := header.TCPHeaderLen(f)
	b := make([]byte, hl+len(payload))
	copy(b[hl:], payload)
	header.EncodeTCP(b, f, src, dst)
	return b
}

// Send puts a raw frame on the wire from dev, bypassing its stack.
func Send(dev *netcore.Device, frame []byte) error {
	b := skb.Alloc(len(frame))
	copy(b.Put(len(frame)), frame)
	b.Dev = dev
	return netcore.DevQueueXmit(b)
}

// EchoTCP serves TCP echo on s at addr (":80") until the test ends.
func EchoTCP(t testing.TB, s *socket.Stack, addr string) {
	t.Helper()
	l, err := s.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
}

// EchoUDP serves UDP echo on s at addr (":7") until the test ends.
func EchoUDP(t testing.TB, s *socket.Stack, addr string) {
	t.Helper()
	pc, err := s.ListenPacket("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
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
}

// Settle waits until the hosts' cores have done everything they were
// given, frames crossing between them included (netcore.Quiesce). Timers
// that fire later (a retransmission, a delayed ACK) are not waited for.
func Settle(t testing.TB, hosts ...*socket.Stack) {
	t.Helper()
	cores := make([]*netcore.Core, len(hosts))
	for i, h := range hosts {
		cores[i] = h.Core
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := netcore.Quiesce(ctx, cores...); err != nil {
		t.Fatal(err)
	}
}
