package impair_test

import (
	"context"
	"encoding/binary"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/impair"
	"github.com/ringonet/ringo/netcore/link"
	"github.com/ringonet/ringo/netcore/skb"
)

const testEthertype = 0x88b5

// run sends n numbered frames a->b through a pipe whose a end is
// impaired with cfg (egress) and whose b end with in (ingress), and
// returns the sequence numbers b received, in order.
func run(t *testing.T, n int, egress, ingress impair.Config) ([]uint32, *impair.Impairment, *impair.Impairment) {
	t.Helper()
	c := netcore.New(netcore.Config{Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() { c.Close() })
	a, b, err := link.NewPipe(c, link.PipeConfig{Names: [2]string{"a", "b"}, Ring: 1024})
	require.NoError(t, err)
	require.NoError(t, a.Dev.Up())
	require.NoError(t, b.Dev.Up())
	ia := impair.Attach(a.Dev, egress, impair.Config{})
	ib := impair.Attach(b.Dev, impair.Config{}, ingress)
	var mu sync.Mutex
	var got []uint32
	c.AddPacketType(testEthertype, func(s *skb.Buff) {
		mu.Lock()
		got = append(got, binary.BigEndian.Uint32(s.Data()))
		mu.Unlock()
		s.Free()
	})
	for i := 0; i < n; i++ {
		f := skb.Alloc(60)
		p := f.Put(60)
		copy(p[0:6], b.Dev.HardwareAddr)
		copy(p[6:12], a.Dev.HardwareAddr)
		binary.BigEndian.PutUint16(p[12:], testEthertype)
		binary.BigEndian.PutUint32(p[14:], uint32(i))
		f.Dev = a.Dev
		for netcore.DevQueueXmit(f) == netcore.ErrQueueFull {
			t.Fatal("qdisc full")
		}
		if i%64 == 63 {
			time.Sleep(100 * time.Microsecond) // let the pipe drain
		}
	}
	// Let every frame reach b's ingress before the hooks come off (Remove
	// sends on what is still delayed, undecided by b's ingress).
	require.Eventually(t, func() bool {
		e := &ia.Egress.Stats
		sent := e.Frames.Load() - e.Lost.Load() - e.Overlimit.Load() + e.Duplicated.Load()
		return !ingress.Active() || ib.Ingress.Stats.Frames.Load() == sent
	}, 10*time.Second, time.Millisecond)
	ia.Remove()
	ib.Remove() // what was still delayed is sent on
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, c.Quiesce(ctx))
	mu.Lock()
	defer mu.Unlock()
	return append([]uint32(nil), got...), ia, ib
}

// Loss and duplication both ways are counted exactly and reproducible
// from the seed.
func TestLossAndDuplicationReproducible(t *testing.T) {
	cfg := impair.Config{Loss: 0.05, Duplicate: 0.03, Seed: 42}
	in := impair.Config{Loss: 0.02, Seed: 43}
	got1, ia, ib := run(t, 5000, cfg, in)
	lost := ia.Egress.Stats.Lost.Load() + ib.Ingress.Stats.Lost.Load()
	dup := ia.Egress.Stats.Duplicated.Load()
	assert.InDelta(t, 250, ia.Egress.Stats.Lost.Load(), 80)
	assert.InDelta(t, 150, dup, 60)
	assert.InDelta(t, 100, ib.Ingress.Stats.Lost.Load(), 50)
	// Each duplicate may itself be lost at b's ingress: the counts add up
	// exactly against what arrived.
	assert.EqualValues(t, 5000+dup-lost, len(got1), "frames received")
	got2, _, _ := run(t, 5000, cfg, in)
	assert.True(t, slices.Equal(got1, got2), "same seed, same frames")
}

// Delay holds frames; jitter and Reorder let some overtake others; none
// is lost and the delay queue's bound holds.
func TestDelayReorder(t *testing.T) {
	start := time.Now()
	got, ia, _ := run(t, 2000, impair.Config{Delay: 2 * time.Millisecond, Jitter: time.Millisecond, Reorder: 0.05, Seed: 1}, impair.Config{})
	require.Len(t, got, 2000)
	seen := make(map[uint32]bool)
	inversions := 0
	for i, s := range got {
		seen[s] = true
		if i > 0 && s < got[i-1] {
			inversions++
		}
	}
	assert.Len(t, seen, 2000, "every frame once")
	assert.Greater(t, inversions, 20, "frames overtook others")
	assert.Greater(t, ia.Egress.Stats.Reordered.Load(), uint64(50))
	assert.Greater(t, time.Since(start), 2*time.Millisecond)
	t.Logf("egress: %s; %d inversions", &ia.Egress.Stats, inversions)

	// A queue of 10 delayed frames overflows and counts it.
	got, ia, _ = run(t, 200, impair.Config{Delay: 50 * time.Millisecond, Limit: 10}, impair.Config{})
	assert.EqualValues(t, 200, len(got)+int(ia.Egress.Stats.Overlimit.Load()))
	assert.Greater(t, ia.Egress.Stats.Overlimit.Load(), uint64(100))
}
