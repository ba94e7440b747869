package qemutests

import (
	"fmt"
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
}

// BenchmarkFrames measures raw frame rates through ringo's drivers between
// two NICs on a QEMU hub, one VM boot per case. Run it with -benchtime=1x
// (scripts/bench.sh): each case is a whole VM run, not a loop body.
func BenchmarkFrames(b *testing.B) {
	cases := []struct{ from, to, mode string }{
		{"e1000", "e1000", "irq"},
		{"e1000", "e1000", "poll"},
		{"e1000", "ne2k_pci", "irq"},
		{"ne2k_pci", "e1000", "irq"},
		{"ne2k_pci", "e1000", "irq-vfiopio"},
	}
	for _, c := range cases {
		for _, size := range []int{60, 1514} {
			b.Run(fmt.Sprintf("%s-%s-%s-%d", c.from, c.to, c.mode, size), func(b *testing.B) {
				frames := 20000
				if c.from == "ne2k_pci" || c.to == "ne2k_pci" {
					frames = 5000
				}
				v := boot(b, vm.Config{Name: "blast", Timeout: 5 * time.Minute, NICs: hubNICs(c.from, c.to)},
					"blast", fmt.Sprintf("ringo.frames=%d", frames), fmt.Sprintf("ringo.size=%d", size), "ringo.mode="+c.mode, "ringo.portio="+map[bool]string{true: "vfio", false: "direct"}[c.mode == "irq-vfiopio"])
				raw, err := v.Wait()
				if err != nil {
					b.Fatal(err)
				}
				r := decode[blastReport](b, raw)[0]
				b.ReportMetric(r.TxFPS, "tx-frames/s")
				b.ReportMetric(r.RxFPS, "rx-frames/s")
				b.ReportMetric(float64(r.Sent-r.Received)/float64(r.Sent)*100, "%lost")
			})
		}
	}
}
