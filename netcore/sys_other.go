//go:build !linux

package netcore

import (
	"errors"
	"time"
)

// pinThread: CPU affinity is set only on Linux.
func pinThread(cpu int) error { return errors.New("netcore: pinning to a CPU needs Linux") }

func napNanosleep(d time.Duration) { time.Sleep(d) }
