package qemutests

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ringonet/ringo/qemu-tests/vm"
)

var dpdkInitramfs struct {
	once sync.Once
	path string
	err  error
}

// dpdkGuest is the test initramfs with DPDK's testpmd appended, built once.
func dpdkGuest(b *testing.B) string {
	needQEMU(b)
	dpdkInitramfs.once.Do(func() {
		dir := filepath.Dir(env.initramfs)
		extra := filepath.Join(dir, "dpdk.cpio")
		if dpdkInitramfs.err = vm.BuildDPDKArchive(extra); dpdkInitramfs.err != nil {
			return
		}
		dpdkInitramfs.path = filepath.Join(dir, "guest-dpdk.cpio")
		dpdkInitramfs.err = vm.Concat(dpdkInitramfs.path, env.initramfs, extra)
	})
	if dpdkInitramfs.err != nil {
		if required() {
			b.Fatal(dpdkInitramfs.err)
		}
		b.Skip(dpdkInitramfs.err)
	}
	return dpdkInitramfs.path
}

type txOnlyReport struct {
	Size, Burst, QueueFulls int
	Seconds, TxFPS, RxFPS   float64
	Sent, HWTx, Doorbells   uint64
	TxPackets, RxPackets    uint64 // DPDK
	Missed, NoBuffer        uint64 // ringo rxonly
	RxDropped               uint64
	InPlace                 bool // ringo's frames built in the driver's TX arena
	Written                 int  // bytes of each frame ringo's sender wrote
	DMAMapped, DMAHuge      int  // ringo txonly: its DMA memory, and how much on huge pages
	Output                  string
}

// dpdkHugepages reserves 2 MiB pages at boot in every guest of
// BenchmarkDriverVsDPDK, so that ringo's DMA pool sits on huge pages as
// testpmd's mempools do (testpmd's scenario raises the count to 128).
var dpdkHugepages = []string{"hugepages=64"}

// BenchmarkDriverVsDPDK puts ringo's e1000 driver beside DPDK's e1000 PMD
// (Debian's testpmd) in the same QEMU guest, the same CPU model (-cpu max:
// Debian builds DPDK for SSE4.2, which qemu64 lacks) and the same
// topology (two e1000 on a hub): txonly, the frames/s one NIC puts on the
// link, ringo busy-polled and with interrupts, bursts of 32 as testpmd's.
// l2fwd: a flooder, the device under test forwarding from its first
// e1000 to its second (testpmd's mac mode, or ringo at the first NIC's
// ingress hook), and a sink counting, three VMs on socket links.
// rxonly: a second VM floods (testpmd txonly on its e1000, over a
// -netdev socket link, each QEMU pinned to a host CPU of its own) and the
// device under test takes what it can: frames/s received.
// Each case is a VM run of ringo.seconds: run with -benchtime=1x.
func BenchmarkDriverVsDPDK(b *testing.B) {
	secs := 5
	if v := os.Getenv("RINGO_BENCH_SECONDS"); v != "" {
		fmt.Sscan(v, &secs)
	}
	for _, size := range []int{60, 1514} {
		for _, who := range []string{"ringo-poll", "ringo-irq", "dpdk", "e1000e-ringo-poll", "e1000e-ringo-irq", "e1000e-dpdk"} {
			// The 82574L's rows (QEMU's e1000e, DPDK's em PMD drives
			// it too) are named e1000e-txonly-...; the e1000's keep
			// their names.
			model, name := "e1000", fmt.Sprintf("txonly-%s-%d", who, size)
			if m, w, ok := strings.Cut(who, "-"); ok && m == "e1000e" {
				model, who, name = m, w, fmt.Sprintf("e1000e-txonly-%s-%d", w, size)
			}
			b.Run(name, func(b *testing.B) {
				cfg := vm.Config{Name: "txonly", Timeout: 5 * time.Minute, NoPcap: true, NICs: hubNICs(model, model),
					MemoryMB: 1024, Extra: []string{"-cpu", "max"}, Cmdline: dpdkHugepages, Initramfs: dpdkGuest(b)}
				scenario, mode := "txonly", "poll"
				switch who {
				case "ringo-irq":
					mode = "irq"
				case "dpdk":
					scenario = "dpdktxonly"
				}
				// One queue pair on the 82574L, as testpmd's --txq=1: two
				// would cost ringo a flow hash a frame for frames that
				// all take one ring (RINGO_QUEUES=2 measures that).
				queues := "0"
				if model == "e1000e" {
					queues = cmp.Or(os.Getenv("RINGO_QUEUES"), "1")
				}
				// RINGO_ARENA=0: ringo's sender takes the ordinary skb
				// pool and the driver copies each frame. RINGO_FILL=frame:
				// the sender writes every byte, not testpmd's 42.
				v := boot(b, cfg, scenario, fmt.Sprintf("ringo.size=%d", size), fmt.Sprintf("ringo.seconds=%d", secs), "ringo.mode="+mode, "ringo.pprof="+profPhase(),
					"ringo.arena="+os.Getenv("RINGO_ARENA"), "ringo.fill="+os.Getenv("RINGO_FILL"), "ringo.queues="+queues)
				raw, err := v.Wait()
				if err != nil {
					if len(raw) > 0 {
						b.Logf("%s", decode[txOnlyReport](b, raw[len(raw)-1:])[0].Output)
					}
					b.Fatal(err)
				}
				if len(raw) > 1 {
					saveProfile(b, raw[0])
				}
				r := decode[txOnlyReport](b, raw[len(raw)-1:])[0]
				if who == "dpdk" {
					b.Logf("testpmd txonly: %d frames in %.2f s", r.TxPackets, r.Seconds)
				} else {
					b.Logf("ringo %s: %d frames taken, %d sent by the device in %.2f s, %d doorbells (%.1f frames each), queue full %d times, sent in place %v, %d bytes of each frame written, DMA memory %d KiB (%d KiB on huge pages)",
						mode, r.Sent, r.HWTx, r.Seconds, r.Doorbells, float64(r.HWTx)/float64(max(r.Doorbells, 1)), r.QueueFulls, r.InPlace, r.Written, r.DMAMapped>>10, r.DMAHuge>>10)
				}
				b.ReportMetric(r.TxFPS, "frames/s")
			})
		}
	}
	for _, size := range []int{60, 1514} {
		for _, who := range []string{"ringo-poll", "ringo-irq", "dpdk"} {
			b.Run(fmt.Sprintf("rxonly-%s-%d", who, size), func(b *testing.B) {
				initramfs := dpdkGuest(b)
				port := freePort(b)
				const dutMAC = "52:54:00:00:06:02"
				flooder := boot(b, vm.Config{Name: "flooder", Timeout: 8 * time.Minute, NoPcap: true, MemoryMB: 1024, Extra: []string{"-cpu", "max"}, Cmdline: dpdkHugepages,
					Initramfs: initramfs, CPUs: peerCPUs,
					NICs: []vm.NIC{{Model: "e1000", MAC: "52:54:00:00:06:01", Netdev: fmt.Sprintf("socket,listen=127.0.0.1:%d", port)}}},
					"dpdktxonly", "ringo.flood=1", fmt.Sprintf("ringo.size=%d", size), "ringo.ethpeer="+dutMAC)
				if err := vm.WaitListening(port, time.Minute); err != nil {
					b.Fatal(err)
				}
				if _, err := flooder.WaitReport(1, 4*time.Minute); err != nil {
					b.Fatal("flooder: ", err)
				}
				scenario, mode := "rxonly", "poll"
				switch who {
				case "ringo-irq":
					mode = "irq"
				case "dpdk":
					scenario = "dpdkrxonly"
				}
				v := boot(b, vm.Config{Name: "rxonly", Timeout: 6 * time.Minute, NoPcap: true, MemoryMB: 1024, Extra: []string{"-cpu", "max"}, Cmdline: dpdkHugepages,
					Initramfs: initramfs, CPUs: dutCPUs,
					NICs: []vm.NIC{{Model: "e1000", MAC: dutMAC, Netdev: fmt.Sprintf("socket,connect=127.0.0.1:%d", port)}}},
					scenario, fmt.Sprintf("ringo.size=%d", size), fmt.Sprintf("ringo.seconds=%d", secs), "ringo.mode="+mode, "ringo.pprof="+profPhase())
				raw, err := v.Wait()
				flooder.Kill()
				if err != nil {
					if len(raw) > 0 {
						b.Logf("%s", decode[txOnlyReport](b, raw[len(raw)-1:])[0].Output)
					}
					b.Fatal(err)
				}
				if len(raw) > 1 {
					saveProfile(b, raw[0])
				}
				r := decode[txOnlyReport](b, raw[len(raw)-1:])[0]
				if who == "dpdk" {
					b.Logf("testpmd rxonly: %d frames in %.2f s", r.RxPackets, r.Seconds)
				} else {
					b.Logf("ringo %s: %d frames in %.2f s; the device missed %d (no buffer %d), the backlog dropped %d", mode, r.RxPackets, r.Seconds, r.Missed, r.NoBuffer, r.RxDropped)
				}
				b.ReportMetric(r.RxFPS, "frames/s")
			})
		}
	}
	for _, size := range []int{60, 1514} {
		for _, who := range []string{"ringo-poll", "ringo-irq", "dpdk"} {
			b.Run(fmt.Sprintf("l2fwd-%s-%d", who, size), func(b *testing.B) { benchL2Fwd(b, who, size, secs) })
		}
	}
}

// benchL2Fwd: flooder -> device under test (in on its first e1000, out of
// its second) -> sink, each on a -netdev socket link; the sink (testpmd
// rxonly) counts what the device under test forwarded.
func benchL2Fwd(b *testing.B, who string, size, secs int) {
	initramfs := dpdkGuest(b)
	in, out := freePort(b), freePort(b)
	const dutIn, dutOut, sinkMAC = "52:54:00:00:07:02", "52:54:00:00:07:03", "52:54:00:00:07:04"
	cfg := func(name string, cpus string, nics ...vm.NIC) vm.Config {
		return vm.Config{Name: name, Timeout: 8 * time.Minute, NoPcap: true, MemoryMB: 1024, Extra: []string{"-cpu", "max"}, Cmdline: dpdkHugepages,
			Initramfs: initramfs, CPUs: cpus, NICs: nics}
	}
	flooder := boot(b, cfg("flooder", peerCPUs, vm.NIC{Model: "e1000", MAC: "52:54:00:00:07:01", Netdev: fmt.Sprintf("socket,listen=127.0.0.1:%d", in)}),
		"dpdktxonly", "ringo.flood=1", fmt.Sprintf("ringo.size=%d", size), "ringo.ethpeer="+dutIn)
	defer flooder.Kill()
	if err := vm.WaitListening(in, time.Minute); err != nil {
		b.Fatal(err)
	}
	if _, err := flooder.WaitReport(1, 4*time.Minute); err != nil {
		b.Fatal("flooder: ", err)
	}
	scenario, mode := "l2fwd", "poll"
	switch who {
	case "ringo-irq":
		mode = "irq"
	case "dpdk":
		scenario = "dpdkl2fwd"
	}
	dut := boot(b, cfg("l2fwd", dutCPUs,
		vm.NIC{Model: "e1000", MAC: dutIn, Netdev: fmt.Sprintf("socket,connect=127.0.0.1:%d", in)},
		vm.NIC{Model: "e1000", MAC: dutOut, Netdev: fmt.Sprintf("socket,listen=127.0.0.1:%d", out)}),
		scenario, fmt.Sprintf("ringo.size=%d", size), "ringo.mode="+mode, "ringo.ethpeer="+sinkMAC, "ringo.bulk="+os.Getenv("RINGO_BULK"))
	defer dut.Kill()
	if err := vm.WaitListening(out, time.Minute); err != nil {
		b.Fatal(err)
	}
	if _, err := dut.WaitReport(1, 4*time.Minute); err != nil {
		b.Fatal("device under test: ", err)
	}
	sink := boot(b, cfg("sink", peerCPUs, vm.NIC{Model: "e1000", MAC: sinkMAC, Netdev: fmt.Sprintf("socket,connect=127.0.0.1:%d", out)}),
		"dpdkrxonly", fmt.Sprintf("ringo.seconds=%d", secs))
	raw, err := sink.Wait()
	if err != nil {
		if len(raw) > 0 {
			b.Logf("%s", decode[txOnlyReport](b, raw[len(raw)-1:])[0].Output)
		}
		b.Fatal(err)
	}
	r := decode[txOnlyReport](b, raw[len(raw)-1:])[0]
	b.Logf("%s forwarding: the sink received %d frames in %.2f s", who, r.RxPackets, r.Seconds)
	b.ReportMetric(r.RxFPS, "frames/s")
	// CPU per frame where the flooder sets the rate: the device under
	// test's busy share over the sink's last secs seconds (from its
	// /proc/stat, reported each second), per frame the sink received.
	// DPDK polls, so its share is the whole vCPU whatever the rate.
	reports, _ := dut.WaitReport(1, time.Second)
	var ticks []struct{ BusyTicks, TotalTicks uint64 }
	for _, t := range decode[struct{ BusyTicks, TotalTicks uint64 }](b, reports) {
		if t.TotalTicks > 0 { // not the "forwarding" report
			ticks = append(ticks, t)
		}
	}
	if len(ticks) > secs && r.RxFPS > 0 {
		a, z := ticks[len(ticks)-1-secs], ticks[len(ticks)-1]
		if z.TotalTicks > a.TotalTicks {
			busy := float64(z.BusyTicks-a.BusyTicks) / float64(z.TotalTicks-a.TotalTicks)
			b.Logf("device under test %.0f%% busy: %.1f µs of CPU a frame", 100*busy, busy*1e6/r.RxFPS)
			b.ReportMetric(busy*1e9/r.RxFPS, "cpu-ns/frame")
		}
	}
}
