package qemutests

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ringonet/ringo/qemu-tests/vm"
)

type blastReport struct {
	Size                     int
	Sent, Received           int
	TxFPS, RxFPS             float64
	TxSeconds, RxSeconds     float64
	SenderIRQs, ReceiverIRQs uint64
	ReceiverRxDropped        uint64
	ReceiverMissed           uint64
	FullWaits                int
	FullWaitSeconds          float64
	Burst                    int
	Doorbells                uint64
}

// BenchmarkFrames measures raw frame rates through ringo's drivers between
// two NICs on a QEMU hub, one VM boot per case. Run it with -benchtime=1x
// (scripts/bench.sh): each case is a whole VM run, not a loop body.
func BenchmarkFrames(b *testing.B) {
	cases := []struct{ from, to, mode string }{
		{"e1000", "e1000", "irq"},
		{"e1000", "e1000", "poll"},
		// Bursts of 32 (DevQueueXmitBurst, as DPDK's tx_burst): one
		// TDT write per batch.
		{"e1000", "e1000", "irq-burst"},
		{"e1000", "e1000", "poll-burst"},
		{"e1000", "ne2k_pci", "irq"},
		{"e1000", "ne2k_pci", "poll"},
		{"ne2k_pci", "e1000", "irq"},
		{"ne2k_pci", "e1000", "poll"},
		{"ne2k_pci", "e1000", "irq-vfiopio"},
		// The Linux kernel's drivers on the same topology: pktgen sends,
		// the receiving driver's rx_packets counts (IOMMU translation on,
		// as for ringo; linux-pt with iommu=pt, the kernel's best case).
		{"e1000", "e1000", "linux"},
		{"e1000", "e1000", "linux-pt"},
		// The 82574L: ringo's e1000e (two queue pairs, MSI-X) against
		// Linux's e1000e, one vCPU.
		{"e1000e", "e1000e", "irq"},
		{"e1000e", "e1000e", "poll"},
		{"e1000e", "e1000e", "linux"},
		{"e1000", "ne2k_pci", "linux"},
		{"ne2k_pci", "e1000", "linux"},
	}
	for _, c := range cases {
		for _, size := range []int{60, 1514} {
			b.Run(fmt.Sprintf("%s-%s-%s-%d", c.from, c.to, c.mode, size), func(b *testing.B) {
				// Runs of a second or more: a 10 ms scheduling hiccup
				// is noise, not 4% of the figure.
				frames := 20000
				if size > 1000 && (c.from == "ne2k_pci" || c.to == "ne2k_pci") {
					frames = 10000
				}
				cfg := vm.Config{Name: "blast", Timeout: 5 * time.Minute, NoPcap: true, NICs: hubNICs(c.from, c.to)}
				scenario := "blast"
				if strings.HasPrefix(c.mode, "linux") {
					scenario = "linuxblast"
					if c.mode == "linux-pt" {
						cfg.Cmdline = []string{"iommu=pt"}
					}
				}
				v := boot(b, cfg, scenario, fmt.Sprintf("ringo.frames=%d", frames), fmt.Sprintf("ringo.size=%d", size), "ringo.mode="+strings.TrimSuffix(c.mode, "-burst"), "ringo.burst="+map[bool]string{true: "32", false: "1"}[strings.HasSuffix(c.mode, "-burst")], "ringo.pprof="+profPhase(), "ringo.gomaxprocs="+os.Getenv("RINGO_GOMAXPROCS"), "ringo.itr="+os.Getenv("RINGO_ITR"), "ringo.portio="+map[bool]string{true: "vfio", false: "direct"}[c.mode == "irq-vfiopio"])
				raw, err := v.Wait()
				if err != nil {
					b.Fatal(err)
				}
				if len(raw) > 1 {
					saveProfile(b, raw[0])
				}
				r := decode[blastReport](b, raw[len(raw)-1:])[0]
				b.Logf("sent %d received %d in %.2f s; interrupts: sender %d receiver %d; receiver rx_dropped %d missed %d; sender found the qdisc full %d times, slept %.3f s; bursts of %d, %d doorbells", r.Sent, r.Received, r.RxSeconds, r.SenderIRQs, r.ReceiverIRQs, r.ReceiverRxDropped, r.ReceiverMissed, r.FullWaits, r.FullWaitSeconds, r.Burst, r.Doorbells)
				b.ReportMetric(r.TxFPS, "tx-frames/s")
				b.ReportMetric(r.RxFPS, "rx-frames/s")
				b.ReportMetric(float64(r.Sent-r.Received)/float64(r.Sent)*100, "%lost")
			})
		}
	}
}
