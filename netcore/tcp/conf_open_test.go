package tcp_test

import (
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/netcore/tcp"
)

func init() {
	add("RFC9293-3.5/passive-open-syn-ack-options", func(t *testing.T, tc *tester) {
		tc.listen(80)
		tc.inject(synOpts(header.TCPFields{Seq: tc.iss, Flags: header.TCPFlagSYN, Window: 64240}), nil)
		sa := tc.next()
		assert.Equal(t, "SYN|ACK", flagNames(sa.tcp.Flags()))
		assert.Equal(t, tc.iss+1, sa.tcp.Ack())
		assert.EqualValues(t, 1460, sa.opt.MSS, "MSS: the device's MTU less 40")
		assert.True(t, sa.opt.SACKOK)
		assert.GreaterOrEqual(t, sa.opt.WScale, 0)
		assert.True(t, sa.opt.TS)
		assert.EqualValues(t, 5000, sa.opt.TSEcr, "echoes the SYN's TSval")
		assert.True(t, sa.ip.DontFragment() || !sa.ip.DontFragment())
	})
	add("RFC9293-3.5/active-open-syn-options", func(t *testing.T, tc *tester) {
		go tc.s.Dial("tcp", "10.0.0.2:40000")
		syn := tc.next()
		assert.Equal(t, "SYN", flagNames(syn.tcp.Flags()))
		assert.Zero(t, syn.tcp.Ack())
		assert.EqualValues(t, 1460, syn.opt.MSS)
		assert.True(t, syn.opt.SACKOK)
		assert.True(t, syn.opt.TS)
		assert.GreaterOrEqual(t, syn.opt.WScale, 0)
		assert.Empty(t, syn.tcp.Payload())
	})
	add("RFC9293-3.5/three-way-handshake-both-ways", func(t *testing.T, tc *tester) {
		c := tc.accept(80, false)
		assert.Equal(t, tcp.Established, c.State())
		tc.none("an established idle connection")
	})
	add("RFC9293-3.5/active-open-establishes", func(t *testing.T, tc *tester) {
		c := tc.dial(false)
		assert.Equal(t, tcp.Established, c.State())
		tc.none("an established idle connection")
	})
}

func init() {
	add("RFC9293-3.7.1/no-mss-option-sends-536", func(t *testing.T, tc *tester) {
		c := tc.accept(80, true)
		_, err := c.Write(make([]byte, 1000))
		require.NoError(t, err)
		tc.settle()
		segs := tc.segments()
		require.NotEmpty(t, segs)
		for _, s := range segs {
			assert.LessOrEqual(t, len(s.tcp.Payload()), 536, "%v", s)
		}
	})
	add("RFC9293-3.7.1/mss-clamped-to-peer", func(t *testing.T, tc *tester) {
		l := tc.listen(80)
		tc.inject(header.TCPFields{Seq: tc.iss, Flags: header.TCPFlagSYN, Window: 64240, MSS: 1000, WScale: -1}, nil)
		tc.seq = tc.iss + 1
		sa := tc.next()
		tc.rcvNxt = sa.tcp.Seq() + 1
		tc.ack()
		c, err := l.Accept()
		require.NoError(t, err)
		_, err = c.Write(make([]byte, 3000))
		require.NoError(t, err)
		tc.settle()
		for _, s := range tc.segments() {
			assert.LessOrEqual(t, len(s.tcp.Payload()), 1000, "%v", s)
		}
	})
	add("RFC9293-3.10.7.1/syn-to-closed-port-rst-ack", func(t *testing.T, tc *tester) {
		tc.port = 81
		tc.inject(header.TCPFields{Seq: 777, Flags: header.TCPFlagSYN, Window: 1000, WScale: -1}, nil)
		s := tc.next()
		assert.Equal(t, "RST|ACK", flagNames(s.tcp.Flags()))
		assert.Zero(t, s.tcp.Seq())
		assert.EqualValues(t, 778, s.tcp.Ack(), "SEG.SEQ+SEG.LEN, the SYN counting one")
	})
	add("RFC9293-3.10.7.1/syn-with-data-to-closed-port-acks-all", func(t *testing.T, tc *tester) {
		tc.port = 81
		tc.inject(header.TCPFields{Seq: 777, Flags: header.TCPFlagSYN, Window: 1000, WScale: -1}, make([]byte, 10))
		s := tc.next()
		assert.Equal(t, "RST|ACK", flagNames(s.tcp.Flags()))
		assert.EqualValues(t, 788, s.tcp.Ack())
	})
	add("RFC9293-3.10.7.1/ack-to-closed-port-rst-seq-is-ack", func(t *testing.T, tc *tester) {
		tc.port = 81
		tc.inject(header.TCPFields{Seq: 777, Ack: 4242, Flags: header.TCPFlagACK, Window: 1000}, nil)
		s := tc.next()
		assert.Equal(t, "RST", flagNames(s.tcp.Flags()))
		assert.EqualValues(t, 4242, s.tcp.Seq())
	})
	add("RFC9293-3.10.7.1/rst-to-closed-port-ignored", func(t *testing.T, tc *tester) {
		tc.port = 81
		tc.rst(777)
		tc.none("a RST is never answered")
	})
	add("RFC9293-3.10.7.2/listen-ack-gets-rst", func(t *testing.T, tc *tester) {
		tc.listen(80)
		tc.inject(header.TCPFields{Seq: 777, Ack: 4242, Flags: header.TCPFlagACK, Window: 1000}, nil)
		s := tc.next()
		assert.Equal(t, "RST", flagNames(s.tcp.Flags()))
		assert.EqualValues(t, 4242, s.tcp.Seq())
	})
	add("RFC9293-3.10.7.2/listen-rst-ignored", func(t *testing.T, tc *tester) {
		tc.listen(80)
		tc.rst(777)
		tc.none("RST to a listener")
	})
	add("tcp_rcv_state_process/listen-syn-fin-dropped", func(t *testing.T, tc *tester) {
		tc.listen(80)
		tc.inject(header.TCPFields{Seq: 777, Flags: header.TCPFlagSYN | header.TCPFlagFIN, Window: 1000, WScale: -1}, nil)
		tc.none("Linux discards SYN+FIN in LISTEN")
	})
	add("RFC9293-3.10.7.2/syn-data-not-acked", func(t *testing.T, tc *tester) {
		tc.listen(80)
		tc.inject(synOpts(header.TCPFields{Seq: tc.iss, Flags: header.TCPFlagSYN, Window: 64240}), []byte("early"))
		sa := tc.next()
		assert.Equal(t, "SYN|ACK", flagNames(sa.tcp.Flags()))
		assert.Equal(t, tc.iss+1, sa.tcp.Ack(), "data on a SYN is not taken without Fast Open")
	})
	add("RFC6298-5/syn-ack-retransmitted-after-1s", func(t *testing.T, tc *tester) {
		tc.listen(80)
		tc.inject(synOpts(header.TCPFields{Seq: tc.iss, Flags: header.TCPFlagSYN, Window: 64240}), nil)
		first := tc.next()
		tc.advance(999 * time.Millisecond)
		tc.none("before the initial RTO")
		tc.advance(time.Millisecond)
		again := tc.next()
		assert.Equal(t, "SYN|ACK", flagNames(again.tcp.Flags()))
		assert.Equal(t, first.tcp.Seq(), again.tcp.Seq())
		tc.advance(2 * time.Second)
		assert.Equal(t, "SYN|ACK", flagNames(tc.next().tcp.Flags()), "backed off to 2 s")
	})
	add("RFC6298-5/syn-retransmitted-with-backoff", func(t *testing.T, tc *tester) {
		go tc.s.Dial("tcp", "10.0.0.2:40000")
		first := tc.next()
		tc.advance(time.Second)
		again := tc.next()
		assert.Equal(t, "SYN", flagNames(again.tcp.Flags()))
		assert.Equal(t, first.tcp.Seq(), again.tcp.Seq())
		tc.advance(time.Second)
		tc.none("the second timeout is 2 s")
		tc.advance(time.Second)
		assert.Equal(t, "SYN", flagNames(tc.next().tcp.Flags()))
	})
	add("RFC9293-3.10.7.3/syn-sent-rst-ack-refuses", func(t *testing.T, tc *tester) {
		errc := make(chan error, 1)
		go func() { _, err := tc.s.Dial("tcp", "10.0.0.2:40000"); errc <- err }()
		syn := tc.next()
		tc.port = syn.tcp.SrcPort()
		tc.inject(header.TCPFields{Seq: 0, Ack: syn.tcp.Seq() + 1, Flags: header.TCPFlagRST | header.TCPFlagACK}, nil)
		err := <-errc
		require.ErrorIs(t, err, syscall.ECONNREFUSED)
		tc.none("no answer to a RST")
	})
	add("RFC9293-3.10.7.3/syn-sent-rst-without-ack-ignored", func(t *testing.T, tc *tester) {
		go tc.s.Dial("tcp", "10.0.0.2:40000")
		syn := tc.next()
		tc.port = syn.tcp.SrcPort()
		tc.rst(0)
		tc.none("a RST without ACK in SYN-SENT")
		tc.rcvNxt = syn.tcp.Seq() + 1
		tc.inject(synOpts(header.TCPFields{Seq: tc.iss, Ack: tc.rcvNxt, Flags: header.TCPFlagSYN | header.TCPFlagACK, Window: 65160}), nil)
		tc.seq = tc.iss + 1
		tc.ts = true
		tc.expect(header.TCPFlagACK, 0)
	})
	add("RFC9293-3.10.7.3/syn-sent-bad-ack-gets-rst", func(t *testing.T, tc *tester) {
		go tc.s.Dial("tcp", "10.0.0.2:40000")
		syn := tc.next()
		tc.port = syn.tcp.SrcPort()
		bad := syn.tcp.Seq() + 1000
		tc.inject(header.TCPFields{Seq: tc.iss, Ack: bad, Flags: header.TCPFlagSYN | header.TCPFlagACK, Window: 1000, WScale: -1}, nil)
		s := tc.next()
		assert.Equal(t, "RST", flagNames(s.tcp.Flags()))
		assert.Equal(t, bad, s.tcp.Seq())
	})
	add("RFC9293-3.5-figure8/simultaneous-open", func(t *testing.T, tc *tester) {
		done := make(chan error, 1)
		go func() { _, err := tc.s.Dial("tcp", "10.0.0.2:40000"); done <- err }()
		syn := tc.next()
		tc.port = syn.tcp.SrcPort()
		tc.rcvNxt = syn.tcp.Seq()
		tc.inject(header.TCPFields{Seq: tc.iss, Flags: header.TCPFlagSYN, Window: 65160, MSS: 1460, WScale: -1}, nil)
		tc.seq = tc.iss + 1
		tc.expect(header.TCPFlagSYN|header.TCPFlagACK, 0)
		tc.ack()
		require.NoError(t, <-done)
		tc.none("established")
	})
	add("RFC9293-3.10.7.3/dial-times-out", func(t *testing.T, tc *tester) {
		errc := make(chan error, 1)
		go func() { _, err := tc.s.Dial("tcp", "10.0.0.2:40000"); errc <- err }()
		tc.next()
		n := 0
		for i := 0; i < 20; i++ {
			select {
			case err := <-errc:
				require.ErrorIs(t, err, syscall.ETIMEDOUT)
				assert.Equal(t, 6, n, "SYN retransmissions (tcp_syn_retries)")
				return
			default:
			}
			if _, ok := tc.clk.AdvanceToNext(); !ok {
				break
			}
			tc.settle()
			n += len(tc.segments())
		}
		select {
		case err := <-errc:
			require.ErrorIs(t, err, syscall.ETIMEDOUT)
			assert.Equal(t, 6, n, "SYN retransmissions (tcp_syn_retries)")
		case <-time.After(5 * time.Second):
			t.Fatal("Dial never gave up")
		}
	})
	add("RFC7323-1.3/no-timestamps-when-peer-offers-none", func(t *testing.T, tc *tester) {
		c := tc.accept(80, true)
		_, err := c.Write([]byte("x"))
		require.NoError(t, err)
		s := tc.expect(header.TCPFlagACK|header.TCPFlagPSH, 1)
		assert.False(t, s.opt.TS)
	})
	add("RFC7323-2.2/syn-window-unscaled", func(t *testing.T, tc *tester) {
		tc.listen(80)
		tc.inject(synOpts(header.TCPFields{Seq: tc.iss, Flags: header.TCPFlagSYN, Window: 64240}), nil)
		sa := tc.next()
		assert.LessOrEqual(t, sa.tcp.Window(), uint16(65535))
		assert.Greater(t, sa.tcp.Window(), uint16(1000), "a SYN's window is not scaled down")
	})
}
