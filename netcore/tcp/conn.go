package tcp

import (
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/header"
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
	// txHash is the flow hash every segment of the connection carries
	// (Linux's sk_txhash, random and never 0): a multi-queue driver takes
	// its ring from it instead of dissecting each frame.
	txHash uint32

	mu    sync.Mutex
	state State

	// The backlog (backlog.go): segments that came while a goroutine
	// held mu. blMu guards backlog and blBytes; blSpare belongs to mu's
	// holder.
	blMu     sync.Mutex
	backlog  []backlogSeg
	blBytes  int
	blSpare  []backlogSeg
	blLen    atomic.Int32
	blLimit  atomic.Int64 // receive plus send buffer bytes
	flushACK atomic.Bool  // a batch-end ACK waits for mu's holder

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
	cc                  congestionOps
	dupAcks             int
	inRecovery          bool
	// Undo of a needless recovery (Eifel, RFC 3522): the window before
	// it, the first sequence it resent and when (our TSval then).
	undoCwnd, undoSsthresh int
	undoSeq, undoStamp     uint32
	undoArmed              bool
	// D-SACK undo (RFC 3708, Linux's undo_retrans): segments this
	// recovery resent that no D-SACK has yet called needless.
	undoRetrans  int
	dsackUndoArm bool
	recover      uint32
	noDelay      bool // Nagle off (Go's default for TCP sockets)

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

	// What went out when (txlog.go), and RACK-TLP's loss detection
	// over it (rack.go).
	txq  txLog
	rack rackState

	// RTT (RFC 6298); one segment timed at a time, never a retransmitted
	// one (Karn).
	srtt, rttvar, rto time.Duration
	rttSeq            uint32
	rttStart          time.Time
	timing            bool
	backoff           int
	rtx               connTimer
	timerKind         int // what rtx is for: rtoTimer, tlpTimer, reoTimer, timeWaitTimer, finWait2Timer

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
	rcvBufCap    int              // the buffer's current bound: RcvBuf up to RcvBufMax
	rcvCopied    int              // bytes the reader took since rcvSpaceTime
	rcvSpace     int              // bytes it took in the last measured round trip
	rcvSpaceTime time.Time        // start of the current measurement
	rcvRTT       time.Duration    // receiver's RTT estimate: data segments' TSecr (tcp_rcv_rtt_measure_ts)
	ooo          []oooSeg         // sorted by seq
	oooBytes     int              // payload held in ooo
	oooHeld      int              // the buffers holding it (truesize)
	lastOOO      uint32           // seq of the newest out-of-order segment: the first SACK block
	dsack        header.SACKBlock // a duplicate to report first in the next ACK (RFC 2883)
	dsackSet     bool
	finRcvd      bool
	oooFin       bool // a FIN came beyond a hole, at oooFinSeq
	oooFinSeq    uint32

	// The socket.
	err            error
	softErr        error     // an ICMP error while established: reported if the connection then times out
	lastOOWAck     time.Time // the last ACK sent for an invalid segment (RFC 5961 7)
	neighConfirmed time.Time // when forward progress last confirmed the next hop
	userClosed     bool
	linger         time.Duration // SO_LINGER: <0 off, 0 abort on Close, >0 Close waits up to this
	rdl, wdl       time.Time
	waitq          []chan struct{} // one channel per blocked Read, Write or Dial
	estab          bool
}

// oooSeg is a segment held beyond a hole (Linux's out_of_order_queue):
// its payload, in the packet it came in when that costs little memory,
// else in a pooled buffer of its own (holdOOO).
type oooSeg struct {
	seq uint32
	b   *skb.Buff // Data() is the payload
}

func (o oooSeg) end() uint32 { return o.seq + uint32(o.b.Len()) }

const (
	rtoTimer = iota
	tlpTimer
	reoTimer // RACK's reordering timer (RFC 8985 6.3)
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
	delAckMax    = 200 * time.Millisecond
	kaProbeCount = 9 // tcp_keepalive_probes
	// neighConfirmEvery spaces the neighbour confirmations of forward
	// progress: well inside the shortest reachable time (half of
	// base_reachable_time's 30 s), and no lock taken on every ACK.
	neighConfirmEvery = 100 * time.Millisecond
	kaDefaultIdle     = 15 * time.Second
)

func newConn(t *Table, id fourTuple) *Conn {
	c := &Conn{t: t, id: id, iss: newISS(), mss: defaultMSS, rto: initRTO, linger: -1,
		noDelay: true, tsOffset: rand.Uint32(), txHash: rand.Uint32() | 1, kaIdle: kaDefaultIdle, rcvBufCap: t.cfg.RcvBuf, sndBufCap: t.cfg.SndBuf}
	c.sndUna, c.sndNxt, c.sndMax = c.iss, c.iss+1, c.iss+1 // the SYN
	c.cc, _ = newCongestionOps(t.cfg.CongestionControl)    // New checked the name
	c.blLimit.Store(int64(t.cfg.RcvBuf + t.cfg.SndBuf))
	c.rtx.init(t.clock, c.onRTO)
	c.delack.init(t.clock, c.onDelAck)
	c.ka.init(t.clock, c.onKeepAlive)
	return c
}

// QueueMemory is the memory the connection's send and receive queues hold.
func (c *Conn) QueueMemory() int {
	c.mu.Lock()
	defer c.unlock()
	return c.sndQ.Cap() + c.rcvQ.Held()
}

// ourMSS is what we announce: the route's MTU less the headers.
func (c *Conn) ourMSS() int { return c.t.mssFor(c.id) }

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
	c.cc.init(c)
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
	c.purgeOOOLocked() // nothing fills the holes now
	c.t.remove(c)
	c.signalLocked()
}

// resetLocked sends RST and closes (an abortive close).
func (c *Conn) resetLocked() {
	if c.state != Closed && c.state != SynSent && c.state != TimeWait {
		c.t.Stats.OutRsts.Add(1)
		c.sendCtlLocked(header.TCPFields{SrcPort: c.id.lport, DstPort: c.id.rport, Seq: c.sndNxt, Ack: c.rcvNxt,
			Flags: header.TCPFlagRST | header.TCPFlagACK, WScale: -1})
	}
	c.closeLocked(net.ErrClosed)
}

// SetCongestionControl chooses the connection's congestion control
// (Linux's TCP_CONGESTION): CongestionCubic or CongestionReno. The window
// starts over from where it is.
func (c *Conn) SetCongestionControl(name string) error {
	ops, err := newCongestionOps(name)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.unlock()
	c.cc = ops
	ops.init(c)
	return nil
}

func (c *Conn) infoLocked() Info {
	return Info{CongestionControl: c.cc.name(), MSS: c.mss, SndScale: int(c.sndScale), RcvScale: int(c.rcvScale), Cwnd: c.cwnd, Ssthresh: c.ssthresh,
		RTT: c.srtt, RTTVar: c.rttvar, MinRTT: c.rack.minRTT, RTO: c.rto, Backoff: c.backoff, SndUna: c.sndUna - c.iss, SndNxt: c.sndNxt - c.iss,
		SndWnd: c.sndWnd, RcvNxt: c.rcvNxt - c.irs, RcvWnd: c.rcvWndLocked(), OFOSegs: len(c.ooo), OFOBytes: c.oooBytes,
		RcvSpace: c.rcvSpace, RcvBuf: c.rcvBufCap, SndBuf: c.sndBufCap, RcvRTT: c.rcvRTT, RcvMem: c.rcvQ.Held() + c.oooHeld, SndMem: c.sndQ.Cap(),
		SACKOK: c.sackOK, TSOK: c.tsOK}
}

// Info reports the connection's internals (getsockopt TCP_INFO).
func (c *Conn) Info() Info {
	c.mu.Lock()
	defer c.unlock()
	return c.infoLocked()
}

// State reports the connection state.
func (c *Conn) State() State {
	c.mu.Lock()
	defer c.unlock()
	return c.state
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
	defer c.unlock()
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
