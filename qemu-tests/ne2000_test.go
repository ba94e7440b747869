package qemutests

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringonet/ringo/qemu-tests/vm"
)

// TestE1000NE2000Hub: an e1000 and an ne2k_pci on one hub, both under
// ringo: 10,000 frames of random length 60-1514 each way, byte-exact and
// in order. The NE2000 side goes through netif_rx and the backlog.
func TestE1000NE2000Hub(t *testing.T) {
	const frames = 10000
	v := boot(t, vm.Config{
		Name:    "e1000-ne2000-hub",
		Timeout: 5 * time.Minute,
		NICs:    hubNICs("e1000", "ne2k_pci"),
	}, "hub", "ringo.frames=10000", "ringo.ring=64")
	raw, err := v.Wait()
	require.NoError(t, err)
	reps := decode[hubReport](t, raw)
	require.Len(t, reps, 1)
	checkExchange(t, reps[0], frames)
	for _, d := range reps[0].Directions {
		assert.EqualValues(t, frames, d.DevTx, "%s tx_packets", d.From)
		assert.EqualValues(t, frames, d.DevRx, "%s rx_packets", d.To)
		assert.Greater(t, d.RxIRQs, uint64(0))
	}
	assert.Zero(t, reps[0].SkbLive)
}

type floodReport struct {
	FloodSent, FloodReceived int
	Paced                    directionReport
	RxDropped, RxOverErrors  uint64
	RxMissed, Overruns       uint64
	RingResets               uint64
	BacklogDropped           uint64
	SkbLive                  int64
}

// TestNE2000Flood: the e1000 floods the NE2000 with full-size frames faster
// than it drains. Whatever was lost is counted where it can be (QEMU 7.2's
// NE2000 model drops a frame that finds less than a full frame's room in
// the ring, without OVW or a missed-packet count, so the loss shows at the
// sender's end), the driver does not wedge, and a paced stream afterwards
// arrives complete and in order.
func TestNE2000Flood(t *testing.T) {
	v := boot(t, vm.Config{
		Name:    "ne2000-flood",
		Timeout: 5 * time.Minute,
		NICs:    hubNICs("e1000", "ne2k_pci"),
	}, "flood", "ringo.frames=5000", "ringo.paced=1000")
	raw, err := v.Wait()
	require.NoError(t, err)
	rep := decode[floodReport](t, raw)[0]
	t.Logf("flood: sent %d, received %d; dropped %d (backlog %d), overruns %d, missed %d, ring resets %d; paced %d/%d at %.0f frames/s",
		rep.FloodSent, rep.FloodReceived, rep.RxDropped, rep.BacklogDropped, rep.Overruns, rep.RxMissed, rep.RingResets,
		rep.Paced.Received, rep.Paced.Sent, rep.Paced.FPS)
	assert.LessOrEqual(t, rep.FloodReceived, rep.FloodSent)
	assert.Equal(t, rep.Paced.Sent, rep.Paced.Received, "paced stream complete after the flood")
	assert.True(t, rep.Paced.InOrder)
	assert.Zero(t, rep.Paced.Mismatches)
	assert.Zero(t, rep.SkbLive)
}
