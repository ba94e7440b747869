package e1000e

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringonet/ringo/internal/drivertest"
	"github.com/ringonet/ringo/internal/e1000x"
	"github.com/ringonet/ringo/irq"
	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/netcore/skb"
)

type rig struct {
	f    *fake82574
	core *netcore.Core
	br   *irq.Bridge
	drv  *Driver
	ip   *ipSink
}

// ipSink keeps what the driver said about each IPv4 frame it took up.
type ipSink struct {
	mu     sync.Mutex
	frames [][]byte
	valid  []bool
	hash   []uint32
}

func (s *ipSink) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.frames)
}

func newRig(t *testing.T, msix bool, cfg Config) *rig {
	r := &rig{f: newFake(t, msix), ip: &ipSink{}}
	r.core, r.br = drivertest.Core(t, netcore.Config{CPUs: 2})
	r.core.AddPacketType(header.EtherTypeIPv4, func(b *skb.Buff) {
		r.ip.mu.Lock()
		b.PushToMAC()
		r.ip.frames = append(r.ip.frames, append([]byte(nil), b.Data()...))
		r.ip.valid = append(r.ip.valid, b.CsumValid)
		r.ip.hash = append(r.ip.hash, b.Hash)
		r.ip.mu.Unlock()
		b.Free()
	})
	cfg.Logger = drivertest.Quiet
	if cfg.RxRing == 0 {
		cfg.RxRing = 64
	}
	if cfg.TxRing == 0 {
		cfg.TxRing = 128
	}
	var err error
	r.drv, err = New(r.core, r.br, r.f.hw(), cfg)
	require.NoError(t, err)
	require.NoError(t, r.drv.Dev.Up())
	t.Cleanup(func() { r.drv.Dev.Down() })
	return r
}

// udpFrame is an IPv4 UDP frame from src:sport to dst:dport with correct
// checksums (bad: a wrong UDP checksum).
func udpFrame(dstMAC []byte, src, dst string, sport, dport uint16, payload int, bad bool) []byte {
	f := make([]byte, 14+20+8+payload)
	copy(f[0:6], dstMAC)
	copy(f[6:12], []byte{2, 0, 0, 0, 0, 9})
	binary.BigEndian.PutUint16(f[12:], header.EtherTypeIPv4)
	ip := f[14:]
	ip[0], ip[8], ip[9] = 0x45, 64, header.ProtoUDP
	binary.BigEndian.PutUint16(ip[2:], uint16(20+8+payload))
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(ip[12:16], s[:])
	copy(ip[16:20], d[:])
	binary.BigEndian.PutUint16(ip[10:], header.Fold(header.Checksum(ip[:20], 0)))
	u := ip[20:]
	binary.BigEndian.PutUint16(u[0:], sport)
	binary.BigEndian.PutUint16(u[2:], dport)
	binary.BigEndian.PutUint16(u[4:], uint16(8+payload))
	for i := range payload {
		u[8+i] = byte(i)
	}
	sum := header.PseudoHeaderSum(s, d, header.ProtoUDP, 8+payload)
	c := header.Fold(header.Checksum(u, sum))
	if bad {
		c ^= 0x5a5a
	}
	binary.BigEndian.PutUint16(u[6:], c)
	return f
}

func TestPCIDriverIDs(t *testing.T) {
	assert.True(t, PCIDriver.Supports(0x8086, 0x10d3))
	assert.False(t, PCIDriver.Supports(0x8086, 0x100e), "the 82540EM is the e1000's")
}

// With MSI-X each queue pair's NAPI runs on its own softnet, and each
// cause reaches the driver on the vector IVAR routes it to: frames RSS
// puts on queue 1 raise vector 1 and nothing else, a link change the
// other vector; every vector's interrupts are counted on its own line.
func TestMSIXVectors(t *testing.T) {
	r := newRig(t, true, Config{RSSKey: rssTestKey})
	require.Equal(t, 2, r.drv.Queues())
	assert.Equal(t, 0, r.drv.NAPI(0).CPU())
	assert.Equal(t, 1, r.drv.NAPI(1).CPU())
	lines := r.drv.IRQLines()
	require.Len(t, lines, NumVectors)
	names := []string{}
	for _, l := range lines {
		names = append(names, l.Name+"@cpu"+fmt.Sprint(l.CPU))
	}
	assert.Equal(t, []string{"eth0-rx-0@cpu0", "eth0-rx-1@cpu1", "eth0-tx-0@cpu0", "eth0-tx-1@cpu1", "eth0@cpu0"}, names)

	// One flow RSS sends to each queue under the test key (UDP hashes
	// on the addresses alone; the driver's table alternates queues).
	mac := r.drv.Dev.HardwareAddr
	var flows [2][]byte
	for i := 0; flows[0] == nil || flows[1] == nil; i++ {
		require.Less(t, i, 250, "no flow for one of the queues")
		f := udpFrame(mac, fmt.Sprintf("10.0.%d.2", i), "10.0.0.1", 1000, 7, 32, false)
		flows[toeplitz(rssTestKey, f[26:34])&0x7f%2] = f
	}
	before := [NumVectors]int{}
	for v := range before {
		before[v] = r.f.firedBy(v)
	}
	require.True(t, r.f.receive(flows[1]))
	require.Eventually(t, func() bool { return r.ip.len() == 1 }, 5*time.Second, time.Millisecond)
	assert.Equal(t, 1, r.f.rxOn(1))
	assert.Equal(t, before[VectorRx1]+1, r.f.firedBy(VectorRx1))
	for _, v := range []int{VectorRx0, VectorTx0, VectorTx1, VectorOther} {
		assert.Equal(t, before[v], r.f.firedBy(v), "vector %d", v)
	}
	require.Eventually(t, func() bool { return lines[VectorRx1].Count() == 1 }, 5*time.Second, time.Millisecond)
	assert.EqualValues(t, 1, r.drv.q[1].rxPackets.Load())

	// The RX cause masked itself; the completed poll unmasked it, so the
	// next frame on queue 1 interrupts again.
	require.True(t, r.f.receive(flows[1]))
	require.True(t, r.f.receive(flows[0]))
	require.Eventually(t, func() bool { return r.ip.len() == 3 }, 5*time.Second, time.Millisecond)
	assert.Equal(t, before[VectorRx1]+2, r.f.firedBy(VectorRx1))
	assert.Equal(t, before[VectorRx0]+1, r.f.firedBy(VectorRx0))

	r.f.setLink(false)
	require.Eventually(t, func() bool { return !r.drv.Dev.Carrier() }, 5*time.Second, time.Millisecond)
	assert.Equal(t, before[VectorOther]+1, r.f.firedBy(VectorOther))
	r.f.setLink(true)
	require.Eventually(t, func() bool { return r.drv.Dev.Carrier() }, 5*time.Second, time.Millisecond)
	assert.Equal(t, before[VectorOther]+2, r.f.firedBy(VectorOther), "the other vector was unmasked again")
}

// RSS spreads flows over both queues as the redirection table says, the
// hash reaches the skb, and each queue's frames arrive in order.
func TestRSSSpreadsFlows(t *testing.T) {
	r := newRig(t, true, Config{RSSKey: rssTestKey})
	mac := r.drv.Dev.HardwareAddr
	rng := rand.New(rand.NewSource(1))
	var want [2]int
	const n = 48
	hashes := map[string]uint32{}
	for i := range n {
		src := fmt.Sprintf("192.0.2.%d", 1+rng.Intn(250))
		f := udpFrame(mac, src, "198.51.100.7", uint16(4000+i), 9, 64, false)
		h := toeplitz(rssTestKey, f[26:34])
		want[h&0x7f%2]++
		hashes[string(f)] = h
		require.True(t, r.f.receive(f))
		require.Eventually(t, func() bool { return r.ip.len() == i+1 }, 5*time.Second, time.Millisecond)
	}
	assert.Equal(t, want[0], r.f.rxOn(0))
	assert.Equal(t, want[1], r.f.rxOn(1))
	assert.NotZero(t, want[0])
	assert.NotZero(t, want[1])
	assert.EqualValues(t, want[0], r.drv.q[0].rxPackets.Load())
	assert.EqualValues(t, want[1], r.drv.q[1].rxPackets.Load())
	assert.EqualValues(t, n, r.drv.Counters.RxHashed.Load())
	r.ip.mu.Lock()
	defer r.ip.mu.Unlock()
	for i, f := range r.ip.frames {
		assert.Equal(t, hashes[string(f)], r.ip.hash[i], "skb hash of frame %d", i)
	}
}

// Receive checksum offload: a frame the device verified goes up marked
// (the stack skips its sum); one it found bad goes up unmarked, counted,
// for the stack to check and drop; with offload off nothing is marked.
func TestRxChecksumOffload(t *testing.T) {
	for _, off := range []bool{false, true} {
		t.Run(fmt.Sprintf("NoRxCsum=%v", off), func(t *testing.T) {
			r := newRig(t, true, Config{NoRxCsum: off})
			mac := r.drv.Dev.HardwareAddr
			require.True(t, r.f.receive(udpFrame(mac, "10.1.1.1", "10.1.1.2", 5, 6, 100, false)))
			require.Eventually(t, func() bool { return r.ip.len() == 1 }, 5*time.Second, time.Millisecond)
			require.True(t, r.f.receive(udpFrame(mac, "10.1.1.1", "10.1.1.2", 5, 6, 100, true)))
			require.Eventually(t, func() bool { return r.ip.len() == 2 }, 5*time.Second, time.Millisecond)
			r.ip.mu.Lock()
			valid := append([]bool(nil), r.ip.valid...)
			r.ip.mu.Unlock()
			if off {
				assert.Equal(t, []bool{false, false}, valid)
				assert.Zero(t, r.drv.Counters.RxCsumGood.Load())
				assert.Zero(t, r.drv.Counters.RxCsumBad.Load())
				assert.False(t, r.drv.Dev.Features.Has(netcore.FeatureRxCsum))
				return
			}
			assert.Equal(t, []bool{true, false}, valid)
			assert.EqualValues(t, 1, r.drv.Counters.RxCsumGood.Load())
			assert.EqualValues(t, 1, r.drv.Counters.RxCsumBad.Load())
			assert.True(t, r.drv.Dev.Features.Has(netcore.FeatureRxCsum))
		})
	}
}

// Whatever a hostile or broken device writes into a descriptor, the
// driver drops and counts the frame, never reads past its buffer, and
// gives the descriptor back: a good frame after each still arrives.
func TestHostileRxDescriptors(t *testing.T) {
	r := newRig(t, true, Config{Queues: 2})
	mac := r.drv.Dev.HardwareAddr
	good := udpFrame(mac, "10.2.0.1", "10.2.0.2", 1, 2, 20, false)
	cases := []struct {
		name   string
		se     uint32
		length int
	}{
		{"length zero", rxdStat_DD | rxdStat_EOP, 0},
		{"length past the buffer", rxdStat_DD | rxdStat_EOP, 65535},
		{"shorter than a header", rxdStat_DD | rxdStat_EOP, 13},
		{"no EOP", rxdStat_DD, len(good)},
		{"CRC error", rxdStat_DD | rxdStat_EOP | rxdErr_CE, len(good)},
		{"RX data error", rxdStat_DD | rxdStat_EOP | rxdErr_RXE, len(good)},
	}
	for i, c := range cases {
		for q := 0; q < 2; q++ {
			require.True(t, r.f.receiveRaw(q, good, c.se, c.length), c.name)
			require.True(t, r.f.receiveRaw(q, good, rxdStat_DD|rxdStat_EOP, len(good)))
			require.Eventually(t, func() bool { return r.ip.len() == 2*i+q+1 }, 5*time.Second, time.Millisecond, c.name)
		}
	}
	c := &r.drv.Counters
	assert.EqualValues(t, 6, c.RxBadLength.Load())
	assert.EqualValues(t, 2, c.RxNoEOP.Load())
	assert.EqualValues(t, 4, c.RxDescErrors.Load())
	assert.EqualValues(t, 12, r.drv.Dev.Stats.RxErrors.Load())
	assert.EqualValues(t, 2, r.drv.Dev.Stats.RxCRCErrors.Load())
	// 2 x 64-entry rings wrapped: every descriptor went back.
	for range 80 {
		require.True(t, r.f.receiveRaw(1, good, rxdStat_DD|rxdStat_EOP|rxdErr_SE, len(good)))
		require.Eventually(t, func() bool { return r.f.reg(qreg(regRDT, 1)) != r.f.reg(qreg(regRDH, 1)) }, 5*time.Second, time.Millisecond)
	}
}

// Transmit spreads flows over both rings, a flow stays on one, offloaded
// packets come out segmented and checksummed, and per-queue counters add
// up.
func TestTransmitQueues(t *testing.T) {
	for _, mode := range []string{"single", "burst", "burst-in-place"} {
		t.Run(mode, func(t *testing.T) {
			burst := mode != "single"
			live := skb.Live()
			r := newRig(t, true, Config{})
			dst := []byte{2, 0, 0, 0, 0, 9}
			var bs []*skb.Buff
			for i := range 32 {
				f := udpFrame(dst, "10.3.0.1", fmt.Sprintf("10.3.1.%d", i), 1000, 2000, 50, false)
				for range 3 {
					b := skb.Alloc(len(f))
					if mode == "burst-in-place" {
						// Built where the device reads: sent without a copy
						// from the ring of its flow.
						b.Free()
						one := []*skb.Buff{nil}
						r.drv.Dev.TxArena().AllocBulk(one, len(f))
						b = one[0]
						ar, _ := b.DMA()
						require.NotNil(t, ar)
					}
					copy(b.Put(len(f)), f)
					b.Dev = r.drv.Dev
					if !burst {
						require.NoError(t, netcore.DevQueueXmit(b))
						continue
					}
					// Bursts of 32 mixing the flows of both rings
					// (StartXmitBurst).
					if bs = append(bs, b); len(bs) == 32 {
						n, err := netcore.DevQueueXmitBurst(bs)
						require.NoError(t, err)
						require.Equal(t, 32, n)
						bs = bs[:0]
					}
				}
			}
			require.Eventually(t, func() bool { return len(r.f.sentOn(0))+len(r.f.sentOn(1)) == 96 }, 5*time.Second, time.Millisecond)
			for q := 0; q < 2; q++ {
				sent := r.f.sentOn(q)
				assert.NotEmpty(t, sent, "queue %d", q)
				for _, f := range sent {
					assert.Equal(t, q, scaleHash(txHash(f), 2), "a flow stays on its ring")
				}
				assert.EqualValues(t, len(sent), r.drv.q[q].txPackets.Load())
			}
			assert.EqualValues(t, 96, r.drv.Dev.Stats.TxPackets.Load())
			require.NoError(t, r.drv.Dev.Down()) // frees what the rings kept
			assert.Zero(t, r.drv.Dev.TxArena().InUse())
			assert.Equal(t, live, skb.Live(), "every skb freed")
		})
	}
}

// A frame that carries a flow hash (a TCP connection's transmit hash, or
// the one it came in with) takes its ring from it, not from its headers:
// one flow's frames with two hashes leave by the two rings the hashes
// pick, single and in a burst.
func TestTransmitQueueFromSkbHash(t *testing.T) {
	r := newRig(t, true, Config{})
	f := udpFrame([]byte{2, 0, 0, 0, 0, 9}, "10.3.0.1", "10.3.1.1", 1000, 2000, 50, false)
	hashes := [2]uint32{0x10000000, 0xf0000000} // ring 0, ring 1
	require.Equal(t, 0, scaleHash(hashes[0], 2))
	require.Equal(t, 1, scaleHash(hashes[1], 2))
	var bs []*skb.Buff
	for i := range 8 {
		b := skb.Alloc(len(f))
		copy(b.Put(len(f)), f)
		b.Dev, b.Hash = r.drv.Dev, hashes[i%2]
		if i < 4 {
			require.NoError(t, netcore.DevQueueXmit(b))
			continue
		}
		bs = append(bs, b)
	}
	n, err := netcore.DevQueueXmitBurst(bs)
	require.NoError(t, err)
	require.Equal(t, 4, n)
	require.Eventually(t, func() bool { return len(r.f.sentOn(0))+len(r.f.sentOn(1)) == 8 }, 5*time.Second, time.Millisecond)
	assert.Len(t, r.f.sentOn(0), 4, "the frames whose hash picks ring 0")
	assert.Len(t, r.f.sentOn(1), 4, "the frames whose hash picks ring 1")
}

// VLAN offload: a VLAN device over the NIC puts its id in the filter
// table and turns the filter on; a tagged frame for it arrives untagged
// by the part, on the VLAN device, with its TCI; one for an id nobody
// uses never leaves the part; a frame sent on the VLAN device leaves the
// driver untagged and the part inserts the tag.
func TestVLANOffload(t *testing.T) {
	r := newRig(t, true, Config{})
	var dev []string
	r.core.AddPacketType(0x88b5, func(b *skb.Buff) {
		r.ip.mu.Lock()
		dev = append(dev, fmt.Sprintf("%s %#04x %v", b.Dev.(*netcore.Device).Name, b.VlanTCI, b.VlanPresent))
		r.ip.mu.Unlock()
		b.Free()
	})
	v, err := r.core.AddVLAN(r.drv.Dev, 100)
	require.NoError(t, err)
	require.NoError(t, v.Up())
	assert.NotZero(t, r.f.reg(regRCTL)&rctl_VFE, "filter on")
	assert.Equal(t, uint32(1<<(100&31)), r.f.reg(e1000x.RegVFTA(100>>5)))
	assert.Equal(t, uint32(1), r.f.reg(e1000x.RegVFTA(0)), "id 0: priority tags pass")
	assert.NotZero(t, r.f.reg(regCTRL)&ctrl_VME)

	tagged := func(tci uint16) []byte {
		f := make([]byte, 64)
		copy(f, r.drv.Dev.HardwareAddr)
		copy(f[6:], []byte{2, 0, 0, 0, 0, 9})
		binary.BigEndian.PutUint16(f[12:], 0x8100)
		binary.BigEndian.PutUint16(f[14:], tci)
		binary.BigEndian.PutUint16(f[16:], 0x88b5)
		return f
	}
	require.True(t, r.f.receive(tagged(3<<13|100)))
	require.False(t, r.f.receive(tagged(200)), "id 200 filtered")
	require.Eventually(t, func() bool { r.ip.mu.Lock(); defer r.ip.mu.Unlock(); return len(dev) == 1 }, 5*time.Second, time.Millisecond)
	assert.Equal(t, []string{"eth0.100 0x6064 true"}, dev)
	assert.Equal(t, 1, r.f.vlanFiltered)

	b := skb.Alloc(60)
	p := b.Put(60)
	copy(p[0:6], []byte{2, 0, 0, 0, 0, 9})
	copy(p[6:12], r.drv.Dev.HardwareAddr)
	binary.BigEndian.PutUint16(p[12:], 0x88b5)
	b.Dev = v
	require.NoError(t, netcore.DevQueueXmit(b))
	require.Eventually(t, func() bool { return len(r.f.sentOn(0))+len(r.f.sentOn(1)) == 1 }, 5*time.Second, time.Millisecond)
	sent := append(r.f.sentOn(0), r.f.sentOn(1)...)[0]
	assert.Equal(t, []byte{0x81, 0x00, 0x00, 0x64, 0x88, 0xb5}, sent[12:18], "the part inserted the tag")
	assert.Len(t, sent, 64)

	require.NoError(t, r.core.Unregister(v))
	assert.Zero(t, r.f.reg(regRCTL)&rctl_VFE, "no VLANs: filter off")
	assert.Zero(t, r.f.reg(e1000x.RegVFTA(100>>5)))
}

// Jumbo frames on the 82574L: MTU 9000 turns long packet reception on; a
// 9014-byte frame written over five buffers of queue 1 arrives whole with
// its last descriptor's verdicts, and one sent leaves over five
// descriptors.
func TestJumboFrames(t *testing.T) {
	r := newRig(t, true, Config{})
	assert.Error(t, r.drv.Dev.SetMTU(9001))
	require.NoError(t, r.drv.Dev.SetMTU(9000))
	assert.NotZero(t, r.f.reg(regRCTL)&rctl_LPE)
	frame := udpFrame(r.drv.Dev.HardwareAddr, "10.9.0.1", "10.9.0.2", 1, 2, 9014-42, false)
	for off := 0; off < len(frame); off += bufSize {
		n := min(bufSize, len(frame)-off)
		se := uint32(rxdStat_DD)
		if off+n == len(frame) {
			se |= rxdStat_EOP | r.f.csumOf(frame)
		}
		require.True(t, r.f.receiveRaw(1, frame[off:off+n], se, n))
	}
	require.Eventually(t, func() bool { return r.ip.len() == 1 }, 5*time.Second, time.Millisecond)
	r.ip.mu.Lock()
	assert.Equal(t, frame, r.ip.frames[0])
	assert.True(t, r.ip.valid[0], "the checksum verdict of the last descriptor")
	r.ip.mu.Unlock()
	assert.EqualValues(t, 1, r.drv.q[1].rxPackets.Load())

	b := skb.Alloc(len(frame))
	copy(b.Put(len(frame)), frame)
	b.Dev = r.drv.Dev
	require.NoError(t, netcore.DevQueueXmit(b))
	require.Eventually(t, func() bool { return len(r.f.sentOn(0))+len(r.f.sentOn(1)) == 1 }, 5*time.Second, time.Millisecond)
	assert.Equal(t, frame, append(r.f.sentOn(0), r.f.sentOn(1)...)[0])
}

// Busy polling: both queue pairs run with every interrupt masked, RSS
// still spreads the flows, and the poller takes every frame from both
// rings.
func TestBusyPoll(t *testing.T) {
	f := newFake(t, false)
	core, _ := drivertest.Core(t, netcore.Config{CPUs: 2})
	drv, err := New(core, nil, HW{Regs: f, DMA: f.dma}, Config{BusyPoll: true, RxRing: 64, TxRing: 64, RSSKey: rssTestKey, Logger: drivertest.Quiet})
	require.NoError(t, err)
	require.Equal(t, 2, drv.Queues(), "busy polling takes both queue pairs")
	var mu sync.Mutex
	n := 0
	core.AddPacketType(header.EtherTypeIPv4, func(b *skb.Buff) { mu.Lock(); n++; mu.Unlock(); b.Free() })
	require.NoError(t, drv.Dev.Up())
	defer drv.Dev.Down()
	for i := range 200 {
		fr := udpFrame(drv.Dev.HardwareAddr, fmt.Sprintf("10.7.%d.%d", i/200, 1+i%200), "10.7.0.254", 5, 6, 18, false)
		// The ring may be full until the poller catches up.
		require.Eventually(t, func() bool { return f.receive(fr) }, 5*time.Second, 50*time.Microsecond)
	}
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return n == 200 }, 10*time.Second, time.Millisecond)
	assert.Zero(t, f.reg(regIMS), "no interrupt enabled")
	assert.Empty(t, drv.IRQLines())
	assert.NotZero(t, f.rxOn(0))
	assert.NotZero(t, f.rxOn(1))
	assert.Positive(t, drv.Counters.BusyPollRounds.Load())
}

// A wedged transmitter: the rings fill, the queue stops, the watchdog
// calls TxTimeout, the driver resets the part and rebuilds every ring, the
// frames in flight are counted as errors, and traffic flows again.
func TestTxTimeoutReset(t *testing.T) {
	r := newRig(t, true, Config{TxRing: 64, TxTimeout: 200 * time.Millisecond})
	r.f.mu.Lock()
	r.f.holdTx = true
	r.f.mu.Unlock()
	send := func(i int) error {
		f := udpFrame([]byte{2, 0, 0, 0, 0, 9}, "10.4.0.1", fmt.Sprintf("10.4.1.%d", i%250), 1, 2, 100, false)
		b := skb.Alloc(len(f))
		copy(b.Put(len(f)), f)
		b.Dev = r.drv.Dev
		return netcore.DevQueueXmit(b)
	}
	for i := 0; !r.drv.Dev.NetifQueueStopped(); i++ {
		require.Less(t, i, 10000, "the queue never stopped")
		send(i)
	}
	inFlight := uint64(r.drv.q[0].tx.InUse() + r.drv.q[1].tx.InUse())
	require.Positive(t, inFlight)
	// The reset counts the frames in flight as errors once it has taken
	// the rings down.
	require.Eventually(t, func() bool { return r.drv.Dev.Stats.TxErrors.Load() == inFlight }, 10*time.Second, time.Millisecond)
	assert.EqualValues(t, 1, r.drv.Counters.Resets.Load())
	r.f.mu.Lock()
	r.f.holdTx = false
	r.f.mu.Unlock()
	require.Eventually(t, func() bool { return !r.drv.Dev.NetifQueueStopped() }, 10*time.Second, time.Millisecond)
	before := len(r.f.sentOn(0)) + len(r.f.sentOn(1))
	require.NoError(t, send(1))
	require.Eventually(t, func() bool { return len(r.f.sentOn(0))+len(r.f.sentOn(1)) > before }, 10*time.Second, time.Millisecond)
}

// Without MSI-X (MSI or a shared INTx line) the driver runs one queue pair
// on one vector as the e1000 does: reading ICR acknowledges and masks
// every cause (IAME), the completed poll unmasks them; RSS stays off.
func TestSingleVector(t *testing.T) {
	r := newRig(t, false, Config{})
	require.Equal(t, 1, r.drv.Queues())
	assert.False(t, r.drv.MSIX())
	require.Len(t, r.drv.IRQLines(), 1)
	assert.Zero(t, r.f.reg(regMRQC), "no RSS with one queue")
	assert.NotZero(t, r.f.reg(regCTRL_EXT)&ctrlExt_IAME)
	for i := range 20 {
		require.True(t, r.f.receive(udpFrame(r.drv.Dev.HardwareAddr, fmt.Sprintf("10.8.0.%d", i+1), "10.8.0.254", 1, 2, 32, false)))
		require.Eventually(t, func() bool { return r.ip.len() == i+1 }, 5*time.Second, time.Millisecond)
	}
	assert.EqualValues(t, 20, r.f.firedBy(0), "an interrupt per frame, each unmasked by the poll before the next")
	assert.Equal(t, 20, r.f.rxOn(0))
	_, err := New(r.core, r.br, HW{Regs: r.f, DMA: r.f.dma, IRQs: r.f.hw().IRQs}, Config{Queues: 2, Logger: drivertest.Quiet})
	assert.ErrorContains(t, err, "need MSI-X")
}

// Receiving in place on each queue: a frame of the copybreak or longer
// goes up in the receive arena's area the device wrote it into, a short
// one is copied, and the bytes arrive exact either way; down gives the
// posted areas back.
func TestReceiveInPlace(t *testing.T) {
	live := skb.Live()
	r := newRig(t, true, Config{})
	const ethertype = 0x88b6
	got := make(chan *skb.Buff, 8)
	r.core.AddPacketType(ethertype, func(b *skb.Buff) { got <- b })
	rng := rand.New(rand.NewSource(6))
	for q := range r.drv.Queues() {
		for _, size := range []int{e1000x.DefaultRxCopybreak - 1, e1000x.DefaultRxCopybreak, 1514} {
			f := drivertest.Frame(r.drv.Dev.HardwareAddr, 0, size, rng)
			binary.BigEndian.PutUint16(f[12:], ethertype)
			require.True(t, r.f.receiveRaw(q, f, rxdStat_DD|rxdStat_EOP, len(f)))
			select {
			case b := <-got:
				b.PushToMAC()
				assert.True(t, bytes.Equal(f, b.Data()), "queue %d, %d bytes", q, size)
				a, _ := b.DMA()
				inPlace := a != nil && a != r.drv.Dev.TxArena()
				assert.Equal(t, size >= e1000x.DefaultRxCopybreak, inPlace, "queue %d, %d bytes in place", q, size)
				b.Free()
			case <-time.After(5 * time.Second):
				t.Fatalf("queue %d: %d-byte frame not delivered", q, size)
			}
		}
	}
	require.NoError(t, r.drv.Dev.Down())
	assert.Equal(t, live, skb.Live(), "down gave the posted areas back")
}
