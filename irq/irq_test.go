package irq

import (
	"bytes"
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
