package tcp_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/netcore/tcp"
)

// synchronized brings a connection to state (one of the synchronized
// states but TIME-WAIT) and returns it, with the tester's rcvNxt and seq
// where the connection stands.
func (tc *tester) synchronized(state tcp.State) *tcp.Conn {
	tc.t.Helper()
	c := tc.accept(80, false)
	switch state {
	case tcp.Established:
	case tcp.FinWait1:
		require.NoError(tc.t, c.Close())
		tc.expect(header.TCPFlagFIN|header.TCPFlagACK, 0)
		tc.rcvNxt-- // the tester does not acknowledge the FIN
	case tcp.FinWait2:
		tc.closeActive(c)
	case tcp.CloseWait:
		tc.fin()
		tc.expect(header.TCPFlagACK, 0)
	case tcp.LastAck:
		tc.fin()
		tc.expect(header.TCPFlagACK, 0)
		require.NoError(tc.t, c.Close())
		tc.expect(header.TCPFlagFIN|header.TCPFlagACK, 0)
		tc.rcvNxt--
	case tcp.Closing:
		require.NoError(tc.t, c.Close())
		tc.next()
		tc.inject(header.TCPFields{Seq: tc.seq, Ack: tc.rcvNxt, Flags: header.TCPFlagFIN | header.TCPFlagACK, Window: tc.win}, nil)
		tc.seq++
		tc.next()
	}
	tc.state(c, state)
	// Each case starts with the rate limit of RFC 5961 7 clear.
	tc.advance(time.Second)
	tc.segments()
	return c
}

// The states a RST or SYN meets once the connection is synchronized.
var synchronizedStates = []tcp.State{tcp.Established, tcp.FinWait1, tcp.FinWait2, tcp.CloseWait, tcp.LastAck, tcp.Closing}

func init() {
	for _, st := range synchronizedStates {
		add(fmt.Sprintf("RFC5961-3.2/%v/rst-exact-resets", st), func(t *testing.T, tc *tester) {
			c := tc.synchronized(st)
			tc.rst(tc.seq)
			assert.Equal(t, tcp.Closed, c.State())
			tc.none("a RST is never answered")
		})
		add(fmt.Sprintf("RFC5961-3.2/%v/rst-in-window-challenge-ack", st), func(t *testing.T, tc *tester) {
			c := tc.synchronized(st)
			before := tc.s.TCP.Ext.TCPChallengeACK.Load()
			tc.rst(tc.seq + 100)
			s := tc.next()
			assert.Equal(t, "ACK", flagNames(s.tcp.Flags()), "challenge ACK")
			assert.Equal(t, tc.seq, s.tcp.Ack())
			assert.Equal(t, st, c.State(), "the connection stays")
			assert.Equal(t, before+1, tc.s.TCP.Ext.TCPChallengeACK.Load())
		})
		add(fmt.Sprintf("RFC5961-3.2/%v/rst-out-of-window-ignored", st), func(t *testing.T, tc *tester) {
			c := tc.synchronized(st)
			tc.rst(tc.seq + 1<<30)
			tc.none("out of the window: dropped silently")
			assert.Equal(t, st, c.State())
		})
		add(fmt.Sprintf("RFC5961-4.2/%v/syn-challenge-ack", st), func(t *testing.T, tc *tester) {
			c := tc.synchronized(st)
			tc.inject(header.TCPFields{Seq: tc.seq + 10, Flags: header.TCPFlagSYN, Window: 1000, WScale: -1}, nil)
			s := tc.next()
			assert.Equal(t, "ACK", flagNames(s.tcp.Flags()), "challenge ACK, never a reset")
			assert.Equal(t, tc.seq, s.tcp.Ack())
			assert.Equal(t, st, c.State())
		})
		add(fmt.Sprintf("RFC5961-5.2/%v/ack-of-unsent-data-acked-and-dropped", st), func(t *testing.T, tc *tester) {
			c := tc.synchronized(st)
			tc.inject(header.TCPFields{Seq: tc.seq, Ack: tc.rcvNxt + 100000, Flags: header.TCPFlagACK, Window: tc.win}, nil)
			s := tc.next()
			assert.Equal(t, "ACK", flagNames(s.tcp.Flags()))
			assert.Equal(t, st, c.State(), "it acknowledges nothing we sent")
		})
	}
	add("RFC5961-7/challenge-acks-rate-limited", func(t *testing.T, tc *tester) {
		tc.synchronized(tcp.Established)
		for i := 0; i < 10; i++ {
			tc.rst(tc.seq + 100 + uint32(i))
		}
		tc.settle()
		assert.Len(t, tc.segments(), 1, "one challenge ACK per 500 ms (tcp_invalid_ratelimit)")
		tc.advance(500 * time.Millisecond)
		tc.rst(tc.seq + 100)
		assert.Len(t, tc.segments(), 1, "and another after it")
	})
	add("RFC5961-5.2/too-old-ack-challenged", func(t *testing.T, tc *tester) {
		c := tc.synchronized(tcp.Established)
		tc.inject(header.TCPFields{Seq: tc.seq, Ack: tc.rcvNxt - 1<<30, Flags: header.TCPFlagACK, Window: tc.win}, nil)
		s := tc.next()
		assert.Equal(t, "ACK", flagNames(s.tcp.Flags()), "an ACK older than the peer's largest window: challenge ACK")
		assert.Equal(t, tcp.Established, c.State())
	})
	add("RFC9293-3.10.7.4/syn-rcvd-rst-returns-to-listen", func(t *testing.T, tc *tester) {
		tc.listen(80)
		tc.inject(synOpts(header.TCPFields{Seq: tc.iss, Flags: header.TCPFlagSYN, Window: 64240}), nil)
		tc.next()
		tc.rst(tc.iss + 1)
		tc.advance(10 * time.Second)
		tc.none("the half-open connection is gone: no SYN-ACK retransmitted")
		assert.Empty(t, tc.s.TCP.Sockets()[1:], "only the listener")
	})
	add("RFC9293-3.10.7.4/syn-rcvd-bad-ack-rst", func(t *testing.T, tc *tester) {
		tc.listen(80)
		tc.inject(synOpts(header.TCPFields{Seq: tc.iss, Flags: header.TCPFlagSYN, Window: 64240}), nil)
		sa := tc.next()
		tc.inject(header.TCPFields{Seq: tc.iss + 1, Ack: sa.tcp.Seq() + 1000, Flags: header.TCPFlagACK, Window: 502}, nil)
		s := tc.next()
		assert.Equal(t, "RST", flagNames(s.tcp.Flags()))
		assert.Equal(t, sa.tcp.Seq()+1000, s.tcp.Seq())
	})
	add("RFC1337/time-wait-ignores-rst", func(t *testing.T, tc *tester) {
		c := tc.accept(80, false)
		tc.closeActive(c)
		tc.fin()
		tc.expect(header.TCPFlagACK, 0)
		tc.rst(tc.seq)
		assert.Equal(t, tcp.TimeWait, c.State(), "TIME-WAIT assassination hazards (RFC 1337): a RST does not end it")
	})
}
