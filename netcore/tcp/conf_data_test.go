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

// quickAcked sends ringo enough in-order segments to end the quick-ACK
// mode a connection starts in, and drains the ACKs.
func (tc *tester) quickAcked() {
	tc.t.Helper()
	for i := 0; i < 16; i++ {
		tc.data(100)
	}
	tc.settle()
	tc.segments()
}

func init() {
	add("tcp_enter_quickack_mode/first-segments-acked-at-once", func(t *testing.T, tc *tester) {
		tc.accept(80, false)
		tc.data(100)
		tc.expect(header.TCPFlagACK, 0)
	})
	add("RFC1122-4.2.3.2/lone-segment-ack-delayed", func(t *testing.T, tc *tester) {
		tc.accept(80, false)
		tc.quickAcked()
		tc.data(100)
		tc.none("a lone segment's ACK waits")
		tc.advance(40 * time.Millisecond)
		tc.expect(header.TCPFlagACK, 0)
		tc.advance(time.Second)
		tc.none("one delayed ACK")
	})
	add("RFC5681-4.2/every-second-segment-acked", func(t *testing.T, tc *tester) {
		tc.accept(80, false)
		tc.quickAcked()
		tc.data(1448)
		tc.none("the first of two")
		tc.data(1448)
		tc.expect(header.TCPFlagACK, 0)
	})
	add("RFC1122-4.2.3.2/delayed-ack-rides-on-data", func(t *testing.T, tc *tester) {
		c := tc.accept(80, false)
		tc.quickAcked()
		tc.data(100)
		tc.none("ACK held")
		_, err := c.Write([]byte("reply"))
		require.NoError(t, err)
		tc.expect(header.TCPFlagACK|header.TCPFlagPSH, 5)
		tc.ack()
		tc.advance(time.Second)
		tc.none("the data carried the ACK; the timer sends nothing")
	})
	add("RFC5681-4.2+RFC2018-4/out-of-order-dup-ack-with-sack", func(t *testing.T, tc *tester) {
		tc.accept(80, false)
		tc.quickAcked()
		hole := tc.seq
		tc.seq += 1000
		tc.data(500)
		tc.seq = hole
		s := tc.expect(header.TCPFlagACK, 0)
		require.Equal(t, 1, s.opt.NSACK)
		assert.Equal(t, hole+1000, s.opt.SACK[0].Left)
		assert.Equal(t, hole+1500, s.opt.SACK[0].Right)
	})
	add("RFC5681-4.2/hole-filled-acked-at-once", func(t *testing.T, tc *tester) {
		c := tc.accept(80, false)
		tc.quickAcked()
		hole := tc.seq
		tc.seq += 1000
		tc.data(500)
		tc.segments()
		tc.seq = hole
		tc.data(1000)
		tc.seq = hole + 1500
		s := tc.expect(header.TCPFlagACK, 0)
		assert.Zero(t, s.opt.NSACK, "no hole left")
		got := read(t, c, 16*100+1500)
		assert.Len(t, got, 16*100+1500)
	})
	add("RFC9293-3.10.7.4/old-duplicate-acked", func(t *testing.T, tc *tester) {
		tc.accept(80, false)
		tc.quickAcked()
		old := tc.seq
		tc.seq -= 100
		tc.data(100)
		tc.seq = old
		tc.expect(header.TCPFlagACK, 0)
	})
	add("RFC9293-3.10.7.4/beyond-window-acked-and-dropped", func(t *testing.T, tc *tester) {
		c := tc.accept(80, false)
		next := tc.seq
		tc.seq += 1 << 30
		tc.data(100)
		tc.seq = next
		tc.expect(header.TCPFlagACK, 0)
		c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		n, _ := c.Read(make([]byte, 10))
		assert.Zero(t, n, "nothing delivered")
	})
	addCfg("RFC9293-3.8.6.2.2/zero-window-then-update", tcp.Config{RcvBuf: 4096, RcvBufMax: 4096}, func(t *testing.T, tc *tester) {
		c := tc.accept(80, false)
		for i := 0; i < 4; i++ {
			tc.data(1024)
		}
		tc.settle()
		segs := tc.segments()
		require.NotEmpty(t, segs)
		last := segs[len(segs)-1]
		assert.Zero(t, last.tcp.Window(), "a full buffer advertises a zero window")
		assert.Equal(t, tc.seq, last.tcp.Ack())
		read(t, c, 4096)
		s := tc.expect(header.TCPFlagACK, 0)
		assert.NotZero(t, s.tcp.Window(), "the reader opened the window: ringo says so (window update)")
	})
	addCfg("RFC9293-3.8.6.1/zero-window-probe-answered", tcp.Config{RcvBuf: 4096, RcvBufMax: 4096}, func(t *testing.T, tc *tester) {
		tc.accept(80, false)
		for i := 0; i < 4; i++ {
			tc.data(1024)
		}
		tc.settle()
		tc.segments()
		tc.data(1) // a probe into the closed window
		tc.seq--
		s := tc.expect(header.TCPFlagACK, 0)
		assert.Zero(t, s.tcp.Window())
	})
	add("RFC6928/initial-window-ten-segments", func(t *testing.T, tc *tester) {
		c := tc.accept(80, false)
		_, err := c.Write(make([]byte, 100000))
		require.NoError(t, err)
		tc.settle()
		segs := tc.segments()
		require.Len(t, segs, 10, "IW10")
		for _, s := range segs {
			assert.Len(t, s.tcp.Payload(), 1448, "MSS 1460 less 12 bytes of timestamps")
		}
	})
	add("RFC9293-3.8.6.1/peer-window-respected", func(t *testing.T, tc *tester) {
		l := tc.listen(80)
		tc.inject(header.TCPFields{Seq: tc.iss, Flags: header.TCPFlagSYN, Window: 2000, MSS: 1460, WScale: -1}, nil)
		tc.seq = tc.iss + 1
		sa := tc.next()
		tc.rcvNxt = sa.tcp.Seq() + 1
		tc.inject(header.TCPFields{Seq: tc.seq, Ack: tc.rcvNxt, Flags: header.TCPFlagACK, Window: 2000}, nil)
		c, err := l.Accept()
		require.NoError(t, err)
		_, err = c.Write(make([]byte, 10000))
		require.NoError(t, err)
		tc.settle()
		sent := 0
		for _, s := range tc.segments() {
			sent += len(s.tcp.Payload())
		}
		assert.Equal(t, 2000, sent, "no more than the peer's window")
	})
	addCfg("RFC6298-2.4+5/rto-retransmits-first-unacked", tcp.Config{NoTLP: true}, func(t *testing.T, tc *tester) {
		c := tc.accept(80, false)
		_, err := c.Write(make([]byte, 1000))
		require.NoError(t, err)
		first := tc.expect(header.TCPFlagACK|header.TCPFlagPSH, 1000)
		tc.advance(199 * time.Millisecond)
		tc.none("before RTO.min (200 ms, Linux's)")
		tc.advance(time.Millisecond)
		again := tc.next()
		assert.Equal(t, first.tcp.Seq(), again.tcp.Seq())
		assert.Len(t, again.tcp.Payload(), 1000)
		tc.advance(399 * time.Millisecond)
		tc.none("RFC 6298 5.5: the timer backs off to twice")
		tc.advance(time.Millisecond)
		assert.Equal(t, first.tcp.Seq(), tc.next().tcp.Seq())
	})
	addCfg("RFC6298-5.3/ack-restarts-rto", tcp.Config{NoTLP: true}, func(t *testing.T, tc *tester) {
		c := tc.accept(80, false)
		_, err := c.Write(make([]byte, 2000))
		require.NoError(t, err)
		tc.settle()
		segs := tc.segments()
		require.Len(t, segs, 2)
		tc.advance(150 * time.Millisecond)
		tc.inject(header.TCPFields{Seq: tc.seq, Ack: segs[0].tcp.Seq() + 1448, Flags: header.TCPFlagACK, Window: 502}, nil)
		tc.none("an ACK of new data")
		tc.advance(199 * time.Millisecond)
		tc.none("the timer restarted at the ACK")
		tc.advance(500 * time.Millisecond)
		again := tc.segments()
		require.NotEmpty(t, again)
		assert.Equal(t, segs[1].tcp.Seq(), again[0].tcp.Seq(), "the second segment")
	})
	add("RFC8985-7.2/tail-loss-probe", func(t *testing.T, tc *tester) {
		c := tc.accept(80, false)
		_, err := c.Write(make([]byte, 3000))
		require.NoError(t, err)
		tc.settle()
		segs := tc.segments()
		require.Len(t, segs, 3)
		d, ok := tc.clk.AdvanceToNext()
		require.True(t, ok)
		tc.settle()
		probe := tc.segments()
		require.Len(t, probe, 1, "one probe")
		end := segs[2].tcp.Seq() + uint32(len(segs[2].tcp.Payload()))
		assert.Equal(t, end, probe[0].tcp.Seq()+uint32(len(probe[0].tcp.Payload())), "the probe carries the highest sequence sent")
		assert.LessOrEqual(t, len(probe[0].tcp.Payload()), 1448, "a segment at most")
		assert.Less(t, d, 200*time.Millisecond, "before the RTO")
		assert.Equal(t, uint64(1), tc.s.TCP.Ext.TCPLossProbes.Load())
	})
	add("RFC5681-3.2+RFC6675-5/fast-retransmit-with-sack", func(t *testing.T, tc *tester) {
		c := tc.accept(80, false)
		_, err := c.Write(make([]byte, 8*1448))
		require.NoError(t, err)
		tc.settle()
		segs := tc.segments()
		require.Len(t, segs, 8)
		una := segs[1].tcp.Seq()
		tc.inject(header.TCPFields{Seq: tc.seq, Ack: una, Flags: header.TCPFlagACK, Window: 502}, nil)
		for i := 3; i <= 5; i++ {
			f := header.TCPFields{Seq: tc.seq, Ack: una, Flags: header.TCPFlagACK, Window: 502, NSACK: 1}
			f.SACK[0] = header.SACKBlock{Left: segs[2].tcp.Seq(), Right: segs[i].tcp.Seq() + 1448}
			tc.inject(f, nil)
		}
		tc.settle()
		out := tc.segments()
		require.NotEmpty(t, out, "fast retransmit")
		assert.Equal(t, una, out[0].tcp.Seq(), "the segment the SACKs skip")
		assert.Equal(t, uint64(1), tc.s.TCP.Ext.TCPSackRecovery.Load())
	})
	add("RFC6582-3.2/newreno-partial-ack-retransmits-next", func(t *testing.T, tc *tester) {
		c := tc.accept(80, true)
		_, err := c.Write(make([]byte, 8*536))
		require.NoError(t, err)
		tc.settle()
		segs := tc.segments()
		require.GreaterOrEqual(t, len(segs), 6)
		una := segs[0].tcp.Seq()
		for i := 0; i < 3; i++ {
			tc.inject(header.TCPFields{Seq: tc.seq, Ack: una, Flags: header.TCPFlagACK, Window: tc.win}, nil)
		}
		tc.settle()
		out := tc.segments()
		require.NotEmpty(t, out)
		assert.Equal(t, una, out[0].tcp.Seq(), "three duplicate ACKs: fast retransmit")
		assert.Equal(t, uint64(1), tc.s.TCP.Ext.TCPRenoRecovery.Load())
		// A partial ACK: the first segment, not the second.
		tc.inject(header.TCPFields{Seq: tc.seq, Ack: segs[1].tcp.Seq(), Flags: header.TCPFlagACK, Window: tc.win}, nil)
		tc.settle()
		out = tc.segments()
		require.NotEmpty(t, out)
		assert.Equal(t, segs[1].tcp.Seq(), out[0].tcp.Seq(), "the next hole, at once")
	})
	add("RFC1122-4.2.3.6/keepalive-probe-and-answer", func(t *testing.T, tc *tester) {
		c := tc.accept(80, false)
		require.NoError(t, c.SetKeepAlivePeriod(10*time.Second))
		require.NoError(t, c.SetKeepAlive(true))
		tc.advance(10 * time.Second)
		p := tc.next()
		assert.Equal(t, "ACK", flagNames(p.tcp.Flags()))
		assert.Equal(t, tc.rcvNxt-1, p.tcp.Seq(), "SEG.SEQ = SND.NXT-1")
		assert.LessOrEqual(t, len(p.tcp.Payload()), 1)
		tc.ack()
		tc.none("answered")
		assert.Equal(t, tcp.Established, c.State())
	})
	add("RFC1122-4.2.3.6/keepalive-dead-peer", func(t *testing.T, tc *tester) {
		c := tc.accept(80, false)
		require.NoError(t, c.SetKeepAlivePeriod(10*time.Second))
		require.NoError(t, c.SetKeepAlive(true))
		probes := 0
		for i := 0; i < 30 && c.State() == tcp.Established; i++ {
			tc.advance(10 * time.Second)
			probes += len(tc.segments())
		}
		assert.Equal(t, 9, probes, "tcp_keepalive_probes")
		_, err := c.Read(make([]byte, 1))
		assert.ErrorIs(t, err, syscall.ETIMEDOUT)
	})
	add("RFC7323-5.3/paws-drops-old-timestamp", func(t *testing.T, tc *tester) {
		c := tc.accept(80, false)
		tc.tsVal = 6000
		tc.data(10)
		tc.expect(header.TCPFlagACK, 0)
		tc.tsVal = 5500 // older
		tc.data(10)
		tc.seq -= 10
		tc.expect(header.TCPFlagACK, 0) // a duplicate ACK, the data dropped
		assert.Equal(t, uint64(1), tc.s.TCP.Ext.PAWSEstab.Load())
		assert.Len(t, read(t, c, 10), 10)
		c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		n, _ := c.Read(make([]byte, 10))
		assert.Zero(t, n, "the old segment's bytes were not delivered")
	})
	add("RFC7323-4.3/tsecr-echoes-latest-tsval", func(t *testing.T, tc *tester) {
		tc.accept(80, false)
		tc.tsVal = 7777
		tc.data(10)
		s := tc.expect(header.TCPFlagACK, 0)
		assert.EqualValues(t, 7777, s.opt.TSEcr)
	})
	add("RFC7323-2.3/window-scaled-after-syn", func(t *testing.T, tc *tester) {
		l := tc.listen(80)
		tc.inject(synOpts(header.TCPFields{Seq: tc.iss, Flags: header.TCPFlagSYN, Window: 64240}), nil)
		tc.seq = tc.iss + 1
		sa := tc.next()
		tc.rcvNxt = sa.tcp.Seq() + 1
		tc.ts = true
		tc.ack()
		_, err := l.Accept()
		require.NoError(t, err)
		tc.data(10)
		s := tc.expect(header.TCPFlagACK, 0)
		assert.InDelta(t, 256<<10, int(s.tcp.Window())<<sa.opt.WScale, float64(int(1)<<sa.opt.WScale)+10,
			"the window, scaled by the shift ringo offered, is its 256 KiB buffer")
	})
	add("RFC7323-2.3/peer-window-scaled", func(t *testing.T, tc *tester) {
		c := tc.accept(80, false) // the tester's window 502 << 7 = 64256
		_, err := c.Write(make([]byte, 100000))
		require.NoError(t, err)
		tc.settle()
		sent := 0
		for _, s := range tc.segments() {
			sent += len(s.tcp.Payload())
		}
		assert.Equal(t, 10*1448, sent, "IW10, well inside the scaled window")
		tc.rcvNxt += uint32(sent)
		tc.ack()
		tc.settle()
		for _, s := range tc.segments() {
			sent += len(s.tcp.Payload())
		}
		assert.LessOrEqual(t, sent-10*1448, 64256, "never past the scaled window")
		assert.Greater(t, sent-10*1448, 10*1448, "more than 502 bytes: the window is scaled")
	})
}

// fastRetransmit makes ringo send 8 segments, SACKs three past the
// first and returns ringo's connection info after it retransmitted.
func (tc *tester) fastRetransmit(c *tcp.Conn) tcp.Info {
	tc.t.Helper()
	_, err := c.Write(make([]byte, 8*1448))
	require.NoError(tc.t, err)
	tc.settle()
	segs := tc.segments()
	require.Len(tc.t, segs, 8)
	una := segs[0].tcp.Seq()
	for i := 1; i <= 3; i++ {
		f := header.TCPFields{Seq: tc.seq, Ack: una, Flags: header.TCPFlagACK, Window: tc.win, NSACK: 1}
		f.SACK[0] = header.SACKBlock{Left: segs[1].tcp.Seq(), Right: segs[i].tcp.Seq() + 1448}
		tc.inject(f, nil)
	}
	tc.settle()
	require.NotEmpty(tc.t, tc.segments(), "fast retransmit")
	return c.Info()
}

func init() {
	add("RFC9438-4.6/cubic-default-decrease-0.7", func(t *testing.T, tc *tester) {
		c := tc.accept(80, false)
		assert.Equal(t, tcp.CongestionCubic, c.Info().CongestionControl, "CUBIC is the default, as in Linux")
		info := tc.fastRetransmit(c)
		assert.Equal(t, 10*1448*7/10, info.Ssthresh, "beta_cubic 0.7 of the window")
	})
	addCfg("RFC5681-3.2/reno-decrease-half", tcp.Config{CongestionControl: tcp.CongestionReno}, func(t *testing.T, tc *tester) {
		c := tc.accept(80, false)
		assert.Equal(t, tcp.CongestionReno, c.Info().CongestionControl)
		info := tc.fastRetransmit(c)
		assert.Equal(t, 10*1448/2, info.Ssthresh)
	})
	add("TCP_CONGESTION/per-connection-choice", func(t *testing.T, tc *tester) {
		c := tc.accept(80, false)
		require.NoError(t, c.SetCongestionControl(tcp.CongestionReno))
		assert.Equal(t, tcp.CongestionReno, c.Info().CongestionControl)
		assert.Error(t, c.SetCongestionControl("bbr"))
		info := tc.fastRetransmit(c)
		assert.Equal(t, 10*1448/2, info.Ssthresh)
	})
	addCfg("RFC6298-5.5/rto-sets-ssthresh-once", tcp.Config{NoTLP: true}, func(t *testing.T, tc *tester) {
		c := tc.accept(80, false)
		_, err := c.Write(make([]byte, 10*1448))
		require.NoError(t, err)
		tc.settle()
		tc.segments()
		tc.advance(200 * time.Millisecond)
		first := c.Info().Ssthresh
		assert.Equal(t, 10*1448*7/10, first)
		assert.Equal(t, 1448, c.Info().Cwnd, "one segment after a timeout")
		tc.advance(400 * time.Millisecond)
		assert.Equal(t, first, c.Info().Ssthresh, "a second timeout in the same episode keeps ssthresh (tcp_enter_loss)")
	})
}

func init() {
	add("sk_add_backlog/softirq-never-waits-for-the-holder", func(t *testing.T, tc *tester) {
		c := tc.accept(80, false)
		release := tcp.HoldConn(c) // a goroutine inside Write
		tc.data(100)               // settles: the softirq did not wait
		tc.none("the segment waits in the backlog")
		assert.Equal(t, uint64(1), tc.s.TCP.Ext.TCPBacklogQueued.Load())
		release()
		tc.expect(header.TCPFlagACK, 0)
		assert.Len(t, read(t, c, 100), 100)
	})
	add("sk_add_backlog/backlog-processed-in-order", func(t *testing.T, tc *tester) {
		c := tc.accept(80, false)
		release := tcp.HoldConn(c)
		var want []byte
		for i := 0; i < 5; i++ {
			want = append(want, tc.data(100)...)
		}
		tc.fin()
		release()
		tc.settle()
		segs := tc.segments()
		require.NotEmpty(t, segs)
		assert.Equal(t, tc.seq, segs[len(segs)-1].tcp.Ack(), "all of it, the FIN too, acknowledged")
		assert.Equal(t, want, read(t, c, 500))
		tc.state(c, tcp.CloseWait)
	})
}

func init() {
	addCfg("sk_add_backlog/bounded-by-the-buffers", tcp.Config{RcvBuf: 4096, RcvBufMax: 4096, SndBuf: 4096}, func(t *testing.T, tc *tester) {
		c := tc.accept(80, false)
		release := tcp.HoldConn(c)
		for i := 0; i < 10; i++ {
			tc.data(100)
		}
		assert.Greater(t, tc.s.TCP.Ext.TCPBacklogDrop.Load(), uint64(0), "past the receive and send buffers' worth the softirq drops")
		queued := tc.s.TCP.Ext.TCPBacklogQueued.Load()
		assert.Less(t, queued, uint64(10))
		release()
		tc.settle()
		segs := tc.segments()
		require.NotEmpty(t, segs)
		assert.Equal(t, tc.iss+1+uint32(100*queued), segs[len(segs)-1].tcp.Ack(), "what was queued, in order; the peer resends the rest")
	})
}

func init() {
	// undoScenario: ringo resends the second of 8 segments after three
	// SACKs; the ACK that covers it echoes echo (a TSval ringo sent).
	undoScenario := func(t *testing.T, tc *tester, useOriginal bool) tcp.Info {
		c := tc.accept(80, false)
		_, err := c.Write(make([]byte, 8*1448))
		require.NoError(t, err)
		tc.settle()
		segs := tc.segments()
		require.Len(t, segs, 8)
		original := segs[1].opt.TSVal
		tc.advance(5 * time.Millisecond) // the resend's TSval is later
		una := segs[1].tcp.Seq()
		tc.inject(header.TCPFields{Seq: tc.seq, Ack: una, Flags: header.TCPFlagACK, Window: tc.win}, nil)
		for i := 2; i <= 4; i++ {
			f := header.TCPFields{Seq: tc.seq, Ack: una, Flags: header.TCPFlagACK, Window: tc.win, NSACK: 1}
			f.SACK[0] = header.SACKBlock{Left: segs[2].tcp.Seq(), Right: segs[i].tcp.Seq() + 1448}
			tc.inject(f, nil)
		}
		tc.settle()
		resent := tc.segments()
		require.NotEmpty(t, resent)
		require.Equal(t, una, resent[0].tcp.Seq())
		echo := resent[0].opt.TSVal
		if useOriginal {
			echo = original
		}
		require.NotEqual(t, original, resent[0].opt.TSVal)
		end := segs[7].tcp.Seq() + 1448
		tc.inject(header.TCPFields{Seq: tc.seq, Ack: end, Flags: header.TCPFlagACK, Window: tc.win, TS: true, TSVal: tc.tsVal, TSEcr: echo}, nil)
		return c.Info()
	}
	addCfg("RFC3522/spurious-recovery-undone", tcp.Config{NoTLP: true}, func(t *testing.T, tc *tester) {
		info := undoScenario(t, tc, true)
		assert.Equal(t, uint64(1), tc.s.TCP.Ext.TCPSpuriousUndo.Load(), "the echo is the original's: it was reordered, not lost")
		assert.GreaterOrEqual(t, info.Cwnd, 10*1448, "the window the needless cut took is back")
	})
	addCfg("RFC3522/real-loss-not-undone", tcp.Config{NoTLP: true}, func(t *testing.T, tc *tester) {
		info := undoScenario(t, tc, false)
		assert.Zero(t, tc.s.TCP.Ext.TCPSpuriousUndo.Load(), "the echo is the resend's: the loss was real")
		assert.Equal(t, 11*1448*7/10, info.Ssthresh, "cut to 0.7 of the 11 segments the window had grown to")
	})
}
