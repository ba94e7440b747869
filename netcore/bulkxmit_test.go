package netcore

import (
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringonet/ringo/netcore/skb"
)

// burstNIC records the bursts its StartXmitBurst is handed.
type burstNIC struct {
	nullDriver
	mu     sync.Mutex
	bursts []int
	seqs   []uint32
}

func (f *burstNIC) StartXmitBurst(bs []*skb.Buff) int {
	f.mu.Lock()
	f.bursts = append(f.bursts, len(bs))
	for _, b := range bs {
		f.seqs = append(f.seqs, binary.BigEndian.Uint32(b.Data()[14:]))
	}
	f.mu.Unlock()
	skb.FreeBulk(bs)
	return len(bs)
}

func (f *burstNIC) sent() ([]int, []uint32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]int(nil), f.bursts...), append([]uint32(nil), f.seqs...)
}

// A forwarder at one device's ingress hook sends out of another through
// a BulkXmit: 70 frames of one poll round leave as bursts of 32, 32 and,
// at the round's end, the 6 left — in order, none held past the round.
func TestBulkXmit(t *testing.T) {
	c := New(Config{})
	t.Cleanup(func() { c.Close() })
	in := newFakeNIC(t, c, "in0", 0, 64)
	drv := &burstNIC{}
	out, err := c.Register(DeviceConfig{Name: "out0"}, drv)
	require.NoError(t, err)
	require.NoError(t, out.Up())
	fwd := c.NewBulkXmit(out)
	in.dev.SetHooks(func(b *skb.Buff) bool {
		require.True(t, b.PushToMAC())
		fwd.Xmit(b)
		return true
	}, nil)
	live := skb.Live()
	in.arrive(70)
	require.Eventually(t, func() bool { _, s := drv.sent(); return len(s) == 70 }, 5*time.Second, time.Millisecond)
	bursts, seqs := drv.sent()
	assert.Equal(t, []int{32, 32, 6}, bursts)
	for i, s := range seqs {
		require.EqualValues(t, i+1, s, "in order")
	}
	assert.EqualValues(t, 70, out.Stats.TxPackets.Load())
	assert.Equal(t, live, skb.Live(), "every forwarded frame freed by the driver")
}
