package tcp

import (
	"fmt"
	"math"
	"time"
)

// congestionOps is a congestion control algorithm, as Linux's
// tcp_congestion_ops: the connection keeps cwnd and ssthresh (bytes) and
// calls these under its lock. Slow start belongs to the algorithm too
// (CUBIC runs HyStart++ in it).
type congestionOps interface {
	name() string
	// init runs when the window starts from the initial window.
	init(c *Conn)
	// ssthresh is the slow-start threshold after a loss (fast
	// retransmit or timeout), from cwnd before it.
	ssthresh(c *Conn) int
	// congAvoid grows cwnd for acked bytes newly acknowledged, outside
	// recovery, when the window limited the sender.
	congAvoid(c *Conn, acked int, now time.Time)
	// rttSample takes a round-trip sample (HyStart++'s delay signal).
	rttSample(c *Conn, rtt time.Duration)
	// lossEvent runs on entering recovery or on a timeout, after
	// ssthresh.
	lossEvent(c *Conn)
}

// Congestion control names, as Linux's net.ipv4.tcp_congestion_control
// and TCP_CONGESTION take them.
const (
	CongestionCubic = "cubic"
	CongestionReno  = "reno"
)

func newCongestionOps(name string) (congestionOps, error) {
	switch name {
	case "", CongestionCubic:
		return &cubic{}, nil
	case CongestionReno, "newreno":
		return reno{}, nil
	}
	return nil, fmt.Errorf("tcp: no congestion control %q (have cubic, reno)", name)
}

// renoSlowStart grows cwnd by the bytes acknowledged, up to ssthresh
// (RFC 5681 3.1 with RFC 3465's byte counting, without its 2 SMSS limit
// per ACK, as Linux's tcp_slow_start: a GRO receiver acknowledges many
// segments at once). It returns the acknowledged bytes left over once
// cwnd reached ssthresh.
func renoSlowStart(c *Conn, acked int) int {
	grow := min(acked, max(c.ssthresh-c.cwnd, 0))
	c.cwnd += grow
	return acked - grow
}

// reno is NewReno's window (RFC 5681, RFC 6582): halve on loss, one
// segment per window of bytes acknowledged in congestion avoidance.
type reno struct{}

func (reno) name() string { return CongestionReno }
func (reno) init(*Conn)   {}

func (reno) ssthresh(c *Conn) int { return max(c.cwnd/2, 2*c.mss) }

func (reno) congAvoid(c *Conn, acked int, _ time.Time) {
	if c.cwnd < c.ssthresh {
		if acked = renoSlowStart(c, acked); acked == 0 {
			return
		}
	}
	c.cwnd += max(c.mss*acked/c.cwnd, 1)
}

func (reno) rttSample(*Conn, time.Duration) {}
func (reno) lossEvent(*Conn)                {}

// CUBIC (RFC 9438), Linux's default: after a loss the window grows back
// along a cubic curve centred on where the loss happened (W_max), fast
// far from it and slowly near it, independent of the RTT; with a
// Reno-friendly floor where Reno would do better. Slow start is
// HyStart++ (RFC 9406), which leaves it on a rising RTT before the queue
// overflows.
type cubic struct {
	wMax       float64   // segments: the window at the last loss (W_max)
	k          float64   // seconds the curve takes back to wMax
	origin     float64   // segments: the curve's plateau
	epochStart time.Time // start of this congestion-avoidance epoch; zero: none
	wEst       float64   // segments: the Reno-friendly estimate (W_est)
	ackedFrac  float64   // segments of W_est growth not yet added
	hs         hystart
}

const (
	cubicC    = 0.4 // RFC 9438 4.2
	cubicBeta = 0.7 // RFC 9438 4.6: multiplicative decrease
)

func (cu *cubic) name() string { return CongestionCubic }

func (cu *cubic) init(c *Conn) {
	*cu = cubic{}
	cu.hs.reset(c)
}

func (cu *cubic) ssthresh(c *Conn) int {
	cwnd := float64(c.cwnd) / float64(c.mss)
	// Fast convergence (RFC 9438 4.7): a flow losing below its last
	// W_max gives way to newer flows.
	if cwnd < cu.wMax {
		cu.wMax = cwnd * (1 + cubicBeta) / 2
	} else {
		cu.wMax = cwnd
	}
	return max(int(float64(c.cwnd)*cubicBeta), 2*c.mss)
}

func (cu *cubic) lossEvent(c *Conn) {
	cu.epochStart = time.Time{}
	cu.hs.done = true // a loss ends slow start for good
}

func (cu *cubic) rttSample(c *Conn, rtt time.Duration) { cu.hs.sample(c, rtt) }

func (cu *cubic) congAvoid(c *Conn, acked int, now time.Time) {
	if c.cwnd < c.ssthresh {
		acked = cu.hs.slowStart(c, acked)
		if acked == 0 {
			return
		}
	}
	mss := float64(c.mss)
	cwnd := float64(c.cwnd) / mss
	if cu.epochStart.IsZero() {
		cu.epochStart = now
		cu.wEst, cu.ackedFrac = cwnd, 0
		if cwnd < cu.wMax {
			cu.k = math.Cbrt((cu.wMax - cwnd) / cubicC)
			cu.origin = cu.wMax
		} else {
			cu.k, cu.origin = 0, cwnd
		}
	}
	rtt := c.srtt
	if rtt == 0 {
		rtt = time.Millisecond
	}
	// W_cubic one RTT ahead (RFC 9438 4.2), at most 1.5 cwnd (4.4).
	t := now.Sub(cu.epochStart).Seconds() + rtt.Seconds() - cu.k
	target := cu.origin + cubicC*t*t*t
	target = min(max(target, cwnd), 1.5*cwnd)
	// The Reno-friendly estimate (4.3): alpha segments per window.
	alpha := 3 * (1 - cubicBeta) / (1 + cubicBeta)
	if cu.wEst >= cu.wMax {
		alpha = 1 // past the old W_max Reno's own rate is the floor
	}
	cu.ackedFrac += alpha * float64(acked) / mss / cwnd
	if whole := math.Floor(cu.ackedFrac); whole > 0 {
		cu.wEst += whole
		cu.ackedFrac -= whole
	}
	if target < cu.wEst {
		c.cwnd = max(c.cwnd, int(cu.wEst*mss))
		return
	}
	// Concave or convex region: grow toward the target over this
	// window's ACKs ((target - cwnd) / cwnd per segment acknowledged).
	grow := (target - cwnd) / cwnd * float64(acked)
	c.cwnd += max(int(grow), 0)
}

// HyStart++ (RFC 9406): slow start ends when the RTT of a round rises
// over the last round's by RttThresh (4-16 ms, an eighth of it), first
// into Conservative Slow Start — growth slowed to a quarter for
// cssRounds rounds, undone if the RTT falls back — then into congestion
// avoidance.
type hystart struct {
	done         bool   // slow start is over
	windowEnd    uint32 // the round ends when this is acknowledged
	lastRoundMin time.Duration
	curRoundMin  time.Duration
	samples      int
	rounds       int // rounds so far
	inCSS        bool
	cssBaseline  time.Duration
	cssStart     int // the round CSS began in
}

const (
	hsMinRTTThresh  = 4 * time.Millisecond
	hsMaxRTTThresh  = 16 * time.Millisecond
	hsMinRTTDivisor = 8
	hsNRTTSample    = 8
	hsCSSGrowthDiv  = 4
	hsCSSRounds     = 5
	hsNoSample      = time.Duration(math.MaxInt64)
)

func (h *hystart) reset(c *Conn) {
	*h = hystart{lastRoundMin: hsNoSample, curRoundMin: hsNoSample, windowEnd: c.sndNxt}
}

func (h *hystart) sample(c *Conn, rtt time.Duration) {
	if h.done || c.cwnd >= c.ssthresh {
		return
	}
	h.newRound(c) // the ACK that ends a round samples the next one
	h.curRoundMin = min(h.curRoundMin, rtt)
	h.samples++
}

// newRound starts a round once the last one's data is all acknowledged
// (RFC 9406 4.2); it reports whether it did.
func (h *hystart) newRound(c *Conn) bool {
	if !seqLEQ(h.windowEnd, c.sndUna) {
		return false
	}
	h.lastRoundMin, h.curRoundMin, h.samples = h.curRoundMin, hsNoSample, 0
	h.windowEnd = c.sndNxt
	h.rounds++
	return true
}

// slowStart grows cwnd for acked bytes and returns what is left once
// slow start ends.
func (h *hystart) slowStart(c *Conn, acked int) int {
	if h.done {
		return renoSlowStart(c, acked)
	}
	h.newRound(c)
	if h.inCSS && h.rounds-h.cssStart >= hsCSSRounds {
		h.done = true
		c.ssthresh = c.cwnd // on to congestion avoidance
		return acked
	}
	if !h.inCSS && h.samples >= hsNRTTSample && h.lastRoundMin != hsNoSample && h.curRoundMin != hsNoSample {
		thresh := min(max(h.lastRoundMin/hsMinRTTDivisor, hsMinRTTThresh), hsMaxRTTThresh)
		if h.curRoundMin >= h.lastRoundMin+thresh {
			h.inCSS, h.cssBaseline, h.cssStart = true, h.curRoundMin, h.rounds
		}
	}
	if h.inCSS && h.samples >= hsNRTTSample && h.curRoundMin < h.cssBaseline {
		h.inCSS = false // a false alarm: the RTT came back down
	}
	if h.inCSS {
		c.cwnd += acked / hsCSSGrowthDiv
		return 0
	}
	return renoSlowStart(c, acked)
}
