package netcore

import (
	"runtime"
	"time"
)

// BusyPollLoop is a driver's busy-poll mode (Linux's napi_busy_loop, as a
// goroutine of its own): it calls round until stop is closed, then closes
// done. The goroutine is not locked to an OS thread: each Gosched between
// looks would otherwise hand the processor across threads (a futex wake
// and a context switch each way), which with one CPU took more than half
// of a busy-poll run. round looks at the device, starts whatever
// work it finds (a NAPI schedule, a service pass) and reports whether
// there was any. The loop yields between looks and keeps looking while
// work comes, and for idle after the last; then it sleeps between looks
// (20 µs asked of time.Sleep, a millisecond had: long enough for a small
// ring to overflow, hence the looking while traffic flows).
//
// Between the last work and idle, every busyPollNapAfter empty looks in a
// row it naps busyPollNap in nanosleep(2), which halts the vCPU when the
// poller is the only thing running: a spinning vCPU never gives its host
// CPU back to the emulator that brings the frames it waits for. Not
// time.Sleep: Go's timers wait in epoll_wait, whose timeout is whole
// milliseconds (docs/design-notes.md has the measurements).
//
// A frame dev sent counts as work too: its answer (a ping's reply, a
// request's response) is on its way, and a poller asleep when it comes
// adds its sleep to the round trip.
func BusyPollLoop(stop <-chan struct{}, done chan<- struct{}, idle time.Duration, dev *Device, round func() bool) {
	defer close(done)
	var lastWork time.Time
	var sent uint64
	empty := 0
	for {
		select {
		case <-stop:
			return
		default:
		}
		work := round()
		if n := dev.Stats.TxPackets.Load(); n != sent {
			sent, work = n, true
		}
		runtime.Gosched()
		switch {
		case work:
			lastWork = time.Now()
			empty = 0
		case time.Since(lastWork) > idle:
			dev.core.cfg.BusyPollSleep(20 * time.Microsecond)
		default:
			if empty++; empty >= busyPollNapAfter {
				empty = 0
				dev.core.cfg.BusyPollNap(busyPollNap)
			}
		}
	}
}

// busyPollNapAfter empty looks in a row earn a nap of busyPollNap.
const (
	busyPollNapAfter = 8
	busyPollNap      = 30 * time.Microsecond
)
