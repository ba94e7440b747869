package tcp

import (
	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/header"
)

// rcvWndLocked is the free receive space we advertise. Out-of-order data
// is held in its own bound (half the buffer) and does not shrink the
// window, so the duplicate ACKs it causes carry an unchanged window and
// the sender's fast retransmit recognises them (RFC 5681 2).
func (c *Conn) rcvWndLocked() uint32 {
	free := c.rcvBufCap - c.rcvQ.Len()
	return uint32(max(free, 0))
}

func (c *Conn) advertLocked() uint16 {
	w := c.rcvWndLocked() >> c.rcvScale
	if w > maxWindow {
		w = maxWindow
	}
	c.lastWnd = w << c.rcvScale
	return uint16(w)
}

// sendSynLocked sends our SYN (or SYN-ACK), with MSS, window scale,
// SACK-permitted and timestamps; a SYN-ACK echoes only what the SYN
// offered.
func (c *Conn) sendSynLocked(ack bool) {
	f := header.TCPFields{SrcPort: c.id.lport, DstPort: c.id.rport, Seq: c.iss, Flags: header.TCPFlagSYN,
		Window: uint16(min(c.t.cfg.RcvBuf, maxWindow)), MSS: uint16(c.ourMSS()), WScale: -1}
	c.lastWnd = uint32(f.Window) // a SYN's window is never scaled
	if ack {
		f.Flags |= header.TCPFlagACK
		f.Ack = c.rcvNxt
		c.lastAckSent = c.rcvNxt // Last.ACK.sent, for TS.Recent (RFC 7323 4.3)
		if c.wsOK {
			f.WScale = int(c.rcvScale)
		}
		f.SACKOK = c.sackOK
		if c.tsOK {
			f.TS, f.TSVal, f.TSEcr = true, c.tsNow(), c.tsRecent
		}
	} else {
		c.rcvScale = c.t.rcvScale()
		f.WScale = int(c.rcvScale)
		f.SACKOK = !c.t.cfg.NoSACK
		if !c.t.cfg.NoTimestamps {
			f.TS, f.TSVal = true, c.tsNow()
		}
	}
	c.sendCtlLocked(f)
}

// fieldsLocked is the header of a segment in a synchronized state: our
// ACK, window and timestamp, and SACK blocks on segments without data.
func (c *Conn) fieldsLocked(seq uint32, withSACK bool) header.TCPFields {
	f := header.TCPFields{SrcPort: c.id.lport, DstPort: c.id.rport, Seq: seq, Ack: c.rcvNxt,
		Flags: header.TCPFlagACK, Window: c.advertLocked(), WScale: -1}
	if c.tsOK {
		f.TS, f.TSVal, f.TSEcr = true, c.tsNow(), c.tsRecent
	}
	if withSACK && c.sackOK && (len(c.ooo) > 0 || c.dsackSet) {
		c.sackBlocksLocked(&f)
	}
	c.lastAckSent = c.rcvNxt
	c.ackPending = 0
	c.delack.stop()
	return f
}

// sackBlocksLocked fills f's SACK blocks: a D-SACK first if one is
// pending (RFC 2883 4), then from the out-of-order queue the block
// holding the newest segment, then the others (RFC 2018 4).
func (c *Conn) sackBlocksLocked(f *header.TCPFields) {
	if c.dsackSet {
		f.SACK[0], f.NSACK = c.dsack, 1
		c.dsackSet = false
	}
	var blocks [maxSACKed]header.SACKBlock
	n := 0
	for _, o := range c.ooo {
		end := o.end()
		if n > 0 && seqLEQ(o.seq, blocks[n-1].Right) {
			if seqLT(blocks[n-1].Right, end) {
				blocks[n-1].Right = end
			}
			continue
		}
		if n == len(blocks) {
			break
		}
		blocks[n] = header.SACKBlock{Left: o.seq, Right: end}
		n++
	}
	first := 0
	for i := 0; i < n; i++ {
		if seqLEQ(blocks[i].Left, c.lastOOO) && seqLT(c.lastOOO, blocks[i].Right) {
			first = i
		}
	}
	if n == 0 {
		return
	}
	f.SACK[f.NSACK] = blocks[first]
	f.NSACK++
	for i := 0; i < n && f.NSACK < header.TCPMaxSACKBlocks; i++ {
		if i != first {
			f.SACK[f.NSACK] = blocks[i]
			f.NSACK++
		}
	}
}

// sendAckLocked sends a bare ACK with our current window.
func (c *Conn) sendAckLocked() {
	c.sendCtlLocked(c.fieldsLocked(c.sndNxt, true))
}

// sendCtlLocked sends a segment without data (SYN, ACK, RST, a keepalive
// probe) with the connection's transmit hash.
func (c *Conn) sendCtlLocked(f header.TCPFields) {
	c.t.sendOffload(c.id, f, nil, nil, 0, 0, c.txHash)
}

// sendDataLocked sends the n queued bytes from seq on, with FIN if fin:
// one segment, or with TSO one packet of several.
func (c *Conn) sendDataLocked(seq uint32, n int, fin bool) {
	var a, b []byte
	if n > 0 {
		a, b = c.sndQ.Peek(int(seq-c.sndUna), n)
	}
	f := c.fieldsLocked(seq, n == 0)
	if n > 0 && seq+uint32(n) == c.sndUna+uint32(c.sndQ.Len()) {
		// PSH on the segment that empties the send queue, as Linux's
		// tcp_push: the receiver's GRO merges up to it.
		f.Flags |= header.TCPFlagPSH
	}
	end := seq + uint32(n)
	if fin {
		f.Flags |= header.TCPFlagFIN
		end++
	}
	if end != seq {
		c.logSentLocked(seq, end)
	}
	c.t.sendOffload(c.id, f, a, b, c.mss, c.caps, c.txHash)
}

// setupCapsLocked takes the offloads of the device the route leaves by
// (sk_setup_caps): checksum offload, and TSO only with it. With GSO on
// the device, TCP builds for TSO whatever the device does: the IP layer
// sums and segments in software what it cannot (Linux's TCP has built
// GSO packets for every device since 4.18), and TCP's and IP's work is
// done once a packet instead of once a segment.
func (c *Conn) setupCapsLocked() {
	c.caps, c.softGSO = 0, false
	if c.t.cfg.NoOffload {
		return
	}
	f := c.t.routeFeatures(c.id)
	if f.Has(netcore.FeatureIPCsum) {
		c.caps = f & (netcore.FeatureIPCsum | netcore.FeatureTSO)
	}
	if f.Has(netcore.FeatureGSO) && !c.caps.Has(netcore.FeatureIPCsum|netcore.FeatureTSO) {
		c.caps, c.softGSO = netcore.FeatureIPCsum|netcore.FeatureTSO, true
	}
}

// sendLimitLocked is the most payload one transmit may carry: a segment,
// or with TSO as many whole segments as an IPv4 packet holds.
func (c *Conn) sendLimitLocked() int {
	if !c.caps.Has(netcore.FeatureTSO) {
		return c.mss
	}
	room := header.IPv4MaxTotal - header.IPv4MinLen - header.TCPMinLen - 40 // options at most
	return max(room/c.mss, 1) * c.mss
}

// dataInflightLocked is the number of buffered bytes sent and not acked.
func (c *Conn) dataInflightLocked() int {
	n := int(c.sndNxt - c.sndUna)
	if c.finSent && seqLT(c.finSeq, c.sndNxt) {
		n--
	}
	return n
}

func (c *Conn) advanceLocked(n uint32) {
	c.sndNxt += n
	if seqLT(c.sndMax, c.sndNxt) {
		c.sndMax = c.sndNxt
	}
}

// outputLocked sends what the windows allow (tcp_write_xmit).
func (c *Conn) outputLocked() {
	switch c.state {
	case Established, CloseWait, FinWait1, Closing, LastAck:
	default:
		return
	}
	for {
		inflight := c.dataInflightLocked()
		unsent := c.sndQ.Len() - inflight
		// What the network holds (RFC 6675's pipe): SACKed bytes have
		// left it, and so have those marked lost. The peer's window
		// counts them.
		pipe := c.pipeLocked()
		if unsent > 0 && pipe < c.cwnd && inflight < int(c.sndWnd) {
			n := min(unsent, c.sendLimitLocked(), c.cwnd-pipe, int(c.sndWnd)-inflight)
			if n < c.mss && n == unsent && inflight > 0 && !c.noDelay && !c.finQueued {
				return // Nagle (RFC 896): one small segment in flight at a time
			}
			if n > c.mss && n < unsent {
				n -= n % c.mss // whole segments; the tail waits for room (tcp_mss_split_point)
			}
			c.sendDataLocked(c.sndNxt, n, false)
			if !c.timing && c.sndNxt == c.sndMax {
				c.timing, c.rttSeq, c.rttStart = true, c.sndNxt+uint32(n), c.t.clock.Now()
			}
			c.advanceLocked(uint32(n))
			c.armRTOIfIdleLocked()
			continue
		}
		if unsent == 0 && c.finQueued && (!c.finSent || c.sndNxt == c.finSeq) {
			c.finSeq = c.sndNxt
			c.sendDataLocked(c.sndNxt, 0, true)
			c.finSent = true
			c.advanceLocked(1)
			c.armRTOIfIdleLocked()
		}
		if unsent > 0 && c.sndWnd == 0 && inflight == 0 {
			c.armRTOIfIdleLocked() // the zero-window probe timer
		}
		return
	}
}

// retransmitLocked resends the first unacknowledged segment.
func (c *Conn) retransmitLocked() {
	c.t.Stats.RetransSegs.Add(1)
	c.timing = false // Karn
	switch c.state {
	case SynSent:
		c.sendSynLocked(false)
		return
	case SynRcvd:
		c.sendSynLocked(true)
		return
	}
	n := min(c.sndQ.Len(), c.mss)
	if c.sndWnd == 0 && n > 0 && c.sndNxt == c.sndUna {
		// Zero-window probe: the next byte, sent without advancing
		// sndNxt. A peer with room takes it and its ACK moves sndNxt on;
		// one without answers with its window, and nothing is left in
		// flight past a byte it dropped.
		c.sendDataLocked(c.sndUna, 1, false)
		if seqLT(c.sndMax, c.sndUna+1) {
			c.sndMax = c.sndUna + 1
		}
		return
	}
	n = min(n, c.dataInflightLocked())
	fin := c.finSent && c.sndUna+uint32(n) == c.finSeq
	c.sendDataLocked(c.sndUna, n, fin)
}

// expandSndBufLocked is tcp_sndbuf_expand, run as ACKs free send
// buffer: the buffer grows to twice the congestion window, up to
// SndBufMax (by default sndBufTSO on a route with TSO, no growth on
// others), never shrinking. The queue's memory grows only as the writer
// fills it, so a connection that sends little holds little.
func (c *Conn) expandSndBufLocked() {
	limit := c.t.cfg.SndBufMax
	if limit == 0 {
		if c.caps&netcore.FeatureTSO == 0 || c.softGSO {
			return // the buffer a device without TSO drains at its pace
		}
		limit = sndBufTSO
	}
	if want := min(2*c.cwnd, limit); want > c.sndBufCap {
		c.sndBufCap = want
		c.blLimit.Store(int64(c.rcvBufCap + c.sndBufCap))
	}
}

// sndBufTSO is the default SndBufMax on a route whose device segments.
const sndBufTSO = 1 << 20

// mtuReducedLocked takes a Fragmentation Needed for a segment in flight
// (tcp_v4_mtu_reduced): the route's path MTU goes down, the segment size
// with it, and what is in flight goes again in segments that fit
// (tcp_simple_retransmit), without the congestion response a loss gets.
func (c *Conn) mtuReducedLocked(mtu int) {
	c.t.updatePMTU(c.id, mtu)
	mss := c.t.mssFor(c.id)
	if c.tsOK {
		mss -= 12
	}
	if mss >= c.mss {
		return
	}
	c.mss = max(mss, 64)
	c.t.Ext.TCPMTUReduced.Add(1)
	if c.state == SynSent || c.state == SynRcvd || c.sndNxt == c.sndUna {
		return
	}
	c.t.Stats.RetransSegs.Add(1)
	c.timing = false // Karn
	c.sacked, c.sackedBytes = c.sacked[:0], 0
	c.rackForgetLocked()
	c.sndNxt = c.sndUna
	c.outputLocked()
	c.armRTOLocked()
}
