// Package irq is the bridge from device interrupts to the network core's
// softirqs. Each interrupt source (a VFIO eventfd) gets a goroutine that
// waits for it in Go's network poller. When the line fires the goroutine
// counts the interrupt, runs the driver's hardirq handler (which typically
// masks the device and schedules NAPI, or pulls frames and calls
// netif_rx) and re-arms the source (VFIO INTx unmask).
//
// Why the poller, and not a goroutine blocked in poll(2): a goroutine in a
// system call keeps its P until Go's sysmon takes it back, 20 us to 10 ms
// later. With GOMAXPROCS=1 (a one-vCPU guest) whatever was runnable when
// the interrupt goroutine went back to poll(2) (the softnet its handler
// had woken, an application sending) waited that long: pcaps of ringo
// sending TCP over an NE2000 showed pauses of 8-14 ms. A goroutine parked
// in the poller holds no P.
//
// The poller has its own gap: the scheduler looks at it only when it has
// nothing else to run (or sysmon, every 10 ms), so a goroutine that never
// blocks (a sender whose driver completes each frame at once, a softnet
// working through a backlog) would hold interrupts off. In Linux a
// hardirq preempts whatever runs; here the long-running paths of the core
// call Poll where they yield (netcore.Core.SetIRQPoll), and Poll runs the
// handler of any line that fired on the caller's goroutine, as a hardirq
// runs on the interrupted context. A per-line lock keeps one handler at a
// time.
//
// Go's poller is one epoll set for the process, so a goroutine per line
// costs no thread and one wake-up serves every line that fired; it was
// the fastest of the designs measured (docs/design-notes.md).
package irq

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

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
	log     *slog.Logger

	// mu is held while the handler runs (the irq descriptor's lock): by
	// the line's goroutine or by Poll on another's.
	mu   sync.Mutex
	fd   int     // the bridge's duplicate of the eventfd, read by Poll under mu
	dead bool    // under mu: Close has begun; fd is not to be read
	buf  [8]byte // the eventfd counter, read under mu

	count    atomic.Uint64
	spurious atomic.Uint64
	polled   atomic.Uint64
	errors   atomic.Uint64
	reads    atomic.Uint64 // eventfd reads by the line's goroutine
}

// Kind is the source's interrupt type as /proc/interrupts names it
// ("vfio-intx", "vfio-msix"), if the source says.
func (l *Line) Kind() string {
	if k, ok := l.src.(interface{ Kind() string }); ok {
		return k.Kind()
	}
	return "eventfd"
}

// Count is how many times the source fired.
func (l *Line) Count() uint64 { return l.count.Load() }

// Spurious is how many of those the handler did not claim.
func (l *Line) Spurious() uint64 { return l.spurious.Load() }

// Polled is how many of those Poll served, not the line's goroutine.
func (l *Line) Polled() uint64 { return l.polled.Load() }

// Poll serves the line on the caller's goroutine if it has fired since it
// was last served, and says whether it had. It is how a busy poller looks
// at a device whose own status costs a port access (a VM exit on an
// emulated card, a slow bus cycle on a real one): the eventfd the kernel
// signals is memory. The handler runs under the line's lock, so the
// line's goroutine and Poll never serve one firing twice.
func (l *Line) Poll() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.pollLocked()
}

// pollLocked serves the line if it fired: one non-blocking read of its
// eventfd, unless the bridge is closing.
func (l *Line) pollLocked() bool {
	if l.dead {
		return false
	}
	if _, err := readEventfd(l.fd, &l.buf); err != nil {
		return false
	}
	l.polled.Add(1)
	l.serviceLocked()
	return true
}

// serviceLocked runs the handler for one firing and re-arms the source.
func (l *Line) serviceLocked() {
	l.count.Add(1)
	if !l.handler() {
		l.spurious.Add(1)
	}
	if err := l.src.Unmask(); err != nil {
		l.errors.Add(1)
		l.log.Error("irq: unmask", "line", l.Name, "err", err)
	}
}

// Bridge runs the interrupt threads.
type Bridge struct {
	log *slog.Logger

	mu     sync.Mutex // guards lines' writers, files, closed
	lines  atomic.Pointer[[]*Line]
	files  []*os.File // the lines' eventfds as the poller holds them
	closed bool
	wg     sync.WaitGroup
}

// New makes a bridge.
func New(log *slog.Logger) (*Bridge, error) {
	if log == nil {
		log = slog.Default()
	}
	return &Bridge{log: log}, nil
}

// Request starts delivering src's interrupts to h (request_irq). The source
// is re-armed after each call of h. src's eventfd must be non-blocking (as
// vfio makes them); the bridge waits on a duplicate of it, so the source
// keeps its own descriptor.
func (b *Bridge) Request(name string, cpu int, src vfio.InterruptSource, h Handler) (*Line, error) {
	fd, err := unix.FcntlInt(uintptr(src.Fd()), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("irq: %s: dup eventfd: %w", name, err)
	}
	if fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0); err != nil || fl&unix.O_NONBLOCK == 0 {
		unix.Close(fd)
		return nil, fmt.Errorf("irq: %s: eventfd %d is not non-blocking", name, src.Fd())
	}
	f := os.NewFile(uintptr(fd), "irq-"+name)
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("irq: %s: %w", name, err)
	}
	l := &Line{Name: name, CPU: cpu, src: src, handler: h, log: b.log, fd: fd}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		f.Close()
		return nil, fmt.Errorf("irq: %s: bridge closed", name)
	}
	var lines []*Line
	if old := b.lines.Load(); old != nil {
		lines = append(lines, *old...)
	}
	lines = append(lines, l)
	b.lines.Store(&lines)
	b.files = append(b.files, f)
	b.wg.Add(1)
	go b.thread(l, rc)
	return l, nil
}

// Poll serves, on the caller's goroutine, every line that has fired and
// whose handler is not running elsewhere: the core's long-running paths
// call it where they yield, so that interrupts are not held off until the
// scheduler next has nothing to do. One non-blocking read per line.
func (b *Bridge) Poll() {
	lines := b.lines.Load()
	if lines == nil {
		return
	}
	for _, l := range *lines {
		if !l.mu.TryLock() {
			continue
		}
		l.pollLocked()
		l.mu.Unlock()
	}
}

func (b *Bridge) thread(l *Line, rc syscall.RawConn) {
	defer b.wg.Done()
	// Reading the eventfd resets its counter: several interrupts since
	// the last read are one wake-up, as on a real line. The handler runs
	// inside the one RawConn.Read of the line's life, which then goes
	// straight back to the poller: one read(2) per interrupt, where a
	// RawConn.Read per interrupt would make two (its first attempt, done
	// before it waits, finds the counter at 0). No wake-up is lost: the
	// poller's readiness for the descriptor is cleared only when Read
	// begins, so an interrupt during the handler wakes the wait at once.
	// Poll may have read the counter first; then the read finds 0 and
	// the goroutine parks again. (One closure for the line's life:
	// nothing allocated per interrupt.)
	var buf [8]byte
	var rerr error
	serve := func(fd uintptr) bool {
		l.reads.Add(1)
		_, err := readEventfd(int(fd), &buf)
		switch {
		case errors.Is(err, unix.EAGAIN):
			return false
		case err != nil:
			rerr = err
			return true
		}
		l.mu.Lock()
		l.serviceLocked()
		l.mu.Unlock()
		return false
	}
	if err := rc.Read(serve); err != nil {
		return // the bridge closed the file
	}
	l.errors.Add(1)
	b.log.Error("irq: read eventfd failed; line dead", "line", l.Name, "err", rerr)
}

// readEventfd reads an eventfd's counter as a raw system call: the
// descriptor is non-blocking, so the call never waits, and the
// scheduler's system-call hooks (entersyscall) wake sysmon when the
// program was idle until the interrupt — a futex wake and a thread
// switch each time, 9% of the process's CPU in a guest profile of UDP
// received at a peer's sendto pace, with vfio's INTx unmask (raw too).
func readEventfd(fd int, buf *[8]byte) (int, error) {
	n, _, errno := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(buf)), uintptr(len(buf)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// Close stops every line's goroutine. Sources stay open: they belong to
// their devices.
func (b *Bridge) Close() error {
	b.mu.Lock()
	b.closed = true
	// Poll reads the descriptors outside the files' own locking: mark
	// every line dead, under its lock, before a descriptor is closed
	// (and its number perhaps reused).
	if lines := b.lines.Load(); lines != nil {
		for _, l := range *lines {
			l.mu.Lock()
			l.dead = true
			l.mu.Unlock()
		}
	}
	var errs []error
	for _, f := range b.files {
		errs = append(errs, f.Close())
	}
	b.files = nil
	b.mu.Unlock()
	b.wg.Wait()
	return errors.Join(errs...)
}

// Lines lists the registered sources by name.
func (b *Bridge) Lines() []*Line {
	var out []*Line
	if lines := b.lines.Load(); lines != nil {
		out = append(out, *lines...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// WriteInterrupts prints counts like /proc/interrupts.
func (b *Bridge) WriteInterrupts(w io.Writer) error {
	for i, l := range b.Lines() {
		if _, err := fmt.Fprintf(w, "%3d: %10d %10d  cpu%d  %-10s %s\n", i, l.Count(), l.Spurious(), l.CPU, l.Kind(), l.Name); err != nil {
			return err
		}
	}
	return nil
}
