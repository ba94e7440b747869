package tcp

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ccConn is just enough of a connection for a congestion control.
func ccConn(name string, segs int, srtt time.Duration) *Conn {
	ops, err := newCongestionOps(name)
	if err != nil {
		panic(err)
	}
	c := &Conn{mss: 1000, cwnd: segs * 1000, ssthresh: 1 << 30, srtt: srtt, cc: ops}
	ops.init(c)
	return c
}

// windowAcks acknowledges one window every RTT from start for d, and
// returns cwnd (segments) at each whole second.
func windowAcks(c *Conn, start time.Time, rtt, d time.Duration) map[int]float64 {
	at := map[int]float64{}
	for t := time.Duration(0); t <= d; t += rtt {
		if t%time.Second == 0 {
			at[int(t/time.Second)] = float64(c.cwnd) / 1000
		}
		acked := c.cwnd
		c.sndUna += uint32(acked)
		c.sndNxt = c.sndUna + uint32(c.cwnd)
		c.cc.congAvoid(c, acked, start.Add(t))
	}
	return at
}

// TestCubicCurve: after a loss at W_max = 100 segments CUBIC cuts to 70
// (beta 0.7), climbs back to W_max at K = cbrt((100-70)/0.4) = 4.2 s,
// slowly near it, then probes past it convexly (RFC 9438 4.2, 4.6).
func TestCubicCurve(t *testing.T) {
	c := ccConn(CongestionCubic, 100, 100*time.Millisecond)
	c.ssthresh = c.cc.ssthresh(c)
	c.cc.lossEvent(c)
	assert.Equal(t, 70000, c.ssthresh)
	c.cwnd = c.ssthresh
	k := math.Cbrt(30 / cubicC)
	at := windowAcks(c, time.Unix(0, 0), 100*time.Millisecond, 9*time.Second)
	t.Logf("K %.2f s, cwnd by second: %v", k, at)
	assert.InDelta(t, 70, at[0], 1)
	assert.Less(t, at[2]-at[1], at[1]-at[0], "concave below W_max: slower as it nears")
	assert.InDelta(t, 100, at[4], 4, "back at W_max near K")
	assert.Greater(t, at[8]-at[7], at[6]-at[5], "convex past W_max: faster the further")
	want8 := 100 + cubicC*math.Pow(8.1-k, 3) // one RTT ahead
	assert.InDelta(t, want8, at[8], want8*0.1)
}

// TestCubicRenoFriendly: on a short path CUBIC grows at least as fast as
// Reno would (the Reno-friendly region, RFC 9438 4.3).
func TestCubicRenoFriendly(t *testing.T) {
	c := ccConn(CongestionCubic, 100, 2*time.Millisecond)
	c.ssthresh = c.cc.ssthresh(c)
	c.cc.lossEvent(c)
	c.cwnd = c.ssthresh
	at := windowAcks(c, time.Unix(0, 0), 2*time.Millisecond, time.Second)
	// Reno-friendly alpha 0.53 segments an RTT: 500 RTTs, ~265 segments.
	assert.Greater(t, at[1], 70+0.5*500*0.9, "%v", at)
}

// TestCubicFastConvergence: a loss below the previous W_max lowers W_max
// further (RFC 9438 4.7).
func TestCubicFastConvergence(t *testing.T) {
	c := ccConn(CongestionCubic, 100, 100*time.Millisecond)
	c.cc.ssthresh(c)
	c.cwnd = 80000
	c.cc.ssthresh(c)
	assert.InDelta(t, 80*(1+cubicBeta)/2, c.cc.(*cubic).wMax, 0.01)
}

func TestRenoHalves(t *testing.T) {
	c := ccConn(CongestionReno, 100, 10*time.Millisecond)
	assert.Equal(t, 50000, c.cc.ssthresh(c))
	c.ssthresh, c.cwnd = 50000, 50000
	at := windowAcks(c, time.Unix(0, 0), 10*time.Millisecond, time.Second)
	assert.InDelta(t, 150, at[1], 2, "one segment a round trip: 100 in a second")
}

// TestHyStartPlusPlus: slow start doubles the window each round while
// the RTT holds; once a round's RTT rose by RttThresh (an eighth of it,
// 4-16 ms) growth drops to a quarter (Conservative Slow Start), and five
// rounds later slow start ends with ssthresh at the window (RFC 9406
// 4.2-4.3).
func TestHyStartPlusPlus(t *testing.T) {
	c := ccConn(CongestionCubic, 10, 50*time.Millisecond)
	hs := &c.cc.(*cubic).hs
	c.sndNxt = uint32(c.cwnd)
	// ack acknowledges one segment with an RTT sample; the sender keeps
	// the window full.
	ack := func(rtt time.Duration) {
		c.sndUna += uint32(c.mss)
		c.cc.rttSample(c, rtt)
		c.cc.congAvoid(c, c.mss, time.Unix(0, 0))
		c.sndNxt = c.sndUna + uint32(c.cwnd)
	}
	for hs.rounds < 4 {
		ack(50 * time.Millisecond)
	}
	assert.Greater(t, c.ssthresh, c.cwnd, "still in slow start")
	assert.GreaterOrEqual(t, c.cwnd, 6*10*c.mss, "about doubling a round")
	assert.False(t, hs.inCSS)

	for i := 0; !hs.inCSS; i++ {
		require.Less(t, i, 4*c.cwnd/c.mss, "no CSS within two rounds of the RTT rising")
		ack(60 * time.Millisecond) // up 10 ms, past max(50/8, 4 ms)
	}
	w := c.cwnd
	for i := 0; i < 100; i++ {
		ack(60 * time.Millisecond)
	}
	assert.InDelta(t, w+100*c.mss/hsCSSGrowthDiv, c.cwnd, float64(c.mss), "CSS: a quarter of slow start's growth")
	for i := 0; !hs.done; i++ {
		require.Less(t, i, 100000)
		ack(60 * time.Millisecond)
	}
	assert.Equal(t, hsCSSRounds, hs.rounds-hs.cssStart)
	assert.Equal(t, c.ssthresh, c.cwnd, "on to congestion avoidance")
}
