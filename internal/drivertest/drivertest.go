// Package drivertest is what the drivers' unit tests share: a quiet core
// and interrupt bridge, test frames, and a sink for the frames the stack
// takes up. The fake devices themselves stay with their drivers.
package drivertest

import (
	"encoding/binary"
	"log/slog"
	"math/rand"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ringonet/ringo/irq"
	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/skb"
)

// Ethertype marks test frames (IEEE 802 local experimental).
const Ethertype = 0x88b5

// Quiet discards log output.
var Quiet = slog.New(slog.DiscardHandler)

// Core is a core with cfg and an interrupt bridge, both closed when the
// test ends.
func Core(t testing.TB, cfg netcore.Config) (*netcore.Core, *irq.Bridge) {
	t.Helper()
	cfg.Logger = Quiet
	c := netcore.New(cfg)
	br, err := irq.New(Quiet)
	require.NoError(t, err)
	t.Cleanup(func() {
		c.Close()
		br.Close()
	})
	return c, br
}

// Frame is a test frame of size bytes to dst: a sequence number after the
// Ethernet header, then random bytes.
func Frame(dst []byte, seq uint32, size int, rng *rand.Rand) []byte {
	f := make([]byte, size)
	copy(f[0:6], dst)
	copy(f[6:12], []byte{2, 0, 0, 0, 0, 9})
	binary.BigEndian.PutUint16(f[12:], Ethertype)
	binary.BigEndian.PutUint32(f[14:], seq)
	rng.Read(f[18:])
	return f
}

// Sink keeps every test frame the core delivers, whole (MAC header
// included), in order.
type Sink struct {
	mu  sync.Mutex
	got [][]byte
}

// NewSink registers a sink for Ethertype on c.
func NewSink(c *netcore.Core) *Sink {
	s := &Sink{}
	c.AddPacketType(Ethertype, func(b *skb.Buff) {
		b.PushToMAC()
		s.mu.Lock()
		s.got = append(s.got, append([]byte(nil), b.Data()...))
		s.mu.Unlock()
		b.Free()
	})
	return s
}

// Frames returns what arrived so far.
func (s *Sink) Frames() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.got...)
}

// Len is how many frames arrived.
func (s *Sink) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got)
}

// Wait waits until n frames have arrived.
func (s *Sink) Wait(t testing.TB, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return s.Len() >= n }, 10*time.Second, time.Millisecond, "%d frames of %d arrived", s.Len(), n)
}
