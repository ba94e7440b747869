package e1000x

import (
	"testing"

	"github.com/stretchr/testify/assert"
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
	assert.Equal(t, ITRRateBulk, nextITRRate(ITRRateLow, itrBulk))
	r, steps := ITRRateBulk, 0
	for r != ITRRateLow {
		r = nextITRRate(r, itrLowest)
		steps++
	}
	assert.Equal(t, 4, steps, "4,000 -> 9,000 -> 14,000 -> 19,000 -> 20,000")
	assert.Equal(t, uint32(195), Register(20000), "50 µs in 256 ns units")
	assert.Equal(t, uint32(976), Register(4000))
}
