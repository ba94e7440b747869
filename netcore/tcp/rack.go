package tcp

import (
	"time"

	"github.com/ringonet/ringo/netcore/header"
)

// RACK (RFC 8985 6; Linux's tcp_recovery.c) decides loss by time, not by
// counting duplicate ACKs: a segment is lost when one sent after it has
// been delivered and more than a round trip plus a reordering window has
// passed since it went. It sees a lost retransmission (which dupthresh
// never does, leaving it to the RTO) and tolerates reordering up to the
// window, which grows when D-SACKs say retransmissions were needless.
// ringo uses it where the peer sends SACK, as Linux does.
type rackState struct {
	xmit     time.Duration // RACK.xmit_ts: latest send time among delivered segments
	endSeq   uint32        // RACK.end_seq, the tie-break for equal times
	rtt      time.Duration // RACK.rtt: the round trip of the latest delivery
	haveXmit bool
	fack     uint32 // RACK.fack: highest end of a delivered segment
	// fack before the ACK being processed: a segment delivered below it
	// was overtaken (the blocks of one ACK come in any order).
	priorFack uint32
	minRTT    time.Duration
	haveMin   bool

	reorderingSeen bool
	reoWndMult     int // the window in quarters of minRTT
	reoWndPersist  int // recoveries until the window shrinks back
	dsackRound     uint32
	inDSACKRound   bool
	dsack          bool // the ACK being processed carried a D-SACK

	lostBytes int    // in records marked lost and not yet resent
	rtxHigh   uint32 // end of the highest record ever resent: the loss walk's bound
}

// sinceBase is the transmit log's clock.
func (c *Conn) sinceBase() time.Duration { return c.t.clock.Now().Sub(c.t.tsBase) }

// tsAt is the TSval this connection put on segments sent at d.
func (c *Conn) tsAt(d time.Duration) uint32 { return uint32(d/time.Millisecond) + c.tsOffset }

// sentAfter is RACK_sent_after: t1 later than t2, or as late and higher.
func sentAfter(t1 time.Duration, seq1 uint32, t2 time.Duration, seq2 uint32) bool {
	return t1 > t2 || t1 == t2 && seqLT(seq2, seq1)
}

// logSentLocked records that [seq, end) went out now: new data is
// appended; a resend stamps the records it covers with the new time and
// clears their loss marks.
func (c *Conn) logSentLocked(seq, end uint32) {
	now := c.sinceBase()
	l := &c.txq
	if l.len() == 0 {
		// Nothing outstanding, so nothing delivered or resent above
		// sndUna: the sequence marks start there (and so compare within
		// half the sequence space).
		c.rack.fack, c.rack.rtxHigh = c.sndUna, c.sndUna
	} else if seqLT(seq, l.last().end) {
		i := l.find(seq)
		if i == l.len() {
			i = 0 // below the head: acknowledged meanwhile
		}
		i = l.split(i, seq)
		for ; i < l.len() && seqLT(l.at(i).seq, end); i++ {
			l.split(i, end)
			r := l.at(i)
			if r.flags&recLost != 0 {
				c.rack.lostBytes -= int(r.end - r.seq)
				r.flags &^= recLost
			}
			r.flags |= recRetrans
			r.sent = now
			if seqLT(c.rack.rtxHigh, r.end) {
				c.rack.rtxHigh = r.end
			}
		}
		if !seqLT(l.last().end, end) {
			return
		}
		seq = l.last().end // the part past everything sent before is new
	}
	if !l.push(txRec{seq: seq, end: end, sent: now}) {
		r := l.last() // full: the newest record grows instead
		r.end, r.sent = end, now
	}
}

// rackAckedLocked takes the records the cumulative ACK covers out of the
// log, each a delivery RACK learns from.
func (c *Conn) rackAckedLocked(ack uint32, o *header.TCPOptions) {
	l := &c.txq
	for l.len() > 0 {
		r := l.at(0)
		if !seqLT(r.seq, ack) {
			return
		}
		if r.flags&recSacked == 0 {
			d := *r
			if seqLT(ack, d.end) {
				d.end = ack // what of it arrived
			}
			c.rackDeliveredLocked(&d, o)
		}
		if seqLT(ack, r.end) {
			if r.flags&recLost != 0 {
				c.rack.lostBytes -= int(ack - r.seq)
			}
			r.seq = ack
			return
		}
		if r.flags&recLost != 0 {
			c.rack.lostBytes -= int(r.end - r.seq)
		}
		l.popFront()
	}
}

// rackSackedLocked marks the records inside a new SACK block as held by
// the peer.
func (c *Conn) rackSackedLocked(b header.SACKBlock, o *header.TCPOptions) {
	l := &c.txq
	i := l.find(b.Left)
	if i == l.len() {
		return
	}
	i = l.split(i, b.Left)
	for ; i < l.len() && seqLT(l.at(i).seq, b.Right); i++ {
		l.split(i, b.Right)
		r := l.at(i)
		if r.flags&recSacked != 0 || seqLT(b.Right, r.end) {
			continue // known, or only partly held (the log was full)
		}
		r.flags |= recSacked
		if r.flags&recLost != 0 {
			c.rack.lostBytes -= int(r.end - r.seq)
			r.flags &^= recLost
		}
		c.rackDeliveredLocked(r, o)
	}
}

// rackDeliveredLocked is RFC 8985 6.2 steps 2 and 3 for one newly
// delivered record.
func (c *Conn) rackDeliveredLocked(r *txRec, o *header.TCPOptions) {
	rk := &c.rack
	if seqLT(r.end, rk.priorFack) && r.flags&recRetrans == 0 {
		rk.reorderingSeen = true // delivered below one sent after it
	}
	if seqLT(rk.fack, r.end) {
		rk.fack = r.end
	}
	now := c.sinceBase()
	rtt := now - r.sent
	if r.flags&recRetrans != 0 {
		// Which transmission was delivered is ambiguous: skip the sample
		// when the ACK echoes a timestamp from before the resend, or
		// comes sooner than any round trip could.
		if c.tsOK && o.TS && o.TSEcr != 0 && int32(o.TSEcr-c.tsAt(r.sent)) < 0 {
			return
		}
		if rk.haveMin && rtt < rk.minRTT {
			return
		}
	} else if !rk.haveMin || rtt < rk.minRTT {
		rk.minRTT, rk.haveMin = rtt, true
	}
	// The round trip is the latest delivery's, whenever it was sent;
	// only the send time waits for a later one (Linux's
	// tcp_rack_advance). RFC 8985 keeps both from the latest-sent
	// segment: then a segment that overtook others holds RACK.rtt at its
	// short trip, and those sent just before it, still on the slow path,
	// are called lost and resent for nothing.
	rk.rtt = rtt
	if !rk.haveXmit || sentAfter(r.sent, r.end, rk.xmit, rk.endSeq) {
		rk.xmit, rk.endSeq, rk.haveXmit = r.sent, r.end, true
	}
}

// rackReoWndLocked is RACK_update_reo_wnd (RFC 8985 6.2 step 4): none
// until reordering has been seen and there is reason to hurry, else a
// quarter of the minimum RTT, grown by a quarter per round with D-SACKs
// and shrunk back after 16 recoveries without, never above SRTT.
func (c *Conn) rackReoWndLocked() time.Duration {
	rk := &c.rack
	if rk.inDSACKRound && !seqLT(c.sndUna, rk.dsackRound) {
		rk.inDSACKRound = false
	}
	if !rk.inDSACKRound && rk.dsack {
		rk.inDSACKRound, rk.dsackRound = true, c.sndNxt
		rk.reoWndMult = max(rk.reoWndMult, 1) + 1
		rk.reoWndPersist = 16
	}
	rk.dsack = false
	// RFC 6675's DupThresh in bytes: more than (3 - 1) * SMSS SACKed.
	if !rk.reorderingSeen && (c.inRecovery || c.sackedBytes > 2*c.mss) {
		return 0
	}
	return min(time.Duration(max(rk.reoWndMult, 1))*rk.minRTT/4, c.srtt)
}

// rackRecoveryEndedLocked counts a recovery toward shrinking the window.
func (c *Conn) rackRecoveryEndedLocked() {
	if c.rack.reoWndPersist--; c.rack.reoWndPersist <= 0 {
		c.rack.reoWndMult = 1
	}
}

// rackDetectLossLocked is RACK_detect_loss (RFC 8985 6.2 step 5): it marks
// lost each record sent before the latest delivered one that has had a
// round trip and the reordering window to arrive, and returns how long
// until the next one would be (0: none waits).
func (c *Conn) rackDetectLossLocked() time.Duration {
	rk := &c.rack
	if !rk.haveXmit {
		return 0
	}
	reo := c.rackReoWndLocked()
	now := c.sinceBase()
	var timeout time.Duration
	l := &c.txq
	for i := 0; i < l.len(); i++ {
		r := l.at(i)
		if r.flags&(recSacked|recLost) != 0 {
			continue
		}
		if !sentAfter(rk.xmit, rk.endSeq, r.sent, r.end) {
			if r.flags&recRetrans == 0 && !seqLT(r.seq, rk.rtxHigh) {
				break // first sends go in order: all after this went later
			}
			continue
		}
		if remaining := r.sent + rk.rtt + reo - now; remaining > 0 {
			timeout = max(timeout, remaining)
			continue
		}
		if r.flags&recRetrans != 0 {
			c.t.Ext.TCPLostRetransmit.Add(1)
		}
		r.flags |= recLost
		rk.lostBytes += int(r.end - r.seq)
	}
	return timeout
}

// rackForgetLocked drops the SACK and loss marks (after an RTO or a
// lowered MSS, when everything outstanding is sent again).
func (c *Conn) rackForgetLocked() {
	for i := 0; i < c.txq.len(); i++ {
		c.txq.at(i).flags &^= recSacked | recLost
	}
	c.rack.lostBytes = 0
}

// rackLocked runs loss detection after an ACK that delivered something,
// starts or continues recovery, and arms the reordering timer for a
// segment not yet late enough to call lost.
func (c *Conn) rackLocked() {
	timeout := c.rackDetectLossLocked()
	if c.rack.lostBytes > 0 && !c.inRecovery {
		c.enterRecoveryLocked()
	} else if c.inRecovery {
		c.repairLocked()
	}
	if timeout > 0 {
		c.timerKind = reoTimer
		c.rtx.arm(timeout + reoTimerSlack)
	}
}

// reoTimerSlack is added to the reordering timer, as Linux adds
// TCP_TIMEOUT_MIN (two jiffies: 2 ms at HZ=1000, 8 at 250) to its
// tcp_rack_reo_timeout. Segments found late when an ACK comes are marked
// at once, as before; the timer only catches those still waiting when
// ACKs stop, and with the window at a fraction of the minimum RTT it
// fired in the gaps between ACKs and called reordered segments lost
// (about half the resends on a reordering path; docs/benchmarks.md).
const reoTimerSlack = 2 * time.Millisecond

// onReoTimeoutLocked is the RACK reordering timer (tcp_rack_reo_timeout).
func (c *Conn) onReoTimeoutLocked() {
	c.armRetransmitLocked()
	c.rackLocked()
}

// repairLostLocked resends the records RACK marked lost, lowest first, as
// the congestion window lets through (RFC 6675 NextSeg rule 1 with RACK's
// marks, as Linux's tcp_xmit_retransmit_queue).
func (c *Conn) repairLostLocked() {
	l := &c.txq
	i := 0
	for sent := 0; sent < maxRepairBurst; sent++ {
		if sent > 0 && c.pipeLocked() >= c.cwnd {
			return
		}
		for i < l.len() && l.at(i).flags&recLost == 0 {
			i++
		}
		if i == l.len() {
			return
		}
		r := l.at(i)
		seq, end := r.seq, r.end
		fin := c.finSent && end == c.finSeq+1
		if fin {
			end--
		}
		n := min(int(end-seq), c.mss)
		fin = fin && seq+uint32(n) == c.finSeq
		c.t.Stats.RetransSegs.Add(1)
		c.timing = false // Karn
		c.undoRetrans++
		c.sendDataLocked(seq, n, fin)
		if seqLT(c.highRxt, seq+uint32(n)) {
			c.highRxt = seq + uint32(n)
		}
	}
}

// maxRepairBurst bounds the retransmissions one ACK sends.
const maxRepairBurst = 16

// pipeLocked is RFC 6675's pipe: what the network holds, without the
// SACKed bytes and those marked lost.
func (c *Conn) pipeLocked() int {
	return c.dataInflightLocked() - c.sackedBytes - c.rack.lostBytes
}
