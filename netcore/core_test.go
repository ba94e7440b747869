package netcore

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringonet/ringo/netcore/skb"
)

const testEthertype = 0x88b5 // IEEE 802 local experimental

// fakeNIC is a NAPI device whose "hardware" holds pending frames, and
// whose transmit ring holds txCap frames until complete() drains it.
type fakeNIC struct {
	t       testing.TB
	dev     *Device
	napi    *NAPI
	pending atomic.Int64
	seq     atomic.Uint32 // sequence number written into each received frame

	mu      sync.Mutex
	budgets []int // budget of each poll
	txRing  []*skb.Buff
	txCap   int
	sent    []*skb.Buff // frames the "wire" got, in order
	opened  bool
}

func newFakeNIC(t testing.TB, c *Core, name string, cpu, weight int) *fakeNIC {
	f := &fakeNIC{t: t, txCap: 4}
	var err error
	f.dev, err = c.Register(DeviceConfig{Name: name, HardwareAddr: []byte{2, 0, 0, 0, 0, byte(len(name))}, CPU: cpu, Kind: "fake"}, f)
	require.NoError(t, err)
	f.napi = f.dev.NetifNAPIAdd(f.poll, weight)
	require.NoError(t, f.dev.Up())
	return f
}

func (f *fakeNIC) Open() error { f.opened = true; f.dev.NetifCarrierOn(); return nil }
func (f *fakeNIC) Stop() error { f.opened = false; return nil }

func (f *fakeNIC) StartXmit(b *skb.Buff) TxStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.txRing) >= f.txCap {
		return TxBusy
	}
	f.txRing = append(f.txRing, b)
	if len(f.txRing) == f.txCap {
		f.dev.NetifStopQueue()
	}
	return TxOK
}

// complete is the TX-done interrupt: the ring drains, the queue wakes.
func (f *fakeNIC) complete() {
	f.mu.Lock()
	f.sent = append(f.sent, f.txRing...)
	f.txRing = f.txRing[:0]
	f.mu.Unlock()
	f.dev.NetifWakeQueue()
}

// arrive makes n frames pending and raises the "interrupt".
func (f *fakeNIC) arrive(n int) {
	f.pending.Add(int64(n))
	f.napi.Schedule()
}

func (f *fakeNIC) poll(budget int) int {
	f.mu.Lock()
	f.budgets = append(f.budgets, budget)
	f.mu.Unlock()
	work := 0
	for work < budget && f.pending.Load() > 0 {
		f.pending.Add(-1)
		f.napi.ReceiveSkb(testFrame(f.dev, f.seq.Add(1)))
		work++
	}
	if work < budget {
		f.napi.Complete()
	}
	return work
}

// testFrame builds a 60-byte frame to dev carrying seq, as a driver would
// after eth_type_trans.
func testFrame(dev *Device, seq uint32) *skb.Buff {
	b := skb.Alloc(60)
	p := b.Put(60)
	copy(p[0:6], dev.HardwareAddr)
	copy(p[6:12], []byte{2, 9, 9, 9, 9, 9})
	binary.BigEndian.PutUint16(p[12:14], testEthertype)
	binary.BigEndian.PutUint32(p[14:18], seq)
	dev.EthTypeTrans(b)
	return b
}

// sink is a protocol handler that counts what it gets per device.
type sink struct {
	mu    sync.Mutex
	byDev map[string]int
	order []string // device of each packet, in delivery order
	seqs  []uint32
	total atomic.Int64
	hold  chan struct{} // if set, the first packet blocks on it
	held  chan struct{}
}

func newSink(c *Core) *sink {
	s := &sink{byDev: map[string]int{}}
	c.AddPacketType(testEthertype, s.handle)
	return s
}

func (s *sink) handle(b *skb.Buff) {
	if s.total.Add(1) == 1 && s.hold != nil {
		close(s.held)
		<-s.hold
	}
	s.mu.Lock()
	s.byDev[b.Dev.(*Device).Name]++
	s.order = append(s.order, b.Dev.(*Device).Name)
	s.seqs = append(s.seqs, binary.BigEndian.Uint32(b.Data()))
	s.mu.Unlock()
	b.Free()
}

func (s *sink) count(dev string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byDev[dev]
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// quiesce waits until the core has done everything it was given.
func quiesce(t testing.TB, c *Core) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, c.Quiesce(ctx))
}

// Quiesce returns only when every frame given to the core has gone all
// the way through: NAPI polls over many squeezed rounds on two CPUs, and
// the backlog, with a handler slow enough that a return on the first
// empty look would miss most of them.
func TestQuiesce(t *testing.T) {
	c := newCore(t, Config{CPUs: 2, Budget: 20, BudgetUsecs: time.Hour})
	var total atomic.Int64
	c.AddPacketType(testEthertype, func(b *skb.Buff) {
		for end := time.Now().Add(5 * time.Microsecond); time.Now().Before(end); {
		}
		total.Add(1)
		b.Free()
	})
	f0 := newFakeNIC(t, c, "eth0", 0, 8)
	f1 := newFakeNIC(t, c, "eth1", 1, 8)
	f0.arrive(500)
	f1.arrive(500)
	for i := 0; i < 200; i++ {
		b := skb.Alloc(64)
		binary.BigEndian.PutUint16(b.Put(64)[12:], testEthertype)
		require.True(t, f0.dev.EthTypeTrans(b))
		f0.dev.NetifRx(b)
	}
	quiesce(t, c)
	assert.EqualValues(t, 1200, total.Load(), "all delivered before Quiesce returned")
	quiesce(t, c) // an idle core returns at once
	c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	assert.ErrorContains(t, c.Quiesce(ctx), "core closed")
}

func newCore(t testing.TB, cfg Config) *Core {
	cfg.Logger = slog.New(slog.DiscardHandler)
	c := New(cfg)
	t.Cleanup(func() { c.Close() })
	return c
}

// A device with more packets than the budget is polled over several
// net_rx_action rounds; each round that runs out of budget is a squeeze.
func TestBudgetSqueeze(t *testing.T) {
	c := newCore(t, Config{Budget: 50, BudgetUsecs: time.Hour})
	s := newSink(c)
	f := newFakeNIC(t, c, "eth0", 0, 64)
	f.arrive(1000)
	waitFor(t, "1000 packets", func() bool { return s.total.Load() == 1000 })
	waitFor(t, "poll list empty", func() bool { return f.napi.state.Load() == 0 })

	st := c.Softnet(0).Stat()
	assert.EqualValues(t, 1000, st.Processed)
	// 15 rounds of 64 overrun the budget of 50; the 16th does the last 40.
	assert.EqualValues(t, 15, st.TimeSqueeze)
	assert.EqualValues(t, 16, f.napi.Polls())
	assert.EqualValues(t, 1000, f.dev.Stats.RxPackets.Load())
}

// The time limit squeezes too, whatever budget is left.
func TestTimeLimitSqueeze(t *testing.T) {
	c := newCore(t, Config{Budget: 1 << 30, BudgetUsecs: time.Millisecond})
	s := newSink(c)
	slow := newFakeNIC(t, c, "slow", 0, 4)
	fast := newFakeNIC(t, c, "fast", 0, 4)
	c.AddPacketType(testEthertype, func(b *skb.Buff) {
		time.Sleep(200 * time.Microsecond)
		s.handle(b)
	})
	slow.arrive(40)
	fast.arrive(40)
	waitFor(t, "80 packets", func() bool { return s.total.Load() == 80 })
	assert.Greater(t, c.Softnet(0).Stat().TimeSqueeze, uint64(0))
}

// Every poll gets the device's own weight as its budget, and devices on one
// softnet take turns: each is polled once per round.
func TestWeightsAndFairness(t *testing.T) {
	c := newCore(t, Config{Budget: 1000, BudgetUsecs: time.Hour})
	s := newSink(c)
	a := newFakeNIC(t, c, "a", 0, 64)
	b := newFakeNIC(t, c, "b", 0, 16)
	s.hold, s.held = make(chan struct{}), make(chan struct{})
	a.arrive(640)
	<-s.held // the softnet is busy: b's schedule lands on the list behind a
	b.arrive(640)
	close(s.hold)
	waitFor(t, "1280 packets", func() bool { return s.total.Load() == 1280 })
	// While both had work, a got 4x b's share.
	s.mu.Lock()
	var na, nb int
	for _, d := range s.order {
		if d == "a" {
			na++
		} else {
			nb++
		}
		if na == 640 {
			break
		}
	}
	s.mu.Unlock()
	assert.InDelta(t, 160, nb, 16, "b (weight 16) got %d while a (weight 64) got 640", nb)

	a.mu.Lock()
	for _, bud := range a.budgets {
		assert.Equal(t, 64, bud)
	}
	a.mu.Unlock()
	b.mu.Lock()
	for _, bud := range b.budgets {
		assert.Equal(t, 16, bud)
	}
	b.mu.Unlock()
}

// A poll that does less than its weight completes and is not polled again
// until the next interrupt.
func TestCompleteStopsPolling(t *testing.T) {
	c := newCore(t, Config{})
	s := newSink(c)
	f := newFakeNIC(t, c, "eth0", 0, 64)
	f.arrive(10)
	waitFor(t, "10 packets", func() bool { return s.total.Load() == 10 })
	waitFor(t, "complete", func() bool { return f.napi.state.Load() == 0 })
	quiesce(t, c) // the softnet had its chance to poll again
	assert.EqualValues(t, 1, f.napi.Polls())
	f.arrive(5)
	waitFor(t, "15 packets", func() bool { return s.total.Load() == 15 })
	assert.EqualValues(t, 2, f.napi.Polls())
	assert.Zero(t, f.napi.misuse.Load())
}

// netif_rx queues on the backlog; past netdev_max_backlog packets are
// dropped and counted, and the rest are delivered in order.
func TestBacklogBound(t *testing.T) {
	c := newCore(t, Config{MaxBacklog: 10})
	s := newSink(c)
	s.hold, s.held = make(chan struct{}), make(chan struct{})
	f := newFakeNIC(t, c, "ne0", 0, 64)
	require.True(t, f.dev.NetifRx(testFrame(f.dev, 0)))
	<-s.held // process_backlog is inside the handler with packet 0
	queued := 0
	for i := 1; i <= 25; i++ {
		if f.dev.NetifRx(testFrame(f.dev, uint32(i))) {
			queued++
		}
	}
	assert.Equal(t, 10, queued)
	close(s.hold)
	waitFor(t, "11 packets", func() bool { return s.count("ne0") == 11 })
	st := c.Softnet(0).Stat()
	assert.EqualValues(t, 15, st.Dropped)
	assert.EqualValues(t, 15, f.dev.Stats.RxDropped.Load())
	assert.EqualValues(t, 25+1, f.dev.Stats.RxPackets.Load())
	s.mu.Lock()
	assert.Equal(t, []uint32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, s.seqs)
	s.mu.Unlock()

	// The backlog keeps working after the drops.
	require.True(t, f.dev.NetifRx(testFrame(f.dev, 99)))
	waitFor(t, "12 packets", func() bool { return s.total.Load() == 12 })
}

func xmitFrame(t testing.TB, dev *Device, seq uint32, prio uint32) {
	b := skb.Alloc(60)
	p := b.Put(60)
	binary.BigEndian.PutUint32(p[14:18], seq)
	b.Dev, b.Priority = dev, prio
	require.NoError(t, DevQueueXmit(b))
}

func sentSeqs(f *fakeNIC) []uint32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]uint32, len(f.sent))
	for i, b := range f.sent {
		out[i] = binary.BigEndian.Uint32(b.Data()[14:18])
	}
	return out
}

// A driver whose ring fills stops the queue; the qdisc holds the rest and
// the wake restarts it through NET_TX. Nothing is lost or reordered.
func TestStoppedQueueResumes(t *testing.T) {
	c := newCore(t, Config{})
	f := newFakeNIC(t, c, "eth0", 0, 64)
	done := make(chan struct{})
	go func() { // the TX-done interrupt
		defer close(done)
		for len(sentSeqs(f)) < 500 {
			time.Sleep(100 * time.Microsecond)
			f.complete()
		}
	}()
	for i := 0; i < 500; i++ {
		xmitFrame(t, f.dev, uint32(i), PrioBestEffort)
	}
	<-done
	seqs := sentSeqs(f)
	require.Len(t, seqs, 500)
	for i, s := range seqs {
		require.EqualValues(t, i, s, "frame %d out of order", i)
	}
	assert.Zero(t, f.dev.Qdisc().Drops.Load())
	assert.EqualValues(t, 500, f.dev.Stats.TxPackets.Load())
	for _, b := range f.sent {
		b.Free()
	}
}

// pfifo_fast sends band 0 (interactive) before band 1 (best effort) before
// band 2 (bulk), each band in order.
func TestPfifoFastBands(t *testing.T) {
	c := newCore(t, Config{})
	f := newFakeNIC(t, c, "eth0", 0, 64)
	f.txCap = 1000
	f.dev.NetifStopQueue()
	prios := []uint32{PrioBulk, PrioBestEffort, PrioInteractive}
	for i := 0; i < 30; i++ {
		xmitFrame(t, f.dev, uint32(i), prios[i%3])
	}
	assert.Equal(t, 30, f.dev.Qdisc().Len())
	f.dev.NetifWakeQueue()
	waitFor(t, "30 sent", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return len(f.txRing) == 30
	})
	f.complete()
	var want []uint32
	for band := 0; band < 3; band++ {
		for i := 0; i < 30; i++ {
			if Band(prios[i%3]) == band {
				want = append(want, uint32(i))
			}
		}
	}
	assert.Equal(t, want, sentSeqs(f))
	assert.Equal(t, []int{0, 1, 2}, []int{Band(PrioInteractive), Band(PrioBestEffort), Band(PrioBulk)})
}

func TestQdiscBound(t *testing.T) {
	c := newCore(t, Config{})
	f := newFakeNIC(t, c, "eth0", 0, 64)
	f.dev.NetifStopQueue()
	for i := 0; i < DefaultTxQueueLen; i++ {
		xmitFrame(t, f.dev, uint32(i), 0)
	}
	b := skb.Alloc(60)
	b.Put(60)
	b.Dev = f.dev
	assert.ErrorIs(t, DevQueueXmit(b), ErrQueueFull)
	assert.EqualValues(t, 1, f.dev.Qdisc().Drops.Load())
	assert.EqualValues(t, 1, f.dev.Stats.TxDropped.Load())
	require.NoError(t, f.dev.Down())
	assert.Zero(t, f.dev.Qdisc().Len())
}

// Taps see both directions; a stopped device refuses to send.
func TestTapsAndDown(t *testing.T) {
	c := newCore(t, Config{})
	newSink(c)
	f := newFakeNIC(t, c, "eth0", 0, 64)
	var mu sync.Mutex
	var dirs []string
	remove := c.AddTap(&Tap{Func: func(d *Device, frame []byte, dir skb.PktType, _ time.Time) {
		mu.Lock()
		dirs = append(dirs, fmt.Sprintf("%s/%s/%d", d.Name, dir, len(frame)))
		mu.Unlock()
	}})
	f.arrive(1)
	xmitFrame(t, f.dev, 1, 0)
	waitFor(t, "two tap calls", func() bool { mu.Lock(); defer mu.Unlock(); return len(dirs) == 2 })
	assert.ElementsMatch(t, []string{"eth0/host/60", "eth0/outgoing/60"}, dirs)
	remove()

	require.NoError(t, f.dev.Down())
	b := skb.Alloc(60)
	b.Put(60)
	b.Dev = f.dev
	assert.ErrorIs(t, DevQueueXmit(b), ErrDeviceDown)
	assert.False(t, f.napi.Schedule(), "a down device's NAPI is disabled")
}

func TestEthTypeTrans(t *testing.T) {
	c := newCore(t, Config{})
	f := newFakeNIC(t, c, "eth0", 0, 64)
	mk := func(dst []byte, typ uint16, rest ...byte) *skb.Buff {
		b := skb.Alloc(64)
		p := b.Put(14)
		copy(p, dst)
		binary.BigEndian.PutUint16(p[12:], typ)
		copy(b.Put(len(rest)), rest)
		return b
	}
	cases := []struct {
		name  string
		b     *skb.Buff
		ok    bool
		typ   skb.PktType
		proto uint16
	}{
		{"host ipv4", mk(f.dev.HardwareAddr, EthPIPv4, 0x45), true, PktHostT, EthPIPv4},
		{"broadcast arp", mk([]byte{255, 255, 255, 255, 255, 255}, EthPARP), true, PktBroadcastT, EthPARP},
		{"multicast", mk([]byte{1, 0, 0x5e, 0, 0, 1}, EthPIPv4), true, PktMulticastT, EthPIPv4},
		{"other host", mk([]byte{2, 1, 1, 1, 1, 1}, EthPIPv4), true, PktOtherHostT, EthPIPv4},
		{"802.3 raw", mk(f.dev.HardwareAddr, 46, 0xff, 0xff), true, PktHostT, EthP8023},
		{"802.2 llc", mk(f.dev.HardwareAddr, 46, 0x42, 0x42), true, PktHostT, EthP8022},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := tc.b.Len()
			require.Equal(t, tc.ok, f.dev.EthTypeTrans(tc.b))
			assert.Equal(t, tc.typ, tc.b.PktType)
			assert.Equal(t, tc.proto, tc.b.Protocol)
			assert.Equal(t, n-14, tc.b.Len())
			assert.Len(t, tc.b.MACHeader(), n)
			tc.b.Free()
		})
	}
	short := skb.Alloc(64)
	short.Put(13)
	assert.False(t, f.dev.EthTypeTrans(short))
	short.Free()
}

// Short names for the table above.
const (
	PktHostT      = skb.PacketHost
	PktBroadcastT = skb.PacketBroadcast
	PktMulticastT = skb.PacketMulticast
	PktOtherHostT = skb.PacketOtherHost
)

// Several producers on two softnets with RPS: every packet is delivered or
// counted as dropped, and -race sees no data race.
func TestConcurrentProducersRPS(t *testing.T) {
	c := newCore(t, Config{CPUs: 2, RPS: true, MaxBacklog: 64})
	s := newSink(c)
	nics := []*fakeNIC{newFakeNIC(t, c, "a", 0, 64), newFakeNIC(t, c, "b", 1, 64)}
	var wg sync.WaitGroup
	const per = 2000
	for p := 0; p < 4; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			f := nics[p%2]
			for i := 0; i < per; i++ {
				if p >= 2 {
					f.arrive(1) // NAPI path
					continue
				}
				b := testFrame(f.dev, uint32(i))
				b.Hash = uint32(i) + 1 // spread over both CPUs
				f.dev.NetifRx(b)
			}
		}(p)
	}
	wg.Wait()
	total := func() uint64 {
		var d uint64
		for _, st := range c.SoftnetStats() {
			d += st.Dropped
		}
		return uint64(s.total.Load()) + d
	}
	waitFor(t, "all packets accounted", func() bool { return total() == 4*per })
	var rps uint64
	for _, st := range c.SoftnetStats() {
		rps += st.ReceivedRPS
	}
	assert.Greater(t, rps, uint64(0), "RPS steered packets across CPUs")
}

func TestSoftnetStatFormat(t *testing.T) {
	c := newCore(t, Config{CPUs: 2})
	var sb stringsBuilder
	require.NoError(t, c.WriteSoftnetStat(&sb))
	assert.Equal(t, 2, len(sb.lines()))
	assert.Equal(t, "00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000001", sb.lines()[1])
}

// A goroutine that sends without ever blocking (a driver whose transmit
// completes at once) still lets the others run, as dev_queue_xmit runs
// pending softirqs on its way out: with one processor, a goroutine made
// runnable before a burst gets to run within the yield interval (here 0,
// so within the first looks: another runnable goroutine, a softnet's or
// the GC's, may take the processor at the first), not at the scheduler's
// 10 ms preemption.
func TestXmitYields(t *testing.T) {
	_, dev := newEagerYielder(t, Config{})
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))

	var ran atomic.Bool
	go ran.Store(true) // runnable, not yet running: this goroutine holds the processor
	sent := 0
	for ; sent < 100*xmitYieldCheck && !ran.Load(); sent++ {
		xmitNull(t, dev)
	}
	require.True(t, ran.Load(), "the other goroutine never ran while %d frames were sent", sent)
	assert.LessOrEqual(t, sent, 4*xmitYieldCheck, "ran within a few looks (under a loaded machine the first may go to another goroutine)")
}

// newEagerYielder is a core with an up device whose driver completes each
// frame at once, and senders that yield at every look (every
// xmitYieldCheck frames).
func newEagerYielder(t *testing.T, cfg Config) (*Core, *Device) {
	cfg.Logger, cfg.XmitYield = slog.New(slog.DiscardHandler), -1
	c := New(cfg)
	t.Cleanup(func() { c.Close() })
	dev, err := c.Register(DeviceConfig{Name: "null0"}, &nullDriver{})
	require.NoError(t, err)
	require.NoError(t, dev.Up())
	return c, dev
}

// xmitNull sends one 60-byte frame on dev.
func xmitNull(t *testing.T, dev *Device) {
	t.Helper()
	s := skb.Alloc(60)
	s.Put(60)
	s.Dev = dev
	require.NoError(t, DevQueueXmit(s))
}

// TestSenderServesInterrupts: a sender that never blocks serves pending
// interrupts where it yields (SetIRQPoll), as a hardirq would preempt it.
func TestSenderServesInterrupts(t *testing.T) {
	c, dev := newEagerYielder(t, Config{})
	var polls atomic.Int64
	c.SetIRQPoll(func() { polls.Add(1) })
	for i := 0; i < 10*xmitYieldCheck; i++ {
		xmitNull(t, dev)
	}
	assert.EqualValues(t, 10, polls.Load(), "one poll per yield")

	c.SetIRQPoll(nil)
	for i := 0; i < 2*xmitYieldCheck; i++ {
		xmitNull(t, dev)
	}
	assert.EqualValues(t, 10, polls.Load(), "none once removed")
}

// gateNIC's StartXmit, while gated, says it has a frame and waits to be
// released, then refuses it (TxBusy): a transmit in flight on another
// goroutine when the device goes down.
type gateNIC struct {
	dev              *Device
	entered, release chan struct{}
}

func (g *gateNIC) Open() error { g.dev.NetifCarrierOn(); return nil }
func (g *gateNIC) Stop() error { return nil }
func (g *gateNIC) StartXmit(b *skb.Buff) TxStatus {
	g.entered <- struct{}{}
	<-g.release
	g.dev.NetifStopQueue()
	return TxBusy
}

// TestDownWaitsForQdiscRun: Down purges the qdisc only after a qdisc run
// in flight on another goroutine has finished, so the frame its driver
// refused and the run requeued is freed, not left in a down device's
// qdisc (dev_deactivate waits for some_qdisc_is_busy).
func TestDownWaitsForQdiscRun(t *testing.T) {
	c := newCore(t, Config{})
	g := &gateNIC{entered: make(chan struct{}), release: make(chan struct{})}
	var err error
	g.dev, err = c.Register(DeviceConfig{Name: "gate0", HardwareAddr: []byte{2, 0, 0, 0, 0, 9}, Kind: "fake"}, g)
	require.NoError(t, err)
	require.NoError(t, g.dev.Up())
	live := skb.Live()
	b := skb.Alloc(60)
	b.Put(60)
	b.Dev = g.dev
	xmitDone := make(chan error, 1)
	go func() { xmitDone <- DevQueueXmit(b) }()
	<-g.entered // the qdisc run is in the driver
	downDone := make(chan error, 1)
	go func() { downDone <- g.dev.Down() }()
	select {
	case <-downDone:
		t.Fatal("Down returned while a qdisc run was in the driver")
	case <-time.After(20 * time.Millisecond):
	}
	close(g.release)
	require.NoError(t, <-xmitDone)
	require.NoError(t, <-downDone)
	assert.Zero(t, g.dev.qdisc.Len(), "the requeued frame is purged")
	assert.Equal(t, live, skb.Live(), "every buffer freed")
}

// RPS is for single-queue devices: a frame taken up by a NAPI instance of
// a device with one per hardware queue stays on that instance's softnet
// (the NIC steered it), whatever its hash; with one instance, the same
// hash steers it to the other CPU.
func TestRPSSkipsMultiQueue(t *testing.T) {
	c := newCore(t, Config{CPUs: 2, RPS: true})
	s := newSink(c)
	f := newFakeNIC(t, c, "mq", 0, 64)
	const hash = 1 // FlowHash keeps a hash the skb has: 1 % 2 CPUs is CPU 1
	receive := func(n *NAPI) {
		b := testFrame(f.dev, 1)
		b.Hash = hash
		n.ReceiveSkb(b)
	}
	receive(f.napi)
	waitFor(t, "steered", func() bool { return c.SoftnetStats()[1].ReceivedRPS == 1 && s.total.Load() == 1 })
	q1 := f.dev.NetifNAPIAddOn(0, func(int) int { return 0 }, 0) // a second hardware queue
	assert.Equal(t, 0, q1.CPU())
	receive(f.napi)
	waitFor(t, "delivered", func() bool { return s.total.Load() == 2 })
	assert.EqualValues(t, 1, c.SoftnetStats()[1].ReceivedRPS, "not steered again")
}
