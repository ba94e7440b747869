package irq

import (
	"errors"
	"fmt"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/ringonet/ringo/vfio"
)

// EpollBridge is the alternative design: one thread waits on every line
// with epoll and runs the handlers one after another. It exists to be
// measured against Bridge (BenchmarkLatency*); Bridge is what the drivers
// use. It offers the same Request and Close.
type EpollBridge struct {
	epfd   int
	stopFd int
	mu     sync.Mutex
	lines  map[int32]*Line
	wg     sync.WaitGroup
}

// NewEpoll starts the epoll thread.
func NewEpoll() (*EpollBridge, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("irq: epoll: %w", err)
	}
	stop, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("irq: eventfd: %w", err)
	}
	b := &EpollBridge{epfd: epfd, stopFd: stop, lines: map[int32]*Line{}}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, stop, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(stop)}); err != nil {
		return nil, err
	}
	b.wg.Add(1)
	go b.loop()
	return b, nil
}

// Request adds a line.
func (b *EpollBridge) Request(name string, cpu int, src vfio.InterruptSource, h Handler) (*Line, error) {
	l := &Line{Name: name, CPU: cpu, src: src, handler: h}
	b.mu.Lock()
	b.lines[int32(src.Fd())] = l
	b.mu.Unlock()
	if err := unix.EpollCtl(b.epfd, unix.EPOLL_CTL_ADD, src.Fd(), &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(src.Fd())}); err != nil {
		return nil, fmt.Errorf("irq: epoll add %s: %w", name, err)
	}
	return l, nil
}

func (b *EpollBridge) loop() {
	defer b.wg.Done()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	events := make([]unix.EpollEvent, 16)
	var buf [8]byte
	for {
		n, err := unix.EpollWait(b.epfd, events, -1)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return
		}
		for _, ev := range events[:n] {
			if ev.Fd == int32(b.stopFd) {
				return
			}
			b.mu.Lock()
			l := b.lines[ev.Fd]
			b.mu.Unlock()
			if l == nil {
				continue
			}
			unix.Read(int(ev.Fd), buf[:])
			l.count.Add(1)
			if !l.handler() {
				l.spurious.Add(1)
			}
			if err := l.src.Unmask(); err != nil {
				l.errors.Add(1)
			}
		}
		runtime.Gosched() // as Bridge: what the handlers woke runs first
	}
}

// Close stops the thread.
func (b *EpollBridge) Close() error {
	one := [8]byte{1}
	unix.Write(b.stopFd, one[:])
	b.wg.Wait()
	unix.Close(b.stopFd)
	return unix.Close(b.epfd)
}
