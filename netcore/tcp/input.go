package tcp

import (
	"time"

	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/netcore/internal/memcopy"
	"github.com/ringonet/ringo/netcore/skb"
)

// maxQuickAcks is how many segments quick-ACK mode covers (Linux's
// TCP_MAX_QUICKACKS).
const maxQuickAcks = 16

// input processes one segment for this connection (tcp_rcv_state_process,
// following RFC 9293 3.10.7); segs > 1 for a GRO packet, which counts as
// that many segments for acknowledgment.
func (c *Conn) input(seg header.TCP, segs int, b *skb.Buff) {
	// The softirq never waits for a connection a goroutine holds (in
	// Write, Read, a timer): the segment waits in the backlog and the
	// holder takes it as it lets go (Linux's sk_add_backlog and
	// release_sock).
	if !c.mu.TryLock() {
		c.addBacklog(seg, segs, b)
		return
	}
	c.inputLocked(seg, segs, b)
	c.unlock()
}

func (c *Conn) inputLocked(seg header.TCP, segs int, b *skb.Buff) {
	flags := seg.Flags()
	seq, ack := seg.Seq(), seg.Ack()
	data := seg.Payload()
	switch c.state {
	case Closed:
		return
	case SynSent:
		c.inputSynSentLocked(seg)
		return
	case TimeWait:
		if flags&header.TCPFlagFIN != 0 {
			c.sendAckLocked() // our last ACK was lost: say it again
			c.armTimeWaitLocked()
		}
		return
	}

	// 1. Sequence check: some of the segment must fall in the window.
	segLen := uint32(len(data))
	if flags&header.TCPFlagSYN != 0 {
		segLen++
	}
	if flags&header.TCPFlagFIN != 0 {
		segLen++
	}
	wnd := c.lastWnd
	if wnd == 0 {
		wnd = 1
	}
	ok := seqLEQ(c.rcvNxt, seq) && seqLT(seq, c.rcvNxt+wnd) ||
		segLen > 0 && seqLEQ(c.rcvNxt, seq+segLen-1) && seqLT(seq+segLen-1, c.rcvNxt+wnd) ||
		segLen == 0 && seq == c.rcvNxt
	opts := seg.ParsedOptions()
	if ok && c.tsOK && opts.TS && flags&header.TCPFlagRST == 0 && int32(c.tsRecent-opts.TSVal) > pawsWindow {
		// PAWS (RFC 7323 5.3): an old duplicate from a wrapped sequence
		// space, or a replay. A tick of slack, as Linux allows, keeps
		// segments reordered within a millisecond.
		c.t.Ext.PAWSEstab.Add(1)
		ok = false
	}
	if !ok {
		if len(data) > 0 && seqLEQ(seq+uint32(len(data)), c.rcvNxt) {
			c.dsackLocked(seq, seq+uint32(len(data))) // all of it had come
		}
		if flags&header.TCPFlagRST == 0 && (len(data) > 0 || !c.oowRateLimitedLocked()) {
			c.sendAckLocked()
		}
		return
	}
	if c.tsOK && opts.TS && seqLEQ(seq, c.lastAckSent) && int32(opts.TSVal-c.tsRecent) >= 0 {
		c.tsRecent = opts.TSVal
	}
	c.lastRecv = c.t.clock.Now()
	c.kaProbes = 0
	// 2. RST: exact match resets; anywhere else in the window gets a
	// challenge ACK (RFC 5961 3).
	if flags&header.TCPFlagRST != 0 {
		if seq != c.rcvNxt {
			c.challengeAckLocked()
			return
		}
		if c.state == SynRcvd && c.listener != nil {
			c.listener.dropHalfOpen()
			c.listener = nil
			c.closeLocked(ErrConnRefused)
			return
		}
		c.t.Stats.EstabResets.Add(1)
		c.closeLocked(ErrConnReset)
		return
	}
	// 3. A SYN in a synchronized state: challenge ACK (RFC 5961 4).
	if flags&header.TCPFlagSYN != 0 {
		c.challengeAckLocked()
		return
	}
	// 4. ACK.
	if flags&header.TCPFlagACK == 0 {
		return
	}
	if c.state == SynRcvd {
		if !(seqLT(c.sndUna, ack) && seqLEQ(ack, c.sndNxt)) {
			c.t.Stats.OutRsts.Add(1)
			c.sendCtlLocked(header.TCPFields{SrcPort: c.id.lport, DstPort: c.id.rport, Seq: ack, Flags: header.TCPFlagRST, WScale: -1})
			return
		}
		c.establishLocked()
		c.sndWnd = uint32(seg.Window()) << c.sndScale
		c.maxSndWnd = max(c.maxSndWnd, c.sndWnd)
		c.sndWL1, c.sndWL2 = seq, ack
		if l := c.listener; l != nil {
			c.listener = nil
			go l.established(c)
		}
	}
	if seqLT(c.sndMax, ack) {
		// It acks something we never sent (RFC 5961 5.2).
		if len(data) > 0 || !c.oowRateLimitedLocked() {
			c.sendAckLocked()
		}
		return
	}
	if seqLT(ack, c.sndUna-c.maxSndWnd) {
		// Older than any window the peer offered: a blind injection
		// (RFC 5961 5.2, Linux's TCP_TOO_OLD_ACK).
		c.challengeAckLocked()
		return
	}
	if seqLT(c.sndNxt, ack) {
		c.sndNxt = ack // acks what we sent before going back after a timeout
	}
	c.ackLocked(seq, ack, seg.Window(), len(data) == 0 && flags&header.TCPFlagFIN == 0, &opts)
	if c.state == Closed {
		return
	}

	// 5. Data and FIN. In-order data is acknowledged every second segment
	// or after delAckTimeout; out-of-order data, data that fills a hole,
	// and a FIN at once (RFC 5681 4.2).
	// Every second segment's ACK waits for the end of the receive batch,
	// so a batch is acknowledged once (what GRO gives Linux), up to
	// maxBatchedACK segments.
	ackNow, ackBatch := false, false
	if len(data) > 0 && c.userClosed && (c.state == FinWait1 || c.state == FinWait2) &&
		seqLT(c.rcvNxt, seq+uint32(len(data))) {
		// New data for a socket nobody reads any more: RFC 1122
		// 4.2.2.13 and Linux's tcp_rcv_state_process answer RST rather
		// than let the peer write into nothing (TCPAbortOnData).
		c.t.Ext.TCPAbortOnData.Add(1)
		c.t.sendReset(c.id, seg)
		c.closeLocked(ErrConnReset)
		return
	}
	if len(data) > 0 && (c.state == Established || c.state == FinWait1 || c.state == FinWait2) {
		hadOOO := len(c.ooo) > 0
		if seq != c.rcvNxt || hadOOO {
			ackNow = true
			// After a loss, the sender is rebuilding its window: ACK
			// every segment for a while (tcp_enter_quickack_mode).
			c.quickAcks = maxQuickAcks
		}
		if c.tsOK && opts.TS && opts.TSEcr != 0 && seq == c.rcvNxt {
			c.rcvRTTSampleLocked(time.Duration(c.tsNow()-opts.TSEcr)*time.Millisecond + time.Millisecond/2)
		}
		c.dataLocked(seq, data, b)
		c.ackPending += segs
		ackBatch = c.ackPending >= 2
		if c.ackPending >= maxBatchedACK {
			ackNow = true
		}
		if c.quickAcks > 0 && !ackNow {
			// Quick-ACK mode (Linux's icsk_ack.quick): at the start of
			// a connection and after a loss, a lone segment is not left
			// to the 40 ms timer while the sender's window is small.
			c.quickAcks--
			ackBatch = true
		}
	}
	fin := flags&header.TCPFlagFIN != 0 && seq+uint32(len(data)) == c.rcvNxt
	if flags&header.TCPFlagFIN != 0 && !fin && !c.finRcvd && !c.oooFin &&
		(c.state == Established || c.state == FinWait1 || c.state == FinWait2) &&
		seqLT(c.rcvNxt, seq+uint32(len(data))) && seqLEQ(seq+uint32(len(data)), c.rcvNxt+c.lastWnd) {
		// A FIN beyond a hole: held, as Linux holds it with its segment
		// in the out-of-order queue, and taken when the hole fills;
		// dropped, it would cost the peer a timeout to send again.
		c.oooFin, c.oooFinSeq = true, seq+uint32(len(data))
		ackNow = true
	}
	if c.oooFin && !seqLT(c.rcvNxt, c.oooFinSeq) {
		fin = c.rcvNxt == c.oooFinSeq // past it, it was a lie
		c.oooFin = false
	}
	if fin && !c.finRcvd {
		c.finRcvd = true
		c.rcvNxt++
		c.ackPending++
		ackNow = true
		switch c.state {
		case SynRcvd, Established:
			c.setStateLocked(CloseWait)
		case FinWait1:
			if c.finAckedLocked() {
				c.enterTimeWaitLocked()
			} else {
				c.setStateLocked(Closing)
			}
		case FinWait2:
			c.enterTimeWaitLocked()
		}
		c.signalLocked()
	}
	c.outputLocked() // data going out carries the ACK
	switch {
	case c.ackPending == 0:
	case ackNow || c.t.cfg.NoDelayedACK:
		c.sendAckLocked()
	case ackBatch:
		c.t.deferACKLocked(c)
	case !c.delack.armed:
		c.delack.arm(c.delAckTimeoutLocked())
	}
}

// delAckTimeoutLocked is how long a lone segment's ACK may wait: two round
// trips (the receiver's estimate, else the sender's), between delAckMin
// and delAckTimeout. Every second segment and every receive batch is
// acknowledged without the timer; it only holds the ACK of a segment that
// came alone, hoping to ride on data we send back. A sender that stopped
// after that segment (application- or window-limited, or holding data
// back until it is acknowledged) waits out the timer: 40 ms on a path of
// a millisecond is forty round trips (docs/design-notes.md).
func (c *Conn) delAckTimeoutLocked() time.Duration {
	rtt := c.rcvRTT
	if rtt == 0 {
		rtt = c.srtt
	}
	if rtt == 0 {
		return delAckTimeout
	}
	return min(max(2*rtt, delAckMin), delAckTimeout)
}

// onDelAck sends a delayed ACK.
func (c *Conn) onDelAck() {
	c.mu.Lock()
	defer c.unlock()
	if !c.delack.fired() || c.ackPending == 0 || c.state == Closed || c.state == TimeWait {
		return
	}
	c.t.Ext.DelayedACKs.Add(1)
	c.sendAckLocked()
}

func (c *Conn) inputSynSentLocked(seg header.TCP) {
	flags := seg.Flags()
	ack := seg.Ack()
	if flags&header.TCPFlagACK != 0 && (seqLEQ(ack, c.iss) || seqLT(c.sndNxt, ack)) {
		if flags&header.TCPFlagRST == 0 {
			c.sendCtlLocked(header.TCPFields{SrcPort: c.id.lport, DstPort: c.id.rport, Seq: ack, Flags: header.TCPFlagRST, WScale: -1})
		}
		return
	}
	if flags&header.TCPFlagRST != 0 {
		if flags&header.TCPFlagACK != 0 {
			c.t.Stats.AttemptFails.Add(1)
			c.closeLocked(ErrConnRefused)
		}
		return
	}
	if flags&header.TCPFlagSYN == 0 {
		return
	}
	c.irs = seg.Seq()
	c.rcvNxt = seg.Seq() + 1
	c.takeOptionsLocked(seg)
	if !c.wsOK {
		c.rcvScale = 0
	}
	if flags&header.TCPFlagACK != 0 {
		c.sndUna = ack
		c.sndWnd = uint32(seg.Window()) << c.sndScale
		c.maxSndWnd = max(c.maxSndWnd, c.sndWnd)
		c.sndWL1, c.sndWL2 = seg.Seq(), ack
		c.sampleRTTLocked(ack)
		c.establishLocked()
		c.sendAckLocked()
		c.outputLocked()
		return
	}
	// Simultaneous open (RFC 9293 figure 8).
	c.setStateLocked(SynRcvd)
	c.sndWnd = uint32(seg.Window())
	c.maxSndWnd = max(c.maxSndWnd, c.sndWnd)
	c.sendSynLocked(true)
}

func (c *Conn) establishLocked() {
	c.setStateLocked(Established)
	c.estab = true
	c.quickAcks = maxQuickAcks // the sender starts in slow start
	c.backoff = 0
	c.stopTimerLocked()
	if c.sndNxt != c.sndUna {
		c.armRTOLocked()
	}
	c.signalLocked()
}

// ackLocked processes the acknowledgment field: advance sndUna, time the
// round trip, take SACK blocks, grow or cut the congestion window, detect
// duplicate ACKs and run loss recovery.
func (c *Conn) ackLocked(seq, ack uint32, win uint16, pure bool, o *header.TCPOptions) {
	newSACK := false
	c.rack.priorFack = c.rack.fack
	if c.sackOK && o.NSACK > 0 {
		newSACK = c.takeSACKLocked(ack, o)
	}
	delivered := newSACK
	if seqLT(c.sndUna, ack) {
		delivered = true
		acked := int(ack - c.sndUna)
		flight := int(c.sndNxt - c.sndUna) // before this ACK
		c.rackAckedLocked(ack, o)
		// The FIN (and a SYN) take sequence numbers but no buffer bytes;
		// the FIN comes after every buffered byte.
		c.sndQ.Consume(acked)
		c.sndUna = ack
		c.trimSACKLocked()
		if c.tsOK && o.TS && o.TSEcr != 0 {
			// RFC 7323 4: every ACK of new data is a sample, retransmitted
			// or not; the clock has millisecond ticks.
			c.rttSampleLocked(time.Duration(c.tsNow()-o.TSEcr)*time.Millisecond + time.Millisecond/2)
			c.timing = false
		} else {
			c.sampleRTTLocked(ack)
		}
		c.backoff = 0
		if c.undoArmed && seqLT(c.undoSeq, ack) {
			// The ACK that covers the first segment recovery resent:
			// if it echoes a timestamp from before the resend, the
			// original got there (it was reordered, not lost) and the
			// window cut was for nothing: undo it (RFC 3522, Linux's
			// tcp_try_undo_recovery with tcp_packet_delayed).
			c.undoArmed = false
			if o.TS && o.TSEcr != 0 && int32(o.TSEcr-c.undoStamp) < 0 {
				c.t.Ext.TCPSpuriousUndo.Add(1)
				c.undoLocked()
			}
		}
		if now := c.t.clock.Now(); now.Sub(c.neighConfirmed) >= neighConfirmEvery {
			// Forward progress: the next hop is alive (dst_confirm_neigh),
			// said at most every neighConfirmEvery, not on every ACK.
			c.neighConfirmed = now
			c.t.confirmNeighbour(c.id)
		}
		if c.inRecovery {
			if !seqLT(ack, c.recover) {
				c.inRecovery = false
				c.cwnd = c.ssthresh
				c.rackRecoveryEndedLocked()
			} else if !c.sackOK {
				// Partial ACK (RFC 6582): retransmit the next hole,
				// deflate. With SACK, RACK below decides what to resend.
				c.repairLocked()
				c.cwnd = max(c.cwnd-acked+c.mss, c.mss)
			}
		} else if c.cwnd < c.ssthresh && 2*flight > c.cwnd || c.cwnd >= c.ssthresh && flight+c.mss > c.cwnd {
			// The window grows only while it is what limits the sender
			// (RFC 7661; Linux's tcp_is_cwnd_limited: in slow start,
			// more than half of it in flight; after, all of it): a
			// sender held back by its application, its send buffer or
			// the peer's window would otherwise grow it without bound
			// and one day send all of it at once.
			c.cc.congAvoid(c, acked, c.t.clock.Now())
		}
		c.expandSndBufLocked()
		c.dupAcks = 0
		if c.tlpOut && seqLEQ(c.tlpHigh, ack) {
			c.tlpOut = false // the probe's episode is over
		}
		if c.sndUna == c.sndNxt {
			c.stopTimerLocked()
		} else {
			c.armRetransmitLocked()
		}
		c.signalLocked() // room in the send buffer
		switch c.state {
		case FinWait1:
			if c.finAckedLocked() {
				c.setStateLocked(FinWait2)
				c.armFinWait2Locked()
			}
		case Closing:
			if c.finAckedLocked() {
				c.enterTimeWaitLocked()
			}
		case LastAck:
			if c.finAckedLocked() {
				c.closeLocked(nil)
				return
			}
		}
	} else if ack == c.sndUna && pure && c.sndNxt != c.sndUna && (uint32(win)<<c.sndScale == c.sndWnd || newSACK || c.tlpOut) {
		c.dupAcks++
		// Without SACK, three duplicate ACKs say a segment was lost
		// (RFC 5681 3.2); so does a pure ACK that moves nothing while a
		// tail loss probe is out: the peer still misses something below
		// the probe (its window may have moved meanwhile), recover now,
		// not after the RTO (RFC 8985 7.4). Data from the peer does not
		// count: it says nothing of what it received. With SACK, RACK
		// decides below.
		switch {
		case c.sackOK:
		case (c.dupAcks >= 3 || c.tlpOut) && !c.inRecovery:
			c.enterRecoveryLocked()
		case c.inRecovery && c.dupAcks > 3:
			c.cwnd += c.mss
		}
	}
	if c.sackOK && delivered {
		c.rackLocked()
	}
	// Window update (RFC 9293 3.10.7.4).
	if seqLT(c.sndWL1, seq) || c.sndWL1 == seq && seqLEQ(c.sndWL2, ack) {
		opened := c.sndWnd == 0 && win != 0
		c.sndWnd = uint32(win) << c.sndScale
		c.maxSndWnd = max(c.maxSndWnd, c.sndWnd)
		c.sndWL1, c.sndWL2 = seq, ack
		if opened {
			// The persist timer's backoff says nothing about the path:
			// start the retransmission timer afresh.
			c.backoff = 0
			c.stopTimerLocked()
			if c.sndNxt != c.sndUna {
				c.armRTOLocked()
			}
		}
	}
}

// undoLocked takes back the window cut of a recovery that was needless.
func (c *Conn) undoLocked() {
	c.cwnd = max(c.cwnd, c.undoCwnd)
	c.ssthresh = max(c.ssthresh, c.undoSsthresh)
	c.inRecovery = false
	c.undoArmed, c.dsackUndoArm = false, false
}

// dsackUndoLocked takes a D-SACK for [left, right): when it reports a
// segment the current (or just ended) recovery resent and with it every
// one it resent, none was needed — the originals had arrived — and the
// window cut is undone (RFC 3708; Linux's tcp_try_undo_dsack).
func (c *Conn) dsackUndoLocked(left, right uint32) {
	if !c.dsackUndoArm || c.undoRetrans <= 0 || !seqLT(c.undoSeq, right) || seqLT(c.recover, right) {
		return
	}
	c.undoRetrans -= max(1, int(right-left)/c.mss)
	if c.undoRetrans <= 0 {
		c.t.Ext.TCPDSACKUndo.Add(1)
		c.undoLocked()
	}
}

// dsackLocked notes [seq, end) as received twice, for the first SACK
// block of the next ACK (RFC 2883 4, Linux's tcp_dsack_set): the sender
// learns its retransmission was needless, or that the path duplicates.
func (c *Conn) dsackLocked(seq, end uint32) {
	if c.sackOK {
		c.dsack, c.dsackSet = header.SACKBlock{Left: seq, Right: end}, true
		c.t.Ext.TCPDSACKOldSent.Add(1)
	}
}

// enterRecoveryLocked is fast retransmit (RFC 5681 3.2) and the start of
// recovery: SACK-based (RFC 6675 with RACK's loss marks) when the peer
// sends SACK, else NewReno (RFC 6582).
func (c *Conn) enterRecoveryLocked() {
	c.t.Ext.TCPFastRetrans.Add(1)
	if c.sackOK {
		c.t.Ext.TCPSackRecovery.Add(1)
	} else {
		c.t.Ext.TCPRenoRecovery.Add(1)
	}
	// What the window was, for an undo if the retransmission turns out
	// needless (Eifel, RFC 3522).
	c.undoCwnd, c.undoSsthresh, c.undoSeq = c.cwnd, c.ssthresh, c.sndUna
	c.undoStamp, c.undoArmed = c.tsNow(), c.tsOK
	c.undoRetrans, c.dsackUndoArm = 0, c.sackOK
	c.ssthresh = c.cc.ssthresh(c)
	c.cc.lossEvent(c)
	c.inRecovery = true
	c.recover = c.sndMax
	c.highRxt = c.sndUna
	if c.sackOK {
		c.cwnd = c.ssthresh
	} else {
		c.cwnd = c.ssthresh + 3*c.mss
	}
	c.repairLocked()
}

// rcvRTTSampleLocked folds in a receiver RTT sample: the time since we
// sent the timestamp an in-order data segment echoes, which is a round
// trip plus however long the sender held it. The estimate follows the
// lower samples at once and the higher ones slowly (tcp_rcv_rtt_update).
func (c *Conn) rcvRTTSampleLocked(r time.Duration) {
	if c.rcvRTT == 0 || r < c.rcvRTT {
		c.rcvRTT = r
		return
	}
	c.rcvRTT += (r - c.rcvRTT) / 8
}

// rcvSpaceAdjustLocked is tcp_rcv_space_adjust, called as the reader
// takes n bytes: once a receiver round trip has passed since the last
// measurement, if the reader took more than in the one before, the
// buffer grows to twice that plus 16 segments, plus twice the growth
// (a sender in slow start doubles its window every round trip), up to
// RcvBufMax. It never shrinks: the window we advertised stays honoured.
func (c *Conn) rcvSpaceAdjustLocked(n int) {
	c.rcvCopied += n
	rtt := c.rcvRTT
	if rtt == 0 {
		rtt = c.srtt
	}
	if rtt == 0 || c.rcvBufCap >= c.t.cfg.RcvBufMax {
		return
	}
	now := c.t.clock.Now()
	if c.rcvSpaceTime.IsZero() {
		// The first measurement starts from an initial window's worth
		// (tcp_init_buffer_space), so a reader slower than that never
		// grows the buffer.
		c.rcvSpaceTime, c.rcvCopied, c.rcvSpace = now, 0, min(c.rcvBufCap, 10*c.mss)
		return
	}
	if now.Sub(c.rcvSpaceTime) < rtt {
		return
	}
	copied := c.rcvCopied
	c.rcvSpaceTime, c.rcvCopied = now, 0
	if copied <= c.rcvSpace {
		return
	}
	win := 2*copied + 16*c.mss
	win += 2 * win * (copied - c.rcvSpace) / max(c.rcvSpace, 1)
	c.rcvSpace = copied
	if win > c.rcvBufCap {
		c.rcvBufCap = min(win, c.t.cfg.RcvBufMax)
		c.blLimit.Store(int64(c.rcvBufCap + c.sndBufCap))
		c.t.Ext.TCPRcvBufGrow.Add(1)
	}
}

// dataLocked takes in-window data: in order onto the receive buffer
// (followed by whatever out-of-order data now joins it), else into the
// out-of-order queue, kept sorted. Data past the right edge of the window
// we advertised is cut off; the receive buffer and the out-of-order queue
// together never hold more than RcvBuf (beyond it: TCPOFODrop).
func (c *Conn) dataLocked(seq uint32, data []byte, b *skb.Buff) {
	if seqLT(seq, c.rcvNxt) { // partly old: keep the new part
		c.dsackLocked(seq, c.rcvNxt)
		data = data[c.rcvNxt-seq:]
		seq = c.rcvNxt
	}
	edge := c.rcvNxt + max(c.lastWnd, c.rcvWndLocked())
	if !seqLT(seq, edge) {
		return
	}
	if seqLT(edge, seq+uint32(len(data))) {
		data = data[:edge-seq]
	}
	if len(data) == 0 {
		return
	}
	if seq != c.rcvNxt {
		c.lastOOO = seq
		i := 0
		for i < len(c.ooo) && seqLT(c.ooo[i].seq, seq) {
			i++
		}
		end := seq + uint32(len(data))
		for _, o := range c.ooo { // already held whole: a duplicate
			if seqLEQ(o.seq, seq) && seqLEQ(end, o.end()) {
				c.dsackLocked(seq, end)
				return
			}
		}
		if c.rcvQ.Len()+c.oooBytes+len(data) > c.rcvBufCap {
			c.t.Ext.TCPOFODrop.Add(1)
			return
		}
		h := c.holdOOOLocked(data, b)
		if h == nil {
			c.t.Ext.TCPOFODrop.Add(1)
			return
		}
		c.t.Ext.TCPOFOQueue.Add(1)
		c.ooo = append(c.ooo, oooSeg{})
		copy(c.ooo[i+1:], c.ooo[i:])
		c.ooo[i] = oooSeg{seq, h}
		c.oooBytes += len(data)
		c.oooHeld += h.Truesize()
		return
	}
	c.queueLocked(data, b)
	c.rcvNxt += uint32(len(data))
	k := 0
	for _, o := range c.ooo {
		end := o.end()
		if seqLEQ(o.seq, c.rcvNxt) {
			if seqLT(c.rcvNxt, end) {
				c.queueLocked(o.b.Data()[c.rcvNxt-o.seq:], o.b)
				c.rcvNxt = end
			}
			c.oooBytes -= o.b.Len()
			c.oooHeld -= o.b.Truesize()
			o.b.Free()
			continue
		}
		c.ooo[k] = o
		k++
	}
	clear(c.ooo[k:])
	c.ooo = c.ooo[:k]
	c.signalLocked()
}

// holdOOOLocked keeps data, a segment beyond a hole, without allocating:
// in b itself (a clone narrowed to it) where data fills a fair part of
// b's buffer and the queue's buffers stay within the receive buffer, as
// the receive queue does; else copied into a pooled buffer. nil (a drop)
// if that would take the buffers held past twice the receive buffer, or
// data is larger than any buffer.
func (c *Conn) holdOOOLocked(data []byte, b *skb.Buff) *skb.Buff {
	if b != nil && c.oooHeld+b.Truesize() <= c.rcvBufCap {
		if h := cloneFor(data, b); h != nil {
			return h
		}
	}
	h := skb.Alloc(len(data))
	if h == nil {
		return nil
	}
	if c.oooHeld+h.Truesize() > 2*c.rcvBufCap {
		// Copies of segments a little past a small buffer take big
		// ones: the buffers held stay within twice the receive
		// buffer, as on the receive queue, or the segment is dropped.
		h.Free()
		return nil
	}
	memcopy.Copy(h.Put(len(data)), data)
	return h
}

// purgeOOOLocked frees the out-of-order queue.
func (c *Conn) purgeOOOLocked() {
	for _, o := range c.ooo {
		o.b.Free()
	}
	clear(c.ooo)
	c.ooo, c.oooBytes, c.oooHeld = c.ooo[:0], 0, 0
}

// queueLocked puts in-order data on the receive queue, in b where that
// costs little memory, else copied (counted as TCPRcvCoalesce).
func (c *Conn) queueLocked(data []byte, b *skb.Buff) {
	if c.rcvQ.Add(data, b, c.rcvBufCap) {
		c.t.Ext.TCPRcvCoalesce.Add(1)
	}
}

func (c *Conn) finAckedLocked() bool { return c.finSent && c.sndUna == c.finSeq+1 }

// challengeAckLocked answers a RST or SYN that may be forged with an ACK
// of where the connection stands (RFC 5961 3.2, 4.2): the real peer
// learns it, a blind attacker learns nothing.
func (c *Conn) challengeAckLocked() {
	if c.oowRateLimitedLocked() {
		return
	}
	c.t.Ext.TCPChallengeACK.Add(1)
	c.sendAckLocked()
}

// oowRateLimitedLocked bounds the ACKs sent for invalid segments to one
// per InvalidRateLimit (RFC 5961 7, Linux's tcp_oow_rate_limited and
// tcp_invalid_ratelimit): a flood of forged segments gets no flood back.
func (c *Conn) oowRateLimitedLocked() bool {
	now := c.t.clock.Now()
	if !c.lastOOWAck.IsZero() && now.Sub(c.lastOOWAck) < c.t.cfg.InvalidRateLimit {
		c.t.Ext.TCPACKSkipped.Add(1)
		return true
	}
	c.lastOOWAck = now
	return false
}
