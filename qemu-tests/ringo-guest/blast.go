package main

import (
	"encoding/base64"
	"fmt"
	"net"
	"runtime/pprof"
	"sync/atomic"
	"time"

	"github.com/ringonet/ringo/appliance"
	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/skb"
)

// BlastReport is one raw-frame rate measurement.
type BlastReport struct {
	Size              int
	Sent, Received    int
	TxFPS, RxFPS      float64
	TxSeconds         float64
	RxSeconds         float64
	SenderIRQs        uint64
	ReceiverIRQs      uint64
	ReceiverRxDropped uint64
	ReceiverMissed    uint64  // lost at the receiving device: no room in its ring
	FullWaits         int     // times the sender found the qdisc full and slept
	FullWaitSeconds   float64 // and how long those sleeps took
	Burst             int     // frames per DevQueueXmitBurst (1: DevQueueXmit)
	Doorbells         uint64  // the sender's TDT writes (e1000)
}

// blast sends ringo.frames frames of ringo.size bytes from NIC 0 to NIC 1
// as fast as the sender's ring and qdisc take them, and counts what
// arrives: the raw frame rates of the two drivers.
func blast(args map[string]string, nics []appliance.Opened) error {
	n := atoiDefault(args["ringo.frames"], 20000)
	size := atoiDefault(args["ringo.size"], 60)
	s, err := newStack(nics[:2], stackOpts{busyPoll: args["ringo.mode"] == "poll", ring: 256, ioWidth: 4, vfioPIO: args["ringo.portio"] == "vfio"})
	if err != nil {
		return err
	}
	defer s.close()
	src, dst := s.devs[0], s.devs[1]
	var got atomic.Int64
	var first, last atomic.Int64
	s.core.AddPacketType(0x88b7, func(b *skb.Buff) {
		now := time.Now().UnixNano()
		if got.Add(1) == 1 {
			first.Store(now)
		}
		last.Store(now)
		b.Free()
	})
	// QEMU's e1000 delivers nothing for up to a second after RCTL.EN:
	// send a frame a millisecond until one arrives, so the measurement
	// starts with a working path.
	warm := make([]byte, 60)
	copy(warm[0:6], dst.HardwareAddr)
	copy(warm[6:12], src.HardwareAddr)
	warm[12], warm[13] = 0x88, 0xb7
	for deadline := time.Now().Add(5 * time.Second); got.Load() == 0 && time.Now().Before(deadline); {
		b := skb.Alloc(60)
		copy(b.Put(60), warm)
		b.Dev = src
		netcore.DevQueueXmit(b)
		time.Sleep(time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	got.Store(0)
	missedBefore := s.missed(1) // QEMU counts the frames it refused while warming up
	frame := make([]byte, size)
	copy(frame[0:6], dst.HardwareAddr)
	copy(frame[6:12], src.HardwareAddr)
	frame[12], frame[13] = 0x88, 0xb7
	profiling := startProfile(args)
	var fullWaits int
	var fullWait time.Duration
	// ringo.burst=N hands the driver N frames at a time
	// (DevQueueXmitBurst, as DPDK's tx_burst): one doorbell per batch.
	burst := max(1, atoiDefault(args["ringo.burst"], 1))
	bs := make([]*skb.Buff, burst)
	start := time.Now()
	for i := 0; i < n; {
		k := min(burst, n-i)
		for j := range bs[:k] {
			b := skb.Alloc(size)
			copy(b.Put(size), frame)
			b.Dev = src
			bs[j] = b
		}
		var err error
		queued := 1
		if k == 1 {
			err = netcore.DevQueueXmit(bs[0])
		} else {
			queued, err = netcore.DevQueueXmitBurst(bs[:k])
		}
		if err == netcore.ErrQueueFull {
			if k == 1 {
				queued = 0
			}
			t0 := time.Now()
			time.Sleep(20 * time.Microsecond)
			fullWaits++
			fullWait += time.Since(t0)
		}
		i += queued
	}
	txDone := time.Since(start)
	// Quiet for 500 ms: everything that will arrive has.
	for prev := int64(-1); prev != got.Load(); {
		prev = got.Load()
		time.Sleep(500 * time.Millisecond)
	}
	rep := BlastReport{Size: size, Sent: n, Received: int(got.Load()), TxSeconds: txDone.Seconds(),
		SenderIRQs: s.irqCount(0), ReceiverIRQs: s.irqCount(1), ReceiverRxDropped: dst.Stats.RxDropped.Load(), ReceiverMissed: s.missed(1) - missedBefore}
	rep.TxFPS = float64(n) / txDone.Seconds()
	if rep.Received > 1 {
		rep.RxSeconds = float64(last.Load()-first.Load()) / 1e9
		rep.RxFPS = float64(rep.Received-1) / rep.RxSeconds
	}
	rep.FullWaits, rep.FullWaitSeconds, rep.Burst = fullWaits, fullWait.Seconds(), burst
	rep.Doorbells = s.stat(0, "tx_doorbells")
	if profiling {
		reportProfile()
	}
	report(rep)
	return nil
}

// TxOnlyReport is ringo's side of the DPDK txonly row.
type TxOnlyReport struct {
	Mode       string // poll or irq
	Size       int
	Burst      int
	Seconds    float64
	Sent       uint64  // frames the driver took
	HWTx       uint64  // the device's good_packets_tx over the run
	TxFPS      float64 // frames the device sent / Seconds
	Doorbells  uint64
	QueueFulls int
	InPlace    bool // frames built in the driver's TX arena
	Written    int  // bytes of each frame the sender writes
	// DMAMapped and DMAHuge: the device's DMA memory, and how much of it
	// is on 2 MiB huge pages.
	DMAMapped, DMAHuge int
}

// txOnly is testpmd's txonly on ringo: NIC 0 sends frames of ringo.size
// bytes in bursts of ringo.burst (default 32, testpmd's) for ringo.seconds
// and nothing receives (testpmd polls no receive queue in txonly). As
// testpmd's pkt_burst_prepare does, each frame gets its first 42 bytes
// written (testpmd's Ethernet, IPv4 and UDP headers) and the rest is what
// the buffer holds; ringo.fill=frame writes every byte. ringo.queues
// sets a multi-queue NIC's queue pairs (0: the driver's choice).
func txOnly(args map[string]string, nics []appliance.Opened) error {
	size := atoiDefault(args["ringo.size"], 60)
	secs := atoiDefault(args["ringo.seconds"], 5)
	burst := max(1, atoiDefault(args["ringo.burst"], 32))
	mode := args["ringo.mode"]
	s, err := newStack(nics[:1], stackOpts{busyPoll: mode == "poll", ring: 256, ioWidth: 4, queues: atoiDefault(args["ringo.queues"], 0)})
	if err != nil {
		return err
	}
	defer s.close()
	src := s.devs[0]
	frame := make([]byte, size)
	copy(frame[0:6], []byte{2, 0, 0, 0, 0, 2})
	copy(frame[6:12], src.HardwareAddr)
	frame[12], frame[13] = 0x88, 0xb7
	bs := make([]*skb.Buff, burst)
	arena := src.TxArena()
	if args["ringo.arena"] == "0" {
		arena = nil
	}
	written := min(size, 42)
	if args["ringo.fill"] == "frame" {
		written = size
	}
	rep := TxOnlyReport{Mode: mode, Size: size, Burst: burst, InPlace: arena != nil, Written: written}
	hwBefore, bellsBefore := s.stat(0, "good_packets_tx"), s.stat(0, "tx_doorbells")
	profiling := startProfile(args)
	start := time.Now()
	end := start.Add(time.Duration(secs) * time.Second)
	for i := 0; ; i++ {
		if i%64 == 0 && time.Now().After(end) {
			break
		}
		// testpmd's rte_pktmbuf_alloc_bulk: from the memory the device
		// sends from in place when the driver has it (ringo.arena=0 takes
		// the ordinary pool, and the driver copies).
		arena.AllocBulk(bs, size)
		for _, b := range bs {
			copy(b.Put(size), frame[:written])
			b.Dev = src
		}
		n, err := netcore.DevQueueXmitBurst(bs)
		rep.Sent += uint64(n)
		if err == netcore.ErrQueueFull {
			rep.QueueFulls++
			time.Sleep(20 * time.Microsecond)
		}
	}
	rep.Seconds = time.Since(start).Seconds()
	time.Sleep(100 * time.Millisecond) // the ring drains
	rep.HWTx, rep.Doorbells = s.stat(0, "good_packets_tx")-hwBefore, s.stat(0, "tx_doorbells")-bellsBefore
	// What the device sent, not what the qdisc holds (at most its 1,000
	// frames more, a millisecond's worth).
	rep.TxFPS = float64(min(rep.Sent, rep.HWTx)) / rep.Seconds
	rep.DMAMapped, rep.DMAHuge = nics[0].VFIO.DMA().MappedHuge()
	if profiling {
		reportProfile()
	}
	report(rep)
	return nil
}

// RxOnlyReport is ringo's side of the rxonly row.
type RxOnlyReport struct {
	Mode             string
	Seconds          float64
	RxPackets        uint64 // frames the stack took, over Seconds
	RxFPS            float64
	Missed, NoBuffer uint64 // the device's missed_packets and rx_no_buffer over Seconds
	RxDropped        uint64 // the backlog's drops
}

// rxOnly is testpmd's rxonly on ringo: NIC 0 takes a peer VM's flood
// and frees each frame where the IP layer would get it (no stack: the
// flood is testpmd's IPv4/UDP). The first frame starts the count; it
// runs ringo.seconds.
func rxOnly(args map[string]string, nics []appliance.Opened) error {
	secs := atoiDefault(args["ringo.seconds"], 5)
	mode := args["ringo.mode"]
	s, err := newStack(nics[:1], stackOpts{busyPoll: mode == "poll", ring: 256, ioWidth: 4})
	if err != nil {
		return err
	}
	defer s.close()
	var got atomic.Uint64
	s.core.AddPacketType(0x0800, func(b *skb.Buff) { got.Add(1); b.Free() })
	deadline := time.Now().Add(3 * time.Minute) // the peer boots and starts testpmd
	for got.Load() == 0 {
		if time.Now().After(deadline) {
			return fmt.Errorf("rxonly: no traffic from the peer")
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // past the first burst QEMU queued
	dev := s.devs[0]
	n0, miss0, nobuf0, drop0 := got.Load(), s.stat(0, "missed_packets"), s.stat(0, "rx_no_buffer"), dev.Stats.RxDropped.Load()
	profiling := startProfile(args)
	start := time.Now()
	time.Sleep(time.Duration(secs) * time.Second)
	rep := RxOnlyReport{Mode: mode, Seconds: time.Since(start).Seconds(), RxPackets: got.Load() - n0,
		Missed: s.stat(0, "missed_packets") - miss0, NoBuffer: s.stat(0, "rx_no_buffer") - nobuf0, RxDropped: dev.Stats.RxDropped.Load() - drop0}
	rep.RxFPS = float64(rep.RxPackets) / rep.Seconds
	if profiling {
		reportProfile()
	}
	report(rep)
	return nil
}

// l2fwd is testpmd's mac forwarding on ringo: each frame NIC 0 receives
// goes out of NIC 1, its destination the sink's MAC (ringo.ethpeer) and
// its source NIC 1's, taken at NIC 0's ingress hook before any protocol.
// It reports once it forwards and runs until the host stops the VM; the
// sink counts.
func l2fwd(args map[string]string, nics []appliance.Opened) error {
	sink, err := net.ParseMAC(args["ringo.ethpeer"])
	if err != nil {
		return fmt.Errorf("l2fwd: ringo.ethpeer: %w", err)
	}
	s, err := newStack(nics[:2], stackOpts{busyPoll: args["ringo.mode"] == "poll", ring: 256, ioWidth: 4})
	if err != nil {
		return err
	}
	defer s.close()
	in, out := s.devs[0], s.devs[1]
	var forwarded atomic.Uint64
	// Frames leave in bursts, sent when 32 wait and at the end of each
	// receive round (netcore.BulkXmit, XDP's bulk queue); ringo.bulk=0
	// sends each as it comes (DevQueueXmit).
	bulk := s.core.NewBulkXmit(out)
	perFrame := args["ringo.bulk"] == "0"
	in.SetHooks(func(b *skb.Buff) bool {
		if !b.PushToMAC() {
			return false
		}
		f := b.Data()
		copy(f[0:6], sink)
		copy(f[6:12], out.HardwareAddr)
		b.Dev = out
		forwarded.Add(1)
		if perFrame {
			netcore.DevQueueXmit(b)
		} else {
			bulk.Xmit(b)
		}
		return true
	}, nil)
	for forwarded.Load() == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	report(map[string]bool{"Forwarding": true})
	reportCPUTicks() // until the host stops the VM
	return nil
}

// startProfile starts the guest's CPU profile into profBuf when the host
// asked for one (ringo.pprof).
func startProfile(args map[string]string) bool {
	return args["ringo.pprof"] != "" && pprof.StartCPUProfile(&profBuf) == nil
}

// reportProfile ends the CPU profile and sends it, the host taking it as
// the first of two reports.
func reportProfile() {
	pprof.StopCPUProfile()
	report(map[string]string{"Pprof": base64.StdEncoding.EncodeToString(profBuf.Bytes())})
}
