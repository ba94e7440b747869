package irq

import (
	"bytes"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// fakeSource is an eventfd the test fires, with counted unmasks.
type fakeSource struct {
	fd      int
	unmasks atomic.Int64
}

func (f *fakeSource) Fd() int       { return f.fd }
func (f *fakeSource) Unmask() error { f.unmasks.Add(1); return nil }
func (f *fakeSource) fire(t *testing.T) {
	one := [8]byte{1}
	_, err := unix.Write(f.fd, one[:])
	require.NoError(t, err)
}

func newSource(t *testing.T) *fakeSource {
	fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	require.NoError(t, err)
	t.Cleanup(func() { unix.Close(fd) })
	return &fakeSource{fd: fd}
}

func TestBridgeDeliversAndUnmasks(t *testing.T) {
	b, err := New(nil)
	require.NoError(t, err)
	src := newSource(t)
	handled := make(chan struct{}, 16)
	var claim atomic.Bool
	claim.Store(true)
	l := b.Request("eth0", 0, src, func() bool {
		handled <- struct{}{}
		return claim.Load()
	})
	for i := 0; i < 5; i++ {
		src.fire(t)
		select {
		case <-handled:
		case <-time.After(5 * time.Second):
			t.Fatal("interrupt not delivered")
		}
	}
	claim.Store(false)
	src.fire(t)
	<-handled
	require.Eventually(t, func() bool { return src.unmasks.Load() == 6 }, 5*time.Second, time.Millisecond)
	assert.EqualValues(t, 6, l.Count())
	assert.EqualValues(t, 1, l.Spurious())

	var out bytes.Buffer
	require.NoError(t, b.WriteInterrupts(&out))
	assert.Contains(t, out.String(), "         6          1  cpu0  vfio-intx  eth0")
	require.NoError(t, b.Close())
}

func TestEpollBridgeDelivers(t *testing.T) {
	b, err := NewEpoll()
	require.NoError(t, err)
	defer b.Close()
	srcs := []*fakeSource{newSource(t), newSource(t)}
	got := make(chan int, 16)
	var lines []*Line
	for i, s := range srcs {
		i := i
		l, err := b.Request(fmt.Sprint(i), 0, s, func() bool { got <- i; return true })
		require.NoError(t, err)
		lines = append(lines, l)
	}
	srcs[1].fire(t)
	assert.Equal(t, 1, <-got)
	srcs[0].fire(t)
	assert.Equal(t, 0, <-got)
	require.Eventually(t, func() bool { return srcs[0].unmasks.Load() == 1 && srcs[1].unmasks.Load() == 1 }, 5*time.Second, time.Millisecond)
	assert.EqualValues(t, 1, lines[0].Count())
}
