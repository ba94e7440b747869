package tcp_test

import (
	"encoding/binary"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/netcore/tcp"
)

// icmpAbout sends ringo an ICMP error quoting a segment of the
// connection (its IP header and first 8 bytes) with sequence seq.
func (tc *tester) icmpAbout(typ, code uint8, info uint32, seq uint32) {
	tc.t.Helper()
	q := make([]byte, header.IPv4MinLen+8)
	header.EncodeIPv4(q, header.IPv4Fields{TotalLen: 1500, TTL: 64, Protocol: header.ProtoTCP, Src: ringoIP, Dst: testerIP, Flags: header.IPv4FlagDF})
	binary.BigEndian.PutUint16(q[20:], tc.port)
	binary.BigEndian.PutUint16(q[22:], testerPort)
	binary.BigEndian.PutUint32(q[24:], seq)
	tc.injectICMP(typ, code, info, q)
}

func init() {
	add("RFC5927-4.1/icmp-quoting-unsent-sequence-ignored", func(t *testing.T, tc *tester) {
		errc := make(chan error, 1)
		go func() { _, err := tc.s.Dial("tcp", "10.0.0.2:40000"); errc <- err }()
		syn := tc.next()
		tc.port = syn.tcp.SrcPort()
		tc.icmpAbout(header.ICMPDestUnreach, header.ICMPPortUnreach, 0, syn.tcp.Seq()+100000)
		assert.Equal(t, uint64(1), tc.s.TCP.Ext.OutOfWindowIcmps.Load())
		select {
		case err := <-errc:
			t.Fatalf("a forged ICMP error ended the connection: %v", err)
		default:
		}
		tc.rcvNxt = syn.tcp.Seq() + 1
		tc.inject(header.TCPFields{Seq: tc.iss, Ack: tc.rcvNxt, Flags: header.TCPFlagSYN | header.TCPFlagACK, Window: 65160, MSS: 1460}, nil)
		require.NoError(t, <-errc, "the handshake goes on")
	})
	add("RFC1122-4.2.3.9/port-unreachable-aborts-syn-sent", func(t *testing.T, tc *tester) {
		errc := make(chan error, 1)
		go func() { _, err := tc.s.Dial("tcp", "10.0.0.2:40000"); errc <- err }()
		syn := tc.next()
		tc.port = syn.tcp.SrcPort()
		tc.icmpAbout(header.ICMPDestUnreach, header.ICMPPortUnreach, 0, syn.tcp.Seq())
		err := <-errc
		assert.ErrorIs(t, err, syscall.ECONNREFUSED)
	})
	add("RFC1122-4.2.3.9/host-unreachable-aborts-syn-sent", func(t *testing.T, tc *tester) {
		errc := make(chan error, 1)
		go func() { _, err := tc.s.Dial("tcp", "10.0.0.2:40000"); errc <- err }()
		syn := tc.next()
		tc.port = syn.tcp.SrcPort()
		tc.icmpAbout(header.ICMPDestUnreach, header.ICMPHostUnreach, 0, syn.tcp.Seq())
		assert.ErrorIs(t, <-errc, syscall.EHOSTUNREACH)
	})
	add("RFC5461/soft-error-keeps-established", func(t *testing.T, tc *tester) {
		c := tc.accept(80, false)
		tc.icmpAbout(header.ICMPDestUnreach, header.ICMPPortUnreach, 0, tc.rcvNxt)
		assert.Equal(t, tcp.Established, c.State(), "an ICMP error does not end an established connection")
		tc.data(5)
		tc.expect(header.TCPFlagACK, 0)
		assert.Len(t, read(t, c, 5), 5)
	})
	addCfg("RFC5461/soft-error-reported-on-timeout", tcp.Config{NoTLP: true}, func(t *testing.T, tc *tester) {
		c := tc.accept(80, false)
		_, err := c.Write([]byte("lost"))
		require.NoError(t, err)
		tc.next()
		tc.icmpAbout(header.ICMPDestUnreach, header.ICMPHostUnreach, 0, tc.rcvNxt)
		for i := 0; i < 20 && c.State() != tcp.Closed; i++ {
			tc.clk.AdvanceToNext()
			tc.settle()
		}
		require.Equal(t, tcp.Closed, c.State())
		_, err = c.Read(make([]byte, 1))
		assert.ErrorIs(t, err, syscall.EHOSTUNREACH, "the soft error says why it timed out")
	})
	add("RFC1191-6.3/frag-needed-lowers-segment-size", func(t *testing.T, tc *tester) {
		c := tc.accept(80, false)
		_, err := c.Write(make([]byte, 1448))
		require.NoError(t, err)
		first := tc.next()
		assert.True(t, first.ip.DontFragment(), "DF on every segment")
		tc.icmpAbout(header.ICMPDestUnreach, header.ICMPFragNeeded, 1000, first.tcp.Seq())
		tc.settle()
		segs := tc.segments()
		require.Len(t, segs, 2, "the segment again, cut to the path MTU at once")
		assert.Equal(t, first.tcp.Seq(), segs[0].tcp.Seq())
		assert.Len(t, segs[0].tcp.Payload(), 1000-40-12)
		assert.LessOrEqual(t, segs[0].ip.TotalLen(), 1000)
		assert.Equal(t, uint64(1), tc.s.TCP.Ext.TCPMTUReduced.Load())
		assert.Equal(t, 1000, tc.s.IP.PathMTU(testerIP))
	})
	add("RFC5927-4.1/frag-needed-out-of-window-ignored", func(t *testing.T, tc *tester) {
		c := tc.accept(80, false)
		_, err := c.Write(make([]byte, 1448))
		require.NoError(t, err)
		first := tc.next()
		tc.icmpAbout(header.ICMPDestUnreach, header.ICMPFragNeeded, 600, first.tcp.Seq()+5000)
		tc.none("a forged Fragmentation Needed changes nothing")
		assert.Equal(t, 1500, tc.s.IP.PathMTU(testerIP))
	})
	add("RFC1191-ip_rt_min_pmtu/tiny-mtu-clamped", func(t *testing.T, tc *tester) {
		c := tc.accept(80, false)
		_, err := c.Write(make([]byte, 1448))
		require.NoError(t, err)
		first := tc.next()
		tc.icmpAbout(header.ICMPDestUnreach, header.ICMPFragNeeded, 68, first.tcp.Seq())
		assert.Equal(t, 552, tc.s.IP.PathMTU(testerIP), "never below ip_rt_min_pmtu")
		tc.settle()
		for _, s := range tc.segments() {
			assert.LessOrEqual(t, len(s.tcp.Payload()), 552-40-12)
		}
	})
	add("RFC1191/new-connection-uses-path-mtu", func(t *testing.T, tc *tester) {
		tc.s.IP.UpdatePMTU(testerIP, 1200)
		go tc.s.Dial("tcp", "10.0.0.2:40000")
		syn := tc.next()
		assert.EqualValues(t, 1200-40, syn.opt.MSS, "the MSS ringo offers follows the path MTU")
	})
}

func init() {
	addCfg("RFC4821-3/black-hole-halves-segment-size", tcp.Config{NoTLP: true}, func(t *testing.T, tc *tester) {
		// A path that drops big packets and filters the ICMP that would
		// say so: full segments go unanswered.
		c := tc.accept(80, false)
		_, err := c.Write(make([]byte, 1448))
		require.NoError(t, err)
		first := tc.next()
		var sizes []int
		for i := 0; i < 3; i++ {
			_, ok := tc.clk.AdvanceToNext()
			require.True(t, ok)
			tc.settle()
			for _, s := range tc.segments() {
				sizes = append(sizes, len(s.tcp.Payload()))
				assert.Equal(t, first.tcp.Seq(), s.tcp.Seq())
			}
		}
		assert.Equal(t, []int{1448, 1448, 1024 - 12}, sizes, "after three timeouts the segment is cut to tcp_base_mss")
		assert.Equal(t, uint64(1), tc.s.TCP.Ext.TCPMTUPBlackHole.Load())
		assert.Equal(t, 1024+40, tc.s.IP.PathMTU(testerIP))
		tc.rcvNxt = first.tcp.Seq() + 1012
		tc.ack() // the small one got through
		tc.settle()
		rest := tc.segments()
		require.NotEmpty(t, rest)
		assert.Equal(t, first.tcp.Seq()+1012, rest[0].tcp.Seq(), "the rest follows at the new size")
	})
	addCfg("RFC4821-3/no-mtu-probing-keeps-size", tcp.Config{NoTLP: true, NoMTUProbing: true}, func(t *testing.T, tc *tester) {
		c := tc.accept(80, false)
		_, err := c.Write(make([]byte, 1448))
		require.NoError(t, err)
		tc.next()
		for i := 0; i < 4; i++ {
			tc.clk.AdvanceToNext()
			tc.settle()
			for _, s := range tc.segments() {
				assert.Len(t, s.tcp.Payload(), 1448)
			}
		}
	})
}
