package tcp_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/clock"
	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/netcore/internal/stacktest"
	"github.com/ringonet/ringo/netcore/ipv4"
	"github.com/ringonet/ringo/netcore/link"
	"github.com/ringonet/ringo/netcore/skb"
	"github.com/ringonet/ringo/netcore/socket"
	"github.com/ringonet/ringo/netcore/tcp"
)

// The conformance harness (packetdrill's and packetimpact's idea): one
// ringo TCP endpoint, driven through its socket API, and a tester that
// writes every segment ringo receives and reads every segment ringo
// sends, on a virtual clock. ringo is 10.0.0.1 on one core; the tester
// is a bare device on a core of its own (no IP stack: nothing answers
// but the test), joined by an in-memory wire.

var (
	ringoIP  = [4]byte{10, 0, 0, 1}
	testerIP = [4]byte{10, 0, 0, 2}
)

const testerPort = 40000

// tester is the scripted remote end of one connection.
type tester struct {
	t     *testing.T
	clk   *clock.Fake
	s     *socket.Stack
	core  *netcore.Core
	dev   *netcore.Device // the tester's end of the wire
	ringo *netcore.Device // ringo's end

	mu  sync.Mutex
	out [][]byte // IPv4 packets ringo sent, not yet taken

	// The connection as the tester sees it.
	port    uint16 // ringo's port
	iss     uint32 // the tester's initial sequence number
	seq     uint32 // the tester's next sequence number
	rcvNxt  uint32 // the next byte the tester expects from ringo
	ts      bool   // timestamps in use
	win     uint16 // the window the tester advertises
	tsVal   uint32 // the tester's timestamp clock
	tsRecnt uint32 // ringo's latest TSval
}

// newTester builds ringo with cfg (its clock replaced by a fake one) and
// the tester's side of the wire.
func newTester(t *testing.T, cfg tcp.Config) *tester {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	cfg.Clock = clk
	if cfg.MSL == 0 {
		cfg.MSL = 30 * time.Second
	}
	ringoCore := netcore.New(netcore.Config{Logger: quiet})
	s, err := socket.New(ringoCore, socket.Config{TCP: cfg, IP: ipv4.Config{Logger: quiet}})
	require.NoError(t, err)
	tc := &tester{t: t, clk: clk, s: s, core: netcore.New(netcore.Config{Logger: quiet}), iss: 1_000_000, tsVal: 5000}
	tc.seq = tc.iss
	t.Cleanup(func() { s.Close(); ringoCore.Close(); tc.core.Close() })
	ea, eb, err := link.NewPipe(ringoCore, link.PipeConfig{PeerCore: tc.core, Names: [2]string{"ringo0", "tester0"}})
	require.NoError(t, err)
	require.NoError(t, ea.Dev.Up())
	require.NoError(t, eb.Dev.Up())
	tc.ringo, tc.dev = ea.Dev, eb.Dev
	require.NoError(t, s.IP.AddAddress(ea.Dev, netip.MustParsePrefix("10.0.0.1/24")))
	s.IP.Neigh.AddStatic(ea.Dev, netip.AddrFrom4(testerIP), eb.Dev.HardwareAddr)
	tc.core.AddPacketType(header.EtherTypeIPv4, func(b *skb.Buff) {
		tc.mu.Lock()
		tc.out = append(tc.out, append([]byte(nil), b.Data()...))
		tc.mu.Unlock()
		b.Free()
	})
	return tc
}

// settle waits until both cores have done all they were given.
func (tc *tester) settle() {
	tc.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(tc.t, netcore.Quiesce(ctx, tc.s.Core, tc.core))
}

// advance moves the virtual clock by d (firing ringo's timers) and
// settles.
func (tc *tester) advance(d time.Duration) {
	tc.t.Helper()
	tc.clk.Advance(d)
	tc.settle()
}

// inject sends ringo a TCP segment from the tester; zero ports mean the
// connection's, and timestamps are added when the connection uses them.
func (tc *tester) inject(f header.TCPFields, payload []byte) {
	tc.t.Helper()
	if f.SrcPort == 0 {
		f.SrcPort = testerPort
	}
	if f.DstPort == 0 {
		f.DstPort = tc.port
	}
	if f.Flags&header.TCPFlagSYN == 0 {
		f.WScale = -1 // only a SYN carries it
	}
	if tc.ts && !f.TS && f.Flags&header.TCPFlagSYN == 0 {
		f.TS, f.TSVal, f.TSEcr = true, tc.tsVal, tc.tsRecnt
	}
	tc.injectRaw(stacktest.Segment(f, testerIP, ringoIP, payload))
}

// injectRaw sends ringo a TCP segment already encoded.
func (tc *tester) injectRaw(seg []byte) {
	tc.t.Helper()
	f := stacktest.Frame(tc.ringo.HardwareAddr, tc.dev.HardwareAddr, header.IPv4Fields{Protocol: header.ProtoTCP, Src: testerIP, Dst: ringoIP}, seg)
	require.NoError(tc.t, stacktest.Send(tc.dev, f))
	tc.settle()
}

// injectICMP sends ringo an ICMP message.
func (tc *tester) injectICMP(typ, code uint8, rest uint32, body []byte) {
	tc.t.Helper()
	m := make([]byte, 8+len(body))
	copy(m[8:], body)
	header.EncodeICMPv4(m, typ, code, rest)
	f := stacktest.Frame(tc.ringo.HardwareAddr, tc.dev.HardwareAddr, header.IPv4Fields{Protocol: header.ProtoICMP, Src: testerIP, Dst: ringoIP}, m)
	require.NoError(tc.t, stacktest.Send(tc.dev, f))
	tc.settle()
}

// seg is a segment ringo sent.
type seg struct {
	ip  header.IPv4
	tcp header.TCP
	opt header.TCPOptions
}

func (s seg) String() string {
	return fmt.Sprintf("%s seq %d ack %d win %d len %d", flagNames(s.tcp.Flags()), s.tcp.Seq(), s.tcp.Ack(), s.tcp.Window(), len(s.tcp.Payload()))
}

func flagNames(f uint8) string {
	var n []string
	for i, name := range []string{"FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"} {
		if f&(1<<i) != 0 {
			n = append(n, name)
		}
	}
	return strings.Join(n, "|")
}

// take returns the IPv4 packets ringo sent so far and forgets them.
func (tc *tester) take() [][]byte {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	out := tc.out
	tc.out = nil
	return out
}

// segments returns the TCP segments ringo sent since the last look, each
// checked (checksums, lengths) as the tester's stack would.
func (tc *tester) segments() []seg {
	tc.t.Helper()
	var out []seg
	for _, p := range tc.take() {
		ip, err := header.ParseIPv4(p)
		require.NoError(tc.t, err)
		if ip.Protocol() != header.ProtoTCP {
			continue
		}
		th, err := header.ParseTCP(ip.Payload(), ip.Src(), ip.Dst())
		require.NoError(tc.t, err, "ringo sent a bad TCP segment")
		s := seg{ip: ip, tcp: th, opt: th.ParsedOptions()}
		if s.opt.TS {
			tc.tsRecnt = s.opt.TSVal
		}
		out = append(out, s)
	}
	return out
}

// icmps returns the ICMP messages ringo sent since the last look.
func (tc *tester) icmps() []header.IPv4 {
	var out []header.IPv4
	for _, p := range tc.take() {
		if ip, err := header.ParseIPv4(p); err == nil && ip.Protocol() == header.ProtoICMP {
			out = append(out, ip)
		}
	}
	return out
}

// next is the one segment ringo sent since the last look; it waits a
// little for one sent by a goroutine the test started (a Dial, a Write).
func (tc *tester) next() seg {
	tc.t.Helper()
	var got []seg
	// A socket call on another goroutine may not have sent it yet: look
	// again each millisecond, for up to 5 s.
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for deadline := time.Now().Add(5 * time.Second); ; <-tick.C {
		tc.settle()
		got = append(got, tc.segments()...)
		if len(got) > 0 || time.Now().After(deadline) {
			break
		}
	}
	require.Len(tc.t, got, 1, "segments ringo sent: %v", got)
	return got[0]
}

// none checks that ringo sent nothing.
func (tc *tester) none(why string) {
	tc.t.Helper()
	tc.settle()
	got := tc.segments()
	require.Empty(tc.t, got, "%s: ringo sent %v", why, got)
}

// expect takes the next segment and checks its flags, sequence and
// acknowledgment numbers against what the connection's state says.
func (tc *tester) expect(flags uint8, payload int) seg {
	tc.t.Helper()
	s := tc.next()
	require.Equal(tc.t, flagNames(flags), flagNames(s.tcp.Flags()), "flags of %v", s)
	require.Equal(tc.t, tc.rcvNxt, s.tcp.Seq(), "seq of %v", s)
	if flags&header.TCPFlagACK != 0 {
		require.Equal(tc.t, tc.seq, s.tcp.Ack(), "ack of %v", s)
	}
	require.Len(tc.t, s.tcp.Payload(), payload, "payload of %v", s)
	tc.rcvNxt += uint32(payload)
	if flags&(header.TCPFlagSYN|header.TCPFlagFIN) != 0 {
		tc.rcvNxt++
	}
	return s
}

// synOpts are the options of the tester's SYN: MSS 1460, SACK, window
// scale 7 and timestamps, as Linux sends them.
func synOpts(f header.TCPFields) header.TCPFields {
	f.MSS, f.SACKOK, f.WScale, f.TS, f.TSVal = 1460, true, 7, true, 5000
	return f
}

// listen makes ringo listen on port (closed when the test ends) and
// points the tester at it.
func (tc *tester) listen(port uint16) net.Listener {
	tc.t.Helper()
	l, err := tc.s.Listen("tcp", fmt.Sprintf(":%d", port))
	require.NoError(tc.t, err)
	tc.t.Cleanup(func() { l.Close() })
	tc.port = port
	return l
}

// accept makes ringo listen on port and the tester connect to it (with
// synOpts unless plain), and returns the connection ringo accepted.
func (tc *tester) accept(port uint16, plain bool) *tcp.Conn {
	tc.t.Helper()
	l := tc.listen(port)
	syn := header.TCPFields{Seq: tc.iss, Flags: header.TCPFlagSYN, Window: 64240, WScale: -1}
	if !plain {
		syn = synOpts(syn)
	}
	tc.inject(syn, nil)
	tc.seq = tc.iss + 1
	sa := tc.next()
	require.Equal(tc.t, "SYN|ACK", flagNames(sa.tcp.Flags()), "%v", sa)
	require.Equal(tc.t, tc.seq, sa.tcp.Ack())
	tc.rcvNxt = sa.tcp.Seq() + 1
	tc.ts = sa.opt.TS
	tc.win = 502 // 64256 bytes, scaled by 7
	if plain {
		tc.win = 64240
	}
	tc.inject(header.TCPFields{Seq: tc.seq, Ack: tc.rcvNxt, Flags: header.TCPFlagACK, Window: tc.win}, nil)
	c, err := l.Accept()
	require.NoError(tc.t, err)
	return c.(*tcp.Conn)
}

// dial makes ringo connect to the tester, answers its SYN (with synOpts
// unless plain) and returns ringo's connection once established.
func (tc *tester) dial(plain bool) *tcp.Conn {
	tc.t.Helper()
	type result struct {
		c   net.Conn
		err error
	}
	done := make(chan result, 1)
	go func() {
		c, err := tc.s.Dial("tcp", fmt.Sprintf("10.0.0.2:%d", testerPort))
		done <- result{c, err}
	}()
	syn := tc.next()
	require.Equal(tc.t, "SYN", flagNames(syn.tcp.Flags()), "%v", syn)
	tc.port = syn.tcp.SrcPort()
	tc.rcvNxt = syn.tcp.Seq() + 1
	sa := header.TCPFields{Seq: tc.iss, Ack: tc.rcvNxt, Flags: header.TCPFlagSYN | header.TCPFlagACK, Window: 65160, WScale: -1}
	tc.win = 64240
	if !plain {
		sa = synOpts(sa)
		sa.TSEcr = syn.opt.TSVal
		tc.ts = syn.opt.TS
		tc.win = 502
	}
	tc.inject(sa, nil)
	tc.seq = tc.iss + 1
	tc.expect(header.TCPFlagACK, 0)
	r := <-done
	require.NoError(tc.t, r.err)
	return r.c.(*tcp.Conn)
}

// data sends ringo n bytes in one segment and returns them.
func (tc *tester) data(n int) []byte {
	tc.t.Helper()
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(tc.seq + uint32(i))
	}
	tc.inject(header.TCPFields{Seq: tc.seq, Ack: tc.rcvNxt, Flags: header.TCPFlagACK | header.TCPFlagPSH, Window: tc.win}, p)
	tc.seq += uint32(n)
	return p
}

// ack acknowledges everything ringo sent.
func (tc *tester) ack() {
	tc.t.Helper()
	tc.inject(header.TCPFields{Seq: tc.seq, Ack: tc.rcvNxt, Flags: header.TCPFlagACK, Window: tc.win}, nil)
}

// fin sends ringo a FIN (with an ACK of all it sent).
func (tc *tester) fin() {
	tc.t.Helper()
	tc.inject(header.TCPFields{Seq: tc.seq, Ack: tc.rcvNxt, Flags: header.TCPFlagFIN | header.TCPFlagACK, Window: tc.win}, nil)
	tc.seq++
}

// rst sends ringo a RST at seq.
func (tc *tester) rst(seq uint32) {
	tc.t.Helper()
	tc.inject(header.TCPFields{Seq: seq, Flags: header.TCPFlagRST, WScale: -1}, nil)
}

// state waits (briefly: a socket call may be finishing on another
// goroutine) for the connection to reach want.
func (tc *tester) state(c *tcp.Conn, want tcp.State) {
	tc.t.Helper()
	require.Eventually(tc.t, func() bool { return c.State() == want }, 5*time.Second, time.Millisecond, "state %v, want %v", c.State(), want)
}

// read reads exactly n bytes from c, within a (wall-clock) second.
func read(t *testing.T, c net.Conn, n int) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, n)
	_, err := io.ReadFull(c, b)
	require.NoError(t, err)
	return b
}
