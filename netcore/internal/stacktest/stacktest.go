// Package stacktest makes ringo hosts for protocol tests: whole stacks,
// and pairs of them joined by an in-memory (optionally lossy) wire.
package stacktest

import (
	"fmt"
	"log/slog"
	"net/netip"
	"testing"

	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/ipv4"
	"github.com/ringonet/ringo/netcore/link"
	"github.com/ringonet/ringo/netcore/socket"
	"github.com/ringonet/ringo/netcore/tcp"
)

// Stack is a ringo host for tests: its own core and protocols.
func Stack(t testing.TB, tc tcp.Config) *socket.Stack {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	c := netcore.New(netcore.Config{Logger: quiet})
	s, err := socket.NewWithTCP(c, ipv4.Config{Logger: quiet}, tc)
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

// Wire joins two hosts by a pipe and gives them 10.1.0.1 and 10.1.0.2.
func Wire(t testing.TB, a, b *socket.Stack, loss float64) {
	t.Helper()
	ea, eb, err := link.NewPipe(a.Core, link.PipeConfig{PeerCore: b.Core, Loss: loss, Seed: 7})
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
}
