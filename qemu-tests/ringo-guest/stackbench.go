package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/icmp"

	"github.com/ringonet/ringo/appliance"
	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/socket"
	"github.com/ringonet/ringo/netcore/tcp"
)

// The stack benchmark: a device under test (ringo's drivers and stack, or
// the Linux kernel's, on the same NIC model) against a Linux peer VM over
// a -netdev socket link. The peer serves on fixed ports:
const (
	benchCtlPort    = 5000 // control: one line per command, one line back
	benchUDPPort    = 5001 // UDP sink (counts) and source (udp-send)
	benchTCPSink    = 5002 // reads to EOF, then closes
	benchTCPSource  = 5003 // reads an 8-byte length, writes that many bytes, closes
	benchQuiet      = 300 * time.Millisecond
	benchSendLimit  = 10 * time.Second
	benchPingWarmup = 60 * time.Second
	// benchRxRing is the e1000 receive ring of ringo, of the kernel as the
	// device under test (its RxDescriptors) and of the peer, unless
	// ringo.ring says otherwise. QEMU's -netdev socket reads the link
	// 68 KB at a time, and an e1000 whose ring fills takes the rest of a
	// read only at its next RDT write, dropping all that does not fit
	// then (qemu_net_queue_flush ignores can_receive; e1000_receive_iov
	// counts it missed): with 256 descriptors a burst of small frames
	// (over 1000 a read) loses most of itself however fast the driver is.
	benchRxRing = 1024
)

// StackBenchReport is the device under test's figures.
type StackBenchReport struct {
	Stack  string // "ringo" or "linux"
	Driver string
	Ping   PingStats
	UDP    []UDPRate
	TCP    []TCPRate
	// ringo on an e1000: the transmit offloads used.
	TxTSO, TxCsumOffload, TxBadOffload uint64 `json:",omitempty"`
	// Diag is ringo's counters at the end (snmp, softnet_stat, the
	// device's and the driver's), for reading why a figure is what it is.
	Diag string `json:",omitempty"`
}

// PingStats is a run of back-to-back 56-byte echo requests.
type PingStats struct {
	Sent, Received     int
	P50, P99, Min, Max float64 // milliseconds
}

// UDPRate is one UDP run: Dir "tx" (DUT sends, the peer counts), "rx"
// (the peer sends from a socket, the DUT counts) or "flood" (the peer's
// kernel pktgen sends, the DUT counts). Rates are datagrams per second,
// measured at the receiver between its first and last datagram.
type UDPRate struct {
	Dir            string
	Payload        int
	Sent, Received int
	SendPPS        float64 // offered: sent / sender's elapsed time
	RecvPPS        float64
	// BusyPct is, for "rx" and "flood", how busy the device under test's
	// one vCPU was between the first and the last datagram (/proc/stat,
	// sampled every 10 ms): well under 100 means something outside the
	// guest — QEMU's device model, the peer, the host's two cores —
	// bounds the rate.
	BusyPct float64 `json:",omitempty"`
	// CPU splits the same window by /proc/stat's columns, with the
	// interrupts the guest took per datagram received (its "intr" line:
	// every interrupt, the timer's too).
	CPU string `json:",omitempty"`
}

// TCPRate is one bulk transfer: "tx" DUT to peer, "rx" peer to DUT.
type TCPRate struct {
	Dir     string
	Bytes   int64
	Seconds float64
	MBps    float64
	Err     string `json:",omitempty"`
	// TCP is, on ringo, the connection's state at the end and what its
	// table counted during the transfer: retransmissions, timeouts,
	// probes, recoveries.
	TCP string `json:",omitempty"`
	// BusyPct is how busy the device under test's CPU was over the
	// transfer, CPU its split (/proc/stat at the start and the end).
	BusyPct float64
	CPU     string `json:",omitempty"`
}

// benchStack is what the benchmark needs of a network stack: ringo's
// socket.Stack and the kernel's (package net) both provide it.
type benchStack interface {
	ListenPacket(network, address string) (net.PacketConn, error)
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
	Ping(ctx context.Context, dst netip.Addr, size, seq int) (time.Duration, error)
}

// ringoBench is ringo's stack as a benchStack.
type ringoBench struct{ *socket.Stack }

func (r ringoBench) Ping(ctx context.Context, dst netip.Addr, size, seq int) (time.Duration, error) {
	return r.IP.Ping(ctx, dst.As4(), size, uint16(seq))
}

// kernelBench is the Linux kernel's stack as a benchStack.
type kernelBench struct {
	net.Dialer
	icmp *icmp.PacketConn
}

func (kernelBench) ListenPacket(network, address string) (net.PacketConn, error) {
	return net.ListenPacket(network, address)
}

func (k kernelBench) Ping(ctx context.Context, dst netip.Addr, size, seq int) (time.Duration, error) {
	return echo(k.icmp, dst.AsSlice(), seq, size, 4242)
}

// stackBench is the device under test on ringo: NIC 0 with ringo.ip, the
// benchmark against ringo.target.
func stackBench(args map[string]string, nics []appliance.Opened) error {
	s, err := newStack(nics[:1], stackOpts{busyPoll: args["ringo.mode"] == "poll", ring: atoiDefault(args["ringo.ring"], benchRxRing), ioWidth: 4,
		cpus: atoiDefault(args["ringo.cpus"], 1), queues: atoiDefault(args["ringo.queues"], 0)})
	if err != nil {
		return err
	}
	defer s.close()
	st, err := socket.New(s.core, socket.Config{TCP: tcp.Config{SndBuf: atoiDefault(args["ringo.sndbuf"], 0), SndBufMax: atoiDefault(args["ringo.sndbufmax"], 0), RcvBuf: atoiDefault(args["ringo.rcvbuf"], 0)}})
	if err != nil {
		return err
	}
	defer st.Close()
	p, err := netip.ParsePrefix(args["ringo.ip"])
	if err != nil {
		return fmt.Errorf("ringo.ip: %w", err)
	}
	if err := st.IP.AddAddress(s.devs[0], p); err != nil {
		return err
	}
	profPhase, profTrace = args["ringo.pprof"], args["ringo.trace"] == "1"
	rep, err := runStackBench(ringoBench{st}, args)
	rep.Stack, rep.Driver = "ringo", nics[0].Driver.Name
	var diag strings.Builder
	st.WriteSNMP(&diag)
	s.core.WriteSoftnetStat(&diag)
	fmt.Fprintf(&diag, "dev %+v\n", s.devs[0].Stats.Snapshot())
	for _, n := range s.devs[0].NAPIs() {
		g := n.GROStats()
		fmt.Fprintf(&diag, "gro merged=%d packets=%d held=%d skipped=%d\n", g.Merged.Load(), g.Packets.Load(), g.Held.Load(), g.Skipped.Load())
	}
	rep.TxTSO, rep.TxCsumOffload, rep.TxBadOffload = s.stat(0, "tx_tso"), s.stat(0, "tx_csum_offload"), s.stat(0, "tx_bad_offload")
	if len(s.ne2000) == 0 {
		for _, h := range s.nics[0].Card.Stats() {
			if h.Value != 0 {
				fmt.Fprintf(&diag, "%s=%d ", h.Name, h.Value)
			}
		}
	}
	if len(s.ne2000) > 0 {
		c := &s.ne2000[0].Counters
		fmt.Fprintf(&diag, "ne2000 interrupts=%d overruns=%d ring_resets=%d rx_err=%d tx_reclaimed=%d service_limit=%d poll_rounds=%d",
			c.Interrupts.Load(), c.Overruns.Load(), c.RingResets.Load(), c.RxErrStatus.Load(), c.TxReclaimed.Load(), c.ServiceLimit.Load(), c.BusyPollRounds.Load())
	}
	rep.Diag = diag.String()
	if profBuf.Len() > 0 {
		report(map[string]string{"Pprof": base64.StdEncoding.EncodeToString(profBuf.Bytes())})
	}
	report(rep)
	return err
}

// linuxStackBench is the device under test on the kernel's driver and
// stack, the same measurements as stackBench.
func linuxStackBench(args map[string]string) error {
	_, drv, err := kernelNIC(args["ringo.ip"], atoiDefault(args["ringo.ring"], benchRxRing))
	if err != nil {
		return err
	}
	// The receive buffer ringo's UDP socket is given (4 MB): without this
	// the kernel's SO_RCVBUF stops at rmem_max (208 KB).
	if err := sysctl("net.core.rmem_max", "8388608"); err != nil {
		return err
	}
	c, err := icmp.ListenPacket("ip4:icmp", "0.0.0.0")
	if err != nil {
		return err
	}
	defer c.Close()
	rep, err := runStackBench(&kernelBench{icmp: c}, args)
	rep.Stack, rep.Driver = "linux", drv
	report(rep)
	return err
}

// profPhase names the phase of runStackBench to CPU-profile (ringo.pprof:
// all, ping, udp, rx-60 or rx-1514 (receiving at the peer's sendto pace),
// flood-60 or flood-1514 (one pktgen flood), tcp-tx or tcp-rx); the
// profile goes back to the host as a report, go tool pprof reads it
// without the binary.
// With ringo.trace=1 the phase gets a runtime execution trace instead
// (go tool trace): where the one P went, goroutine by goroutine.
var (
	profPhase string
	profTrace bool
	profBuf   bytes.Buffer
)

func profile(phase string, f func()) {
	if profPhase != phase {
		f()
		return
	}
	start, stop := pprof.StartCPUProfile, pprof.StopCPUProfile
	if profTrace {
		start, stop = trace.Start, trace.Stop
	}
	if err := start(&profBuf); err != nil {
		f()
		return
	}
	f()
	stop()
}

// runStackBench measures ping, UDP each way at two payload sizes and TCP
// bulk each way against the peer at ringo.target.
func runStackBench(st benchStack, args map[string]string) (StackBenchReport, error) {
	var rep StackBenchReport
	peer, err := netip.ParseAddr(args["ringo.target"])
	if err != nil {
		return rep, fmt.Errorf("ringo.target: %w", err)
	}
	self, err := netip.ParsePrefix(args["ringo.ip"])
	if err != nil {
		return rep, fmt.Errorf("ringo.ip: %w", err)
	}
	// The peer may still be booting.
	for start := time.Now(); ; {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := st.Ping(ctx, peer, 56, 1)
		cancel()
		if err == nil {
			break
		}
		if time.Since(start) > benchPingWarmup {
			return rep, fmt.Errorf("peer %v never answered: %w", peer, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if profPhase == "all" {
		profile("all", func() { rep, err = runStackBench(st, mapWithout(args, "ringo.pprof")) })
		return rep, err
	}
	floodOnly := args["ringo.only"] == "flood" // the multi-queue benchmark: the floods alone
	if !floodOnly {
		profile("ping", func() { rep.Ping = benchPing(st, peer, atoiDefault(args["ringo.pings"], 300)) })
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	ctl, err := st.DialContext(ctx, "tcp4", netip.AddrPortFrom(peer, benchCtlPort).String())
	cancel()
	if err != nil {
		return rep, fmt.Errorf("control connection: %w", err)
	}
	defer ctl.Close()
	cr := bufio.NewReader(ctl)
	call := func(cmd string) (string, error) {
		ctl.SetDeadline(time.Now().Add(2 * benchSendLimit))
		if _, err := io.WriteString(ctl, cmd+"\n"); err != nil {
			return "", fmt.Errorf("control %q: %w", cmd, err)
		}
		l, err := cr.ReadString('\n')
		if err != nil {
			return "", fmt.Errorf("control %q: %w", cmd, err)
		}
		return strings.TrimSpace(l), nil
	}
	n := atoiDefault(args["ringo.udpn"], 20000)
	flows := atoiDefault(args["ringo.flows"], 1)
	var errs []error
	profile("udp", func() {
		for _, payload := range []int{18, 1472} { // 60- and 1514-byte frames
			var r UDPRate
			var err error
			if floodOnly {
				r, err = benchUDPRx(st, self.Addr(), "flood", n, payload, flows, call)
				rep.UDP = append(rep.UDP, r)
				errs = append(errs, err)
				continue
			}
			profile(fmt.Sprintf("tx-%d", payload+42), func() { r, err = benchUDPTx(st, peer, n, payload, call) })
			rep.UDP = append(rep.UDP, r)
			errs = append(errs, err)
			profile(fmt.Sprintf("rx-%d", payload+42), func() { r, err = benchUDPRx(st, self.Addr(), "rx", n, payload, 1, call) })
			rep.UDP = append(rep.UDP, r)
			errs = append(errs, err)
			if args["ringo.flood"] == "0" {
				continue
			}
			profile(fmt.Sprintf("flood-%d", payload+42), func() { r, err = benchUDPRx(st, self.Addr(), "flood", n, payload, flows, call) })
			rep.UDP = append(rep.UDP, r)
			errs = append(errs, err)
		}
	})
	size := int64(atoiDefault(args["ringo.tcpbytes"], 8<<20))
	rxSize := int64(atoiDefault(args["ringo.tcprxbytes"], 0))
	for _, dir := range []string{"tx", "rx"} {
		if floodOnly {
			break
		}
		size := size
		if dir == "rx" && rxSize > 0 {
			size = rxSize
		}
		profile("tcp-"+dir, func() { rep.TCP = append(rep.TCP, benchTCP(st, peer, dir, size)) })
	}
	_, err = call("bye")
	errs = append(errs, err)
	return rep, errors.Join(errs...)
}

func mapWithout(m map[string]string, key string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		if k != key {
			out[k] = v
		}
	}
	return out
}

// benchPing sends count echo requests back to back.
func benchPing(st benchStack, peer netip.Addr, count int) PingStats {
	var ps PingStats
	var rtts []float64
	for i := 0; i < count; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		rtt, err := st.Ping(ctx, peer, 56, i+2)
		cancel()
		ps.Sent++
		if err == nil {
			ps.Received++
			rtts = append(rtts, float64(rtt.Nanoseconds())/1e6)
		}
	}
	if len(rtts) > 0 {
		slices.Sort(rtts)
		ps.Min, ps.Max = rtts[0], rtts[len(rtts)-1]
		ps.P50 = rtts[len(rtts)/2]
		ps.P99 = rtts[min(len(rtts)-1, len(rtts)*99/100)]
	}
	return ps
}

// benchUDPTx sends n datagrams to the peer's sink as fast as the stack
// takes them, then asks the peer what arrived.
func benchUDPTx(st benchStack, peer netip.Addr, n, payload int, call func(string) (string, error)) (UDPRate, error) {
	r := UDPRate{Dir: "tx", Payload: payload}
	if _, err := call("udp-reset"); err != nil {
		return r, err
	}
	pc, err := st.ListenPacket("udp4", ":0")
	if err != nil {
		return r, err
	}
	defer pc.Close()
	dst := net.UDPAddrFromAddrPort(netip.AddrPortFrom(peer, benchUDPPort))
	buf := make([]byte, payload)
	start := time.Now()
	for r.Sent < n && time.Since(start) < benchSendLimit {
		binary.BigEndian.PutUint32(buf, uint32(r.Sent))
		if _, err := pc.WriteTo(buf, dst); err != nil {
			if errors.Is(err, netcore.ErrQueueFull) || errors.Is(err, syscall.ENOBUFS) {
				time.Sleep(20 * time.Microsecond) // the qdisc is full: back off as a blocking sender would
				continue
			}
			return r, fmt.Errorf("udp send: %w", err)
		}
		r.Sent++
	}
	r.SendPPS = float64(r.Sent) / time.Since(start).Seconds()
	time.Sleep(benchQuiet)
	line, err := call("udp-count")
	if err != nil {
		return r, err
	}
	var ns int64
	if _, err := fmt.Sscan(line, &r.Received, &ns); err != nil {
		return r, fmt.Errorf("udp-count reply %q: %w", line, err)
	}
	if r.Received > 1 && ns > 0 {
		r.RecvPPS = float64(r.Received-1) / (float64(ns) / 1e9)
	}
	return r, nil
}

// benchUDPRx has the peer send n datagrams to us and counts them: dir
// "rx" from a socket (sendto after sendto, as fast as the peer's kernel
// takes them: the peer's speed, which is what the device under test
// leaves it of the host, bounds the rate), "flood" from kernel pktgen,
// which offers more than either stack takes, so the rate is the device
// under test's own; with flows > 1 the flood comes from that many source
// addresses (RSS spreads them over a multi-queue NIC's queues).
func benchUDPRx(st benchStack, self netip.Addr, dir string, n, payload, flows int, call func(string) (string, error)) (UDPRate, error) {
	r := UDPRate{Dir: dir, Payload: payload}
	cmd := "udp-send"
	if dir == "flood" {
		cmd = "udp-flood"
	}
	pc, err := st.ListenPacket("udp4", fmt.Sprintf(":%d", benchUDPPort))
	if err != nil {
		return r, err
	}
	if rb, ok := pc.(interface{ SetReadBuffer(int) error }); ok {
		rb.SetReadBuffer(4 << 20)
	}
	var got, first, last atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 2048)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
			now := time.Now().UnixNano()
			if got.Add(1) == 1 {
				first.Store(now)
			}
			last.Store(now)
		}
	}()
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	cpu := sampleCPU()
	defer cpu.end()
	req := fmt.Sprintf("%s %s %d %d", cmd, netip.AddrPortFrom(self, benchUDPPort), n, payload)
	if flows > 1 {
		req += fmt.Sprintf(" %d", flows)
	}
	line, err := call(req)
	if err == nil && strings.HasPrefix(line, "error") {
		err = fmt.Errorf("%s: %s", cmd, line)
	}
	if err == nil {
		var ns int64
		if _, err = fmt.Sscan(line, &r.Sent, &ns); err == nil && ns > 0 {
			r.SendPPS = float64(r.Sent) / (float64(ns) / 1e9)
		}
	}
	for prev := int64(-1); prev != got.Load(); {
		prev = got.Load()
		time.Sleep(benchQuiet)
	}
	pc.Close()
	wg.Wait()
	r.Received = int(got.Load())
	if r.Received > 1 {
		r.RecvPPS = float64(r.Received-1) / (float64(last.Load()-first.Load()) / 1e9)
		r.BusyPct, r.CPU = cpu.busy(time.Unix(0, first.Load()), time.Unix(0, last.Load()))
		if r.CPU != "" {
			runtime.ReadMemStats(&ms1)
			r.CPU = fmt.Sprintf("%s, %.2f intr/datagram; this process: %.2f allocs/datagram, %d GCs",
				r.CPU, float64(cpu.intr)/float64(r.Received-1), float64(ms1.Mallocs-ms0.Mallocs)/float64(r.Received), ms1.NumGC-ms0.NumGC)
		}
	}
	return r, err
}

// benchTCP moves size bytes over one connection: "tx" to the peer's sink
// (timed to the peer's close, so every byte arrived), "rx" from its
// source.
func benchTCP(st benchStack, peer netip.Addr, dir string, size int64) TCPRate {
	r := TCPRate{Dir: dir}
	port := benchTCPSink
	if dir == "rx" {
		port = benchTCPSource
	}
	var before tcpCounts
	rb, isRingo := st.(ringoBench)
	if isRingo {
		before = countTCP(rb.TCP)
	}
	var cpu0 cpuSample
	cpuOK := false
	statBuf := make([]byte, 16<<10)
	stat, err := os.Open("/proc/stat")
	if err == nil {
		defer stat.Close()
		cpu0, cpuOK = readCPUTimes(stat, statBuf)
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	c, err := st.DialContext(ctx, "tcp4", netip.AddrPortFrom(peer, uint16(port)).String())
	cancel()
	if err != nil {
		r.Err = err.Error()
		return r
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Minute))
	if dir == "tx" {
		buf := make([]byte, 64<<10)
		for r.Bytes < size && err == nil {
			var n int
			n, err = c.Write(buf[:min(int64(len(buf)), size-r.Bytes)])
			r.Bytes += int64(n)
		}
		if err == nil {
			err = closeWrite(c)
		}
		if err == nil {
			_, err = io.Copy(io.Discard, c) // the peer closes once it has read everything
		}
	} else {
		var hdr [8]byte
		binary.BigEndian.PutUint64(hdr[:], uint64(size))
		if _, err = c.Write(hdr[:]); err == nil {
			r.Bytes, err = io.Copy(io.Discard, c)
		}
		if err == nil && r.Bytes != size {
			err = fmt.Errorf("got %d of %d bytes", r.Bytes, size)
		}
	}
	r.Seconds = time.Since(start).Seconds()
	r.MBps = float64(r.Bytes) / 1e6 / r.Seconds
	if cpuOK {
		if cpu1, ok := readCPUTimes(stat, statBuf); ok {
			r.BusyPct, r.CPU = busyBetween(&cpu0, &cpu1)
		}
	}
	if err != nil {
		r.Err = err.Error()
	}
	if isRingo {
		d := countTCP(rb.TCP).minus(before)
		r.TCP = fmt.Sprintf("%+v; %v", d, c.(*tcp.Conn).Info())
	}
	return r
}

// tcpCounts are the TCP counters a transfer's diagnosis wants.
type tcpCounts struct {
	OutSegs, InSegs, Retrans, Timeouts, Probes, FastRetrans, OFO uint64
}

func countTCP(t *tcp.Table) tcpCounts {
	return tcpCounts{t.Stats.OutSegs.Load(), t.Stats.InSegs.Load(), t.Stats.RetransSegs.Load(), t.Ext.TCPTimeouts.Load(),
		t.Ext.TCPLossProbes.Load(), t.Ext.TCPFastRetrans.Load(), t.Ext.TCPOFOQueue.Load()}
}

func (a tcpCounts) minus(b tcpCounts) tcpCounts {
	return tcpCounts{a.OutSegs - b.OutSegs, a.InSegs - b.InSegs, a.Retrans - b.Retrans, a.Timeouts - b.Timeouts,
		a.Probes - b.Probes, a.FastRetrans - b.FastRetrans, a.OFO - b.OFO}
}
