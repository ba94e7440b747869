package qemutests

import (
	"fmt"
	"os"
	"path/filepath"
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
	Output                  string
}

// BenchmarkDriverVsDPDK puts ringo's e1000 driver beside DPDK's e1000 PMD
// (Debian's testpmd) in the same QEMU guest, the same CPU model (-cpu max:
// Debian builds DPDK for SSE4.2, which qemu64 lacks) and the same
// topology (two e1000 on a hub): txonly, the frames/s one NIC puts on the
// link, ringo busy-polled and with interrupts, bursts of 32 as testpmd's.
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
		for _, who := range []string{"ringo-poll", "ringo-irq", "dpdk"} {
			b.Run(fmt.Sprintf("txonly-%s-%d", who, size), func(b *testing.B) {
				cfg := vm.Config{Name: "txonly", Timeout: 5 * time.Minute, NoPcap: true, NICs: hubNICs("e1000", "e1000"),
					MemoryMB: 1024, Extra: []string{"-cpu", "max"}, Initramfs: dpdkGuest(b)}
				scenario, mode := "txonly", "poll"
				switch who {
				case "ringo-irq":
					mode = "irq"
				case "dpdk":
					scenario = "dpdktxonly"
				}
				v := boot(b, cfg, scenario, fmt.Sprintf("ringo.size=%d", size), fmt.Sprintf("ringo.seconds=%d", secs), "ringo.mode="+mode, "ringo.pprof="+profPhase())
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
					b.Logf("ringo %s: %d frames taken, %d sent by the device in %.2f s, %d doorbells (%.1f frames each), queue full %d times",
						mode, r.Sent, r.HWTx, r.Seconds, r.Doorbells, float64(r.HWTx)/float64(max(r.Doorbells, 1)), r.QueueFulls)
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
				flooder := boot(b, vm.Config{Name: "flooder", Timeout: 8 * time.Minute, NoPcap: true, MemoryMB: 1024, Extra: []string{"-cpu", "max"},
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
				v := boot(b, vm.Config{Name: "rxonly", Timeout: 6 * time.Minute, NoPcap: true, MemoryMB: 1024, Extra: []string{"-cpu", "max"},
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
}
