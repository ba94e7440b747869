package netcore

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBusyPollStaysAwakeWhileSending: with nothing received, the busy
// poller sleeps between looks once idle has passed — but not while the
// device sends: an answer to what it sent is on its way.
func TestBusyPollStaysAwakeWhileSending(t *testing.T) {
	var sleeps atomic.Int64
	_, dev := newEagerYielder(t, Config{BusyPollSleep: func(d time.Duration) { sleeps.Add(1); time.Sleep(d) }})
	stop, done := make(chan struct{}), make(chan struct{})
	var looks atomic.Int64
	go BusyPollLoop(stop, done, 50*time.Millisecond, dev, func() bool { looks.Add(1); return false })
	defer func() { close(stop); <-done }()

	require.Eventually(t, func() bool { return sleeps.Load() > 0 }, 5*time.Second, time.Millisecond, "idle: the poller sleeps")
	// Send for 100 ms, a frame every millisecond or so (far inside
	// idle, even on a loaded machine): once it has seen the first, the
	// poller never sleeps.
	xmitNull(t, dev)
	seen := looks.Load() + 2 // the poller sees it: a look begun after the send
	require.Eventually(t, func() bool { return looks.Load() >= seen }, 5*time.Second, 100*time.Microsecond)
	before := sleeps.Load()
	for end := time.Now().Add(100 * time.Millisecond); time.Now().Before(end); {
		xmitNull(t, dev)
		time.Sleep(time.Millisecond)
	}
	assert.LessOrEqual(t, sleeps.Load()-before, int64(1), "asleep while frames were going out")
	require.Eventually(t, func() bool { return sleeps.Load() > before+10 }, 5*time.Second, time.Millisecond, "idle again after the last frame")
}

// TestBusyPollNaps: inside idle, the poller never naps while each look
// finds work, and naps after every busyPollNapAfter empty looks in a row
// once they find none.
func TestBusyPollNaps(t *testing.T) {
	var naps, rounds, empty atomic.Int64
	_, dev := newEagerYielder(t, Config{BusyPollNap: func(time.Duration) { naps.Add(1) }})
	var busy atomic.Bool
	busy.Store(true)
	stop, done := make(chan struct{}), make(chan struct{})
	go BusyPollLoop(stop, done, time.Hour, dev, func() bool {
		rounds.Add(1)
		if busy.Load() {
			return true
		}
		empty.Add(1)
		return false
	})
	defer func() { close(stop); <-done }()

	require.Eventually(t, func() bool { return rounds.Load() > 1000 }, 5*time.Second, time.Millisecond)
	assert.Zero(t, naps.Load(), "napped while every look found work")

	busy.Store(false)
	require.Eventually(t, func() bool { return naps.Load() >= 100 }, 5*time.Second, time.Millisecond, "empty looks: naps")
	e, n := empty.Load(), naps.Load()
	assert.InDelta(t, float64(busyPollNapAfter), float64(e)/float64(n), 0.5, "%d empty looks, %d naps", e, n)
}
