package tcp

import (
	"time"

	"github.com/ringonet/ringo/netcore/clock"
	"github.com/ringonet/ringo/netcore/header"
)

// connTimer is a timer made once per connection and re-armed, so arming
// it allocates nothing. The callback runs under the Conn's lock and
// calls fired first: a callback that lost a race with stop or a re-arm
// does nothing.
type connTimer struct {
	clock clock.Clock
	t     clock.Timer
	due   time.Time
	armed bool
}

func (ct *connTimer) init(c clock.Clock, f func()) {
	ct.clock = c
	ct.t = c.AfterFunc(time.Hour, f)
	ct.t.Stop()
}

func (ct *connTimer) arm(d time.Duration) {
	ct.armed, ct.due = true, ct.clock.Now().Add(d)
	ct.t.Reset(d)
}

func (ct *connTimer) stop() {
	if ct.armed {
		ct.armed = false
		ct.t.Stop()
	}
}

func (ct *connTimer) fired() bool {
	if !ct.armed || ct.clock.Now().Before(ct.due) {
		return false
	}
	ct.armed = false
	return true
}

// tsNow is the timestamp clock: milliseconds since the table began, from
// a random offset.
func (c *Conn) tsNow() uint32 {
	return uint32(c.t.clock.Now().Sub(c.t.tsBase)/time.Millisecond) + c.tsOffset
}

func (c *Conn) sampleRTTLocked(ack uint32) {
	if !c.timing || seqLT(ack, c.rttSeq) {
		return
	}
	c.timing = false
	c.rttSampleLocked(c.t.clock.Now().Sub(c.rttStart))
}

// rttSampleLocked updates SRTT, RTTVAR and RTO (RFC 6298 2).
func (c *Conn) rttSampleLocked(r time.Duration) {
	if c.srtt == 0 {
		c.srtt, c.rttvar = r, r/2
	} else {
		d := c.srtt - r
		if d < 0 {
			d = -d
		}
		c.rttvar = (3*c.rttvar + d) / 4
		c.srtt = (7*c.srtt + r) / 8
	}
	c.rto = min(max(c.srtt+max(4*c.rttvar, 10*time.Millisecond), c.t.cfg.MinRTO), maxRTO)
	c.cc.rttSample(c, r)
}

func (c *Conn) armRTOIfIdleLocked() {
	if !c.rtx.armed || c.timerKind != rtoTimer && c.timerKind != tlpTimer && c.timerKind != reoTimer {
		c.armRetransmitLocked()
	}
}

// armRetransmitLocked arms the timer after new data went out or new data
// was acknowledged: the tail loss probe when one may go (RFC 8985 7.2),
// else the RTO.
func (c *Conn) armRetransmitLocked() {
	if pto, ok := c.ptoLocked(); ok {
		c.timerKind = tlpTimer
		c.rtx.arm(pto)
		return
	}
	c.armRTOLocked()
}

// ptoLocked is the probe timeout (RFC 8985 7.2, as Linux's
// tcp_schedule_loss_probe): two smoothed RTTs, plus the peer's worst
// delayed ACK when a single segment is out (its ACK may be held back),
// at least 10 ms, and no later than the RTO would fire: then the probe
// goes in the RTO's place, without its collapse of the window. No probe
// in recovery, after a timeout, with one out already, or before an RTT
// sample.
func (c *Conn) ptoLocked() (time.Duration, bool) {
	if c.t.cfg.NoTLP || c.tlpOut || c.inRecovery || c.backoff > 0 || c.srtt == 0 {
		return 0, false
	}
	switch c.state {
	case Established, CloseWait, FinWait1, Closing, LastAck:
	default:
		return 0, false
	}
	pto := 2 * c.srtt
	if int(c.sndNxt-c.sndUna) <= c.mss {
		pto += delAckMax
	}
	return min(max(pto, 10*time.Millisecond), c.rto), true
}

// onPTOLocked sends the tail loss probe (RFC 8985 7.3): a new segment if
// the peer's window has room for one, else the last segment sent again.
// Its ACK, or the duplicate ACK it draws, tells of a lost tail a whole RTO
// sooner.
func (c *Conn) onPTOLocked() {
	if c.sndNxt == c.sndUna {
		return
	}
	c.t.Ext.TCPLossProbes.Add(1)
	c.tlpOut = true
	inflight := c.dataInflightLocked()
	if unsent := c.sndQ.Len() - inflight; unsent > 0 && inflight < int(c.sndWnd) && !c.finSent {
		n := min(unsent, c.mss, int(c.sndWnd)-inflight)
		c.sendDataLocked(c.sndNxt, n, false)
		c.advanceLocked(uint32(n))
	} else {
		c.t.Stats.RetransSegs.Add(1)
		c.timing = false // Karn
		n := min(inflight, c.mss)
		fin := c.finSent && seqLT(c.finSeq, c.sndNxt)
		c.sendDataLocked(c.sndUna+uint32(inflight-n), n, fin)
	}
	c.tlpHigh = c.sndNxt
	c.armRTOLocked()
}

func (c *Conn) armRTOLocked() {
	d := c.rto << c.backoff
	if d > maxRTO || d <= 0 {
		d = maxRTO
	}
	c.timerKind = rtoTimer
	c.rtx.arm(d)
}

func (c *Conn) stopTimerLocked() { c.rtx.stop() }

// onRTO is the retransmission timeout (RFC 6298 5.4-5.7, RFC 5681 3.1),
// and the end of TIME-WAIT.
func (c *Conn) onRTO() {
	c.mu.Lock()
	defer c.unlock()
	if !c.rtx.fired() {
		return
	}
	if c.timerKind == finWait2Timer {
		if c.state == FinWait2 {
			// tcp_fin_timeout: an orphan whose peer never closes
			// goes away; what the peer sends next gets RST.
			c.closeLocked(nil)
		}
		return
	}
	if c.timerKind == timeWaitTimer {
		if c.state == TimeWait {
			c.setStateLocked(Closed)
			c.t.remove(c)
		}
		return
	}
	if c.state == Closed || c.state == TimeWait {
		return
	}
	switch c.timerKind {
	case tlpTimer:
		c.onPTOLocked()
		return
	case reoTimer:
		c.onReoTimeoutLocked()
		return
	}
	unsent := c.sndQ.Len() > 0
	if c.sndNxt == c.sndUna && !(unsent && c.sndWnd == 0) && c.state != SynSent && c.state != SynRcvd {
		return
	}
	c.t.Ext.TCPTimeouts.Add(1)
	limit := maxBackoff
	switch c.state {
	case SynSent:
		limit = synRetries
	case SynRcvd:
		limit = synAckRetries
	}
	if c.backoff >= limit {
		c.t.Stats.AttemptFails.Add(1)
		c.t.Ext.TCPAbortOnTimeout.Add(1)
		err := error(ErrTimedOut)
		if c.softErr != nil {
			err = c.softErr // tcp_write_err: the soft error says why
		}
		c.closeLocked(err)
		return
	}
	if c.backoff == 0 {
		// The first timeout of an episode sets ssthresh; later ones
		// leave it (tcp_enter_loss), or it would fall to 2 MSS.
		c.ssthresh = c.cc.ssthresh(c)
		c.cc.lossEvent(c)
	}
	c.backoff++
	if c.backoff >= blackHoleAfter && c.sndWnd > 0 {
		c.blackHoleLocked()
	}
	c.cwnd = c.mss
	c.inRecovery = false
	c.undoArmed, c.dsackUndoArm = false, false // an RTO's cut stays
	c.dupAcks = 0
	// RFC 2018 8: after a timeout the scoreboard is not trusted.
	c.sacked, c.sackedBytes = c.sacked[:0], 0
	c.rackForgetLocked()
	switch {
	case c.state == SynSent || c.state == SynRcvd || (c.sndWnd == 0 && c.sndNxt == c.sndUna):
		c.retransmitLocked()
	default:
		// Go back to the first unacknowledged byte and resend from there
		// as the (now one-segment) window allows.
		c.t.Stats.RetransSegs.Add(1)
		c.timing = false // Karn
		c.sndNxt = c.sndUna
		c.outputLocked()
	}
	c.armRTOLocked()
}

// onKeepAlive probes an idle connection (RFC 1122 4.2.3.6): after kaIdle
// without a segment from the peer, a probe every kaIdle; kaProbeCount
// unanswered probes end it.
func (c *Conn) onKeepAlive() {
	c.mu.Lock()
	defer c.unlock()
	if !c.ka.fired() || !c.keepAlive || (c.state != Established && c.state != CloseWait) {
		return
	}
	idle := c.t.clock.Now().Sub(c.lastRecv)
	if idle < c.kaIdle {
		c.ka.arm(c.kaIdle - idle)
		return
	}
	if c.kaProbes >= kaProbeCount {
		c.t.Ext.TCPAbortOnTimeout.Add(1)
		c.closeLocked(ErrTimedOut)
		return
	}
	c.kaProbes++
	c.t.Ext.TCPKeepAlive.Add(1)
	// A segment one byte below sndUna, no data: the peer answers with an
	// ACK (it is outside its window).
	c.sendCtlLocked(c.fieldsLocked(c.sndUna-1, false))
	c.ka.arm(c.kaIdle)
}

func (c *Conn) enterTimeWaitLocked() {
	c.setStateLocked(TimeWait)
	c.ka.stop()
	c.armTimeWaitLocked()
	c.signalLocked()
}

// armFinWait2Locked bounds an orphaned FIN-WAIT-2 (the socket closed,
// our FIN acknowledged, the peer's FIN not come) to FinTimeout, as
// Linux's tcp_fin_timeout does; a connection the program still holds
// (CloseWrite) waits for the peer as long as it takes.
func (c *Conn) armFinWait2Locked() {
	if c.state == FinWait2 && c.userClosed {
		c.timerKind = finWait2Timer
		c.rtx.arm(c.t.cfg.FinTimeout)
	}
}

func (c *Conn) armTimeWaitLocked() {
	c.timerKind = timeWaitTimer
	c.rtx.arm(2 * c.t.cfg.MSL)
}

// Black-hole detection (RFC 4821 3, Linux's tcp_mtu_probing): a path
// that drops big packets without an ICMP error (a filter eating
// Fragmentation Needed) looks like a dead peer. After blackHoleAfter
// timeouts in a row the segment size drops to baseMSS, then halves at
// each further timeout, and the path MTU with it: if small segments get
// through, the transfer goes on.
const (
	blackHoleAfter = 3    // tcp_retries1
	baseMSS        = 1024 // tcp_base_mss
)

func (c *Conn) blackHoleLocked() {
	if c.t.cfg.NoMTUProbing || (c.state != Established && c.state != CloseWait && c.state != FinWait1) {
		return
	}
	opt := 0 // option bytes every segment carries
	if c.tsOK {
		opt = 12
	}
	// First down to tcp_base_mss, then half of that each time, not
	// below the 536 bytes every host takes.
	full := baseMSS
	if c.mss+opt <= baseMSS {
		full = max((c.mss+opt)/2, defaultMSS)
	}
	if full-opt >= c.mss {
		return
	}
	c.mss = full - opt
	c.t.updatePMTU(c.id, full+c.id.netHeaderLen()+header.TCPMinLen)
	c.t.Ext.TCPMTUPBlackHole.Add(1)
}
