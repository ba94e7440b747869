// Package wait is the blocking step sockets share: wait for a wake-up
// channel or a deadline.
package wait

import (
	"os"
	"time"
)

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
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
		return nil
	case <-t.C:
		return os.ErrDeadlineExceeded
	}
}
