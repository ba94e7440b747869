package e1000

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringonet/ringo/internal/e1000x"
)

// TestAdaptiveITR: the driver starts the device at 20,000/s, writes ITR
// for 4,000 after interrupts that brought full rings of big frames, and
// climbs back once traffic is sparse; a fixed rate or -1 never changes.
func TestAdaptiveITR(t *testing.T) {
	r := newRig(t, Config{})
	itr := func() uint32 { return r.f.Read32(regITR) }
	require.Equal(t, e1000x.Register(e1000x.ITRRateLow), itr())
	require.Equal(t, e1000x.ITRRateLow, r.drv.InterruptRate())

	// What the NAPI polls of one interrupt received, then the end of
	// its work (no traffic flows: the test stands in for the poll).
	interrupt := func(packets, size int) {
		for range packets {
			r.drv.itr.Received(size)
		}
		r.drv.adaptITR()
	}
	interrupt(30, 1514)
	assert.Equal(t, e1000x.Register(e1000x.ITRRateBulk), itr())
	assert.Equal(t, e1000x.ITRRateBulk, r.drv.InterruptRate())
	interrupt(1, 98) // a ping: back to low latency, a quarter at a time
	assert.Equal(t, e1000x.Register(9000), itr())
	for range 3 {
		interrupt(1, 98)
	}
	assert.Equal(t, e1000x.Register(e1000x.ITRRateLow), itr())
	assert.EqualValues(t, 5, r.drv.Counters.ITRUpdates.Load())

	fixed := newRig(t, Config{InterruptRate: 8000})
	assert.Equal(t, e1000x.Register(8000), fixed.f.Read32(regITR))
	for range 30 {
		fixed.drv.itr.Received(1514)
	}
	fixed.drv.adaptITR()
	assert.Equal(t, e1000x.Register(8000), fixed.f.Read32(regITR), "a fixed rate stays")
	off := newRig(t, Config{InterruptRate: -1})
	assert.Zero(t, off.f.Read32(regITR))
	assert.Zero(t, off.drv.InterruptRate())
}
