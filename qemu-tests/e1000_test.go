package qemutests

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringonet/ringo/qemu-tests/vm"
)

type directionReport struct {
	From, To       string
	Sent, Received int
	InOrder        bool
	Inversions     int
	FirstInv       string
	Duplicates     int
	Mismatches     int
	Elapsed, FPS   float64
	HWTx, HWRx     uint64
	DevTx, DevRx   uint64
	TxIRQs, RxIRQs uint64
}

type hubReport struct {
	Mode       string
	Directions [2]directionReport
	SkbLive    int64
	Rings      int
}

// hubNICs puts n NICs of the given models on one QEMU hub.
func hubNICs(models ...string) []vm.NIC {
	var nics []vm.NIC
	for i, m := range models {
		nics = append(nics, vm.NIC{Model: m, MAC: fmt.Sprintf("52:54:00:00:01:%02x", i+1), Netdev: "hubport,hubid=0"})
	}
	return nics
}

// checkExchange asserts that every frame of both directions arrived
// byte-exact, once, and (nearly) in order, and that the counters agree.
//
// Order: QEMU's net queue (net/queue.c, qemu_net_queue_send) delivers a
// new packet straight to a NIC that can receive again before it flushes
// the packets it queued while that NIC's ring was full, so frames the
// filter-dump at the netdev recorded in order can reach the guest with a
// few swapped: CI runs saw one frame ahead of 29 queued ones at the
// start (QEMU's e1000 holds frames for a while after RCTL.EN), and one
// swap in 20,000. The driver's own order is proven
// by the fake-82540EM unit tests; here a few inversions are logged and
// allowed, duplicates and losses are not.
func checkExchange(t *testing.T, rep hubReport, frames int) {
	t.Helper()
	for _, d := range rep.Directions {
		assert.Equal(t, frames, d.Sent, "%s->%s sent", d.From, d.To)
		assert.Equal(t, frames, d.Received, "%s->%s received", d.From, d.To)
		assert.Zero(t, d.Duplicates, "%s->%s each frame once", d.From, d.To)
		assert.LessOrEqual(t, d.Inversions, frames/1000, "%s->%s (nearly) in order", d.From, d.To)
		if d.Inversions > 0 {
			t.Logf("%s->%s: %d inversions from QEMU's net queue (first: frame %s)", d.From, d.To, d.Inversions, d.FirstInv)
		}
		assert.Zero(t, d.Mismatches, "%s->%s byte-exact", d.From, d.To)
		t.Logf("%s mode %s->%s: %d frames in %.2fs (%.0f frames/s), irqs tx %d rx %d", rep.Mode, d.From, d.To, d.Received, d.Elapsed, d.FPS, d.TxIRQs, d.RxIRQs)
	}
}

// TestE1000Hub: two e1000s on one hub, both under ringo, 20,000 frames of
// random length 60-1514 each way on 64-entry rings, in interrupt mode and
// in busy-poll mode.
func TestE1000Hub(t *testing.T) {
	const frames = 20000
	for _, mode := range []string{"irq", "poll"} {
		t.Run(mode, func(t *testing.T) {
			v := boot(t, vm.Config{
				Name:    "e1000-hub-" + mode,
				Timeout: 4 * time.Minute,
				NICs:    hubNICs("e1000", "e1000"),
			}, "hub", "ringo.mode="+mode, fmt.Sprintf("ringo.frames=%d", frames), "ringo.ring=64")
			raw, err := v.Wait()
			require.NoError(t, err)
			reps := decode[hubReport](t, raw)
			require.Len(t, reps, 1)
			rep := reps[0]
			checkExchange(t, rep, frames)
			for _, d := range rep.Directions {
				// Hardware and driver counters agree with the count.
				assert.EqualValues(t, frames, d.HWTx, "%s GPTC", d.From)
				assert.EqualValues(t, frames, d.HWRx, "%s GPRC", d.To)
				assert.EqualValues(t, frames, d.DevTx, "%s tx_packets", d.From)
				assert.EqualValues(t, frames, d.DevRx, "%s rx_packets", d.To)
				if mode == "irq" {
					assert.Greater(t, d.RxIRQs, uint64(0), "interrupts in interrupt mode")
				} else {
					assert.Zero(t, d.RxIRQs, "no interrupts in busy-poll mode")
				}
			}
			assert.Zero(t, rep.SkbLive, "no skb leaked")
		})
	}
}
