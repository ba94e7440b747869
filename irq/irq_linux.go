// Package irq is the bridge from device interrupts to the network core's
// softirqs. Each interrupt source (a VFIO eventfd) gets a goroutine that
// blocks in poll(2) on the eventfd. It is not locked to a thread: when the
// line fires the goroutine runs on whatever thread has a processor, counts
// the interrupt, runs the driver's hardirq handler (which typically masks
// the device and schedules NAPI, or pulls frames and calls netif_rx),
// re-arms the source (VFIO INTx unmask), and yields before it waits again.
//
// The yield matters with GOMAXPROCS=1 (a one-vCPU guest): a goroutine in a
// system call keeps its P until Go's sysmon takes it back, 20 us to 10 ms
// later, so the softnet the handler just woke would wait that long behind
// an idle poll(2). Yielding first lets the softnet (and what it wakes) run
// before the wait: BenchmarkLatencyOneP, an interrupt to a woken goroutine
// and back, 5-9 us with the yields against 125-140 us without on this
// project's machines; in a QEMU guest the NE2000's receive rates went up
// 1.5-4x. It yields twice (see thread): with one yield, pcaps of ringo
// sending TCP over an NE2000 showed a pause of 8-14 ms after an ACK about
// every 60 segments.
//
// One thread per source, or one epoll loop for all (EpollBridge)? Measured
// on this project's 2-core machines (BenchmarkLatency*, eventfd write to
// handler and back): with one busy line both take 32 µs; with four lines
// firing at once the epoll loop takes 11 µs per interrupt against 45-50 µs,
// because one wake-up serves every ready line while four threads contend
// for two cores. The drivers use a thread per line all the same: a host
// has one or two NICs, where the two are even, and a slow handler (the
// NE2000 pulls whole frames by port I/O inside it) must not hold up
// another NIC's interrupt. With many NICs on few cores, EpollBridge wins.
package irq

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/ringonet/ringo/vfio"
)

// Handler is a driver's hardirq handler. It returns false if the device did
// not raise the interrupt (a shared line; e1000's ICR read as 0), which is
// counted as spurious.
type Handler func() bool

// Line is one registered interrupt source.
type Line struct {
	Name string
	CPU  int // the softnet its handler raises work on (for display)

	src     vfio.InterruptSource
	handler Handler

	count    atomic.Uint64
	spurious atomic.Uint64
	errors   atomic.Uint64
}

// Count is how many times the source fired.
func (l *Line) Count() uint64 { return l.count.Load() }

// Spurious is how many of those the handler did not claim.
func (l *Line) Spurious() uint64 { return l.spurious.Load() }

// Bridge runs the interrupt threads.
type Bridge struct {
	log    *slog.Logger
	stopFd int

	mu    sync.Mutex
	lines []*Line
	wg    sync.WaitGroup
}

// New makes a bridge.
func New(log *slog.Logger) (*Bridge, error) {
	if log == nil {
		log = slog.Default()
	}
	fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("irq: eventfd: %w", err)
	}
	return &Bridge{log: log, stopFd: fd}, nil
}

// Request starts delivering src's interrupts to h (request_irq). The source
// is re-armed after each call of h.
func (b *Bridge) Request(name string, cpu int, src vfio.InterruptSource, h Handler) *Line {
	l := &Line{Name: name, CPU: cpu, src: src, handler: h}
	b.mu.Lock()
	b.lines = append(b.lines, l)
	b.mu.Unlock()
	b.wg.Add(1)
	go b.thread(l)
	return l
}

func (b *Bridge) thread(l *Line) {
	defer b.wg.Done()
	fds := []unix.PollFd{{Fd: int32(l.src.Fd()), Events: unix.POLLIN}, {Fd: int32(b.stopFd), Events: unix.POLLIN}}
	var buf [8]byte
	for {
		fds[0].Revents, fds[1].Revents = 0, 0
		if _, err := unix.Poll(fds, -1); err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			b.log.Error("irq: poll failed; line dead", "line", l.Name, "err", err)
			return
		}
		if fds[1].Revents != 0 {
			return
		}
		if fds[0].Revents == 0 {
			continue
		}
		// Reading the eventfd resets its counter: several interrupts
		// since the last read are one wake-up, as on a real line.
		if _, err := unix.Read(l.src.Fd(), buf[:]); err != nil && !errors.Is(err, unix.EAGAIN) {
			l.errors.Add(1)
			continue
		}
		l.count.Add(1)
		if !l.handler() {
			l.spurious.Add(1)
		}
		if err := l.src.Unmask(); err != nil {
			l.errors.Add(1)
			b.log.Error("irq: unmask", "line", l.Name, "err", err)
		}
		// Let what the handler woke (the softnet) run before this
		// goroutine blocks in poll(2) holding the P. Twice: Gosched puts
		// it on the global run queue, and every 61st schedule takes from
		// there ahead of the local queue, so one interrupt in 61 came
		// straight back and blocked with the softnet or the application
		// still runnable behind it, for a sysmon tick (up to 10 ms). A
		// second yield leaves that to two such picks in a row.
		runtime.Gosched()
		runtime.Gosched()
	}
}

// Close stops every interrupt thread. Sources stay open: they belong to
// their devices.
func (b *Bridge) Close() error {
	one := [8]byte{1}
	if _, err := unix.Write(b.stopFd, one[:]); err != nil {
		return fmt.Errorf("irq: stop: %w", err)
	}
	b.wg.Wait()
	return unix.Close(b.stopFd)
}

// Lines lists the registered sources by name.
func (b *Bridge) Lines() []*Line {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := append([]*Line(nil), b.lines...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// WriteInterrupts prints counts like /proc/interrupts.
func (b *Bridge) WriteInterrupts(w io.Writer) error {
	for i, l := range b.Lines() {
		if _, err := fmt.Fprintf(w, "%3d: %10d %10d  cpu%d  vfio-intx  %s\n", i, l.Count(), l.Spurious(), l.CPU, l.Name); err != nil {
			return err
		}
	}
	return nil
}
