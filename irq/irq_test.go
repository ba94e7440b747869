package irq

import (
	"bytes"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

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

// fire writes the eventfd as a raw system call, as a device's interrupt
// comes without the scheduler's help: through unix.Write, a write slowed
// by a loaded machine let sysmon hand the P to another thread, whose
// poller ran the line's goroutine before TestLinePoll's Poll could.
func (f *fakeSource) fire(t *testing.T) {
	one := [8]byte{1}
	_, _, errno := unix.RawSyscall(unix.SYS_WRITE, uintptr(f.fd), uintptr(unsafe.Pointer(&one[0])), uintptr(len(one)))
	require.Zero(t, errno)
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
	l, err := b.Request("eth0", 0, src, func() bool {
		// The verdict before the signal: the test changes claim as soon
		// as it hears of this interrupt, and that must not reach back
		// into it (a fifth interrupt counted spurious, under load).
		c := claim.Load()
		handled <- struct{}{}
		return c
	})
	require.NoError(t, err)
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
	assert.Contains(t, out.String(), "         6          1  cpu0  eventfd    eth0")
	require.NoError(t, b.Close())
}

// TestPollServesOnCallersGoroutine: with one P and the caller not
// yielding, the line's goroutine cannot run, so the handler that Poll
// runs is Poll's; the goroutine then finds the eventfd drained and
// handles nothing twice.
func TestPollServesOnCallersGoroutine(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	b, err := New(nil)
	require.NoError(t, err)
	defer b.Close()
	src := newSource(t)
	var calls atomic.Int64
	l, err := b.Request("eth0", 0, src, func() bool { calls.Add(1); return true })
	require.NoError(t, err)
	parked(t, l, 1)

	src.fire(t)
	b.Poll()
	assert.EqualValues(t, 1, calls.Load(), "Poll ran the handler")
	assert.EqualValues(t, 1, l.Polled())
	assert.EqualValues(t, 1, src.unmasks.Load(), "and re-armed the source")
	b.Poll() // nothing pending: a read that finds the counter zero
	assert.EqualValues(t, 1, calls.Load())
	assert.EqualValues(t, 1, l.Count())

	// The goroutine still serves the line, and served the first firing
	// not at all (epoll saw the counter Poll had drained): its second
	// read is this firing, handled once.
	src.fire(t)
	require.Eventually(t, func() bool { return calls.Load() == 2 }, 5*time.Second, 100*time.Microsecond)
	parked(t, l, 2)
	assert.EqualValues(t, 2, calls.Load(), "each firing handled once")
	assert.EqualValues(t, 2, l.Count())
	assert.EqualValues(t, 1, l.Polled())
}

// TestLinePoll: a busy poller's look at one line serves it only when it
// fired, says so, and re-arms it; a closed bridge's line serves nothing.
func TestLinePoll(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	b, err := New(nil)
	require.NoError(t, err)
	src := newSource(t)
	var calls atomic.Int64
	l, err := b.Request("eth0", 0, src, func() bool { calls.Add(1); return true })
	require.NoError(t, err)
	parked(t, l, 1)

	assert.False(t, l.Poll(), "nothing fired")
	assert.Zero(t, calls.Load())
	src.fire(t)
	assert.True(t, l.Poll())
	assert.EqualValues(t, 1, calls.Load())
	assert.EqualValues(t, 1, l.Polled())
	assert.EqualValues(t, 1, src.unmasks.Load())
	assert.False(t, l.Poll(), "served once")

	require.NoError(t, b.Close())
	src.fire(t)
	assert.False(t, l.Poll(), "closed")
	assert.EqualValues(t, 1, calls.Load())
}

// TestCloseStopsLines: Close ends the lines' goroutines, Poll serves
// nothing after it, the sources stay open, and a closed bridge takes no
// new line.
func TestCloseStopsLines(t *testing.T) {
	b, err := New(nil)
	require.NoError(t, err)
	src := newSource(t)
	var calls atomic.Int64
	_, err = b.Request("eth0", 0, src, func() bool { calls.Add(1); return true })
	require.NoError(t, err)
	require.NoError(t, b.Close())
	src.fire(t)
	b.Poll() // the lines are dead: their descriptors are closed
	assert.Zero(t, calls.Load())
	_, err = unix.FcntlInt(uintptr(src.fd), unix.F_GETFL, 0)
	assert.NoError(t, err, "the source's own descriptor stays open")
	_, err = b.Request("eth1", 0, src, func() bool { return true })
	assert.Error(t, err)

	blocking, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	require.NoError(t, err)
	defer unix.Close(blocking)
	b2, err := New(nil)
	require.NoError(t, err)
	defer b2.Close()
	_, err = b2.Request("eth2", 0, &fakeSource{fd: blocking}, func() bool { return true })
	assert.ErrorContains(t, err, "not non-blocking")
}

// TestOneReadPerInterrupt: the line's goroutine makes one read(2) of the
// eventfd per interrupt (plus the first, before any fired), and an
// interrupt raised while the handler runs — the device firing again
// right after the unmask — is served, not lost.
func TestOneReadPerInterrupt(t *testing.T) {
	b, err := New(nil)
	require.NoError(t, err)
	defer b.Close()
	src := newSource(t)
	handled := make(chan struct{}, 16)
	var refire atomic.Bool
	l, err := b.Request("eth0", 0, src, func() bool {
		if refire.CompareAndSwap(true, false) {
			src.fire(t)
		}
		handled <- struct{}{}
		return true
	})
	require.NoError(t, err)
	wait := func() {
		select {
		case <-handled:
		case <-time.After(5 * time.Second):
			t.Fatal("interrupt not delivered")
		}
	}
	const n = 50
	for range n {
		src.fire(t)
		wait()
		require.Eventually(t, func() bool { return src.unmasks.Load() == int64(l.Count()) }, 5*time.Second, 100*time.Microsecond)
	}
	assert.EqualValues(t, n, l.Count())
	assert.LessOrEqual(t, l.reads.Load(), uint64(n+2), "eventfd reads for %d interrupts", n)

	refire.Store(true)
	src.fire(t)
	wait()
	wait() // the one raised inside the handler
	assert.EqualValues(t, n+2, l.Count())
}

// parked waits until the line's goroutine has read its eventfd reads
// times: after the first it waits in the poller; after each later one, a
// wake-up it had was served.
func parked(t *testing.T, l *Line, reads uint64) {
	t.Helper()
	require.Eventually(t, func() bool { return l.reads.Load() >= reads }, 5*time.Second, 100*time.Microsecond)
}
