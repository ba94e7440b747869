// Package clock is the time protocol timers run on. Wall is the real
// clock; Fake is a virtual one that a test moves by hand, so that a
// 60-second timeout runs in microseconds and a test never sleeps.
package clock

import (
	"container/heap"
	"sync"
	"time"
)

// Clock tells the time and runs functions later.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine (Wall) or in Advance's
	// (Fake) once d has passed.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a function waiting to run, as time.Timer from time.AfterFunc.
type Timer interface {
	Reset(d time.Duration) bool
	Stop() bool
}

type wall struct{}

func (wall) Now() time.Time                            { return time.Now() }
func (wall) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// Wall is the real clock.
var Wall Clock = wall{}

// Fake is a virtual clock: time stands still until Advance moves it, and
// the timers due meanwhile run in Advance's goroutine, earliest first,
// each with Now at its due time. It is safe for any number of
// goroutines; a timer's function may arm timers of its own.
type Fake struct {
	mu     sync.Mutex
	now    time.Time
	timers fakeHeap
	seq    uint64
}

// NewFake is a clock standing at start.
func NewFake(start time.Time) *Fake { return &Fake{now: start} }

// Now is the virtual time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// AfterFunc arms a timer that Advance runs once d has passed.
func (f *Fake) AfterFunc(d time.Duration, fn func()) Timer {
	t := &fakeTimer{clock: f, fn: fn, index: -1}
	t.Reset(d)
	return t
}

// Advance moves the clock by d, running every timer that falls due.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	end := f.now.Add(d)
	f.mu.Unlock()
	for f.runNext(end) {
	}
	f.mu.Lock()
	if f.now.Before(end) {
		f.now = end
	}
	f.mu.Unlock()
}

// AdvanceToNext moves the clock to the earliest armed timer and runs
// every timer due then. It reports how far the clock moved, and false if
// no timer was armed (the clock stays).
func (f *Fake) AdvanceToNext() (time.Duration, bool) {
	f.mu.Lock()
	if len(f.timers) == 0 {
		f.mu.Unlock()
		return 0, false
	}
	d := f.timers[0].due.Sub(f.now)
	f.mu.Unlock()
	f.Advance(d)
	return d, true
}

// Pending is how many timers are armed.
func (f *Fake) Pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.timers)
}

// runNext runs the earliest timer due by end, if any.
func (f *Fake) runNext(end time.Time) bool {
	f.mu.Lock()
	if len(f.timers) == 0 || f.timers[0].due.After(end) {
		f.mu.Unlock()
		return false
	}
	t := heap.Pop(&f.timers).(*fakeTimer)
	if t.due.After(f.now) {
		f.now = t.due
	}
	f.mu.Unlock()
	t.fn()
	return true
}

type fakeTimer struct {
	clock *Fake
	fn    func()
	due   time.Time
	seq   uint64 // arming order: timers due together run in it
	index int    // in the heap, -1 when not armed
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	f := t.clock
	f.mu.Lock()
	defer f.mu.Unlock()
	was := t.index >= 0
	if was {
		heap.Remove(&f.timers, t.index)
	}
	f.seq++
	t.due, t.seq = f.now.Add(d), f.seq
	heap.Push(&f.timers, t)
	return was
}

func (t *fakeTimer) Stop() bool {
	f := t.clock
	f.mu.Lock()
	defer f.mu.Unlock()
	if t.index < 0 {
		return false
	}
	heap.Remove(&f.timers, t.index)
	return true
}

type fakeHeap []*fakeTimer

func (h fakeHeap) Len() int { return len(h) }
func (h fakeHeap) Less(i, j int) bool {
	if h[i].due.Equal(h[j].due) {
		return h[i].seq < h[j].seq
	}
	return h[i].due.Before(h[j].due)
}
func (h fakeHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *fakeHeap) Push(x any) {
	t := x.(*fakeTimer)
	t.index = len(*h)
	*h = append(*h, t)
}
func (h *fakeHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	t.index = -1
	return t
}
