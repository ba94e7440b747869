package tcp_test

import (
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/netcore/tcp"
)

// closeActive closes c and answers its FIN with an ACK: FIN-WAIT-2.
func (tc *tester) closeActive(c *tcp.Conn) {
	tc.t.Helper()
	require.NoError(tc.t, c.Close())
	tc.expect(header.TCPFlagFIN|header.TCPFlagACK, 0)
	tc.ack()
	tc.state(c, tcp.FinWait2)
}

func init() {
	add("RFC9293-3.6/active-close-to-time-wait", func(t *testing.T, tc *tester) {
		c := tc.accept(80, false)
		tc.closeActive(c)
		tc.fin()
		tc.expect(header.TCPFlagACK, 0)
		tc.state(c, tcp.TimeWait)
		tc.advance(59 * time.Second)
		assert.Equal(t, tcp.TimeWait, c.State(), "2 MSL is 60 s")
		tc.advance(time.Second)
		assert.Equal(t, tcp.Closed, c.State())
	})
	add("RFC9293-3.6/passive-close", func(t *testing.T, tc *tester) {
		c := tc.accept(80, false)
		tc.fin()
		tc.expect(header.TCPFlagACK, 0)
		tc.state(c, tcp.CloseWait)
		c.SetReadDeadline(time.Now().Add(time.Second))
		_, err := c.Read(make([]byte, 1))
		assert.ErrorIs(t, err, io.EOF)
		require.NoError(t, c.Close())
		tc.expect(header.TCPFlagFIN|header.TCPFlagACK, 0)
		tc.state(c, tcp.LastAck)
		tc.ack()
		tc.state(c, tcp.Closed)
		tc.none("closed")
	})
	add("RFC9293-3.6/simultaneous-close", func(t *testing.T, tc *tester) {
		c := tc.accept(80, false)
		require.NoError(t, c.Close())
		fin := tc.next()
		assert.Equal(t, "FIN|ACK", flagNames(fin.tcp.Flags()))
		// The tester's FIN crosses ringo's: it does not acknowledge it.
		tc.inject(header.TCPFields{Seq: tc.seq, Ack: tc.rcvNxt, Flags: header.TCPFlagFIN | header.TCPFlagACK, Window: tc.win}, nil)
		tc.seq++
		tc.rcvNxt++
		tc.expect(header.TCPFlagACK, 0)
		tc.rcvNxt--
		tc.state(c, tcp.Closing)
		tc.rcvNxt++
		tc.ack()
		tc.state(c, tcp.TimeWait)
	})
	add("RFC9293-3.6/fin-with-data", func(t *testing.T, tc *tester) {
		c := tc.accept(80, false)
		tc.inject(header.TCPFields{Seq: tc.seq, Ack: tc.rcvNxt, Flags: header.TCPFlagFIN | header.TCPFlagACK | header.TCPFlagPSH, Window: tc.win}, []byte("bye"))
		tc.seq += 4
		tc.expect(header.TCPFlagACK, 0)
		assert.Equal(t, "bye", string(read(t, c, 3)))
		_, err := c.Read(make([]byte, 1))
		assert.ErrorIs(t, err, io.EOF)
	})
	addCfg("RFC9293-3.10.8/fin-retransmitted", tcp.Config{NoTLP: true}, func(t *testing.T, tc *tester) {
		c := tc.accept(80, false)
		require.NoError(t, c.Close())
		fin := tc.next()
		tc.advance(200 * time.Millisecond)
		again := tc.next()
		assert.Equal(t, "FIN|ACK", flagNames(again.tcp.Flags()))
		assert.Equal(t, fin.tcp.Seq(), again.tcp.Seq())
	})
	add("RFC9293-3.10.7.4/time-wait-fin-reacked-and-restarted", func(t *testing.T, tc *tester) {
		c := tc.accept(80, false)
		tc.closeActive(c)
		tc.fin()
		tc.expect(header.TCPFlagACK, 0)
		tc.advance(30 * time.Second)
		tc.seq--
		tc.fin() // the ACK was lost: the FIN again
		tc.expect(header.TCPFlagACK, 0)
		tc.advance(59 * time.Second)
		assert.Equal(t, tcp.TimeWait, c.State(), "2 MSL from the second FIN")
		tc.advance(time.Second)
		assert.Equal(t, tcp.Closed, c.State())
	})
	add("tcp_fin_timeout/orphan-fin-wait-2-expires", func(t *testing.T, tc *tester) {
		c := tc.accept(80, false)
		tc.closeActive(c)
		tc.advance(59 * time.Second)
		assert.Equal(t, tcp.FinWait2, c.State())
		tc.advance(time.Second)
		assert.Equal(t, tcp.Closed, c.State(), "60 s for the peer's FIN, as tcp_fin_timeout")
		tc.ack()
		s := tc.next()
		assert.Equal(t, "RST", flagNames(s.tcp.Flags()), "the connection is gone: a segment for it gets RST")
	})
	add("tcp_fin_timeout/half-closed-fin-wait-2-stays", func(t *testing.T, tc *tester) {
		c := tc.accept(80, false)
		require.NoError(t, c.CloseWrite())
		tc.expect(header.TCPFlagFIN|header.TCPFlagACK, 0)
		tc.ack()
		tc.state(c, tcp.FinWait2)
		tc.advance(10 * time.Minute)
		assert.Equal(t, tcp.FinWait2, c.State(), "a socket still open may wait for the peer's data forever")
		tc.data(5)
		tc.expect(header.TCPFlagACK, 0)
		assert.Len(t, read(t, c, 5), 5)
	})
	add("RFC1122-4.2.2.13/close-with-unread-data-resets", func(t *testing.T, tc *tester) {
		c := tc.accept(80, false)
		tc.data(10)
		tc.segments()
		require.NoError(t, c.Close())
		s := tc.next()
		assert.Equal(t, "RST|ACK", flagNames(s.tcp.Flags()))
		assert.Equal(t, tcp.Closed, c.State())
	})
	add("RFC1122-4.2.2.13/data-after-close-resets", func(t *testing.T, tc *tester) {
		c := tc.accept(80, false)
		tc.closeActive(c)
		tc.data(10)
		s := tc.next()
		assert.Equal(t, "RST", flagNames(s.tcp.Flags()))
		assert.Equal(t, tc.rcvNxt, s.tcp.Seq(), "SEG.ACK of the data")
		assert.Equal(t, tcp.Closed, c.State())
		assert.Equal(t, uint64(1), tc.s.TCP.Ext.TCPAbortOnData.Load())
	})
	add("RFC1122-4.2.2.13/data-in-fin-wait-1-after-close-resets", func(t *testing.T, tc *tester) {
		c := tc.accept(80, false)
		require.NoError(t, c.Close())
		tc.expect(header.TCPFlagFIN|header.TCPFlagACK, 0)
		tc.rcvNxt--
		tc.data(10) // does not acknowledge the FIN
		tc.rcvNxt++
		s := tc.next()
		assert.Equal(t, "RST", flagNames(s.tcp.Flags()))
		assert.Equal(t, tcp.Closed, c.State())
	})
	add("SO_LINGER-0/close-aborts", func(t *testing.T, tc *tester) {
		c := tc.accept(80, false)
		require.NoError(t, c.SetLinger(0))
		require.NoError(t, c.Close())
		s := tc.next()
		assert.Equal(t, "RST|ACK", flagNames(s.tcp.Flags()))
		assert.Equal(t, tc.rcvNxt, s.tcp.Seq())
		assert.Equal(t, tc.seq, s.tcp.Ack())
	})
	add("RFC6191/time-wait-accepts-newer-syn", func(t *testing.T, tc *tester) {
		c := tc.accept(80, false)
		tc.closeActive(c)
		tc.fin()
		tc.expect(header.TCPFlagACK, 0)
		tc.state(c, tcp.TimeWait)
		// The client comes back from the same port with a newer timestamp.
		tc.iss = tc.seq + 100000
		syn := synOpts(header.TCPFields{Seq: tc.iss, Flags: header.TCPFlagSYN, Window: 64240})
		syn.TSVal = tc.tsVal + 1000
		tc.inject(syn, nil)
		sa := tc.next()
		assert.Equal(t, "SYN|ACK", flagNames(sa.tcp.Flags()))
		assert.Equal(t, tc.iss+1, sa.tcp.Ack())
		assert.Equal(t, tcp.Closed, c.State(), "the old incarnation is gone")
	})
	add("RFC6191/time-wait-ignores-older-syn", func(t *testing.T, tc *tester) {
		c := tc.accept(80, false)
		tc.closeActive(c)
		tc.fin()
		tc.expect(header.TCPFlagACK, 0)
		syn := synOpts(header.TCPFields{Seq: tc.seq + 100000, Flags: header.TCPFlagSYN, Window: 64240})
		syn.TSVal = tc.tsVal - 1000 // older: an old duplicate
		tc.inject(syn, nil)
		tc.none("TIME-WAIT keeps the old SYN out")
		assert.Equal(t, tcp.TimeWait, c.State())
	})
	add("RFC9293-3.10.7.4/close-wait-ignores-more-data", func(t *testing.T, tc *tester) {
		c := tc.accept(80, false)
		tc.fin()
		tc.expect(header.TCPFlagACK, 0)
		tc.data(10) // after its FIN: nonsense
		tc.seq -= 10
		tc.settle()
		tc.segments()
		c.SetReadDeadline(time.Now().Add(time.Second))
		_, err := c.Read(make([]byte, 1))
		assert.ErrorIs(t, err, io.EOF, "nothing past the FIN")
	})
	add("RFC9293-3.10.7.4/last-ack-retransmits-fin", func(t *testing.T, tc *tester) {
		c := tc.accept(80, false)
		tc.fin()
		tc.expect(header.TCPFlagACK, 0)
		require.NoError(t, c.Close())
		fin := tc.next()
		_, ok := tc.clk.AdvanceToNext() // a probe or the RTO, whichever is first
		require.True(t, ok)
		again := tc.next()
		assert.Equal(t, fin.tcp.Seq(), again.tcp.Seq())
		assert.Equal(t, "FIN|ACK", flagNames(again.tcp.Flags()))
	})
	add("RFC793-write-after-peer-fin", func(t *testing.T, tc *tester) {
		c := tc.accept(80, false)
		tc.fin()
		tc.expect(header.TCPFlagACK, 0)
		_, err := c.Write([]byte("still talking"))
		require.NoError(t, err, "CLOSE-WAIT: we may still send")
		tc.expect(header.TCPFlagACK|header.TCPFlagPSH, 13)
	})
	add("RFC9293-3.10.7.4/write-after-reset-fails", func(t *testing.T, tc *tester) {
		c := tc.accept(80, false)
		tc.rst(tc.seq)
		tc.state(c, tcp.Closed)
		_, err := c.Write([]byte("x"))
		assert.ErrorIs(t, err, syscall.ECONNRESET)
	})
}

func init() {
	add("RFC6093/urgent-data-inline", func(t *testing.T, tc *tester) {
		// Linux with SO_OOBINLINE, and RFC 6093's advice: the urgent
		// byte is ordinary data, delivered in order; the pointer
		// changes nothing ringo sends.
		c := tc.accept(80, false)
		tc.inject(header.TCPFields{Seq: tc.seq, Ack: tc.rcvNxt, Flags: header.TCPFlagACK | header.TCPFlagPSH | header.TCPFlagURG,
			Window: tc.win, Urgent: 3}, []byte("ab!cd"))
		tc.seq += 5
		s := tc.expect(header.TCPFlagACK, 0)
		assert.Zero(t, s.tcp.Flags()&header.TCPFlagURG)
		assert.Equal(t, "ab!cd", string(read(t, c, 5)))
	})
	add("RFC9293-3.8.6.2.1/sender-sws-avoidance-nagle", func(t *testing.T, tc *tester) {
		c := tc.accept(80, false)
		require.NoError(t, c.SetNoDelay(false)) // Nagle on
		_, err := c.Write([]byte("a"))
		require.NoError(t, err)
		tc.expect(header.TCPFlagACK|header.TCPFlagPSH, 1)
		_, err = c.Write([]byte("b"))
		require.NoError(t, err)
		_, err = c.Write([]byte("c"))
		require.NoError(t, err)
		tc.none("Nagle: small segments wait while one is unacknowledged")
		tc.ack()
		tc.expect(header.TCPFlagACK|header.TCPFlagPSH, 2)
	})
	add("RFC9293-3.8.6.2.1/nodelay-sends-at-once", func(t *testing.T, tc *tester) {
		c := tc.accept(80, false) // Go's default: no Nagle
		for _, p := range []string{"a", "b"} {
			_, err := c.Write([]byte(p))
			require.NoError(t, err)
			tc.expect(header.TCPFlagACK|header.TCPFlagPSH, 1)
		}
	})
}
