package e1000

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"log/slog"
	"math/rand"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringonet/ringo/internal/drivertest"
	"github.com/ringonet/ringo/internal/e1000x"
	"github.com/ringonet/ringo/internal/israce"
	"github.com/ringonet/ringo/irq"
	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/netcore/skb"
)

type rig struct {
	f    *fakeE1000
	core *netcore.Core
	drv  *Driver
	got  *drivertest.Sink
}

func newRig(t *testing.T, cfg Config) *rig {
	r := &rig{f: newFakeE1000(t)}
	var br *irq.Bridge
	r.core, br = drivertest.Core(t, netcore.Config{})
	r.got = drivertest.NewSink(r.core)
	cfg.Logger = drivertest.Quiet
	if cfg.RxRing == 0 {
		cfg.RxRing = 64
	}
	if cfg.TxRing == 0 {
		cfg.TxRing = 64
	}
	var err error
	r.drv, err = New(r.core, br, r.f.hw(), cfg)
	require.NoError(t, err)
	require.NoError(t, r.drv.Dev.Up())
	return r
}

func TestProbeMAC(t *testing.T) {
	f := newFakeE1000(t)
	id, err := Probe(f)
	require.NoError(t, err)
	assert.Equal(t, "52:54:00:12:34:56", id.MAC.String())
	assert.True(t, id.LinkUp)

	// RAH.AV clear after reset: the address comes from the EEPROM.
	f.clearRAR()
	r := newRegs(f)
	mac, err := r.macAddr()
	require.NoError(t, err)
	assert.Equal(t, "52:54:00:12:34:56", mac.String())
}

func TestPCIDriverIDs(t *testing.T) {
	assert.True(t, PCIDriver.Supports(0x8086, 0x100e))
	assert.True(t, PCIDriver.Supports(0x8086, 0x100f))
	assert.False(t, PCIDriver.Supports(0x8086, 0x10d3))
	assert.False(t, PCIDriver.Supports(0x10ec, 0x8029))
}

// Frames the device writes into the RX ring reach the protocol handler in
// order and byte-exact, while the 64-entry ring wraps many times; the
// frames the full ring refused are counted once, whether the statistics
// registers clear on read (the 82540EM) or keep their totals (QEMU's
// MPC and RNBC), however often they are read.
func TestReceiveWraps(t *testing.T) {
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprintf("keepStats=%v", keep), func(t *testing.T) { testReceiveWraps(t, keep) })
	}
}

func testReceiveWraps(t *testing.T, keep bool) {
	r := newRig(t, Config{})
	const early = 5 // misses before the run, so the count is never vacuous
	r.f.mu.Lock()
	r.f.keepStats = keep
	r.f.regs[e1000x.RegMPC] += early
	r.f.regs[e1000x.RegRNBC] += early
	r.f.mu.Unlock()
	rng := rand.New(rand.NewSource(1))
	const n = 2000
	var want [][]byte
	missed := early
	for i := 0; i < n; i++ {
		fr := drivertest.Frame(r.drv.Dev.HardwareAddr, uint32(i), 60+rng.Intn(1455), rng)
		want = append(want, fr)
		for !r.f.receive(fr, rxd_STAT_DD|rxd_STAT_EOP, 0, len(fr)) {
			missed++                          // the device counts it in MPC
			time.Sleep(50 * time.Microsecond) // ring full: let NAPI drain
		}
		if i%500 == 0 {
			r.drv.HWStats() // a status page read mid-run
		}
	}
	r.got.Wait(t, n)
	for i, got := range r.got.Frames() {
		require.True(t, bytes.Equal(want[i], got), "frame %d differs", i)
	}
	assert.EqualValues(t, n, r.drv.Dev.Stats.RxPackets.Load())
	assert.Greater(t, r.drv.IRQLine().Count(), uint64(0))
	assert.EqualValues(t, n, r.drv.HWStat("good_packets_rx"))
	// A frame the full ring refused is the interface's rx_missed_errors,
	// as ip -s link shows it, not only an ethtool -S counter.
	assert.EqualValues(t, missed, r.drv.HWStat("missed_packets"))
	assert.EqualValues(t, missed, r.drv.HWStat("missed_packets"), "read again: nothing new")
	assert.EqualValues(t, missed, r.drv.HWStat("rx_no_buffer"))
	assert.EqualValues(t, missed, r.drv.Dev.Stats.RxMissedErrors.Load())
	assert.Zero(t, r.f.faults)
}

// Transmit through dev_queue_xmit: byte-exact and in order; while the
// device holds its transmitter the ring fills, the queue stops, frames wait
// in the qdisc, and the TX-done interrupt wakes it. The same through
// bursts (DevQueueXmitBurst to StartXmitBurst): a burst the ring cannot
// take whole is taken in part and the rest waits in the qdisc; every skb
// is freed.
func TestTransmitStopWake(t *testing.T) {
	for _, burst := range []bool{false, true} {
		t.Run(map[bool]string{false: "single", true: "burst"}[burst], func(t *testing.T) {
			r := newRig(t, Config{})
			live := skb.Live() // the receive ring's posted areas are the driver's
			rng := rand.New(rand.NewSource(2))
			r.f.hold(true)
			const n = 500
			var want [][]byte
			var wantBytes uint64
			bs := make([]*skb.Buff, 0, 32)
			for i := 0; i < n; i++ {
				fr := drivertest.Frame([]byte{2, 0, 0, 0, 0, 1}, uint32(i), 60+rng.Intn(1455), rng)
				want = append(want, fr)
				wantBytes += uint64(len(fr))
				b := skb.Alloc(len(fr))
				copy(b.Put(len(fr)), fr)
				b.Dev = r.drv.Dev
				if !burst {
					require.NoError(t, netcore.DevQueueXmit(b))
					continue
				}
				if bs = append(bs, b); len(bs) == cap(bs) || i == n-1 {
					taken, err := netcore.DevQueueXmitBurst(bs)
					require.NoError(t, err)
					require.Equal(t, len(bs), taken, "the qdisc takes what the ring does not")
					bs = bs[:0]
				}
			}
			assert.True(t, r.drv.Dev.NetifQueueStopped(), "a 64-entry ring cannot take 500 frames")
			assert.Greater(t, r.drv.Dev.Qdisc().Len(), 0)
			// Release the transmitter repeatedly: each TXDW interrupt
			// cleans the ring and wakes the queue.
			require.Eventually(t, func() bool {
				r.f.hold(false)
				r.f.hold(true)
				return len(r.f.sentFrames()) == n
			}, 10*time.Second, time.Millisecond)
			r.f.hold(false)
			sent := r.f.sentFrames()
			for i := range want {
				require.True(t, bytes.Equal(want[i], sent[i]), "frame %d differs", i)
			}
			assert.Greater(t, r.drv.Counters.TxRestarts.Load(), uint64(0))
			assert.EqualValues(t, n, r.drv.Dev.Stats.TxPackets.Load())
			assert.Equal(t, wantBytes, r.drv.Dev.Stats.TxBytes.Load())
			assert.Equal(t, live, skb.Live(), "every skb freed")
		})
	}
}

// Frames built in the device's TX arena leave from where they are: the
// descriptor points into the arena, the skb is kept until its batch's
// status comes back and is freed then; the bytes arrive exact. A frame
// from the ordinary pool in the same burst is copied. Taking the device
// down frees what the ring still held.
func TestTransmitInPlace(t *testing.T) {
	live := skb.Live()
	r := newRig(t, Config{})
	arena := r.drv.Dev.TxArena()
	require.NotNil(t, arena)
	rng := rand.New(rand.NewSource(4))
	var want [][]byte
	// send sends k frames in one burst: from the arena, from the pool, or
	// mixed (every third from the pool).
	send := func(k int, from string) {
		bs := make([]*skb.Buff, k)
		switch from {
		case "arena":
			require.True(t, arena.AllocBulk(bs, 1514))
		case "pool":
			require.True(t, skb.AllocBulk(bs, 1514))
		case "mixed":
			require.True(t, arena.AllocBulk(bs, 1514))
			for i := 0; i < k; i += 3 {
				bs[i].Free()
				bs[i] = skb.Alloc(1514)
			}
		}
		for i, b := range bs {
			fr := drivertest.Frame([]byte{2, 0, 0, 0, 0, 1}, uint32(len(want)+i), 60+rng.Intn(1455), rng)
			want = append(want, fr)
			copy(b.Put(len(fr)), fr)
			b.Dev = r.drv.Dev
		}
		n, err := netcore.DevQueueXmitBurst(bs)
		require.NoError(t, err)
		require.Equal(t, k, n)
	}
	inArena := func(desc []byte) bool {
		iova := binary.LittleEndian.Uint64(desc)
		for i := range r.drv.tx.Count() {
			if b := r.drv.tx.Buf(i); iova >= b.IOVA && iova < b.IOVA+uint64(len(b.Buf)) {
				return false
			}
		}
		return true
	}
	r.f.hold(true)
	send(20, "arena")
	send(5, "pool")
	var kept, copied int
	for i := range 25 {
		if inArena(r.drv.tx.Desc(i)) {
			kept++
		} else {
			copied++
		}
	}
	assert.Equal(t, 20, kept, "arena frames point into the arena")
	assert.Equal(t, 5, copied, "pool frames are copied into the ring's buffers")
	assert.EqualValues(t, 20, arena.InUse(), "the ring keeps the arena's skbs until sent")
	r.f.hold(false)
	require.Eventually(t, func() bool { return len(r.f.sentFrames()) == 25 }, 5*time.Second, time.Millisecond)
	for range 10 { // more than the ring: reclaim frees the sent ones
		send(16, "arena")
		send(16, "mixed")
	}
	require.Eventually(t, func() bool { return len(r.f.sentFrames()) == len(want) }, 5*time.Second, time.Millisecond)
	sent := r.f.sentFrames()
	for i := range want {
		require.True(t, bytes.Equal(want[i], sent[i]), "frame %d differs", i)
	}
	assert.Less(t, arena.InUse(), int64(r.drv.tx.Count()), "sent skbs went back to the arena")

	r.f.hold(true)
	send(8, "arena")
	require.NoError(t, r.drv.Dev.Down())
	assert.Zero(t, arena.InUse(), "down frees what the ring held")
	assert.Equal(t, live, skb.Live())
}

// A device that sends as TDT is written (as QEMU's does) raises TXDW each
// time; the driver does not take it: the transmit path reclaims sent
// descriptors itself when the ring runs low, so a stream of frames far
// longer than the ring costs no interrupt.
func TestTransmitReclaimsWithoutInterrupts(t *testing.T) {
	r := newRig(t, Config{})
	before := r.drv.Counters.Interrupts.Load()
	const n = 1000 // 15 times the 64-entry ring
	for i := 0; i < n; i++ {
		b := skb.Alloc(60)
		copy(b.Put(60), drivertest.Frame([]byte{2, 0, 0, 0, 0, 1}, uint32(i), 60, rand.New(rand.NewSource(int64(i)))))
		b.Dev = r.drv.Dev
		require.NoError(t, netcore.DevQueueXmit(b))
	}
	require.Eventually(t, func() bool { return len(r.f.sentFrames()) == n }, 5*time.Second, time.Millisecond)
	assert.EqualValues(t, before, r.drv.Counters.Interrupts.Load(), "no TX interrupt taken")
	assert.Zero(t, r.drv.Counters.TxRestarts.Load(), "the queue never stopped")
	r.f.mu.Lock()
	ims := r.f.ims
	r.f.mu.Unlock()
	assert.Zero(t, ims&icr_TXDW, "TXDW stays masked")
}

// A hostile device: lengths past the buffer or below a header, a frame
// without EOP, error bits. Each is counted and dropped; the descriptor goes
// back; the next good frame arrives.
func TestHostileRxDescriptors(t *testing.T) {
	r := newRig(t, Config{})
	rng := rand.New(rand.NewSource(3))
	good := drivertest.Frame(r.drv.Dev.HardwareAddr, 7, 100, rng)
	cases := []struct {
		status, errs uint8
		length       int
	}{
		{rxd_STAT_DD | rxd_STAT_EOP, 0, 4000},  // longer than the buffer
		{rxd_STAT_DD | rxd_STAT_EOP, 0, 65535}, // much longer
		{rxd_STAT_DD | rxd_STAT_EOP, 0, 0},     // empty
		{rxd_STAT_DD | rxd_STAT_EOP, 0, 13},    // shorter than a header
		{rxd_STAT_DD, 0, 100},                  // no EOP
		{rxd_STAT_DD | rxd_STAT_EOP, rxd_ERR_CE, 100},
		{rxd_STAT_DD | rxd_STAT_EOP, rxd_ERR_RXE, 100},
	}
	for i := 0; i < 20; i++ { // wrap the ring with bad descriptors
		for _, c := range cases {
			require.True(t, r.f.receive(good, c.status, c.errs, c.length))
			require.Eventually(t, func() bool { return r.drv.rx.NextToClean() == int(r.f.Read32(regRDH)) }, 5*time.Second, time.Millisecond)
		}
	}
	require.True(t, r.f.receive(good, rxd_STAT_DD|rxd_STAT_EOP, 0, len(good)))
	r.got.Wait(t, 1)
	assert.Equal(t, [][]byte{good}, r.got.Frames(), "the good frame after the bad ones, and only it")
	assert.EqualValues(t, 20*4, r.drv.Counters.RxBadLength.Load())
	assert.EqualValues(t, 20, r.drv.Counters.RxNoEOP.Load())
	assert.EqualValues(t, 40, r.drv.Counters.RxDescErrors.Load())
	assert.EqualValues(t, 20, r.drv.Dev.Stats.RxCRCErrors.Load())
	assert.EqualValues(t, 20*7, r.drv.Dev.Stats.RxErrors.Load())
	t.Logf("FAULT | e1000: hostile RX descriptors (length past the buffer, 0, runt, no EOP, CE/RXE errors), 140 of them | all dropped and counted (RxBadLength %d, RxNoEOP %d, RxDescErrors %d), no access outside the buffer, next good frame delivered",
		r.drv.Counters.RxBadLength.Load(), r.drv.Counters.RxNoEOP.Load(), r.drv.Counters.RxDescErrors.Load())
}

func TestLinkStateChanges(t *testing.T) {
	r := newRig(t, Config{})
	require.Eventually(t, r.drv.Dev.Carrier, time.Second, time.Millisecond)
	r.f.setLink(false)
	require.Eventually(t, func() bool { return !r.drv.Dev.Carrier() }, 5*time.Second, time.Millisecond)
	r.f.setLink(true)
	require.Eventually(t, r.drv.Dev.Carrier, 5*time.Second, time.Millisecond)
	assert.EqualValues(t, 2, r.drv.Counters.LinkChanges.Load())
}

// A stalled transmitter (TDT never written) fills the ring; the watchdog
// resets the chip, rebuilds the rings on the same buffers, and traffic
// resumes.
func TestTxStallWatchdogReset(t *testing.T) {
	r := newRig(t, Config{TxTimeout: 300 * time.Millisecond})
	rng := rand.New(rand.NewSource(4))
	mapped := r.f.dma.Mapped()
	r.drv.faultTxStall.Store(true)
	stalled := time.Now()
	send := func(seq uint32) []byte {
		fr := drivertest.Frame([]byte{2, 0, 0, 0, 0, 1}, seq, 100, rng)
		b := skb.Alloc(len(fr))
		copy(b.Put(len(fr)), fr)
		b.Dev = r.drv.Dev
		netcore.DevQueueXmit(b)
		return fr
	}
	for i := 0; i < 100; i++ {
		send(uint32(i))
	}
	assert.True(t, r.drv.Dev.NetifQueueStopped())
	require.Eventually(t, func() bool { return r.drv.Counters.Resets.Load() == 1 }, 5*time.Second, 10*time.Millisecond)
	resetAfter := time.Since(stalled)
	// The qdisc's frames go out after the reset.
	require.Eventually(t, func() bool { return len(r.f.sentFrames()) > 0 }, 5*time.Second, 10*time.Millisecond)
	// A frame sent now goes out after what the qdisc still held: the
	// last frame on the wire, once.
	last := send(1000)
	require.Eventually(t, func() bool {
		sent := r.f.sentFrames()
		return bytes.Equal(sent[len(sent)-1], last)
	}, 5*time.Second, 10*time.Millisecond)
	n := 0
	for _, fr := range r.f.sentFrames() {
		if bytes.Equal(fr, last) {
			n++
		}
	}
	assert.Equal(t, 1, n, "sent once")
	assert.Equal(t, mapped, r.f.dma.Mapped(), "the reset allocated no new DMA memory")
	assert.GreaterOrEqual(t, r.drv.Dev.Stats.TxTimeouts.Load(), uint64(1))
	t.Logf("FAULT | e1000: TX stall injected (TDT never written; 300 ms watchdog) | reset after %v, rings rebuilt on the same DMA buffers, queued frames sent, traffic resumes",
		resetAfter.Round(time.Millisecond))
}

// Busy-poll mode takes frames with every interrupt masked.
func TestBusyPoll(t *testing.T) {
	quiet := slog.New(slog.DiscardHandler)
	f := newFakeE1000(t)
	core := netcore.New(netcore.Config{Logger: quiet})
	defer core.Close()
	drv, err := New(core, nil, HW{Regs: f, DMA: f.dma}, Config{BusyPoll: true, RxRing: 64, TxRing: 64, Logger: quiet})
	require.NoError(t, err)
	var mu sync.Mutex
	n := 0
	core.AddPacketType(drivertest.Ethertype, func(b *skb.Buff) { mu.Lock(); n++; mu.Unlock(); b.Free() })
	require.NoError(t, drv.Dev.Up())
	rng := rand.New(rand.NewSource(5))
	for i := 0; i < 300; i++ {
		fr := drivertest.Frame(drv.Dev.HardwareAddr, uint32(i), 60, rng)
		for !f.receive(fr, rxd_STAT_DD|rxd_STAT_EOP, 0, len(fr)) {
			time.Sleep(50 * time.Microsecond)
		}
	}
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return n == 300 }, 10*time.Second, time.Millisecond)
	assert.Zero(t, f.Read32(regIMS), "no interrupt enabled")
	assert.Nil(t, drv.IRQLine())
	require.NoError(t, drv.Dev.Down())
}

// The multicast list lands in the MTA at the SDM's hash; promiscuous mode
// sets UPE and MPE.
func TestRxMode(t *testing.T) {
	r := newRig(t, Config{})
	mc := []byte{0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb} // 224.0.0.251
	r.drv.Dev.SetMulticastList([]net.HardwareAddr{mc})
	// bits 47:36 = 0xfb0 >> 4 ... : (0x00 >> 4) | (0xfb << 4) = 0xfb0
	reg, bit := e1000x.MTAHash(mc)
	assert.Equal(t, 0xfb0>>5, reg)
	assert.Equal(t, uint(0xfb0&0x1f), bit)
	assert.Equal(t, uint32(1)<<bit, r.f.Read32(e1000x.RegMTA(reg)))
	assert.Zero(t, r.f.Read32(regRCTL)&(rctl_UPE|rctl_MPE))
	r.drv.Dev.SetPromisc(true)
	assert.Equal(t, uint32(rctl_UPE|rctl_MPE), r.f.Read32(regRCTL)&(rctl_UPE|rctl_MPE))
}

// offloadFrame is an Ethernet frame our stack would hand the driver for
// the offloads: IPv4, the transport checksum field 0.
func offloadFrame(proto uint8, payload int) []byte {
	src, dst := [4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2}
	var l4 []byte
	if proto == header.ProtoTCP {
		f := header.TCPFields{SrcPort: 1, DstPort: 2, Seq: 1000, Ack: 1, Flags: header.TCPFlagACK | header.TCPFlagPSH | header.TCPFlagFIN, Window: 9, WScale: -1, TS: true, TSVal: 5}
		hl := header.TCPHeaderLen(f)
		l4 = make([]byte, hl+payload)
		header.EncodeTCPPartial(l4, f)
	} else {
		l4 = make([]byte, header.UDPLen+payload)
		binary.BigEndian.PutUint16(l4[0:], 1)
		binary.BigEndian.PutUint16(l4[2:], 2)
		binary.BigEndian.PutUint16(l4[4:], uint16(len(l4)))
	}
	rand.New(rand.NewSource(int64(payload))).Read(l4[len(l4)-payload:])
	frame := make([]byte, 14+header.IPv4MinLen+len(l4))
	copy(frame, []byte{0x52, 0x54, 0, 0, 0, 2, 0x52, 0x54, 0, 0x12, 0x34, 0x56, 0x08, 0x00})
	header.EncodeIPv4(frame[14:], header.IPv4Fields{TotalLen: header.IPv4MinLen + len(l4), ID: 100, TTL: 64, Protocol: proto, Src: src, Dst: dst})
	copy(frame[34:], l4)
	return frame
}

// TestTransmitOffload: TSO and checksum offload through the descriptors
// the 82540EM reads. The fake device does what the SDM (and QEMU) says:
// each segment it cuts, and each checksum it fills, must come out right
// from the seeds the driver wrote.
func TestTransmitOffload(t *testing.T) {
	r := newRig(t, Config{TxRing: 256})
	assert.True(t, r.drv.Dev.Features.Has(netcore.FeatureTSO|netcore.FeatureIPCsum))
	send := func(frame []byte, gso int) {
		b := skb.Alloc(len(frame))
		copy(b.Put(len(frame)), frame)
		b.CsumPartial, b.GSOSize, b.Dev = true, uint16(gso), r.drv.Dev
		require.NoError(t, netcore.DevQueueXmit(b))
	}
	tso := offloadFrame(header.ProtoTCP, 6000)
	send(tso, 1448)
	send(offloadFrame(header.ProtoTCP, 500), 0)
	send(offloadFrame(header.ProtoUDP, 1000), 0)
	require.Eventually(t, func() bool { return len(r.f.sentFrames()) == 5+1+1 }, 2*time.Second, time.Millisecond)
	sent := r.f.sentFrames()
	var payload []byte
	for i, f := range sent[:5] {
		ip, err := header.ParseIPv4(f[14:])
		require.NoError(t, err, "segment %d: IP header checksum filled per segment", i)
		assert.Equal(t, uint16(100+i), ip.ID())
		tcp, err := header.ParseTCP(ip.Payload(), ip.Src(), ip.Dst())
		require.NoError(t, err, "segment %d: TCP checksum from the seed without length", i)
		assert.Equal(t, uint32(1000+len(payload)), tcp.Seq())
		assert.Equal(t, i == 4, tcp.Flags()&header.TCPFlagFIN != 0, "FIN on the last segment")
		payload = append(payload, tcp.Payload()...)
	}
	assert.Equal(t, tso[len(tso)-6000:], payload, "the payload, in order")
	ip, err := header.ParseIPv4(sent[5][14:])
	require.NoError(t, err)
	_, err = header.ParseTCP(ip.Payload(), ip.Src(), ip.Dst())
	assert.NoError(t, err, "TCP checksum offload, seed with the length")
	ip, err = header.ParseIPv4(sent[6][14:])
	require.NoError(t, err)
	_, err = header.ParseUDP(ip.Payload(), ip.Src(), ip.Dst())
	assert.NoError(t, err, "UDP checksum offload")
	assert.EqualValues(t, 1, r.drv.Counters.TxTSO.Load())
	assert.EqualValues(t, 2, r.drv.Counters.TxCsumOffload.Load())

	// A frame whose headers do not parse is dropped and counted.
	send(offloadFrame(header.ProtoTCP, 100)[:30], 0)
	assert.EqualValues(t, 1, r.drv.Counters.TxBadOffload.Load())
}

// A ring too small for a 64 KB TSO packet offers checksum offload only.
func TestSmallRingNoTSO(t *testing.T) {
	r := newRig(t, Config{TxRing: 64})
	assert.True(t, r.drv.Dev.Features.Has(netcore.FeatureIPCsum))
	assert.False(t, r.drv.Dev.Features.Has(netcore.FeatureTSO))
}

// The doorbell once per batch: frames sent one at a time write TDT each,
// a burst of 100 (DevQueueXmitBurst: the qdisc run says more follow)
// writes it once per 32 frames and for the last; every frame is sent, in
// order.
func TestTxDoorbellBatching(t *testing.T) {
	r := newRig(t, Config{})
	rng := rand.New(rand.NewSource(7))
	frame := func(seq uint32) ([]byte, *skb.Buff) {
		fr := drivertest.Frame([]byte{2, 0, 0, 0, 0, 1}, seq, 60+rng.Intn(1400), rng)
		b := skb.Alloc(len(fr))
		copy(b.Put(len(fr)), fr)
		b.Dev = r.drv.Dev
		return fr, b
	}
	doorbells := func() int { r.f.mu.Lock(); defer r.f.mu.Unlock(); return r.f.doorbells }
	var want [][]byte
	base := doorbells()
	for i := 0; i < 20; i++ {
		fr, b := frame(uint32(i))
		want = append(want, fr)
		require.NoError(t, netcore.DevQueueXmit(b))
	}
	assert.Equal(t, 20, doorbells()-base, "one frame, one doorbell: no frame waits")

	base = doorbells()
	var bs []*skb.Buff
	for i := 20; i < 120; i++ {
		fr, b := frame(uint32(i))
		want = append(want, fr)
		bs = append(bs, b)
	}
	n, err := netcore.DevQueueXmitBurst(bs)
	require.NoError(t, err)
	require.Equal(t, 100, n)
	require.Eventually(t, func() bool { r.f.mu.Lock(); defer r.f.mu.Unlock(); return len(r.f.sent) == len(want) }, 5*time.Second, time.Millisecond)
	rung := doorbells() - base
	t.Logf("100 frames, %d doorbells (a %d-descriptor ring)", rung, r.drv.tx.Count())
	assert.LessOrEqual(t, rung, 8, "100 frames in batches of 32, flushed where the ring filled and the queue stopped")
	assert.GreaterOrEqual(t, rung, 4)
	assert.EqualValues(t, 20+rung, r.drv.Counters.TxDoorbells.Load())
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	for i := range want {
		require.True(t, bytes.Equal(want[i], r.f.sent[i]), "frame %d", i)
	}
}

// Jumbo frames: an MTU over 1500 (up to 9000, no more) turns long packet
// reception on; a 9014-byte frame the part writes over five 2 KB buffers
// arrives whole, and one sent leaves over five descriptors. A frame that
// never ends is dropped once it passes the largest jumbo frame, and the
// next one arrives. Back at 1500, a frame over several descriptors is a
// counted drop again.
func TestJumboFrames(t *testing.T) {
	r := newRig(t, Config{TxRing: 128})
	assert.Equal(t, 9000, r.drv.Dev.MaxMTU())
	assert.Error(t, r.drv.Dev.SetMTU(9001))
	assert.Zero(t, r.f.Read32(regRCTL)&rctl_LPE)
	require.NoError(t, r.drv.Dev.SetMTU(9000))
	assert.NotZero(t, r.f.Read32(regRCTL)&rctl_LPE)

	rng := rand.New(rand.NewSource(3))
	jumbo := drivertest.Frame(r.drv.Dev.HardwareAddr, 1, 9014, rng)
	pieces := func(f []byte, eop bool) {
		for off := 0; off < len(f); off += bufSize {
			n := min(bufSize, len(f)-off)
			st := uint8(rxd_STAT_DD)
			if eop && off+n == len(f) {
				st |= rxd_STAT_EOP
			}
			require.True(t, r.f.receive(f[off:off+n], st, 0, n))
		}
	}
	pieces(jumbo, true)
	r.got.Wait(t, 1)
	assert.Equal(t, jumbo, r.got.Frames()[0])

	// Ten buffers without EOP: past 9018 bytes the frame is spoilt.
	endless := drivertest.Frame(r.drv.Dev.HardwareAddr, 2, 10*bufSize, rng)
	pieces(endless, false)
	small := drivertest.Frame(r.drv.Dev.HardwareAddr, 3, 60, rng)
	require.True(t, r.f.receive(small, rxd_STAT_DD|rxd_STAT_EOP, 0, len(small))) // ends the spoilt frame
	require.True(t, r.f.receive(small, rxd_STAT_DD|rxd_STAT_EOP, 0, len(small)))
	r.got.Wait(t, 2)
	assert.Equal(t, small, r.got.Frames()[1])
	assert.EqualValues(t, 1, r.drv.Counters.RxBadLength.Load(), "the endless frame")

	b := skb.Alloc(len(jumbo))
	copy(b.Put(len(jumbo)), jumbo)
	b.Dev = r.drv.Dev
	require.NoError(t, netcore.DevQueueXmit(b))
	require.Eventually(t, func() bool { return len(r.f.sentFrames()) == 1 }, 5*time.Second, time.Millisecond)
	assert.Equal(t, jumbo, r.f.sentFrames()[0])

	require.NoError(t, r.drv.Dev.SetMTU(1500))
	assert.Zero(t, r.f.Read32(regRCTL)&rctl_LPE)
	pieces(jumbo[:bufSize], false)
	require.True(t, r.f.receive(small, rxd_STAT_DD|rxd_STAT_EOP, 0, len(small)))
	r.got.Wait(t, 3)
	assert.EqualValues(t, 1, r.drv.Counters.RxNoEOP.Load(), "without LPE a piece without EOP is dropped")
	assert.Equal(t, small, r.got.Frames()[2], "and the next frame stands alone")
}

// VLAN offload on the 82540EM: CTRL.VME on, VET and the filter table
// programmed for a VLAN device's id; a frame the part untagged (VP, the
// TCI in the special field) goes up on the VLAN device; one sent on the
// VLAN device leaves with VLE and the part inserts the tag.
func TestVLANOffload(t *testing.T) {
	r := newRig(t, Config{})
	v, err := r.core.AddVLAN(r.drv.Dev, 42)
	require.NoError(t, err)
	require.NoError(t, v.Up())
	assert.NotZero(t, r.f.Read32(regCTRL)&ctrl_VME)
	assert.NotZero(t, r.f.Read32(regRCTL)&rctl_VFE)
	assert.Equal(t, uint32(1<<(42&31)), r.f.Read32(e1000x.RegVFTA(42>>5)))
	got := make(chan string, 1)
	r.core.AddPacketType(0x88b6, func(b *skb.Buff) {
		got <- fmt.Sprintf("%s %#04x", b.Dev.(*netcore.Device).Name, b.VlanTCI)
		b.Free()
	})
	f := make([]byte, 60)
	copy(f, r.drv.Dev.HardwareAddr)
	binary.BigEndian.PutUint16(f[12:], 0x88b6)
	r.f.special = 1<<13 | 42
	require.True(t, r.f.receive(f, rxd_STAT_DD|rxd_STAT_EOP|rxd_STAT_VP, 0, len(f)))
	select {
	case s := <-got:
		assert.Equal(t, "eth0.42 0x202a", s)
	case <-time.After(5 * time.Second):
		t.Fatal("not delivered")
	}
	b := skb.Alloc(60)
	copy(b.Put(60), f)
	b.Dev = v
	require.NoError(t, netcore.DevQueueXmit(b))
	require.Eventually(t, func() bool { return len(r.f.sentFrames()) == 1 }, 5*time.Second, time.Millisecond)
	assert.Equal(t, []byte{0x81, 0x00, 0x00, 0x2a, 0x88, 0xb6}, r.f.sentFrames()[0][12:18])
}

// Receive checksum offload on the 82540EM (RXCSUM.TUOFL, SDM 3.2.9): a
// frame whose TCP/UDP sum the part verified goes up marked; one it found
// bad goes up unmarked and counted, for the stack to check and drop; with
// IXSM (the part did not look, as QEMU's model always says) nothing is
// claimed; with the offload off, nothing either.
func TestRxChecksumOffload(t *testing.T) {
	for _, off := range []bool{false, true} {
		t.Run(fmt.Sprintf("NoRxCsum=%v", off), func(t *testing.T) {
			r := newRig(t, Config{NoRxCsum: off})
			assert.Equal(t, !off, r.f.Read32(regRXCSUM)&rxcsum_TUOFL != 0)
			assert.Equal(t, !off, r.drv.Dev.Features.Has(netcore.FeatureRxCsum))
			got := make(chan bool, 4)
			r.core.AddPacketType(0x88b7, func(b *skb.Buff) { got <- b.CsumValid; b.Free() })
			f := make([]byte, 60)
			copy(f, r.drv.Dev.HardwareAddr)
			binary.BigEndian.PutUint16(f[12:], 0x88b7)
			for _, c := range []struct{ status, errs uint8 }{
				{rxd_STAT_DD | rxd_STAT_EOP | rxd_STAT_TCPCS, 0},
				{rxd_STAT_DD | rxd_STAT_EOP | rxd_STAT_TCPCS, rxd_ERR_TCPE},
				{rxd_STAT_DD | rxd_STAT_EOP | rxd_STAT_TCPCS | rxd_STAT_IXSM, 0},
			} {
				require.True(t, r.f.receive(f, c.status, c.errs, len(f)))
			}
			var valid []bool
			for range 3 {
				select {
				case v := <-got:
					valid = append(valid, v)
				case <-time.After(5 * time.Second):
					t.Fatal("not delivered")
				}
			}
			if off {
				assert.Equal(t, []bool{false, false, false}, valid)
				assert.Zero(t, r.drv.Counters.RxCsumGood.Load()+r.drv.Counters.RxCsumBad.Load())
				return
			}
			assert.Equal(t, []bool{true, false, false}, valid)
			assert.EqualValues(t, 1, r.drv.Counters.RxCsumGood.Load())
			assert.EqualValues(t, 1, r.drv.Counters.RxCsumBad.Load())
		})
	}
}

// Receiving in place: a frame of the copybreak or longer goes up in the
// receive arena's area it was written into, a shorter one is copied; with
// the arena empty (the stack holding every area) frames are copied and
// still arrive exact, and once the stack lets go they go in place again.
// Down gives every posted area back.
func TestReceiveInPlace(t *testing.T) {
	live := skb.Live()
	const ring, areas = 64, 80
	r := newRig(t, Config{RxRing: ring, RxArena: areas})
	const ethertype = 0x88b6
	got := make(chan *skb.Buff, 256)
	r.core.AddPacketType(ethertype, func(b *skb.Buff) { got <- b })
	rng := rand.New(rand.NewSource(5))
	frame := func(size int) []byte {
		f := drivertest.Frame(r.drv.Dev.HardwareAddr, 0, size, rng)
		binary.BigEndian.PutUint16(f[12:], ethertype)
		return f
	}
	recv := func(f []byte) *skb.Buff {
		t.Helper()
		require.True(t, r.f.receive(f, rxd_STAT_DD|rxd_STAT_EOP, 0, len(f)))
		select {
		case b := <-got:
			b.PushToMAC()
			require.True(t, bytes.Equal(f, b.Data()), "frame bytes")
			return b
		case <-time.After(5 * time.Second):
			t.Fatal("frame not delivered")
			return nil
		}
	}
	inArena := func(b *skb.Buff) bool {
		a, _ := b.DMA()
		return a != nil && a != r.drv.Dev.TxArena()
	}

	small := recv(frame(e1000x.DefaultRxCopybreak - 1))
	assert.False(t, inArena(small), "below the copybreak: copied")
	small.Free()

	var held []*skb.Buff
	inPlace, copied := 0, 0
	for range 40 { // more than the areas the ring does not hold
		b := recv(frame(1514))
		if inArena(b) {
			inPlace++
			require.Zero(t, copied, "in place again before the stack let go")
		} else {
			copied++
		}
		held = append(held, b)
	}
	assert.Equal(t, areas-ring, inPlace, "every spare area went up")
	assert.Equal(t, 40-inPlace, copied, "then copied, not dropped")
	skb.FreeBulk(held)
	b := recv(frame(300))
	assert.True(t, inArena(b), "in place once the areas came back")
	b.Free()

	require.NoError(t, r.drv.Dev.Down()) // the poll has ended: its counts are in
	assert.EqualValues(t, inPlace+1, r.drv.Counters.RxInPlace.Load())
	assert.EqualValues(t, copied, r.drv.Counters.RxArenaEmpty.Load())
	assert.Equal(t, live, skb.Live(), "down gave the posted areas back")
}

// Receiving in place allocates nothing in steady state: the areas cycle
// between the ring, the stack and the arena, 32 at a time into the
// ring's spares.
func TestReceiveInPlaceNoAlloc(t *testing.T) {
	if israce.Enabled {
		t.Skip("the race detector allocates")
	}
	r := newRig(t, Config{BusyPoll: true})
	const ethertype = 0x88b6
	done := make(chan struct{}, 1)
	r.core.AddPacketType(ethertype, func(b *skb.Buff) { b.Free(); done <- struct{}{} })
	f := drivertest.Frame(r.drv.Dev.HardwareAddr, 0, 1514, rand.New(rand.NewSource(7)))
	binary.BigEndian.PutUint16(f[12:], ethertype)
	recv := func() {
		for !r.f.receive(f, rxd_STAT_DD|rxd_STAT_EOP, 0, len(f)) {
			runtime.Gosched() // the ring is full: the poller catches up
		}
		<-done
	}
	for range 500 { // every slot, spare and pool warmed
		recv()
	}
	before := r.drv.Counters.RxInPlace.Load()
	allocs := testing.AllocsPerRun(200, recv)
	assert.Zero(t, allocs, "allocations a frame received in place")
	assert.Greater(t, r.drv.Counters.RxInPlace.Load(), before, "the frames went up in place")
}
