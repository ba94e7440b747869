package irq

import (
	"fmt"
	"runtime"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// benchLatency fires n lines in turn and waits for each handler: the
// interrupt-to-handler round trip, the cost the bridge adds per interrupt.
func benchLatency(b *testing.B, lines int) {
	srcs := make([]*fakeSource, lines)
	done := make([]chan struct{}, lines)
	for i := range srcs {
		fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
		if err != nil {
			b.Fatal(err)
		}
		defer unix.Close(fd)
		srcs[i] = &fakeSource{fd: fd}
		done[i] = make(chan struct{}, 1)
	}
	br, err := New(nil)
	if err != nil {
		b.Fatal(err)
	}
	for i, s := range srcs {
		ch := done[i]
		if _, err := br.Request(fmt.Sprint(i), 0, s, func() bool { ch <- struct{}{}; return true }); err != nil {
			b.Fatal(err)
		}
	}
	defer br.Close()
	one := [8]byte{1}
	b.ResetTimer()
	var wg sync.WaitGroup
	per := b.N/lines + 1
	for i := range srcs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for k := 0; k < per; k++ {
				unix.Write(srcs[i].fd, one[:])
				<-done[i]
			}
		}(i)
	}
	wg.Wait()
}

func BenchmarkLatency1(b *testing.B) { benchLatency(b, 1) }
func BenchmarkLatency4(b *testing.B) { benchLatency(b, 4) }

// BenchmarkLatencyOneP is the one-line round trip with GOMAXPROCS=1, as in
// a one-vCPU guest: the goroutine the handler wakes runs only once the
// interrupt goroutine gives up the P. Parked in the poller it holds none
// (a goroutine blocked in poll(2) held it until sysmon took it: 125-140 us
// with nothing else done, 5-9 us when it yielded twice before waiting).
func BenchmarkLatencyOneP(b *testing.B) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	benchLatency(b, 1)
}
