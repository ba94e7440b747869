package tcp_test

import (
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/netcore/tcp"
)

// sackFrom makes the tester's ACK of una with one SACK block.
func (tc *tester) sackFrom(una, left, right uint32) header.TCPFields {
	f := header.TCPFields{Seq: tc.seq, Ack: una, Flags: header.TCPFlagACK, Window: tc.win, NSACK: 1}
	f.SACK[0] = header.SACKBlock{Left: left, Right: right}
	return f
}

// RACK-TLP (RFC 8985): loss decided by time since transmission.
func init() {
	// One SACK above a hole is not three: before reordering has been
	// seen, the hole gets a quarter of the minimum RTT to arrive, then the
	// reordering timer (with Linux's two-jiffy slack) calls it lost (RFC
	// 8985 6.2 step 4, 6.3).
	addCfg("RFC8985-6.3/reordering-timer-resends-the-hole", tcp.Config{NoTLP: true}, func(t *testing.T, tc *tester) {
		c := tc.accept(80, false)
		_, err := c.Write(make([]byte, 4*1448))
		require.NoError(t, err)
		tc.settle()
		segs := tc.segments()
		require.Len(t, segs, 4)
		tc.advance(8 * time.Millisecond) // the round trip
		una := segs[1].tcp.Seq()
		tc.inject(tc.sackFrom(una, segs[2].tcp.Seq(), segs[2].tcp.Seq()+1448), nil)
		tc.settle()
		tc.none("one SACK: the hole may be reordered, not lost")
		d, ok := tc.clk.AdvanceToNext()
		require.True(t, ok)
		tc.settle()
		out := tc.segments()
		require.NotEmpty(t, out, "the reordering timer fired")
		assert.Equal(t, una, out[0].tcp.Seq(), "the hole")
		assert.LessOrEqual(t, d, 4*time.Millisecond+time.Microsecond, "a quarter of the 8 ms minimum RTT, and the timer's 2 ms slack")
		assert.GreaterOrEqual(t, d, 2*time.Millisecond, "the slack Linux's TCP_TIMEOUT_MIN gives")
		assert.Zero(t, tc.s.TCP.Ext.TCPTimeouts.Load(), "not the RTO")
		assert.Equal(t, uint64(1), tc.s.TCP.Ext.TCPSackRecovery.Load())
	})
	// A retransmission lost in turn: the new segment sent after it is
	// SACKed a round trip later, so RACK calls the retransmission lost
	// and sends it again, where dupthresh would wait for the RTO.
	addCfg("RFC8985-6.2/lost-retransmission-resent-without-rto", tcp.Config{NoTLP: true}, func(t *testing.T, tc *tester) {
		c := tc.accept(80, false)
		_, err := c.Write(make([]byte, 6*1448))
		require.NoError(t, err)
		tc.settle()
		segs := tc.segments()
		require.Len(t, segs, 6)
		tc.advance(5 * time.Millisecond)
		una := segs[1].tcp.Seq()
		tc.inject(tc.sackFrom(una, segs[2].tcp.Seq(), segs[5].tcp.Seq()+1448), nil)
		tc.settle()
		out := tc.segments()
		require.Len(t, out, 1, "the hole, resent")
		require.Equal(t, una, out[0].tcp.Seq())
		_, err = c.Write(make([]byte, 1448)) // new data goes after the resend
		require.NoError(t, err)
		tc.settle()
		out = tc.segments()
		require.Len(t, out, 1, "the new segment")
		fresh := out[0].tcp.Seq()
		tc.advance(5 * time.Millisecond)
		f := tc.sackFrom(una, segs[2].tcp.Seq(), segs[5].tcp.Seq()+1448)
		f.NSACK = 2
		f.SACK[1] = f.SACK[0]
		f.SACK[0] = header.SACKBlock{Left: fresh, Right: fresh + 1448}
		tc.inject(f, nil)
		tc.settle()
		out = tc.segments()
		require.NotEmpty(t, out, "RACK found the retransmission lost")
		assert.Equal(t, una, out[0].tcp.Seq(), "the same hole, a third time")
		assert.Equal(t, uint64(1), tc.s.TCP.Ext.TCPLostRetransmit.Load())
		assert.Zero(t, tc.s.TCP.Ext.TCPTimeouts.Load())
	})
	// RACK.rtt is the round trip of the latest delivery, whenever that
	// segment was sent (Linux's tcp_rack_advance); only RACK.xmit_ts waits
	// for a later send. A and B go together, X 5 ms later; one ACK
	// acknowledges A after 8 ms and SACKs X, which overtook B after 3.
	// B went with A, so B's trip is A's: it is not late yet. Taking X's
	// short trip instead (RFC 8985's text) would call B lost at once: on
	// a path that reorders, that is most of a sender's needless resends.
	addCfg("RFC8985-6.2/rack-rtt-from-the-latest-delivery", tcp.Config{NoTLP: true}, func(t *testing.T, tc *tester) {
		c := tc.accept(80, false)
		_, err := c.Write(make([]byte, 2*1448))
		require.NoError(t, err)
		tc.settle()
		ab := tc.segments()
		require.Len(t, ab, 2)
		tc.advance(5 * time.Millisecond)
		_, err = c.Write(make([]byte, 1448))
		require.NoError(t, err)
		tc.settle()
		x := tc.segments()
		require.Len(t, x, 1)
		tc.advance(3 * time.Millisecond)
		b := ab[1].tcp.Seq()
		tc.inject(tc.sackFrom(b, x[0].tcp.Seq(), x[0].tcp.Seq()+1448), nil)
		tc.settle()
		tc.none("B was sent with A, whose trip took 8 ms: B is not late")
		assert.Equal(t, 3*time.Millisecond, c.Info().MinRTT, "X's trip, the least (ss's minrtt)")
		d, ok := tc.clk.AdvanceToNext()
		require.True(t, ok)
		tc.settle()
		out := tc.segments()
		require.NotEmpty(t, out, "the reordering timer fired")
		assert.Equal(t, b, out[0].tcp.Seq(), "B, resent once its own trip and the window passed")
		assert.Equal(t, 2750*time.Microsecond, d, "A's trip plus a quarter of the 3 ms minimum, from B's send, and the 2 ms slack")
		assert.Zero(t, tc.s.TCP.Ext.TCPTimeouts.Load())
	})
	// A D-SACK (RFC 2883): a first block below the ACK reports a segment
	// that arrived twice; it is counted, does not enter the scoreboard,
	// and widens the reordering window (RFC 8985 6.2 step 4).
	add("RFC2883-4/dsack-recognised", func(t *testing.T, tc *tester) {
		c := tc.accept(80, false)
		_, err := c.Write(make([]byte, 4*1448))
		require.NoError(t, err)
		tc.settle()
		segs := tc.segments()
		require.Len(t, segs, 4)
		una := segs[2].tcp.Seq()
		tc.inject(tc.sackFrom(una, segs[1].tcp.Seq(), segs[2].tcp.Seq()), nil)
		tc.settle()
		assert.Equal(t, uint64(1), tc.s.TCP.Ext.TCPDSACKRecv.Load())
		assert.Zero(t, tc.s.TCP.Ext.TCPSACKDiscard.Load(), "a D-SACK is not a bogus block")
		tc.none("a duplicate is no loss")
	})
	// The probe timeout for a lone segment (2 SRTT plus the peer's worst
	// delayed ACK) falls after the RTO: the probe goes at the RTO's time
	// instead, as a probe (RFC 8985 7.2), without the RTO's window cut.
	add("RFC8985-7.2/probe-capped-at-the-rto", func(t *testing.T, tc *tester) {
		c := tc.accept(80, false)
		_, err := c.Write(make([]byte, 100))
		require.NoError(t, err)
		tc.settle()
		require.Len(t, tc.segments(), 1)
		d, ok := tc.clk.AdvanceToNext()
		require.True(t, ok)
		tc.settle()
		probe := tc.segments()
		require.Len(t, probe, 1)
		assert.Equal(t, 100, len(probe[0].tcp.Payload()), "the segment again")
		assert.LessOrEqual(t, d, 1*time.Second, "no later than the initial RTO")
		assert.Equal(t, uint64(1), tc.s.TCP.Ext.TCPLossProbes.Load())
		assert.Zero(t, tc.s.TCP.Ext.TCPTimeouts.Load())
	})
	// A FIN beyond a hole is held with the out-of-order data and taken
	// when the hole fills (Linux queues it in the out-of-order queue);
	// dropped, the peer would have to resend it after a timeout.
	add("RFC9293-3.10.7.4/fin-beyond-a-hole-held", func(t *testing.T, tc *tester) {
		c := tc.accept(80, false)
		tc.quickAcked()
		hole := tc.seq
		tc.seq += 500
		tc.inject(header.TCPFields{Seq: tc.seq, Ack: tc.rcvNxt, Flags: header.TCPFlagACK | header.TCPFlagFIN, Window: tc.win}, make([]byte, 300))
		s := tc.next()
		assert.Equal(t, hole, s.tcp.Ack(), "a duplicate ACK for the hole")
		tc.seq = hole
		tc.data(500)
		s = tc.next()
		assert.Equal(t, hole+800+1, s.tcp.Ack(), "the hole, the data after it and the FIN")
		tc.state(c, tcp.CloseWait)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		got, err := io.ReadAll(c)
		require.NoError(t, err)
		assert.Len(t, got, 16*100+800)
	})
}

// The receiver's side of RFC 2883: data that came twice is reported in
// the first SACK block of the ACK it draws.
func init() {
	add("RFC2883-4.1/dsack-for-an-old-duplicate", func(t *testing.T, tc *tester) {
		tc.accept(80, false)
		tc.quickAcked()
		old := tc.seq
		tc.seq -= 100
		tc.data(100)
		tc.seq = old
		s := tc.expect(header.TCPFlagACK, 0)
		require.Equal(t, 1, s.opt.NSACK)
		assert.Equal(t, header.SACKBlock{Left: old - 100, Right: old}, s.opt.SACK[0])
		assert.Equal(t, uint64(1), tc.s.TCP.Ext.TCPDSACKOldSent.Load())
		tc.data(100)
		tc.data(100) // every second segment is acknowledged
		s = tc.expect(header.TCPFlagACK, 0)
		assert.Zero(t, s.opt.NSACK, "reported once")
	})
	add("RFC2883-4.2/dsack-for-an-out-of-order-duplicate", func(t *testing.T, tc *tester) {
		tc.accept(80, false)
		tc.quickAcked()
		hole := tc.seq
		tc.seq += 1000
		tc.data(500)
		tc.next()
		tc.seq = hole + 1000
		tc.data(500) // again
		s := tc.next()
		require.Equal(t, 2, s.opt.NSACK)
		assert.Equal(t, header.SACKBlock{Left: hole + 1000, Right: hole + 1500}, s.opt.SACK[0], "the D-SACK")
		assert.Equal(t, header.SACKBlock{Left: hole + 1000, Right: hole + 1500}, s.opt.SACK[1], "the block it lies in (RFC 2883 4.2)")
	})
}

func init() {
	// The only segment a recovery resent comes back D-SACKed: the
	// original had arrived, and the window cut is taken back (RFC 3708,
	// Linux's tcp_try_undo_dsack) even when the timestamps cannot tell.
	addCfg("RFC3708-3/dsack-undoes-a-needless-recovery", tcp.Config{NoTLP: true}, func(t *testing.T, tc *tester) {
		c := tc.accept(80, false)
		_, err := c.Write(make([]byte, 8*1448))
		require.NoError(t, err)
		tc.settle()
		segs := tc.segments()
		require.Len(t, segs, 8)
		before := c.Info().Cwnd
		una := segs[1].tcp.Seq()
		tc.inject(tc.sackFrom(una, segs[2].tcp.Seq(), segs[5].tcp.Seq()), nil)
		tc.settle()
		out := tc.segments()
		require.NotEmpty(t, out)
		require.Equal(t, una, out[0].tcp.Seq(), "resent")
		require.Less(t, c.Info().Cwnd, before, "the window was cut")
		end := segs[7].tcp.Seq() + 1448
		f := tc.sackFrom(end, una, una+1448) // a D-SACK: below the ACK
		f.TS, f.TSVal, f.TSEcr = true, tc.tsVal, out[0].opt.TSVal
		tc.inject(f, nil)
		tc.settle()
		assert.Equal(t, uint64(1), tc.s.TCP.Ext.TCPDSACKUndo.Load())
		assert.GreaterOrEqual(t, c.Info().Cwnd, before, "the cut is undone")
	})
}
