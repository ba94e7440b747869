package netcore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringonet/ringo/netcore/skb"
)

// Defaults, as the kernel's sysctls.
const (
	DefaultBudget      = 300                  // net.core.netdev_budget
	DefaultBudgetUsecs = 2 * time.Millisecond // net.core.netdev_budget_usecs
	DefaultMaxBacklog  = 1000                 // net.core.netdev_max_backlog
	DefaultWeight      = 64                   // NAPI_POLL_WEIGHT and net.core.dev_weight
	DefaultTxQueueLen  = 1000                 // txqueuelen
	DefaultTxWeight    = 64                   // net.core.dev_weight_tx_bias * dev_weight
)

// Config sets up a Core. Zero fields take the defaults above.
type Config struct {
	CPUs        int           // softnet instances, each a goroutine locked to an OS thread
	Budget      int           // packets per net_rx_action
	BudgetUsecs time.Duration // time per net_rx_action
	MaxBacklog  int           // per-CPU input_pkt_queue bound
	DevWeight   int           // the backlog NAPI's weight
	RPS         bool          // steer backlog packets to a CPU by flow hash
	PinCPUs     bool          // pin softnet thread i to CPU i (sched_setaffinity)
	Logger      *slog.Logger
	// XmitYield is how often at most a sender yields the processor to
	// the interrupts and softirqs it raised (see maybeYield): 0 gives
	// DefaultXmitYield; negative yields at every look.
	XmitYield time.Duration
	// BusyPollSleep and BusyPollNap are how an idle busy poller sleeps
	// (time.Sleep) and naps inside its idle time (nanosleep(2)) when
	// nil; tests count the calls.
	BusyPollSleep, BusyPollNap func(time.Duration)
}

// DefaultXmitYield: on the host 200 µs is over a thousand frames, under
// emulation a few.
const DefaultXmitYield = 200 * time.Microsecond

// Core is one network core: its softnets, devices and protocol handlers.
type Core struct {
	cfg  Config
	cpus []*Softnet
	log  *slog.Logger

	// Receive dispatch tables, read on every packet without a lock:
	// replaced whole (copy on write) under mu.
	ptypeAll  atomic.Pointer[[]*Tap]
	ptypeBase atomic.Pointer[map[uint16]PacketHandler]
	rxFlush   atomic.Pointer[[]func()]
	irqPoll   atomic.Pointer[func()]

	mu      sync.Mutex // guards devs, the tables' writers
	devs    []*Device
	nextIdx int

	stop   chan struct{}
	closed atomic.Bool
	wg     sync.WaitGroup
}

// SetIRQPoll installs the interrupt controller's poll (irq.Bridge.Poll):
// a function that runs the hardirq handler of every line that fired. The
// core calls it where a long-running path yields the processor (a sender
// every Config.XmitYield, a squeezed net_rx_action), so that a
// goroutine that never blocks does not hold interrupts off: in Linux a
// hardirq preempts it, and here an interrupt goroutine waits in Go's
// poller, which the scheduler looks at only when it has nothing else to
// run. Drivers that request interrupt lines set it; fn must be safe from
// any goroutine and must not block.
func (c *Core) SetIRQPoll(fn func()) {
	if fn == nil {
		c.irqPoll.Store(nil)
		return
	}
	c.irqPoll.Store(&fn)
}

// pollIRQs runs the installed interrupt poll, if any.
func (c *Core) pollIRQs() {
	if fn := c.irqPoll.Load(); fn != nil {
		(*fn)()
	}
}

// AddRxFlush registers fn to run in softirq context at the end of each
// net_rx_action round, after its NAPI polls: where GRO flushes in Linux,
// a protocol finishes what it gathered over the batch (TCP sends the
// ACKs it held back). fn must not block.
func (c *Core) AddRxFlush(fn func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var fns []func()
	if old := c.rxFlush.Load(); old != nil {
		fns = append(fns, *old...)
	}
	fns = append(fns, fn)
	c.rxFlush.Store(&fns)
}

// PacketHandler receives a packet of one ethertype in softirq context. It
// owns skb and must free it (or pass it on).
type PacketHandler func(b *skb.Buff)

// Tap sees every frame in both directions (Linux's ptype_all: packet
// sockets, tcpdump). It runs in the context of the path that saw the frame
// and must not keep frame; it copies what it needs.
type Tap struct {
	Func func(dev *Device, frame []byte, dir skb.PktType, stamp time.Time)
}

// New starts a Core: one softnet goroutine per CPU and a TX watchdog.
func New(cfg Config) *Core {
	if cfg.CPUs <= 0 {
		cfg.CPUs = 1
	}
	if cfg.Budget <= 0 {
		cfg.Budget = DefaultBudget
	}
	if cfg.BudgetUsecs <= 0 {
		cfg.BudgetUsecs = DefaultBudgetUsecs
	}
	if cfg.MaxBacklog <= 0 {
		cfg.MaxBacklog = DefaultMaxBacklog
	}
	if cfg.DevWeight <= 0 {
		cfg.DevWeight = DefaultWeight
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	switch {
	case cfg.XmitYield == 0:
		cfg.XmitYield = DefaultXmitYield
	case cfg.XmitYield < 0:
		cfg.XmitYield = 0
	}
	if cfg.BusyPollSleep == nil {
		cfg.BusyPollSleep = time.Sleep
	}
	if cfg.BusyPollNap == nil {
		cfg.BusyPollNap = napNanosleep
	}
	c := &Core{cfg: cfg, log: cfg.Logger, stop: make(chan struct{}), nextIdx: 1}
	empty := map[uint16]PacketHandler{}
	c.ptypeBase.Store(&empty)
	c.ptypeAll.Store(&[]*Tap{})
	for i := 0; i < cfg.CPUs; i++ {
		c.cpus = append(c.cpus, newSoftnet(c, i))
	}
	for _, sd := range c.cpus {
		c.wg.Add(1)
		go sd.run()
	}
	c.wg.Add(1)
	go c.watchdog()
	return c
}

// Close stops every device and the softnet goroutines. A second Close
// does nothing.
func (c *Core) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return nil
	}
	c.mu.Lock()
	devs := append([]*Device(nil), c.devs...)
	c.mu.Unlock()
	var errs []error
	for _, d := range devs {
		if d.IsUp() {
			errs = append(errs, d.Down())
		}
	}
	close(c.stop)
	c.wg.Wait()
	for _, sd := range c.cpus {
		sd.purge()
	}
	return errors.Join(errs...)
}

// Quiesce waits until the core is idle: every softnet has run what was
// raised before, and a further round found nothing waiting — no packet in
// a backlog, no NAPI on a poll list, no device waiting for NET_TX, nothing
// in a qdisc or being sent from one. A frame one device sends to another
// through the core (a pipe, a loopback route) is followed to its end, and
// whatever that delivery sent in turn. Work that comes from outside the
// core afterwards (an interrupt, a protocol timer) is not waited for.
// Tests use it to check what a frame did, or that it did nothing, without
// sleeping.
func (c *Core) Quiesce(ctx context.Context) error { return Quiesce(ctx, c) }

// Quiesce is Core.Quiesce over several cores at once, for hosts whose
// devices are joined by in-memory links: it returns when a round over all
// of them found every one idle and none had done anything meanwhile.
func Quiesce(ctx context.Context, cores ...*Core) error {
	for {
		var before, after uint64
		for _, c := range cores {
			before += c.work()
		}
		for _, c := range cores {
			for _, sd := range c.cpus {
				select {
				case <-sd.barrier():
				case <-c.stop:
					return errors.New("netcore: quiesce: core closed")
				case <-ctx.Done():
					return fmt.Errorf("netcore: quiesce: %w", ctx.Err())
				}
			}
		}
		idle := true
		for _, c := range cores {
			idle = idle && c.idle()
			after += c.work()
		}
		if idle && after == before {
			return nil
		}
	}
}

func (c *Core) work() uint64 {
	var n uint64
	for _, sd := range c.cpus {
		n += sd.work()
	}
	return n
}

func (c *Core) idle() bool {
	for _, sd := range c.cpus {
		if !sd.idle() {
			return false
		}
	}
	for _, d := range c.Devices() {
		if d.qdisc.Len() > 0 || d.qdiscBusy.Load() {
			return false
		}
	}
	return true
}

// Config returns the settings in force.
func (c *Core) Config() Config { return c.cfg }

// CPUs is the number of softnets.
func (c *Core) CPUs() int { return len(c.cpus) }

// Softnet returns softnet i.
func (c *Core) Softnet(i int) *Softnet { return c.cpus[i] }

// AddPacketType registers the handler for an ethertype (dev_add_pack),
// replacing any earlier one.
func (c *Core) AddPacketType(ethertype uint16, h PacketHandler) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := *c.ptypeBase.Load()
	m := make(map[uint16]PacketHandler, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[ethertype] = h
	c.ptypeBase.Store(&m)
}

// AddTap registers a tap and returns the function that removes it.
func (c *Core) AddTap(t *Tap) (remove func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := *c.ptypeAll.Load()
	taps := append(append([]*Tap(nil), old...), t)
	c.ptypeAll.Store(&taps)
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		var keep []*Tap
		for _, o := range *c.ptypeAll.Load() {
			if o != t {
				keep = append(keep, o)
			}
		}
		c.ptypeAll.Store(&keep)
	}
}

func (c *Core) runTaps(dev *Device, frame []byte, dir skb.PktType, stamp time.Time) {
	for _, t := range *c.ptypeAll.Load() {
		t.Func(dev, frame, dir, stamp)
	}
}

// Devices lists the registered devices in index order.
func (c *Core) Devices() []*Device {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Device(nil), c.devs...)
}

// DeviceByName finds a registered device.
func (c *Core) DeviceByName(name string) *Device {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, d := range c.devs {
		if d.Name == name {
			return d
		}
	}
	return nil
}

// watchdog is dev_watchdog: a device whose queue has been stopped longer
// than its WatchdogTimeout gets its driver's TxTimeout.
func (c *Core) watchdog() {
	defer c.wg.Done()
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case now := <-t.C:
			for _, d := range c.Devices() {
				d.checkTxTimeout(now)
			}
		}
	}
}
