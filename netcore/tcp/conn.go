package tcp

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/clock"
	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/netcore/internal/wait"
	"github.com/ringonet/ringo/netcore/ipv4"
	"github.com/ringonet/ringo/netcore/skb"
)

// State is a connection state (RFC 9293 3.3.2).
type State uint8

const (
	Closed State = iota
	SynSent
	SynRcvd
	Established
	FinWait1
	FinWait2
	CloseWait
	Closing
	LastAck
	TimeWait
)

func (s State) String() string {
	return [...]string{"CLOSED", "SYN-SENT", "SYN-RECEIVED", "ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2",
		"CLOSE-WAIT", "CLOSING", "LAST-ACK", "TIME-WAIT"}[s]
}

const (
	// synRetries and synAckRetries are Linux's tcp_syn_retries and
	// tcp_synack_retries: an unanswered connection attempt gives up
	// after 127 s (1+2+...+64), a half-open one after 63 s.
	synRetries    = 6
	synAckRetries = 5
	maxRTO        = 60 * time.Second
	initRTO       = time.Second
	maxBackoff    = 12
	defaultMSS    = 536 // RFC 9293 3.7.1, when the peer sends none
)

// Conn is a TCP connection; it implements net.Conn.
type Conn struct {
	t        *Table
	id       fourTuple
	listener *Listener

	mu    sync.Mutex
	state State

	// Send side. sndQ holds the bytes from sndUna on (the SYN and FIN
	// take sequence space but no buffer).
	iss, sndUna, sndNxt uint32
	sndMax              uint32 // highest sequence sent (sndNxt goes back after a timeout)
	finSeq              uint32 // the FIN's sequence number, once finSent
	sndWnd              uint32 // bytes, already scaled
	maxSndWnd           uint32 // the largest window the peer offered (max_window)
	sndWL1, sndWL2      uint32
	sndQ                byteQueue
	sndBufCap           int // bounds sndQ: SndBuf, grown to twice cwnd up to SndBufMax (tcp_sndbuf_expand)
	finQueued, finSent  bool
	mss                 int
	caps                netcore.Features // offloads of the route's device (sk_route_caps)
	softGSO             bool             // caps says TSO, done in software (GSO)
	sndScale, rcvScale  uint8
	wsOK                bool
	cwnd, ssthresh      int
	dupAcks             int
	inRecovery          bool
	recover             uint32
	noDelay             bool // Nagle off (Go's default for TCP sockets)

	// Options agreed in the handshake.
	sackOK, tsOK bool
	tsRecent     uint32 // the peer's latest TSval (RFC 7323 4.3)
	tsOffset     uint32 // our TSval clock's random offset
	lastAckSent  uint32 // rcvNxt in our latest segment

	// SACK scoreboard (RFC 2018, RFC 6675): what the peer holds above
	// sndUna, sorted and disjoint, at most maxSACKed ranges.
	sacked      []header.SACKBlock
	sackedBytes int
	highRxt     uint32 // highest sequence retransmitted in this recovery

	// RTT (RFC 6298); one segment timed at a time, never a retransmitted
	// one (Karn).
	srtt, rttvar, rto time.Duration
	rttSeq            uint32
	rttStart          time.Time
	timing            bool
	backoff           int
	rtx               connTimer
	timerKind         int // what rtx is for: rtoTimer, tlpTimer, timeWaitTimer, finWait2Timer

	// Tail loss probe (RFC 8985 7): a probe is out until an ACK covers
	// tlpHigh, the sequence sent when it went.
	tlpOut  bool
	tlpHigh uint32

	// Delayed ACK (RFC 1122 4.2.3.2, RFC 5681 4.2): in-order segments
	// not yet acknowledged.
	ackPending int
	quickAcks  int  // segments still acknowledged without delay (quick-ACK mode)
	ackQueued  bool // on the Table's batch-end ACK list
	delack     connTimer

	// Keepalive (RFC 1122 4.2.3.6), off unless the socket asks.
	keepAlive bool
	kaIdle    time.Duration
	kaProbes  int
	lastRecv  time.Time
	ka        connTimer

	// Receive side.
	irs, rcvNxt uint32
	rcvQ        rcvQueue // in-order bytes the reader has not taken
	lastWnd     uint32   // window last advertised
	// Receive-buffer autotuning (Linux's dynamic right-sizing,
	// tcp_rcv_space_adjust): once per receiver round trip, the buffer
	// grows to twice what the reader took in the last one, with room for
	// a sender doubling its window, up to RcvBufMax.
	rcvBufCap    int           // the buffer's current bound: RcvBuf up to RcvBufMax
	rcvCopied    int           // bytes the reader took since rcvSpaceTime
	rcvSpace     int           // bytes it took in the last measured round trip
	rcvSpaceTime time.Time     // start of the current measurement
	rcvRTT       time.Duration // receiver's RTT estimate: data segments' TSecr (tcp_rcv_rtt_measure_ts)
	ooo          []oooSeg      // sorted by seq
	oooBytes     int
	lastOOO      uint32 // seq of the newest out-of-order segment: the first SACK block
	finRcvd      bool

	// The socket.
	err        error
	softErr    error     // an ICMP error while established: reported if the connection then times out
	lastOOWAck time.Time // the last ACK sent for an invalid segment (RFC 5961 7)
	userClosed bool
	linger     time.Duration // SO_LINGER: <0 off, 0 abort on Close, >0 Close waits up to this
	rdl, wdl   time.Time
	waitq      []chan struct{} // one channel per blocked Read, Write or Dial
	estab      bool
}

type oooSeg struct {
	seq  uint32
	data []byte
}

const (
	rtoTimer = iota
	tlpTimer
	timeWaitTimer
	finWait2Timer
)

const (
	maxSACKed  = 32 // scoreboard ranges kept
	pawsWindow = 1  // timestamp ticks PAWS forgives (TCP_PAWS_WINDOW)
	// delAckTimeout is the longest an ACK for a lone segment waits
	// (TCP_DELACK_MIN); delAckMin the shortest. In between it is two
	// round trips (delAckTimeoutLocked).
	delAckTimeout = 40 * time.Millisecond
	delAckMin     = 2 * time.Millisecond
	// delAckMax is the longest a peer may hold an ACK back (RFC 8985
	// WCDelAckT, Linux's TCP_DELACK_MAX).
	delAckMax     = 200 * time.Millisecond
	kaProbeCount  = 9 // tcp_keepalive_probes
	kaDefaultIdle = 15 * time.Second
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

func newConn(t *Table, id fourTuple) *Conn {
	c := &Conn{t: t, id: id, iss: newISS(), mss: defaultMSS, rto: initRTO, linger: -1,
		noDelay: true, tsOffset: rand.Uint32(), kaIdle: kaDefaultIdle, rcvBufCap: t.cfg.RcvBuf, sndBufCap: t.cfg.SndBuf}
	c.sndUna, c.sndNxt, c.sndMax = c.iss, c.iss+1, c.iss+1 // the SYN
	c.rtx.init(t.clock, c.onRTO)
	c.delack.init(t.clock, c.onDelAck)
	c.ka.init(t.clock, c.onKeepAlive)
	return c
}

// signalLocked wakes every waiter (readers, writers, Dial): each waits on
// a channel of its own, and each re-checks its own condition, so one
// reader cannot swallow the wake-up a blocked writer needed. The channels
// come from a pool: waking allocates nothing.
func (c *Conn) signalLocked() {
	for i, w := range c.waitq {
		select {
		case w <- struct{}{}:
		default:
		}
		c.waitq[i] = nil
	}
	c.waitq = c.waitq[:0]
}

// waiterPool holds wake-up channels, one token deep.
var waiterPool = sync.Pool{New: func() any { return make(chan struct{}, 1) }}

// waitChanLocked registers a wake-up channel for the caller.
func (c *Conn) waitChanLocked() chan struct{} {
	ch := waiterPool.Get().(chan struct{})
	c.waitq = append(c.waitq, ch)
	return ch
}

// doneWaitingLocked takes ch off the wait list (a deadline or a cancel
// ended the wait) and returns it to the pool empty.
func (c *Conn) doneWaitingLocked(ch chan struct{}) {
	for i, w := range c.waitq {
		if w == ch {
			c.waitq = append(c.waitq[:i], c.waitq[i+1:]...)
			break
		}
	}
	select {
	case <-ch:
	default:
	}
	waiterPool.Put(ch)
}

// maxQuickAcks is how many segments quick-ACK mode covers (Linux's
// TCP_MAX_QUICKACKS).
const maxQuickAcks = 16

// QueueMemory is the memory the connection's send and receive queues hold.
func (c *Conn) QueueMemory() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sndQ.Cap() + c.rcvQ.Held()
}

// ourMSS is what we announce: the route's MTU less the headers.
func (c *Conn) ourMSS() int { return c.t.mssFor(c.id.raddr) }

func (c *Conn) takeOptionsLocked(seg header.TCP) {
	o := seg.ParsedOptions()
	c.mss = defaultMSS
	if o.MSS != 0 {
		c.mss = int(o.MSS)
	}
	c.mss = max(min(c.mss, c.ourMSS()), 64)
	c.setupCapsLocked()
	c.sackOK = o.SACKOK && !c.t.cfg.NoSACK
	if o.TS && !c.t.cfg.NoTimestamps {
		c.tsOK = true
		c.tsRecent = o.TSVal
		c.mss -= 12 // every segment carries the option (RFC 7323 2.2)
	}
	if o.WScale >= 0 {
		c.wsOK = true
		c.sndScale = uint8(o.WScale)
		c.rcvScale = c.t.rcvScale()
	}
	c.cwnd = 10 * c.mss // RFC 6928
	c.ssthresh = 1 << 30
}

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
	if w > 65535 {
		w = 65535
	}
	c.lastWnd = w << c.rcvScale
	return uint16(w)
}

// sendSynLocked sends our SYN (or SYN-ACK), with MSS, window scale,
// SACK-permitted and timestamps; a SYN-ACK echoes only what the SYN
// offered.
func (c *Conn) sendSynLocked(ack bool) {
	f := header.TCPFields{SrcPort: c.id.lport, DstPort: c.id.rport, Seq: c.iss, Flags: header.TCPFlagSYN,
		Window: uint16(min(c.t.cfg.RcvBuf, 65535)), MSS: uint16(c.ourMSS()), WScale: -1}
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
	c.t.send(c.id, f, nil)
}

// fieldsLocked is the header of a segment in a synchronized state: our
// ACK, window and timestamp, and SACK blocks on segments without data.
func (c *Conn) fieldsLocked(seq uint32, withSACK bool) header.TCPFields {
	f := header.TCPFields{SrcPort: c.id.lport, DstPort: c.id.rport, Seq: seq, Ack: c.rcvNxt,
		Flags: header.TCPFlagACK, Window: c.advertLocked(), WScale: -1}
	if c.tsOK {
		f.TS, f.TSVal, f.TSEcr = true, c.tsNow(), c.tsRecent
	}
	if withSACK && c.sackOK && len(c.ooo) > 0 {
		c.sackBlocksLocked(&f)
	}
	c.lastAckSent = c.rcvNxt
	c.ackPending = 0
	c.delack.stop()
	return f
}

// sackBlocksLocked fills f's SACK blocks from the out-of-order queue: the
// block holding the newest segment first, then the others (RFC 2018 4).
func (c *Conn) sackBlocksLocked(f *header.TCPFields) {
	var blocks [maxSACKed]header.SACKBlock
	n := 0
	for _, o := range c.ooo {
		end := o.seq + uint32(len(o.data))
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
	f.SACK[0] = blocks[first]
	f.NSACK = 1
	for i := 0; i < n && f.NSACK < header.TCPMaxSACKBlocks; i++ {
		if i != first {
			f.SACK[f.NSACK] = blocks[i]
			f.NSACK++
		}
	}
}

// sendAckLocked sends a bare ACK with our current window.
func (c *Conn) sendAckLocked() {
	c.t.send(c.id, c.fieldsLocked(c.sndNxt, true), nil)
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
	if fin {
		f.Flags |= header.TCPFlagFIN
	}
	c.t.sendOffload(c.id, f, a, b, c.mss, c.caps)
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
	f := c.t.ip.RouteFeatures(c.id.raddr)
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

// input processes one segment for this connection (tcp_rcv_state_process,
// following RFC 9293 3.10.7); segs > 1 for a GRO packet, which counts as
// that many segments for acknowledgment.
func (c *Conn) input(seg header.TCP, segs int, b *skb.Buff) {
	c.mu.Lock()
	defer c.mu.Unlock()
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
			c.t.send(c.id, header.TCPFields{SrcPort: c.id.lport, DstPort: c.id.rport, Seq: ack, Flags: header.TCPFlagRST, WScale: -1}, nil)
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
	if flags&header.TCPFlagFIN != 0 && seq+uint32(len(data)) == c.rcvNxt && !c.finRcvd {
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
	defer c.mu.Unlock()
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
			c.t.send(c.id, header.TCPFields{SrcPort: c.id.lport, DstPort: c.id.rport, Seq: ack, Flags: header.TCPFlagRST, WScale: -1}, nil)
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
	if c.sackOK && o.NSACK > 0 {
		newSACK = c.takeSACKLocked(o)
	}
	if seqLT(c.sndUna, ack) {
		acked := int(ack - c.sndUna)
		flight := int(c.sndNxt - c.sndUna) // before this ACK
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
		if c.inRecovery {
			if seqLT(ack, c.recover) {
				// Partial ACK (RFC 6582, RFC 6675): retransmit the next
				// hole, deflate.
				c.repairLocked()
				if !c.sackOK {
					c.cwnd = max(c.cwnd-acked+c.mss, c.mss)
				}
			} else {
				c.inRecovery = false
				c.cwnd = c.ssthresh
			}
		} else if c.cwnd < c.ssthresh {
			// Slow start counts bytes (RFC 3465), without its limit of
			// 2 SMSS per ACK, as Linux's tcp_slow_start: a receiver with
			// GRO (or ringo's batch-end ACKs) acknowledges many segments
			// at once, and counting ACKs would grow the window by one
			// segment per 64 KB. Only while the window is what limits
			// the sender (RFC 7661; Linux's tcp_is_cwnd_limited: in slow
			// start, more than half of it in flight): a sender held back
			// by its application, its send buffer or the peer's window
			// would otherwise grow it without bound and one day send all
			// of it at once.
			if 2*flight > c.cwnd {
				c.cwnd = min(c.cwnd+acked, max(c.ssthresh, c.cwnd+c.mss))
			}
		} else if flight+c.mss > c.cwnd {
			// Congestion avoidance: one segment per window's worth of
			// bytes acknowledged (RFC 5681 3.1, byte counting), when the
			// window was full.
			c.cwnd += max(c.mss*acked/c.cwnd, 1)
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
		// A pure ACK that moves nothing while a tail loss probe is out
		// says the peer is still missing something below the probe (its
		// window may have moved meanwhile): recover now, not after the
		// RTO (RFC 8985 7.4, where RACK marks it lost). Data from the
		// peer does not count: it says nothing of what it received.
		lost := c.dupAcks >= 3 || c.sackOK && c.sackedBytes >= 3*c.mss || c.tlpOut
		switch {
		case lost && !c.inRecovery:
			// Fast retransmit (RFC 5681 3.2), then recovery: SACK-based
			// (RFC 6675) when the peer sends SACK, else NewReno.
			c.t.Ext.TCPFastRetrans.Add(1)
			if c.sackOK {
				c.t.Ext.TCPSackRecovery.Add(1)
			} else {
				c.t.Ext.TCPRenoRecovery.Add(1)
			}
			flight := int(c.sndNxt - c.sndUna)
			c.ssthresh = max(flight/2, 2*c.mss)
			c.inRecovery = true
			c.recover = c.sndMax
			c.highRxt = c.sndUna
			if c.sackOK {
				c.cwnd = c.ssthresh
			} else {
				c.cwnd = c.ssthresh + 3*c.mss
			}
			c.repairLocked()
		case c.inRecovery && c.sackOK:
			c.repairLocked()
		case c.inRecovery && c.dupAcks > 3:
			c.cwnd += c.mss
		}
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

// takeSACKLocked merges the peer's SACK blocks into the scoreboard; it
// reports whether they told something new. Blocks outside (sndUna,
// sndMax] are D-SACKs or bogus and are ignored (counted).
func (c *Conn) takeSACKLocked(o *header.TCPOptions) bool {
	grew := false
	for i := 0; i < o.NSACK; i++ {
		b := o.SACK[i]
		if seqLT(b.Left, c.sndUna) && seqLT(c.sndUna, b.Right) {
			b.Left = c.sndUna // an old ACK overtaken by a newer one
		}
		if !seqLT(b.Left, b.Right) || !seqLT(c.sndUna, b.Right) || seqLT(c.sndMax, b.Right) || seqLT(b.Left, c.sndUna) {
			c.t.Ext.TCPSACKDiscard.Add(1)
			continue
		}
		before := c.sackedBytes
		c.sacked = mergeBlock(c.sacked, b)
		if len(c.sacked) > maxSACKed {
			c.sacked = c.sacked[:maxSACKed] // forget the highest
		}
		c.sackedBytes = 0
		for _, r := range c.sacked {
			c.sackedBytes += int(r.Right - r.Left)
		}
		grew = grew || c.sackedBytes > before
	}
	return grew
}

// mergeBlock inserts b into sorted, disjoint ranges.
func mergeBlock(rs []header.SACKBlock, b header.SACKBlock) []header.SACKBlock {
	i := 0
	for i < len(rs) && seqLT(rs[i].Right, b.Left) {
		i++
	}
	j := i
	for j < len(rs) && seqLEQ(rs[j].Left, b.Right) {
		if seqLT(rs[j].Left, b.Left) {
			b.Left = rs[j].Left
		}
		if seqLT(b.Right, rs[j].Right) {
			b.Right = rs[j].Right
		}
		j++
	}
	if i == j {
		rs = append(rs, header.SACKBlock{})
		copy(rs[i+1:], rs[i:])
		rs[i] = b
		return rs
	}
	rs[i] = b
	return append(rs[:i+1], rs[j:]...)
}

// trimSACKLocked drops what sndUna has passed from the scoreboard.
func (c *Conn) trimSACKLocked() {
	k := 0
	c.sackedBytes = 0
	for _, r := range c.sacked {
		if seqLEQ(r.Right, c.sndUna) {
			continue
		}
		if seqLT(r.Left, c.sndUna) {
			r.Left = c.sndUna
		}
		c.sacked[k] = r
		c.sackedBytes += int(r.Right - r.Left)
		k++
	}
	c.sacked = c.sacked[:k]
	if seqLT(c.highRxt, c.sndUna) {
		c.highRxt = c.sndUna
	}
}

// repairLocked retransmits in recovery: without SACK the first
// unacknowledged segment (NewReno); with SACK the next holes below the
// highest SACKed byte that this recovery has not resent yet (RFC 6675's
// NextSeg, rule 1), as many as the congestion window lets through.
func (c *Conn) repairLocked() {
	if !c.sackOK || len(c.sacked) == 0 {
		if c.highRxt == c.sndUna || !c.sackOK {
			c.retransmitLocked()
			c.highRxt = c.sndUna + uint32(min(c.mss, c.sndQ.Len()))
		}
		return
	}
	top := c.sacked[len(c.sacked)-1].Right
	for sent := 0; sent < 4; sent++ {
		pipe := c.dataInflightLocked() - c.sackedBytes
		if sent > 0 && pipe >= c.cwnd {
			return
		}
		start := c.highRxt
		if seqLT(start, c.sndUna) {
			start = c.sndUna
		}
		end := top
		for _, r := range c.sacked {
			if seqLEQ(r.Right, start) {
				continue
			}
			if seqLEQ(r.Left, start) {
				start = r.Right
				continue
			}
			end = r.Left
			break
		}
		if !seqLT(start, top) {
			return
		}
		if seqLT(start+uint32(c.mss), end) {
			end = start + uint32(c.mss)
		}
		off, n := int(start-c.sndUna), int(end-start)
		if off+n > c.sndQ.Len() {
			return
		}
		c.t.Stats.RetransSegs.Add(1)
		c.timing = false // Karn
		c.sendDataLocked(start, n, false)
		c.highRxt = end
	}
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
			if seqLEQ(o.seq, seq) && seqLEQ(end, o.seq+uint32(len(o.data))) {
				return
			}
		}
		if c.rcvQ.Len()+c.oooBytes+len(data) > c.rcvBufCap {
			c.t.Ext.TCPOFODrop.Add(1)
			return
		}
		c.t.Ext.TCPOFOQueue.Add(1)
		c.ooo = append(c.ooo, oooSeg{})
		copy(c.ooo[i+1:], c.ooo[i:])
		c.ooo[i] = oooSeg{seq, append([]byte(nil), data...)}
		c.oooBytes += len(data)
		return
	}
	c.queueLocked(data, b)
	c.rcvNxt += uint32(len(data))
	k := 0
	for _, o := range c.ooo {
		end := o.seq + uint32(len(o.data))
		if seqLEQ(o.seq, c.rcvNxt) {
			if seqLT(c.rcvNxt, end) {
				c.queueLocked(o.data[c.rcvNxt-o.seq:], nil)
				c.rcvNxt = end
			}
			c.oooBytes -= len(o.data)
			continue
		}
		c.ooo[k] = o
		k++
	}
	clear(c.ooo[k:])
	c.ooo = c.ooo[:k]
	c.signalLocked()
}

// queueLocked puts in-order data on the receive queue, in b where that
// costs little memory, else copied (counted as TCPRcvCoalesce).
func (c *Conn) queueLocked(data []byte, b *skb.Buff) {
	if c.rcvQ.Add(data, b, c.rcvBufCap) {
		c.t.Ext.TCPRcvCoalesce.Add(1)
	}
}

func (c *Conn) finAckedLocked() bool { return c.finSent && c.sndUna == c.finSeq+1 }

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
		// What the network holds: SACKed bytes have left it (RFC 6675's
		// pipe, without its loss marks). The peer's window counts them.
		pipe := inflight - c.sackedBytes
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

func (c *Conn) armRTOIfIdleLocked() {
	if !c.rtx.armed || c.timerKind != rtoTimer && c.timerKind != tlpTimer {
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
// at least 10 ms, and only if it comes before the RTO. No probe in
// recovery, after a timeout, with one out already, or before an RTT
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
	pto = max(pto, 10*time.Millisecond)
	if pto >= c.rto {
		return 0, false
	}
	return pto, true
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
	defer c.mu.Unlock()
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
	if c.timerKind == tlpTimer {
		c.onPTOLocked()
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
	flight := int(c.sndNxt - c.sndUna)
	c.ssthresh = max(flight/2, 2*c.mss)
	c.cwnd = c.mss
	c.inRecovery = false
	c.dupAcks = 0
	c.backoff++
	// RFC 2018 8: after a timeout the scoreboard is not trusted.
	c.sacked, c.sackedBytes = c.sacked[:0], 0
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
	defer c.mu.Unlock()
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
	c.t.send(c.id, c.fieldsLocked(c.sndUna-1, false), nil)
	c.ka.arm(c.kaIdle)
}

// SetKeepAlive turns keepalive probes on or off (SO_KEEPALIVE).
func (c *Conn) SetKeepAlive(on bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.keepAlive = on
	if on {
		c.lastRecv = c.t.clock.Now()
		c.ka.arm(c.kaIdle)
	} else {
		c.ka.stop()
	}
	return nil
}

// SetKeepAlivePeriod sets the idle time before the first probe and
// between probes (TCP_KEEPIDLE and TCP_KEEPINTVL, as Go sets both).
func (c *Conn) SetKeepAlivePeriod(d time.Duration) error {
	if d <= 0 {
		return errors.New("tcp: keepalive period must be positive")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.kaIdle = d
	if c.keepAlive {
		c.ka.arm(d)
	}
	return nil
}

// SetNoDelay turns Nagle's algorithm off (true, Go's default) or on
// (TCP_NODELAY).
func (c *Conn) SetNoDelay(noDelay bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.noDelay = noDelay
	c.outputLocked()
	return nil
}

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

// setStateLocked moves the connection to s, keeping CurrEstab: the
// connections in ESTABLISHED or CLOSE-WAIT (RFC 1213's tcpCurrEstab, as
// Linux counts it).
func (c *Conn) setStateLocked(s State) {
	was := c.state == Established || c.state == CloseWait
	now := s == Established || s == CloseWait
	switch {
	case was && !now:
		c.t.Stats.CurrEstab.Add(-1)
	case now && !was:
		c.t.Stats.CurrEstab.Add(1)
	}
	c.state = s
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

// closeLocked ends the connection: err is what the socket reports next.
func (c *Conn) closeLocked(err error) {
	if c.state == SynRcvd && c.listener != nil {
		c.listener.dropHalfOpen()
		c.listener = nil
	}
	c.setStateLocked(Closed)
	if err != nil && c.err == nil {
		c.err = err
	}
	c.stopTimerLocked()
	c.delack.stop()
	c.ka.stop()
	c.t.remove(c)
	c.signalLocked()
}

// resetLocked sends RST and closes (an abortive close).
func (c *Conn) resetLocked() {
	if c.state != Closed && c.state != SynSent && c.state != TimeWait {
		c.t.Stats.OutRsts.Add(1)
		c.t.send(c.id, header.TCPFields{SrcPort: c.id.lport, DstPort: c.id.rport, Seq: c.sndNxt, Ack: c.rcvNxt,
			Flags: header.TCPFlagRST | header.TCPFlagACK, WScale: -1}, nil)
	}
	c.closeLocked(net.ErrClosed)
}

// Dial opens a connection (active open).
func (t *Table) Dial(ctx context.Context, raddr *net.TCPAddr) (*Conn, error) {
	ip4 := raddr.IP.To4()
	if ip4 == nil || raddr.Port <= 0 || raddr.Port > 65535 {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: raddr, Err: errors.New("need an IPv4 address and port")}
	}
	dst := [4]byte(ip4)
	src, ok := t.ip.SourceFor(dst)
	if !ok {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: raddr, Err: ipv4.ErrNoRoute}
	}
	t.mu.Lock()
	port, err := t.ephemeralLocked(src, dst, uint16(raddr.Port))
	if err != nil {
		t.mu.Unlock()
		return nil, err
	}
	c := newConn(t, fourTuple{laddr: src, raddr: dst, lport: port, rport: uint16(raddr.Port)})
	t.conns[c.id] = c
	t.mu.Unlock()
	t.Stats.ActiveOpens.Add(1)
	c.mu.Lock()
	c.setStateLocked(SynSent)
	c.timing, c.rttSeq, c.rttStart = true, c.iss+1, c.t.clock.Now()
	c.sendSynLocked(false)
	c.armRTOLocked()
	for !c.estab && c.state != Closed {
		ch := c.waitChanLocked()
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			c.mu.Lock()
			c.doneWaitingLocked(ch)
			c.closeLocked(ctx.Err())
			c.mu.Unlock()
			return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: raddr, Err: ctx.Err()}
		}
		c.mu.Lock()
		c.doneWaitingLocked(ch)
	}
	err = c.err
	c.mu.Unlock()
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: raddr, Err: err}
	}
	return c, nil
}

// waitLocked blocks until signalled or the deadline; c.mu is held on
// entry and on return.
func (c *Conn) waitLocked(dl time.Time) error {
	ch := c.waitChanLocked()
	c.mu.Unlock()
	err := wait.Until(ch, dl)
	c.mu.Lock()
	c.doneWaitingLocked(ch)
	return err
}

// Read implements net.Conn: io.EOF after the peer's FIN.
func (c *Conn) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		switch {
		case c.rcvQ.Len() > 0:
			before := c.rcvWndLocked()
			n := c.rcvQ.Read(p)
			c.rcvSpaceAdjustLocked(n)
			// Tell the peer about a window that opened by a segment or
			// more, or from (nearly) zero, or by half the buffer.
			if c.state == Established || c.state == FinWait1 || c.state == FinWait2 {
				after := c.rcvWndLocked()
				if before < uint32(c.mss) && after >= uint32(c.mss) || int(after)-int(c.lastWnd) >= c.rcvBufCap/2 {
					c.sendAckLocked()
				}
			}
			if c.rcvQ.Len() > 0 {
				c.signalLocked()
			}
			return n, nil
		case c.userClosed:
			return 0, c.opErr("read", net.ErrClosed)
		case c.finRcvd:
			return 0, io.EOF
		case c.err != nil:
			return 0, c.opErr("read", c.err)
		case c.state == Closed:
			return 0, io.EOF
		}
		if err := c.waitLocked(c.rdl); err != nil {
			return 0, c.opErr("read", err)
		}
	}
}

// Write implements net.Conn: it returns when all of p is in the send
// buffer.
func (c *Conn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	done := 0
	for done < len(p) {
		switch {
		case c.userClosed:
			return done, c.opErr("write", net.ErrClosed)
		case c.err != nil:
			return done, c.opErr("write", c.err)
		case c.finQueued || (c.state != Established && c.state != CloseWait):
			return done, c.opErr("write", errors.New("tcp: connection not open for writing"))
		}
		if room := c.sndBufCap - c.sndQ.Len(); room > 0 {
			n := min(room, len(p)-done)
			c.sndQ.Append(p[done:done+n], c.sndBufCap)
			done += n
			c.outputLocked()
			continue
		}
		if err := c.waitLocked(c.wdl); err != nil {
			return done, c.opErr("write", err)
		}
	}
	return done, nil
}

// CloseWrite sends FIN after the buffered data (shutdown(SHUT_WR)).
func (c *Conn) CloseWrite() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.shutdownLocked()
}

func (c *Conn) shutdownLocked() error {
	if c.finQueued {
		return nil
	}
	switch c.state {
	case Established:
		c.setStateLocked(FinWait1)
	case CloseWait:
		c.setStateLocked(LastAck)
	default:
		return nil
	}
	c.finQueued = true
	c.outputLocked()
	return nil
}

// Close implements net.Conn. Buffered data is still delivered and the
// connection closed in the background (SO_LINGER off); with data unread,
// the peer gets RST as RFC 2525 asks. With SetLinger(0) Close aborts
// (RST, buffered data dropped); with SetLinger(sec > 0) it returns once
// the peer has acknowledged every byte and the FIN, or after sec seconds
// with the rest still going in the background (Linux's tcp_close and
// sk_stream_wait_close).
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.userClosed {
		return c.opErr("close", net.ErrClosed)
	}
	c.userClosed = true
	unread := c.rcvQ.Len() > 0
	c.rcvQ.Purge() // nobody reads it now: its buffers go back to the pool
	if unread || c.linger == 0 {
		c.resetLocked()
		return nil
	}
	c.shutdownLocked()
	c.armFinWait2Locked() // closed after CloseWrite, in FIN-WAIT-2 already
	c.signalLocked()
	if c.linger > 0 {
		dl := time.Now().Add(c.linger)
		for c.finPendingLocked() {
			if c.waitLocked(dl) != nil {
				break // the rest goes on in the background
			}
		}
	}
	return nil
}

// finPendingLocked: our FIN, or data before it, is not acknowledged yet
// and the connection is still alive to deliver it.
func (c *Conn) finPendingLocked() bool {
	switch c.state {
	case SynRcvd, Established, CloseWait, FinWait1, Closing, LastAck:
		return true
	}
	return false
}

// SetLinger is SO_LINGER, as net.TCPConn's: sec < 0 (the default) closes
// in the background, 0 makes Close abortive (RST, unsent data dropped),
// sec > 0 makes Close wait up to sec seconds for the peer to acknowledge
// everything.
func (c *Conn) SetLinger(sec int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.linger = time.Duration(sec) * time.Second
	if sec < 0 {
		c.linger = -1
	}
	return nil
}

// LocalAddr and RemoteAddr implement net.Conn.
func (c *Conn) LocalAddr() net.Addr {
	return &net.TCPAddr{IP: ipv4.IP(c.id.laddr), Port: int(c.id.lport)}
}
func (c *Conn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: ipv4.IP(c.id.raddr), Port: int(c.id.rport)}
}

// SetDeadline, SetReadDeadline and SetWriteDeadline implement net.Conn.
func (c *Conn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.rdl, c.wdl = t, t
	c.signalLocked()
	c.mu.Unlock()
	return nil
}
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.rdl = t
	c.signalLocked()
	c.mu.Unlock()
	return nil
}
func (c *Conn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.wdl = t
	c.signalLocked()
	c.mu.Unlock()
	return nil
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
	}
}

// sndBufTSO is the default SndBufMax on a route whose device segments.
const sndBufTSO = 1 << 20

func (c *Conn) infoLocked() Info {
	return Info{MSS: c.mss, SndScale: int(c.sndScale), RcvScale: int(c.rcvScale), Cwnd: c.cwnd, Ssthresh: c.ssthresh,
		RTT: c.srtt, RTTVar: c.rttvar, RTO: c.rto, Backoff: c.backoff, SndUna: c.sndUna - c.iss, SndNxt: c.sndNxt - c.iss,
		SndWnd: c.sndWnd, RcvNxt: c.rcvNxt - c.irs, RcvWnd: c.rcvWndLocked(), OFOSegs: len(c.ooo), OFOBytes: c.oooBytes,
		RcvSpace: c.rcvSpace, RcvBuf: c.rcvBufCap, SndBuf: c.sndBufCap, RcvRTT: c.rcvRTT, RcvMem: c.rcvQ.Held(), SndMem: c.sndQ.Cap(),
		SACKOK: c.sackOK, TSOK: c.tsOK}
}

// Info reports the connection's internals (getsockopt TCP_INFO).
func (c *Conn) Info() Info {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.infoLocked()
}

// State reports the connection state.
func (c *Conn) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

func (c *Conn) opErr(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}

var (
	_ net.Conn     = (*Conn)(nil)
	_ net.Listener = (*Listener)(nil)
)

// reuseTimeWait ends a TIME-WAIT connection for a SYN that starts a new
// incarnation of it (RFC 6191 and Linux's tcp_timewait_state_process): a
// SYN whose timestamp is newer than the last one seen, or, without
// timestamps, whose sequence number is past the old connection's. It
// reports whether it did; the SYN then goes to the listener.
func (c *Conn) reuseTimeWait(seg header.TCP) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != TimeWait {
		return false
	}
	o := seg.ParsedOptions()
	newer := seqLT(c.rcvNxt, seg.Seq())
	if c.tsOK && o.TS {
		newer = int32(o.TSVal-c.tsRecent) > 0
	}
	if newer {
		c.closeLocked(nil)
	}
	return newer
}

// mtuReducedLocked takes a Fragmentation Needed for a segment in flight
// (tcp_v4_mtu_reduced): the route's path MTU goes down, the segment size
// with it, and what is in flight goes again in segments that fit
// (tcp_simple_retransmit), without the congestion response a loss gets.
func (c *Conn) mtuReducedLocked(mtu int) {
	c.t.ip.UpdatePMTU(c.id.raddr, mtu)
	mss := c.t.mssFor(c.id.raddr)
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
	c.sndNxt = c.sndUna
	c.outputLocked()
	c.armRTOLocked()
}
