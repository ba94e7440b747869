package netcore

import (
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringonet/ringo/internal/israce"
	"github.com/ringonet/ringo/netcore/skb"
)

// moreNIC records, for each frame, whether the core said more follow,
// and the flushes it was asked for; it stops its queue after cap frames.
type moreNIC struct {
	dev     *Device
	mu      sync.Mutex
	more    []bool
	flushes int
	cap     int
}

func (m *moreNIC) Open() error { m.dev.NetifCarrierOn(); return nil }
func (m *moreNIC) Stop() error { return nil }
func (m *moreNIC) StartXmit(b *skb.Buff) TxStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.more = append(m.more, m.dev.XmitMore())
	b.Free()
	if m.cap > 0 && len(m.more) >= m.cap {
		m.dev.NetifStopQueue()
	}
	return TxOK
}
func (m *moreNIC) FlushXmit() { m.mu.Lock(); m.flushes++; m.mu.Unlock() }

func newMoreNIC(t *testing.T) (*moreNIC, *Core) {
	c := New(Config{Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() { c.Close() })
	m := &moreNIC{}
	var err error
	m.dev, err = c.Register(DeviceConfig{Name: "more0", HardwareAddr: []byte{2, 0, 0, 0, 0, 9}}, m)
	require.NoError(t, err)
	require.NoError(t, m.dev.Up())
	return m, c
}

func burst(d *Device, n int) []*skb.Buff {
	bs := make([]*skb.Buff, n)
	for i := range bs {
		bs[i] = testFrame(d, uint32(i))
	}
	return bs
}

// netdev_xmit_more: a burst reaches the driver with "more" on every frame
// but its last; single frames never promise more; a run that ends early
// after promising more (the queue stopped under it) asks for a flush.
func TestXmitMore(t *testing.T) {
	m, _ := newMoreNIC(t)
	n, err := DevQueueXmitBurst(burst(m.dev, 10))
	require.NoError(t, err)
	assert.Equal(t, 10, n)
	want := []bool{true, true, true, true, true, true, true, true, true, false}
	assert.Equal(t, want, m.more)
	assert.Zero(t, m.flushes, "the last frame said no more: nothing to flush")

	m.more = nil
	for _, b := range burst(m.dev, 3) {
		require.NoError(t, DevQueueXmit(b))
	}
	assert.Equal(t, []bool{false, false, false}, m.more)

	m.more, m.cap = nil, 4
	n, err = DevQueueXmitBurst(burst(m.dev, 10))
	require.NoError(t, err)
	assert.Equal(t, 10, n, "the qdisc holds the rest")
	assert.Equal(t, []bool{true, true, true, true}, m.more)
	assert.Equal(t, 1, m.flushes, "the stop ended a promised batch: flushed")
	assert.Equal(t, 6, m.dev.Qdisc().Len())
	m.cap = 0
	m.dev.NetifWakeQueue()
	assert.Eventually(t, func() bool { m.mu.Lock(); defer m.mu.Unlock(); return len(m.more) == 10 }, 5*time.Second, time.Millisecond)
	m.mu.Lock()
	assert.False(t, m.more[9], "the rest's last frame ends its batch")
	m.mu.Unlock()
}

// A burst allocates nothing per frame in the core.
func TestXmitBurstAllocs(t *testing.T) {
	if israce.Enabled {
		t.Skip("the race detector makes sync.Pool drop buffers")
	}
	m, _ := newMoreNIC(t)
	bs := make([]*skb.Buff, 32)
	allocs := testing.AllocsPerRun(100, func() {
		m.mu.Lock()
		m.more = m.more[:0]
		m.mu.Unlock()
		for i := range bs {
			bs[i] = skb.Alloc(64)
			bs[i].Put(64)
			bs[i].Dev = m.dev
		}
		DevQueueXmitBurst(bs)
	})
	assert.LessOrEqual(t, allocs, 1.0)
}
