// Package wait is the blocking step sockets share: wait for a wake-up
// channel or a deadline.
package wait

import (
	"os"
	"sync"
	"time"
)

// timers are reused: a Read or Write with a deadline blocks once per
// wake-up, and a new timer each time is an allocation each. Since Go
// 1.23 a stopped timer delivers nothing stale after Reset, so a pooled
// one is as good as new.
var timers sync.Pool

// Until blocks until ch delivers (or is closed) or the deadline passes; a
// zero deadline waits for ch alone. It returns os.ErrDeadlineExceeded
// (a net.Error whose Timeout() is true) when the deadline ends the wait.
func Until(ch <-chan struct{}, deadline time.Time) error {
	if deadline.IsZero() {
		<-ch
		return nil
	}
	d := time.Until(deadline)
	if d <= 0 {
		return os.ErrDeadlineExceeded
	}
	t, _ := timers.Get().(*time.Timer)
	if t == nil {
		t = time.NewTimer(d)
	} else {
		t.Reset(d)
	}
	defer func() {
		t.Stop()
		timers.Put(t)
	}()
	select {
	case <-ch:
		return nil
	case <-t.C:
		return os.ErrDeadlineExceeded
	}
}
