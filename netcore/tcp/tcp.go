// Package tcp is TCP over ringo's IPv4 (RFC 9293) with sockets that
// implement net.Listener and net.Conn, so net/http runs on ringo.
//
// What is here: the state machine with every state (simultaneous open and
// close included), sequence arithmetic with wrap, RST validation and
// challenge ACKs (RFC 5961), TIME_WAIT, the MSS, window scale, timestamp
// (RFC 7323: RTT measurement and PAWS) and SACK options (RFC 2018),
// retransmission with RFC 6298 timers, Karn's rule and backoff, slow
// start, congestion avoidance, fast retransmit with SACK-based recovery
// (RFC 6675, simplified: no loss marks beyond the scoreboard) or NewReno
// (RFC 6582) when the peer has no SACK, delayed ACKs (every second
// segment or 40 ms), Nagle (off by default as in Go; SetNoDelay),
// keepalive (SetKeepAlive), zero-window probes, an out-of-order queue
// bounded by the receive buffer, SYN and accept queues bounded by the
// backlog, and SYN cookies when the SYN queue is full. Congestion control
// is Reno's; there is no CUBIC.
//
// Files, by job: tcp.go the table, demultiplexing, ICMP errors and
// sending; conn.go the connection and its states; input.go segment
// arrival (tcp_rcv_state_process); output.go building and sending
// segments; sack.go the SACK scoreboard and recovery; timer.go the
// retransmission, probe, keepalive and TIME-WAIT timers; socket.go the
// net.Conn face (Dial, Read, Write, Close); listener.go and cookie.go the
// passive open. The conformance suite (conformance_test.go and conf_*)
// checks each RFC behaviour segment by segment on a virtual clock.
//
// Locking: the Table's mutex guards the lookup maps; each Conn's mutex
// guards all of its state. Segments are sent with the Conn locked: the
// output path never calls back into TCP.
package tcp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/clock"
	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/netcore/internal/memcopy"
	"github.com/ringonet/ringo/netcore/ipv4"
	"github.com/ringonet/ringo/netcore/ipv6"
	"github.com/ringonet/ringo/netcore/skb"
)

// Config tunes TCP. Zero values take the defaults.
type Config struct {
	MSL time.Duration // TIME_WAIT lasts 2*MSL: default 30 s
	// CongestionControl is every connection's algorithm unless it sets
	// its own: CongestionCubic (the default, as in Linux) or
	// CongestionReno.
	CongestionControl string
	// InvalidRateLimit is the least time between two ACKs a connection
	// sends for invalid segments (challenge ACKs, out-of-window
	// duplicates): Linux's tcp_invalid_ratelimit, 500 ms.
	InvalidRateLimit time.Duration
	// FinTimeout is how long a closed socket waits in FIN-WAIT-2 for the
	// peer's FIN (Linux's tcp_fin_timeout): default 60 s.
	FinTimeout time.Duration
	RcvBuf     int // receive buffer bytes a connection starts with: 256 KiB
	// RcvBufMax bounds receive-buffer autotuning (Linux's tcp_rmem[2]):
	// a connection whose reader keeps up grows its buffer, and the window
	// it advertises, to twice what the reader took in a round trip, up to
	// this: 4 MiB. At or below RcvBuf, the buffer stays at RcvBuf.
	RcvBufMax int
	SndBuf    int // send buffer bytes a connection starts with: 256 KiB
	// SndBufMax bounds send-buffer autotuning (Linux's tcp_wmem[2] and
	// tcp_sndbuf_expand): above SndBuf, a connection grows its send
	// buffer to twice its congestion window, so that the window, not the
	// buffer, limits what is in flight. 0 sets it by the route's device:
	// 1 MiB where the device segments TCP (TSO), SndBuf (no autotuning)
	// where it does not: on a device without TSO a bigger buffer sent
	// less (docs/design-notes.md). Set it at or below SndBuf to turn
	// autotuning off.
	SndBufMax int
	Backlog   int           // accept queue plus half-open connections per listener: 128
	MinRTO    time.Duration // RFC 6298 says 1 s; Linux uses 200 ms
	NoTLP     bool          // no tail loss probes (Linux's tcp_early_retrans=0)

	NoSACK       bool // do not offer or accept SACK
	NoTimestamps bool // do not offer or accept timestamps
	NoDelayedACK bool // acknowledge every segment at once
	NoSYNCookies bool // drop SYNs when the SYN queue is full instead
	NoOffload    bool // build every segment whole and checksummed, whatever the device offers
	NoMTUProbing bool // no black-hole detection (RFC 4821): keep the segment size through timeouts

	// Clock runs every TCP timer (retransmission, delayed ACK, keepalive,
	// TIME-WAIT, the timestamp clock, SYN cookies' counter); nil is the
	// wall clock. Tests give a clock.Fake. Socket deadlines stay on the
	// wall clock, as Go's net has them.
	Clock clock.Clock
}

// Stats are the Tcp: counters of /proc/net/snmp and the TcpExt: ones that
// matter.
type Stats struct {
	ActiveOpens  atomic.Uint64
	PassiveOpens atomic.Uint64
	AttemptFails atomic.Uint64
	EstabResets  atomic.Uint64
	CurrEstab    atomic.Int64
	InSegs       atomic.Uint64
	OutSegs      atomic.Uint64
	RetransSegs  atomic.Uint64
	InErrs       atomic.Uint64
	OutRsts      atomic.Uint64
	InCsumErrors atomic.Uint64
}

// ExtStats are the TcpExt: counters of /proc/net/netstat that ringo keeps,
// with Linux's names.
type ExtStats struct {
	SyncookiesSent    atomic.Uint64
	SyncookiesRecv    atomic.Uint64
	SyncookiesFailed  atomic.Uint64
	PAWSEstab         atomic.Uint64 // segments dropped by PAWS
	DelayedACKs       atomic.Uint64 // ACKs sent by the delayed-ACK timer
	ListenOverflows   atomic.Uint64 // accept queue full
	ListenDrops       atomic.Uint64
	TCPRenoRecovery   atomic.Uint64
	TCPSackRecovery   atomic.Uint64
	TCPSACKDiscard    atomic.Uint64 // SACK blocks outside the window
	TCPDSACKRecv      atomic.Uint64 // D-SACKs received: a segment arrived twice (RFC 2883)
	TCPDSACKOldSent   atomic.Uint64 // D-SACKs sent for data that came twice (with TCPDSACKOfoSent in Linux)
	TCPLostRetransmit atomic.Uint64 // retransmissions RACK found lost in turn
	TCPFastRetrans    atomic.Uint64
	TCPSpuriousUndo   atomic.Uint64 // recoveries undone: the original segment had arrived (Eifel)
	TCPDSACKUndo      atomic.Uint64 // recoveries undone: D-SACKs reported every resent segment needless
	TCPTimeouts       atomic.Uint64
	TCPLossProbes     atomic.Uint64 // tail loss probes sent (RFC 8985 7)
	TCPAbortOnTimeout atomic.Uint64
	TCPAbortOnData    atomic.Uint64 // RST for data that came after the socket closed
	OutOfWindowIcmps  atomic.Uint64 // ICMP errors quoting a sequence not in flight, ignored
	TCPACKSkipped     atomic.Uint64 // ACKs for invalid segments not sent: rate limit (TCPACKSkippedChallenge and kin)
	TCPMTUReduced     atomic.Uint64 // segment size lowered by Fragmentation Needed
	TCPMTUPBlackHole  atomic.Uint64 // segment size halved after timeouts in a row (RFC 4821 black hole)
	TCPKeepAlive      atomic.Uint64 // keepalive probes sent
	TCPChallengeACK   atomic.Uint64
	TCPOFOQueue       atomic.Uint64 // segments put on the out-of-order queue
	TCPOFODrop        atomic.Uint64 // out-of-order segments dropped for room
	TCPACKBatched     atomic.Uint64 // ACKs held to the end of a receive batch, then sent
	TCPRcvBufGrow     atomic.Uint64 // times autotuning grew a receive buffer
	TCPBacklogDrop    atomic.Uint64 // segments dropped with the socket's backlog full
	TCPBacklogQueued  atomic.Uint64 // segments that waited in the backlog for a goroutine holding the connection
	TCPRcvCoalesce    atomic.Uint64 // in-order payloads copied into the receive queue's own buffers, not queued in their packet
}

// fourTuple names a connection: 16-byte addresses, IPv4 ones mapped
// (family.go), and for a link-local IPv6 peer the device, which is part
// of the address (its zone).
type fourTuple struct {
	laddr, raddr [16]byte
	lport, rport uint16
	dev          *netcore.Device
}

// Table is TCP on one IPv4 stack and, once AttachIPv6, its IPv6 one.
type Table struct {
	ip     *ipv4.Stack
	ip6    *ipv6.Stack
	cfg    Config
	clock  clock.Clock
	tsBase time.Time // the timestamp clock's origin

	mu        sync.Mutex // guards listeners, conns
	listeners map[uint16]*Listener
	conns     map[fourTuple]*Conn

	Stats Stats
	Ext   ExtStats

	cookieSecret [32]byte     // keys SYN cookies
	lastOverflow atomic.Int64 // unix seconds the SYN queue last overflowed

	ackMu    sync.Mutex // guards ackQ; taken after a Conn's mu
	ackQ     []*Conn    // connections whose ACK waits for the batch end
	flushMu  sync.Mutex // one flush at a time: it owns ackSpare, taken before a Conn's mu
	ackSpare []*Conn
}

// New registers TCP with the IPv4 stack.
func New(ip *ipv4.Stack, cfg Config) *Table {
	if cfg.MSL == 0 {
		cfg.MSL = 30 * time.Second
	}
	if _, err := newCongestionOps(cfg.CongestionControl); err != nil {
		ip.Core().Config().Logger.Warn("tcp: unknown congestion control; using cubic", "err", err)
		cfg.CongestionControl = CongestionCubic
	}
	if cfg.InvalidRateLimit == 0 {
		cfg.InvalidRateLimit = 500 * time.Millisecond
	}
	if cfg.FinTimeout == 0 {
		cfg.FinTimeout = 60 * time.Second
	}
	if cfg.RcvBuf == 0 {
		cfg.RcvBuf = 256 << 10
	}
	if cfg.SndBuf == 0 {
		cfg.SndBuf = 256 << 10
	}
	if cfg.RcvBufMax == 0 {
		cfg.RcvBufMax = 4 << 20
	}
	cfg.RcvBufMax = max(cfg.RcvBufMax, cfg.RcvBuf)
	if cfg.SndBufMax != 0 {
		cfg.SndBufMax = max(cfg.SndBufMax, cfg.SndBuf)
	}
	if cfg.Backlog == 0 {
		cfg.Backlog = 128
	}
	if cfg.MinRTO == 0 {
		cfg.MinRTO = 200 * time.Millisecond
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Wall
	}
	t := &Table{ip: ip, cfg: cfg, clock: cfg.Clock, tsBase: cfg.Clock.Now(), listeners: map[uint16]*Listener{}, conns: map[fourTuple]*Conn{}}
	// math/rand/v2's generator is seeded by the runtime from the kernel
	// (AT_RANDOM) and never blocks, unlike crypto/rand early in a guest's
	// boot.
	for i := 0; i < len(t.cookieSecret); i += 8 {
		binary.LittleEndian.PutUint64(t.cookieSecret[i:], rand.Uint64())
	}
	ip.AddProtocol(header.ProtoTCP, t)
	ip.Core().AddRxFlush(t.flushACKs)
	return t
}

// maxBatchedACK bounds how many segments one held-back ACK covers: a
// receive batch acknowledges once (as Linux does per GRO packet), but
// never more than this many segments at a time.
const maxBatchedACK = 16

// deferACKLocked holds c's ACK until the end of the receive batch. The
// delayed-ACK timer stays the backstop when c's segment did not come
// through a batch.
func (t *Table) deferACKLocked(c *Conn) {
	if c.ackQueued {
		return
	}
	c.ackQueued = true
	t.ackMu.Lock()
	t.ackQ = append(t.ackQ, c)
	t.ackMu.Unlock()
	if !c.delack.armed {
		c.delack.arm(c.delAckTimeoutLocked())
	}
}

// flushACKs sends the ACKs held back over a receive batch.
func (t *Table) flushACKs() {
	t.ackMu.Lock()
	if len(t.ackQ) == 0 {
		t.ackMu.Unlock()
		return
	}
	t.ackMu.Unlock()
	// Softnets on several CPUs flush at once: the swapped-out list must
	// not go back to ackQ (and take appends) while another flush walks it.
	t.flushMu.Lock()
	defer t.flushMu.Unlock()
	t.ackMu.Lock()
	q := t.ackQ
	t.ackQ, t.ackSpare = t.ackSpare[:0], q
	t.ackMu.Unlock()
	for i, c := range q {
		q[i] = nil
		// Sent here, or by whoever holds the connection as it lets go:
		// the softirq never waits for a holder.
		c.flushACK.Store(true)
		c.release()
	}
}

// rcvScale is the window scale we announce: enough to advertise the
// largest buffer autotuning may grow to (RcvBufMax), as Linux sizes it
// from tcp_rmem[2].
func (t *Table) rcvScale() uint8 {
	s := uint8(0)
	for t.cfg.RcvBufMax>>s > maxWindow {
		s++
	}
	return s
}

// mssFor is the MSS for a peer: the path MTU less the headers.
func (t *Table) mssFor(id fourTuple) int {
	return t.pathMTU(id) - id.netHeaderLen() - header.TCPMinLen
}

// maxWindow is the largest window the 16-bit field holds (before window
// scaling, RFC 7323 2).
const maxWindow = 65535

// Sequence number arithmetic modulo 2^32 (RFC 9293 3.4).
func seqLT(a, b uint32) bool  { return int32(a-b) < 0 }
func seqLEQ(a, b uint32) bool { return int32(a-b) <= 0 }

// Errors reported on sockets. Each wraps the errno Linux's socket would
// return, so errors.Is(err, syscall.ECONNREFUSED) holds as it does for
// Go's own net package.
var (
	ErrConnRefused = &errnoError{"tcp: connection refused", syscall.ECONNREFUSED}
	ErrConnReset   = &errnoError{"tcp: connection reset by peer", syscall.ECONNRESET}
	ErrTimedOut    = &errnoError{"tcp: connection timed out", syscall.ETIMEDOUT}
	ErrAddrInUse   = &errnoError{"tcp: address already in use", syscall.EADDRINUSE}
	ErrHostUnreach = &errnoError{"tcp: no route to host", syscall.EHOSTUNREACH}
	ErrNetUnreach  = &errnoError{"tcp: network is unreachable", syscall.ENETUNREACH}
)

type errnoError struct {
	msg   string
	errno syscall.Errno
}

func (e *errnoError) Error() string { return e.msg }
func (e *errnoError) Unwrap() error { return e.errno }

// Timeout reports whether the error is a timeout (net.Error).
func (e *errnoError) Timeout() bool { return e.errno == syscall.ETIMEDOUT }

// Temporary is false: none of these clears by retrying (net.Error).
func (e *errnoError) Temporary() bool { return false }

// Receive implements ipv4.Handler (tcp_v4_rcv), in softirq context.
func (t *Table) Receive(b *skb.Buff) {
	defer b.Free()
	ip := header.IPv4(b.NetworkHeader())
	src, dst := ip.Src(), ip.Dst()
	var seg header.TCP
	var err error
	if b.CsumValid {
		seg, err = header.ParseTCPVerified(b.Data())
	} else {
		seg, err = header.ParseTCP(b.Data(), src, dst)
	}
	if !t.parsed(err) {
		return
	}
	segs := gsoSegs(b, seg)
	t.Stats.InSegs.Add(uint64(segs))
	if b.PktType != 0 || dst[0] >= 224 || src == dst && seg.SrcPort() == seg.DstPort() {
		return // never to broadcast or multicast; LAND (src = dst) dropped
	}
	t.demux(fourTuple{laddr: mapped(dst), raddr: mapped(src), lport: seg.DstPort(), rport: seg.SrcPort()}, seg, segs, b)
}

// gsoSegs is how many segments b carries: a GRO packet is several, and
// InSegs counts them, as Linux counts gso_segs, and so does the ACK
// policy.
func gsoSegs(b *skb.Buff, seg header.TCP) int {
	if b.GSOSize == 0 {
		return 1
	}
	return max(1, (len(seg.Payload())+int(b.GSOSize)-1)/int(b.GSOSize))
}

// parsed counts a segment that did not parse.
func (t *Table) parsed(err error) bool {
	if err != nil {
		if errors.Is(err, header.ErrChecksum) {
			t.Stats.InCsumErrors.Add(1)
		}
		t.Stats.InErrs.Add(1)
	}
	return err == nil
}

// demux finds the segment's connection or listener (__inet_lookup), for
// either IP version.
func (t *Table) demux(id fourTuple, seg header.TCP, segs int, b *skb.Buff) {
	t.mu.Lock()
	c := t.conns[id]
	l := t.listeners[id.lport]
	if l != nil && !l.accepts(id.laddr) {
		l = nil
	}
	t.mu.Unlock()
	if c != nil && l != nil && seg.Flags()&(header.TCPFlagSYN|header.TCPFlagACK|header.TCPFlagRST|header.TCPFlagFIN) == header.TCPFlagSYN &&
		c.reuseTimeWait(seg) {
		c = nil // a new incarnation of the connection: the listener's
	}
	switch {
	case c != nil:
		c.input(seg, segs, b)
	case l != nil && seg.Flags()&(header.TCPFlagSYN|header.TCPFlagFIN) == header.TCPFlagSYN|header.TCPFlagFIN:
		// SYN+FIN is never a connection request (Linux's
		// tcp_rcv_state_process discards it in LISTEN).
		t.Stats.InErrs.Add(1)
	case l != nil && seg.Flags()&(header.TCPFlagSYN|header.TCPFlagACK|header.TCPFlagRST) == header.TCPFlagSYN:
		l.syn(id, seg)
	case l != nil && seg.Flags()&(header.TCPFlagSYN|header.TCPFlagACK|header.TCPFlagRST) == header.TCPFlagACK && l.cookieACK(id, seg):
	case l != nil && seg.Flags()&header.TCPFlagACK == 0:
		// A listener answers only an ACK with RST; a FIN, data or
		// nothing without one is dropped (tcp_rcv_state_process's
		// LISTEN case).
		t.Stats.InErrs.Add(1)
	case seg.Flags()&header.TCPFlagRST == 0:
		t.sendReset(id, seg)
	}
}

// Error implements ipv4.Handler (tcp_v4_err). An ICMP error counts only
// if the sequence number it quotes is one we sent and is not yet
// acknowledged (RFC 5927): anyone can forge the rest. Fragmentation Needed
// lowers the path MTU and the connection's segment size (RFC 1191); any
// other error aborts a connection still opening and is only remembered by
// an established one (a soft error, reported if it later times out).
func (t *Table) Error(orig header.IPv4, typ, code uint8, info uint32) {
	p := orig.Payload()
	if len(p) < 8 {
		return
	}
	var kind icmpKind
	switch {
	case typ == header.ICMPDestUnreach && code == header.ICMPFragNeeded:
		kind = icmpTooBig
	case typ == header.ICMPDestUnreach, typ == header.ICMPTimeExceeded, typ == header.ICMPParamProblem:
		kind = icmpUnreach
	default:
		return
	}
	id := fourTuple{laddr: mapped(orig.Src()), raddr: mapped(orig.Dst())}
	t.icmpError(id, p, kind, int(info&0xffff), &ipv4.UnreachableError{Type: typ, Code: code, From: orig.Dst()})
}

type icmpKind int

const (
	icmpUnreach icmpKind = iota // hard in SYN-SENT and SYN-RECEIVED, soft after
	icmpTooBig                  // Fragmentation Needed, Packet Too Big: mtu
)

// icmpError is an ICMP error of either version about the segment whose
// first 8 bytes p quotes, from id's addresses.
func (t *Table) icmpError(id fourTuple, p []byte, kind icmpKind, mtu int, err error) {
	id.lport, id.rport = binary.BigEndian.Uint16(p[0:]), binary.BigEndian.Uint16(p[2:])
	seq := binary.BigEndian.Uint32(p[4:])
	t.mu.Lock()
	c := t.conns[id]
	t.mu.Unlock()
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.unlock()
	if c.state == Closed || c.state == TimeWait {
		return
	}
	if !seqLEQ(c.sndUna, seq) || !seqLEQ(seq, c.sndNxt) {
		t.Ext.OutOfWindowIcmps.Add(1)
		return
	}
	if kind == icmpTooBig {
		c.mtuReducedLocked(mtu)
		return
	}
	if c.state == SynSent || c.state == SynRcvd {
		c.closeLocked(err)
		return
	}
	c.softErr = err
}

// sendReset answers a segment that belongs to no connection (RFC 9293
// 3.10.7.1).
func (t *Table) sendReset(id fourTuple, seg header.TCP) {
	f := header.TCPFields{SrcPort: id.lport, DstPort: id.rport, Flags: header.TCPFlagRST, WScale: -1}
	if seg.Flags()&header.TCPFlagACK != 0 {
		f.Seq = seg.Ack()
	} else {
		f.Flags |= header.TCPFlagACK
		f.Ack = seg.Seq() + uint32(len(seg.Payload()))
		if seg.Flags()&header.TCPFlagSYN != 0 {
			f.Ack++
		}
		if seg.Flags()&header.TCPFlagFIN != 0 {
			f.Ack++
		}
	}
	t.Stats.OutRsts.Add(1)
	t.send(id, f, nil)
}

// send builds and sends one segment for no connection (a RST, a SYN-ACK
// cookie): its frames carry no flow hash, and a multi-queue driver
// dissects them.
func (t *Table) send(id fourTuple, f header.TCPFields, payload []byte) error {
	return t.sendOffload(id, f, payload, nil, 0, 0, 0)
}

// sendOffload builds and sends a segment with the offloads caps allows:
// with FeatureIPCsum the checksum is left to the device, and with
// FeatureTSO too a payload longer than mss goes as one packet the device
// cuts into mss-byte segments (tcp_gso_segment's contract: FIN and PSH on
// the last one). The payload is pa followed by pb (a queue's two pieces).
// hash, when not 0, is the connection's transmit hash, which the skb
// carries to the driver (skb_set_hash_from_sk).
func (t *Table) sendOffload(id fourTuple, f header.TCPFields, pa, pb []byte, mss int, caps netcore.Features, hash uint32) error {
	hl := header.TCPHeaderLen(f)
	n := len(pa) + len(pb)
	b := skb.Alloc(hl + n)
	if b == nil {
		return ipv4.ErrMsgSize
	}
	p := b.Put(hl + n)
	memcopy.Copy(p[hl+memcopy.Copy(p[hl:], pa):], pb)
	segs := 1
	if caps.Has(netcore.FeatureIPCsum) {
		header.EncodeTCPPartial(p, f)
		b.CsumPartial = true
		if mss > 0 && n > mss && caps.Has(netcore.FeatureTSO) {
			b.GSOSize = uint16(mss)
			segs = (n + mss - 1) / mss
		}
	} else {
		encode(id, p, f)
	}
	b.SetTransportHeader()
	b.Hash = hash
	t.Stats.OutSegs.Add(uint64(segs))
	return t.output(id, b)
}

func (t *Table) remove(c *Conn) {
	t.mu.Lock()
	if t.conns[c.id] == c {
		delete(t.conns, c.id)
	}
	t.mu.Unlock()
}

// ephemeralLocked picks a free local port for a connection to raddr.
func (t *Table) ephemeralLocked(laddr, raddr [16]byte, rport uint16, dev *netcore.Device) (uint16, error) {
	const lo, hi = 32768, 60999
	start := lo + rand.IntN(hi-lo+1)
	for i := 0; i <= hi-lo; i++ {
		p := uint16(lo + (start-lo+i)%(hi-lo+1))
		if _, busy := t.listeners[p]; busy {
			continue
		}
		if _, busy := t.conns[fourTuple{laddr, raddr, p, rport, dev}]; !busy {
			return p, nil
		}
	}
	return 0, fmt.Errorf("tcp: no free ephemeral port: %w", ErrAddrInUse)
}

// Listen opens a listener on laddr: a nil or :: IP takes both IP
// versions (as Go's net.Listen("tcp", ":80") does, and Linux's
// bindv6only=0), 0.0.0.0 IPv4 only, an address that address.
func (t *Table) Listen(laddr *net.TCPAddr) (*Listener, error) {
	only := 0
	if laddr != nil && laddr.IP != nil && laddr.IP.To4() != nil && laddr.IP.IsUnspecified() {
		only = 4
	}
	return t.ListenFamily(laddr, only)
}

// ListenFamily is Listen restricted to one IP version (4 or 6; 0: both),
// for "tcp4" and "tcp6".
func (t *Table) ListenFamily(laddr *net.TCPAddr, only int) (*Listener, error) {
	l := &Listener{t: t, wake: make(chan struct{}, 1), backlog: t.cfg.Backlog, only: only}
	if laddr != nil {
		if a, ok := netip.AddrFromSlice(laddr.IP); ok && !a.IsUnspecified() {
			l.laddr = a.As16()
			if a.Is4() || a.Is4In6() {
				l.only = 4
			} else {
				l.only = 6
			}
		}
		l.port = uint16(laddr.Port)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if l.port == 0 {
		p, err := t.ephemeralLocked(l.laddr, [16]byte{}, 0, nil)
		if err != nil {
			return nil, err
		}
		l.port = p
	}
	if _, busy := t.listeners[l.port]; busy {
		return nil, fmt.Errorf("tcp: listen on port %d: %w", l.port, ErrAddrInUse)
	}
	t.listeners[l.port] = l
	return l, nil
}

// Sockets lists connections and listeners (for ss -t).
func (t *Table) Sockets() []SocketInfo {
	t.mu.Lock()
	var out []SocketInfo
	for _, l := range t.listeners {
		out = append(out, SocketInfo{State: "LISTEN", Local: l.Addr().String(), Remote: "*:*"})
	}
	conns := make([]*Conn, 0, len(t.conns))
	for _, c := range t.conns {
		conns = append(conns, c)
	}
	t.mu.Unlock() // lock order is Conn, then Table
	for _, c := range conns {
		c.mu.Lock()
		out = append(out, SocketInfo{State: c.state.String(), Local: c.LocalAddr().String(), Remote: c.RemoteAddr().String(),
			RecvQ: c.rcvQ.Len(), SendQ: c.sndQ.Len(), Info: c.infoLocked()})
		c.unlock()
	}
	return out
}

// SocketInfo is one row of ss -t.
type SocketInfo struct {
	State, Local, Remote string
	RecvQ, SendQ         int
	Info                 Info // ss -ti
}

// Info is a connection's internals, as ss -ti shows them (struct tcp_info).
type Info struct {
	CongestionControl       string // "cubic" or "reno"
	MSS, SndScale, RcvScale int
	Cwnd, Ssthresh          int // bytes
	RTT, RTTVar, RTO        time.Duration
	MinRTT                  time.Duration // the least round trip measured (ss's minrtt), RACK's reordering window's base
	Backoff                 int
	SndUna, SndNxt, SndWnd  uint32
	RcvNxt, RcvWnd          uint32
	RcvSpace, RcvBuf        int           // bytes the reader took in the last measured round trip; the receive buffer autotuning has reached
	SndBuf                  int           // the send buffer autotuning has reached
	RcvRTT                  time.Duration // the receiver's round-trip estimate (from timestamps)
	OFOSegs, OFOBytes       int
	// RcvMem and SndMem are the memory the receive and send queues hold
	// (ss -tm's skmem r and t): the packet buffers (truesize) of the
	// receive queue and the out-of-order queue, and the send queue's
	// buffer.
	RcvMem, SndMem int
	SACKOK, TSOK   bool
}

func (i Info) String() string {
	return fmt.Sprintf("%s mss:%d wscale:%d,%d cwnd:%d ssthresh:%d rtt:%v/%v minrtt:%v rto:%v backoff:%d snd_una:%d snd_nxt:%d snd_wnd:%d rcv_nxt:%d rcv_wnd:%d rcv_rtt:%v rcv_space:%d rcvbuf:%d sndbuf:%d ofo:%d/%dB skmem:(r%d,t%d) sack:%t ts:%t",
		i.CongestionControl, i.MSS, i.SndScale, i.RcvScale, i.Cwnd, i.Ssthresh, i.RTT, i.RTTVar, i.MinRTT, i.RTO, i.Backoff, i.SndUna, i.SndNxt, i.SndWnd,
		i.RcvNxt, i.RcvWnd, i.RcvRTT, i.RcvSpace, i.RcvBuf, i.SndBuf, i.OFOSegs, i.OFOBytes, i.RcvMem, i.SndMem, i.SACKOK, i.TSOK)
}
