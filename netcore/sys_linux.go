package netcore

import (
	"fmt"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// pinThread binds the calling OS thread to one CPU.
func pinThread(cpu int) error {
	var set unix.CPUSet
	set.Set(cpu % runtime.NumCPU())
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return fmt.Errorf("netcore: pin to cpu %d: %w", cpu, err)
	}
	return nil
}

// napNanosleep naps in nanosleep(2), holding the thread and its P: Go's
// timer would park the goroutine and wake it a scheduler tick late.
func napNanosleep(d time.Duration) {
	ts := unix.NsecToTimespec(d.Nanoseconds())
	unix.Nanosleep(&ts, nil) // EINTR: the nap is only shorter
}
