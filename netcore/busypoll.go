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
// (20 µs asked: a timer tick or more under emulation, long enough for a
// small ring to overflow, hence the spinning while traffic flows).
//
// A frame dev sent counts as work too: its answer (a ping's reply, a
// request's response) is on its way, and a poller asleep when it comes
// adds its sleep to the round trip. (Counting only frames received, a
// ping slower than idle found the poller asleep: 1.2-1.8 ms more, every
// few pings, in an execution trace of the busy-poll ping benchmark.)
func BusyPollLoop(stop <-chan struct{}, done chan<- struct{}, idle time.Duration, dev *Device, round func() bool) {
	defer close(done)
	var lastWork time.Time
	var sent uint64
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
		if work {
			lastWork = time.Now()
		} else if time.Since(lastWork) > idle {
			busyPollSleep(20 * time.Microsecond)
		}
	}
}

// busyPollSleep is time.Sleep; tests count the sleeps.
var busyPollSleep = time.Sleep
