package e1000

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestITRClass: the class transitions of Linux's e1000_update_itr, at and
// around each threshold.
func TestITRClass(t *testing.T) {
	for _, tc := range []struct {
		from           itrClass
		packets, bytes int
		want           itrClass
	}{
		{itrLow, 0, 0, itrLow},         // nothing received: unchanged
		{itrLowest, 2, 18000, itrBulk}, // 9000 a frame: jumbo
		{itrLowest, 4, 600, itrLow},    // few, not tiny
		{itrLowest, 5, 600, itrLowest}, // five small ones
		{itrLow, 8, 12000, itrBulk},    // over 10 KB in few frames
		{itrLow, 20, 30000, itrBulk},   // 1500 a frame
		{itrLow, 40, 12000, itrLowest}, // many small frames
		{itrLow, 20, 12000, itrLow},    // 600 a frame, 20 of them
		{itrLow, 3, 7000, itrBulk},     // 2333 a frame
		{itrLow, 2, 120, itrLowest},    // a ping
		{itrLow, 3, 180, itrLow},       // a few small ones
		{itrBulk, 40, 26000, itrLow},   // many frames
		{itrBulk, 20, 26000, itrBulk},  // a full ring of big ones
		{itrBulk, 1, 60, itrLow},       // traffic died down
		{itrBulk, 10, 9000, itrBulk},   // in between
		{itrLowest, 1, 1514, itrLow},   // one full frame
		{itrLow, 1, 1514, itrLow},      // stays
		{itrLow, 10, 15140, itrBulk},   // ten full frames
		{itrBulk, 4, 6056, itrBulk},    // four full frames
		{itrBulk, 3, 4542, itrLow},     // three
	} {
		assert.Equal(t, tc.want, nextITRClass(tc.from, tc.packets, tc.bytes), "%d from class %d: %d frames, %d bytes", tc.want, tc.from, tc.packets, tc.bytes)
	}
}

// TestITRRate: down to 4,000/s at once, back up to 20,000 in quarter
// steps; lowest latency is low latency in conservative mode.
func TestITRRate(t *testing.T) {
	assert.Equal(t, itrRateBulk, nextITRRate(itrRateLow, itrBulk))
	r, steps := itrRateBulk, 0
	for r != itrRateLow {
		r = nextITRRate(r, itrLowest)
		steps++
	}
	assert.Equal(t, 4, steps, "4,000 -> 9,000 -> 14,000 -> 19,000 -> 20,000")
	assert.Equal(t, uint32(195), itrRegister(20000), "50 µs in 256 ns units")
	assert.Equal(t, uint32(976), itrRegister(4000))
}

// TestAdaptiveITR: the driver starts the device at 20,000/s, writes ITR
// for 4,000 after interrupts that brought full rings of big frames, and
// climbs back once traffic is sparse; a fixed rate or -1 never changes.
func TestAdaptiveITR(t *testing.T) {
	r := newRig(t, Config{})
	itr := func() uint32 { return r.f.Read32(regITR) }
	require.Equal(t, itrRegister(itrRateLow), itr())
	require.Equal(t, itrRateLow, r.drv.InterruptRate())

	// What the NAPI polls of one interrupt received, then the end of
	// its work (no traffic flows: the test stands in for the poll).
	interrupt := func(packets, size int) {
		r.drv.itrPackets, r.drv.itrBytes = packets, packets*size
		r.drv.adaptITR()
	}
	interrupt(30, 1514)
	assert.Equal(t, itrRegister(itrRateBulk), itr())
	assert.Equal(t, itrRateBulk, r.drv.InterruptRate())
	interrupt(1, 98) // a ping: back to low latency, a quarter at a time
	assert.Equal(t, itrRegister(9000), itr())
	for range 3 {
		interrupt(1, 98)
	}
	assert.Equal(t, itrRegister(itrRateLow), itr())
	assert.EqualValues(t, 5, r.drv.Counters.ITRUpdates.Load())

	fixed := newRig(t, Config{InterruptRate: 8000})
	assert.Equal(t, itrRegister(8000), fixed.f.Read32(regITR))
	fixed.drv.itrPackets, fixed.drv.itrBytes = 30, 30*1514
	fixed.drv.adaptITR()
	assert.Equal(t, itrRegister(8000), fixed.f.Read32(regITR), "a fixed rate stays")
	off := newRig(t, Config{InterruptRate: -1})
	assert.Zero(t, off.f.Read32(regITR))
	assert.Zero(t, off.drv.InterruptRate())
}
