package tcp_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"log/slog"
	"math/rand"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/clock"
	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/netcore/impair"
	"github.com/ringonet/ringo/netcore/internal/stacktest"
	"github.com/ringonet/ringo/netcore/ipv4"
	"github.com/ringonet/ringo/netcore/link"
	"github.com/ringonet/ringo/netcore/skb"
	"github.com/ringonet/ringo/netcore/socket"
	"github.com/ringonet/ringo/netcore/tcp"
)

var quiet = slog.New(slog.DiscardHandler)

func newStack(t testing.TB) *socket.Stack {
	return stacktest.Stack(t, tcp.Config{MSL: 100 * time.Millisecond})
}

// pair is two hosts on a pipe: a 10.1.0.1, b 10.1.0.2.
func pair(t testing.TB, loss ...float64) (*socket.Stack, *socket.Stack) {
	l := 0.0
	if len(loss) > 0 {
		l = loss[0]
	}
	return stacktest.Pair(t, tcp.Config{MSL: 100 * time.Millisecond}, l)
}

func TestEchoAndClose(t *testing.T) {
	a, b := pair(t, 0)
	l, err := b.Listen("tcp", ":7")
	require.NoError(t, err)
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		io.Copy(c, c)
		c.Close()
	}()
	c, err := a.Dial("tcp", "10.1.0.2:7")
	require.NoError(t, err)
	_, err = c.Write([]byte("hello ringo"))
	require.NoError(t, err)
	buf := make([]byte, 100)
	n, err := io.ReadFull(c, buf[:11])
	require.NoError(t, err)
	assert.Equal(t, "hello ringo", string(buf[:n]))
	require.NoError(t, c.(*tcp.Conn).CloseWrite())
	_, err = c.Read(buf)
	assert.ErrorIs(t, err, io.EOF, "the server closed after our FIN")
	require.NoError(t, c.Close())
	require.Eventually(t, func() bool { return a.TCP.Stats.CurrEstab.Load() == 0 && b.TCP.Stats.CurrEstab.Load() == 0 }, 3*time.Second, time.Millisecond)
	assert.EqualValues(t, 1, a.TCP.Stats.ActiveOpens.Load())
	assert.EqualValues(t, 1, b.TCP.Stats.PassiveOpens.Load())
}

func TestRefused(t *testing.T) {
	a, _ := pair(t, 0)
	_, err := a.Dial("tcp", "10.1.0.2:9")
	require.Error(t, err)
	assert.True(t, errors.Is(err, tcp.ErrConnRefused), "%v", err)
}

// transfer sends n random bytes from one stack to the other and compares
// SHA-256 at both ends.
func transfer(t *testing.T, from, to *socket.Stack, toAddr string, n int) time.Duration {
	l, err := to.Listen("tcp", ":5001")
	require.NoError(t, err)
	defer l.Close()
	sums := make(chan [32]byte, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			sums <- [32]byte{}
			return
		}
		h := sha256.New()
		io.Copy(h, c)
		c.Close()
		sums <- [32]byte(h.Sum(nil))
	}()
	data := make([]byte, n)
	rand.New(rand.NewSource(int64(n))).Read(data)
	start := time.Now()
	c, err := from.Dial("tcp", toAddr+":5001")
	require.NoError(t, err)
	_, err = c.Write(data)
	require.NoError(t, err)
	require.NoError(t, c.Close())
	select {
	case got := <-sums:
		assert.Equal(t, sha256.Sum256(data), got, "SHA-256 at both ends")
	case <-time.After(60 * time.Second):
		t.Fatal("transfer did not finish")
	}
	return time.Since(start)
}

func TestBulkTransfer(t *testing.T) {
	a, b := pair(t, 0)
	d := transfer(t, a, b, "10.1.0.2", 20<<20)
	t.Logf("20 MiB a->b in %v (%.0f MB/s)", d, 20.0*1.048576/d.Seconds())
	d = transfer(t, b, a, "10.1.0.1", 20<<20)
	t.Logf("20 MiB b->a in %v", d)
}

// A wire that loses 2% of frames each way: retransmission and fast
// recovery deliver every byte.
func TestBulkTransferLossy(t *testing.T) {
	a, b := pair(t, 0.02)
	d := transfer(t, a, b, "10.1.0.2", 4<<20)
	t.Logf("4 MiB over 2%% loss in %v; retransmits %d, fast retransmits %d, timeouts %d", d,
		a.TCP.Stats.RetransSegs.Load(), a.TCP.Ext.TCPFastRetrans.Load(), a.TCP.Ext.TCPTimeouts.Load())
	assert.Greater(t, a.TCP.Stats.RetransSegs.Load(), uint64(0))
}

// Go's net/http server and client run on ringo unchanged.
func TestNetHTTP(t *testing.T) {
	a, b := pair(t, 0)
	l, err := b.Listen("tcp", ":80")
	require.NoError(t, err)
	body := bytes.Repeat([]byte("ringo "), 200000)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) })}
	go srv.Serve(l)
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{DialContext: a.DialContext}, Timeout: 20 * time.Second}
	for i := 0; i < 3; i++ { // keep-alive reuses the connection
		resp, err := client.Get("http://10.1.0.2/")
		require.NoError(t, err)
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		assert.Equal(t, body, got)
	}
}

func TestDeadlines(t *testing.T) {
	a, b := pair(t, 0)
	l, err := b.Listen("tcp", ":7")
	require.NoError(t, err)
	defer l.Close()
	go l.Accept()
	c, err := a.Dial("tcp", "10.1.0.2:7")
	require.NoError(t, err)
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, err = c.Read(make([]byte, 1))
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	assert.True(t, ne.Timeout())

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = a.DialContext(ctx, "tcp", "10.1.0.99:7") // nobody answers ARP
	assert.Error(t, err)
}

// A slow reader closes the window again and again: the sender probes and
// resumes promptly each time it opens (no backoff carried over).
func TestZeroWindow(t *testing.T) {
	a := stacktest.Stack(t, tcp.Config{MSL: 100 * time.Millisecond})
	b := stacktest.Stack(t, tcp.Config{MSL: 100 * time.Millisecond, RcvBuf: 8 << 10, RcvBufMax: 8 << 10})
	stacktest.Wire(t, a, b, 0)
	l, err := b.Listen("tcp", ":5002")
	require.NoError(t, err)
	defer l.Close()
	data := make([]byte, 512<<10)
	rand.New(rand.NewSource(3)).Read(data)
	got := make(chan []byte, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			got <- nil
			return
		}
		var out []byte
		buf := make([]byte, 4096)
		for {
			time.Sleep(2 * time.Millisecond)
			n, err := c.Read(buf)
			out = append(out, buf[:n]...)
			if err != nil {
				break
			}
		}
		got <- out
	}()
	start := time.Now()
	c, err := a.Dial("tcp", "10.1.0.2:5002")
	require.NoError(t, err)
	_, err = c.Write(data)
	require.NoError(t, err)
	c.Close()
	select {
	case out := <-got:
		assert.True(t, bytes.Equal(data, out), "got %d of %d bytes", len(out), len(data))
	case <-time.After(30 * time.Second):
		t.Fatal("transfer into a slow reader stalled")
	}
	t.Logf("512 KiB into an 8 KiB window read slowly: %v", time.Since(start))
	t.Logf("FAULT | TCP receiver reads slowly (8 KiB buffer, 4 KiB every 2 ms) | the window closes and reopens again and again; the sender waits and probes, all 512 KiB arrive in order in %v",
		time.Since(start).Round(time.Millisecond))
}

// A reader blocked on a connection must not swallow the wake-ups a writer
// on the same connection waits for (net/http keeps a background Read on
// every server connection while the handler writes).
func TestBlockedReaderDoesNotStallWriter(t *testing.T) {
	a := stacktest.Stack(t, tcp.Config{MSL: 100 * time.Millisecond, SndBuf: 8 << 10})
	b := stacktest.Stack(t, tcp.Config{MSL: 100 * time.Millisecond})
	stacktest.Wire(t, a, b, 0)
	l, err := b.Listen("tcp", ":5003")
	require.NoError(t, err)
	defer l.Close()
	total := make(chan int, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			total <- -1
			return
		}
		n, _ := io.Copy(io.Discard, c)
		total <- int(n)
	}()
	c, err := a.Dial("tcp", "10.1.0.2:5003")
	require.NoError(t, err)
	for i := 0; i < 4; i++ {
		go c.Read(make([]byte, 1)) // readers that never get data
	}
	data := make([]byte, 4<<20)
	done := make(chan error, 1)
	go func() { _, err := c.Write(data); c.Close(); done <- err }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("the writer stalled behind blocked readers")
	}
	assert.Equal(t, len(data), <-total)
}

// TSO and checksum offload: on a wire that offers them (and does them, as
// a NIC does), the sender builds packets of many segments with their
// checksums left open; what arrives is whole, checksummed segments, every
// byte right — clean, and with 1% loss each way (retransmissions go
// through the offload too).
func TestOffloadTSO(t *testing.T) {
	for _, loss := range []float64{0, 0.01} {
		tc := tcp.Config{MSL: 100 * time.Millisecond}
		a, b := stacktest.Stack(t, tc), stacktest.Stack(t, tc)
		ea, eb := stacktest.WireConfig(t, a, b, link.PipeConfig{Offload: true, Loss: loss, Seed: 3})
		d := transfer(t, a, b, "10.1.0.2", 8<<20)
		transfer(t, b, a, "10.1.0.1", 1<<20)
		t.Logf("loss %.0f%%: 8 MiB in %v; a->b %d TSO packets, b->a %d; %d segments out, %d retransmitted, checksum errors at b %d",
			loss*100, d, ea.TSOPackets.Load(), eb.TSOPackets.Load(), a.TCP.Stats.OutSegs.Load(), a.TCP.Stats.RetransSegs.Load(), b.TCP.Stats.InCsumErrors.Load())
		assert.Greater(t, ea.TSOPackets.Load(), uint64(100), "the sender used TSO")
		assert.Greater(t, a.TCP.Stats.OutSegs.Load(), 4*ea.TSOPackets.Load(), "several segments per TSO packet")
		assert.Zero(t, b.TCP.Stats.InCsumErrors.Load(), "every checksum the wire filled in is right")
		assert.Zero(t, a.IP.MIB.SoftOffloads.Load(), "nothing fell back to software")
	}
}

// A TSO packet that meets a device without the offloads (here, IP output
// to a plain pipe) is cut and checksummed in software.
func TestOffloadSoftwareFallback(t *testing.T) {
	a, b := pair(t, 0)
	f := header.TCPFields{SrcPort: 4000, DstPort: 9, Seq: 1, Flags: header.TCPFlagACK, Window: 100, WScale: -1}
	hl := header.TCPHeaderLen(f)
	sk := skb.Alloc(hl + 10000)
	header.EncodeTCPPartial(sk.Put(hl+10000), f)
	sk.CsumPartial, sk.GSOSize = true, 1000
	require.NoError(t, a.IP.Output(sk, [4]byte{10, 1, 0, 1}, [4]byte{10, 1, 0, 2}, header.ProtoTCP, ipv4.OutputOpts{}))
	require.Eventually(t, func() bool { return b.TCP.Stats.InSegs.Load() == 10 }, 2*time.Second, time.Millisecond,
		"10 segments arrive (got %d)", b.TCP.Stats.InSegs.Load())
	assert.Zero(t, b.TCP.Stats.InCsumErrors.Load())
	assert.EqualValues(t, 1, a.IP.MIB.SoftOffloads.Load())
}

// GSO: to a device without offloads TCP still builds packets of many
// segments, and the IP layer cuts and checksums them in software; every
// byte arrives right. With GSO off on the device (ethtool -K gso off),
// TCP builds one segment at a time and nothing is cut.
func TestGSO(t *testing.T) {
	for _, on := range []bool{true, false} {
		tc := tcp.Config{MSL: 100 * time.Millisecond}
		a, b := stacktest.Stack(t, tc), stacktest.Stack(t, tc)
		ea, _ := stacktest.Wire(t, a, b, 0)
		ea.Dev.SetGSO(on)
		transfer(t, a, b, "10.1.0.2", 4<<20)
		out, soft := a.TCP.Stats.OutSegs.Load(), a.IP.MIB.SoftOffloads.Load()
		t.Logf("GSO %v: %d segments out, %d packets cut in software", on, out, soft)
		assert.Zero(t, b.TCP.Stats.InCsumErrors.Load(), "every checksum filled in software is right")
		if on {
			assert.Greater(t, soft, uint64(50), "TCP built GSO packets")
			assert.Greater(t, out, 4*soft, "several segments per GSO packet")
		} else {
			assert.Zero(t, soft, "nothing to cut with GSO off")
		}
	}
}

// The send and receive queues start small and grow only as far as the
// data in them needs; a bulk transfer then reuses its buffers.
func TestQueueMemory(t *testing.T) {
	a, b := pair(t, 0)
	l, err := b.Listen("tcp", ":5003")
	require.NoError(t, err)
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err == nil {
			io.Copy(io.Discard, c)
			c.Close()
		}
	}()
	c, err := a.Dial("tcp", "10.1.0.2:5003")
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write([]byte("small"))
	require.NoError(t, err)
	assert.LessOrEqual(t, c.(*tcp.Conn).QueueMemory(), 4<<10, "a connection that sent 5 bytes holds 4 KB")
	data := make([]byte, 1<<20)
	for i := 0; i < 8; i++ {
		_, err = c.Write(data)
		require.NoError(t, err)
	}
	info := c.(*tcp.Conn).Info()
	assert.LessOrEqual(t, info.SndBuf, 1<<20, "send-buffer autotuning within its default limit")
	assert.LessOrEqual(t, c.(*tcp.Conn).QueueMemory(), info.SndBuf+256<<10, "bounded by the buffers")
}

// Send-buffer autotuning: with SndBufMax above SndBuf, a bulk sender
// whose congestion window opens past its send buffer grows the buffer to
// twice the window, within SndBufMax; with SndBufMax at SndBuf it stays.
// By default (SndBufMax 0) it grows to 1 MiB on a route whose device
// segments TCP, and stays on one that does not.
func TestSndBufAutotune(t *testing.T) {
	const initial, most = 64 << 10, 1 << 20
	for _, tc := range []struct {
		name    string
		max     int
		tso     bool
		grows   bool
		ceiling int
	}{
		{"autotuned", most, false, true, most},
		{"off", initial, true, false, initial},
		{"default, TSO", 0, true, true, 1 << 20},
		{"default, no TSO", 0, false, false, initial},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := stacktest.Stack(t, tcp.Config{MSL: 100 * time.Millisecond, SndBuf: initial, SndBufMax: tc.max})
			b := stacktest.Stack(t, tcp.Config{MSL: 100 * time.Millisecond})
			stacktest.WireConfig(t, a, b, link.PipeConfig{Offload: tc.tso})
			l, err := b.Listen("tcp", ":5005")
			require.NoError(t, err)
			defer l.Close()
			go func() {
				if c, err := l.Accept(); err == nil {
					io.Copy(io.Discard, c)
					c.Close()
				}
			}()
			c, err := a.Dial("tcp", "10.1.0.2:5005")
			require.NoError(t, err)
			defer c.Close()
			_, err = c.Write(make([]byte, 16<<20))
			require.NoError(t, err)
			got := c.(*tcp.Conn).Info()
			t.Logf("%s: %s", tc.name, got)
			if !tc.grows {
				assert.Equal(t, initial, got.SndBuf, "the buffer stays")
				return
			}
			assert.Greater(t, got.SndBuf, initial, "the buffer grew")
			assert.LessOrEqual(t, got.SndBuf, tc.ceiling, "within its limit")
			assert.GreaterOrEqual(t, got.SndBuf, min(2*got.Cwnd, tc.ceiling), "to twice the window")
		})
	}
}

// Receive-buffer autotuning: a reader that keeps up with a bulk sender
// grows its buffer past the initial RcvBuf (and the window with it), never
// past RcvBufMax; a reader slower than an initial window's worth per round
// trip leaves it where it started.
func TestRcvBufAutotune(t *testing.T) {
	const initial, most = 64 << 10, 1 << 20
	a := stacktest.Stack(t, tcp.Config{MSL: 100 * time.Millisecond})
	b := stacktest.Stack(t, tcp.Config{MSL: 100 * time.Millisecond, RcvBuf: initial, RcvBufMax: most})
	stacktest.Wire(t, a, b, 0)
	l, err := b.Listen("tcp", ":5004")
	require.NoError(t, err)
	defer l.Close()
	for _, tc := range []struct {
		name string
		n    int
		slow bool
	}{{"fast reader", 16 << 20, false}, {"slow reader", 256 << 10, true}} {
		t.Run(tc.name, func(t *testing.T) {
			info := make(chan tcp.Info, 1)
			go func() {
				c, err := l.Accept()
				if err != nil {
					info <- tcp.Info{}
					return
				}
				defer c.Close()
				buf := make([]byte, 4<<10)
				for {
					if tc.slow {
						time.Sleep(2 * time.Millisecond)
					}
					if _, err := c.Read(buf); err != nil {
						break
					}
				}
				info <- c.(*tcp.Conn).Info()
			}()
			c, err := a.Dial("tcp", "10.1.0.2:5004")
			require.NoError(t, err)
			_, err = c.Write(make([]byte, tc.n))
			require.NoError(t, err)
			c.Close()
			got := <-info
			t.Logf("%s: %s", tc.name, got)
			if tc.slow {
				assert.Equal(t, initial, got.RcvBuf, "a slow reader's buffer stays")
				return
			}
			assert.Greater(t, got.RcvBuf, initial, "the buffer grew")
			assert.LessOrEqual(t, got.RcvBuf, most, "within RcvBufMax")
			assert.NotZero(t, got.RcvRTT, "measured from the timestamps")
		})
	}
	assert.NotZero(t, b.TCP.Ext.TCPRcvBufGrow.Load())
}

// GRO at the receiver: in-order segments of a poll go up as one packet,
// TCP takes them as that many segments, and the data is byte-exact, with
// and without loss (out-of-order data is never merged across a gap).
func TestGRO(t *testing.T) {
	for _, loss := range []float64{0, 0.01} {
		tc := tcp.Config{MSL: 100 * time.Millisecond}
		a, b := stacktest.Stack(t, tc), stacktest.Stack(t, tc)
		_, eb := stacktest.WireConfig(t, a, b, link.PipeConfig{Offload: true, GRO: true, Loss: loss, Seed: 5})
		d := transfer(t, a, b, "10.1.0.2", 8<<20)
		g := eb.NAPI().GROStats()
		t.Logf("loss %.0f%%: 8 MiB in %v; at b %d segments merged into %d packets, %d segments in, %d checksum errors",
			loss*100, d, g.Merged.Load(), g.Packets.Load(), b.TCP.Stats.InSegs.Load(), b.TCP.Stats.InCsumErrors.Load())
		assert.Greater(t, g.Packets.Load(), uint64(50), "GRO merged trains")
		assert.Greater(t, g.Merged.Load(), 2*g.Packets.Load(), "several segments per merged packet")
		assert.GreaterOrEqual(t, b.TCP.Stats.InSegs.Load(), uint64(8<<20/1460), "InSegs counts the merged segments")
		assert.Zero(t, b.TCP.Stats.InCsumErrors.Load())
		if loss == 0 {
			// What TCP took in: the merged packets and the segments
			// that went up alone. Copying them all would count each.
			in := g.Packets.Load() + b.TCP.Stats.InSegs.Load() - g.Merged.Load()
			assert.Less(t, b.TCP.Ext.TCPRcvCoalesce.Load(), 3*in/4, "the receive queue holds the packets, not copies")
		}
	}
}

// A router that merges with GRO on the way in and has no offloads on the
// way out cuts the merged packets back into segments (software GSO); the
// segments fit the outgoing MTU, so DF is no obstacle.
func TestGROForwarded(t *testing.T) {
	tc := tcp.Config{MSL: 100 * time.Millisecond}
	a, b := stacktest.Stack(t, tc), stacktest.Stack(t, tc)
	r := stacktest.Stack(t, tc, ipv4.Config{Forwarding: true})
	ea, rIn, err := link.NewPipe(a.Core, link.PipeConfig{PeerCore: r.Core, Offload: true, GRO: true})
	require.NoError(t, err)
	rOut, eb, err := link.NewPipe(r.Core, link.PipeConfig{PeerCore: b.Core})
	require.NoError(t, err)
	for _, x := range []struct {
		s    *socket.Stack
		dev  *netcore.Device
		addr string
	}{{a, ea.Dev, "10.1.0.1/24"}, {r, rIn.Dev, "10.1.0.254/24"}, {r, rOut.Dev, "10.2.0.254/24"}, {b, eb.Dev, "10.2.0.1/24"}} {
		require.NoError(t, x.dev.Up())
		require.NoError(t, x.s.IP.AddAddress(x.dev, netip.MustParsePrefix(x.addr)))
	}
	require.NoError(t, a.IP.SetDefaultGateway(netip.MustParseAddr("10.1.0.254")))
	require.NoError(t, b.IP.SetDefaultGateway(netip.MustParseAddr("10.2.0.254")))
	transfer(t, a, b, "10.2.0.1", 4<<20)

	// Segments with DF set, as Linux sends them, in one burst: merged
	// at the router into a packet larger than the MTU, they must leave
	// as segments, not be refused with "fragmentation needed".
	before := b.TCP.Stats.InSegs.Load()
	src, dst := [4]byte{10, 1, 0, 1}, [4]byte{10, 2, 0, 1}
	const burst = 20
	for i := 0; i < burst; i++ {
		seg := stacktest.Segment(header.TCPFields{SrcPort: 4444, DstPort: 9, Seq: 1 + uint32(i*1000), Ack: 1,
			Flags: header.TCPFlagACK, Window: 100, WScale: -1}, src, dst, bytes.Repeat([]byte{byte(i)}, 1000))
		frame := stacktest.Frame(rIn.Dev.HardwareAddr, ea.Dev.HardwareAddr,
			header.IPv4Fields{ID: uint16(i), Flags: header.IPv4FlagDF, Protocol: header.ProtoTCP, Src: src, Dst: dst}, seg)
		require.NoError(t, stacktest.Send(ea.Dev, frame))
	}
	require.Eventually(t, func() bool { return b.TCP.Stats.InSegs.Load()-before >= burst }, 2*time.Second, time.Millisecond,
		"the %d segments reach b (got %d)", burst, b.TCP.Stats.InSegs.Load()-before)
	assert.Greater(t, rIn.NAPI().GROStats().Packets.Load(), uint64(10), "the router merged")
	assert.Greater(t, r.IP.MIB.SoftOffloads.Load(), uint64(10), "and cut them again")
	assert.Zero(t, r.IP.MIB.FragFails.Load(), "no merged packet was refused for its size")
	assert.Zero(t, b.TCP.Stats.InCsumErrors.Load())
}

// Losses at a transfer's tail, where no later segment draws the three
// duplicate ACKs of fast retransmit. The last segment lost: nothing the
// peer sends tells of it, and the tail loss probe (RFC 8985 7) resends it
// two RTTs later, where without probes (NoTLP) it waits for the RTO. The
// third-to-last lost: the two SACKs after it are enough for RACK (RFC
// 8985 6), which calls it lost once a round trip and the reordering
// window have passed since it went, probe or no probe.
func TestTailLossProbe(t *testing.T) {
	for _, tt := range []struct {
		name        string
		noTLP, last bool
	}{{"last", false, true}, {"last-noTLP", true, true}, {"third-to-last-noTLP", true, false}} {
		noTLP := tt.noTLP
		tc := tcp.Config{MSL: 100 * time.Millisecond, NoTLP: noTLP}
		a, b := stacktest.Stack(t, tc), stacktest.Stack(t, tc)
		ea, _ := stacktest.WireConfig(t, a, b, link.PipeConfig{})
		const n = 200 << 10
		var iss uint32
		size, dropped := 0, 0
		var mu sync.Mutex
		ea.Dev.SetHooks(nil, func(sk *skb.Buff) bool {
			p := sk.Data()[header.EthernetLen:]
			if header.IPv4(p).Protocol() != header.ProtoTCP {
				return false
			}
			seg := header.TCP(header.IPv4(p).Payload())
			mu.Lock()
			defer mu.Unlock()
			if seg.Flags()&header.TCPFlagSYN != 0 {
				iss = seg.Seq()
			}
			l := len(seg.Payload())
			if l == 0 {
				return false
			}
			if size == 0 {
				size = l
			}
			end := int(seg.Seq() + uint32(l) - iss - 1) // stream offset after this segment
			target := n - 2*size
			if n%size != 0 {
				target = n - n%size - size
			}
			if tt.last {
				target = n
			}
			// At or past the target: a short segment earlier in the
			// stream (sent while the writer refilled the queue) shifts
			// the boundaries off the exact offset.
			if end >= target && dropped == 0 {
				dropped++
				sk.Free()
				return true
			}
			return false
		})
		transfer(t, a, b, "10.1.0.2", n)
		mu.Lock()
		d := dropped
		mu.Unlock() // not held across require: the hook takes it in softirq
		require.Equal(t, 1, d, "one segment was dropped once")
		probes, timeouts := a.TCP.Ext.TCPLossProbes.Load(), a.TCP.Ext.TCPTimeouts.Load()
		t.Logf("%s: %d probes, %d timeouts, %d fast retransmits", tt.name, probes, timeouts, a.TCP.Ext.TCPFastRetrans.Load())
		switch {
		case !tt.last:
			assert.Zero(t, timeouts, "RACK recovered the hole before the RTO")
			assert.EqualValues(t, 1, a.TCP.Ext.TCPFastRetrans.Load())
		case noTLP:
			assert.Zero(t, probes)
			assert.EqualValues(t, 1, timeouts, "without a probe the lost tail waits for the RTO")
		default:
			assert.GreaterOrEqual(t, probes, uint64(1))
			assert.Zero(t, timeouts, "the probe recovered the tail before the RTO")
		}
	}
}

// An echo over a lossy wire: data flows both ways on one connection, so
// most ACKs ride on data. Byte-exact, and no stall (a data segment that
// acknowledges nothing new is not a duplicate ACK, probe or no probe).
func TestEchoLossy(t *testing.T) {
	for _, tc := range []struct {
		loss  float64
		delay time.Duration // each way, with as much jitter: probes go out
	}{{0, 0}, {0.02, 0}, {0.02, 3 * time.Millisecond}} {
		loss := tc.loss
		tcfg := tcp.Config{MSL: 100 * time.Millisecond}
		a, b := stacktest.Stack(t, tcfg), stacktest.Stack(t, tcfg)
		ea, eb := stacktest.WireConfig(t, a, b, link.PipeConfig{Loss: loss, Seed: 11})
		if tc.delay > 0 {
			for i, e := range []*link.PipeEnd{ea, eb} {
				im := impair.Attach(e.Dev, impair.Config{Delay: tc.delay, Jitter: tc.delay / 2, Seed: uint64(i + 1)}, impair.Config{})
				defer im.Remove()
			}
		}
		stacktest.EchoTCP(t, b, ":7")
		c, err := a.Dial("tcp", "10.1.0.2:7")
		require.NoError(t, err)
		data := make([]byte, 1<<20)
		rand.New(rand.NewSource(9)).Read(data)
		back := make(chan []byte, 1)
		go func() {
			got, _ := io.ReadAll(io.LimitReader(c, int64(len(data))))
			back <- got
		}()
		start := time.Now()
		_, err = c.Write(data)
		require.NoError(t, err)
		select {
		case got := <-back:
			assert.True(t, bytes.Equal(data, got), "loss %.0f%%: echo byte-exact (%d of %d bytes)", loss*100, len(got), len(data))
		case <-time.After(30 * time.Second):
			t.Fatalf("loss %.0f%%: echo stalled", loss*100)
		}
		t.Logf("loss %.0f%%: 1 MiB echoed in %v; a: %d probes, %d fast retransmits, %d timeouts", loss*100, time.Since(start),
			a.TCP.Ext.TCPLossProbes.Load(), a.TCP.Ext.TCPFastRetrans.Load(), a.TCP.Ext.TCPTimeouts.Load())
		c.Close()
	}
}

// SO_LINGER as net.TCPConn's SetLinger: by default Close returns at once
// and the data goes on in the background; with a linger time Close
// returns only when the peer has acknowledged every byte and the FIN;
// with 0 Close aborts with RST. A program that exits right after Close
// (an appliance powering off) needs the middle one.
func TestLinger(t *testing.T) {
	const n = 256 << 10
	for _, linger := range []int{-1, 10, 0} {
		tcfg := tcp.Config{MSL: 100 * time.Millisecond}
		a, b := stacktest.Stack(t, tcfg), stacktest.Stack(t, tcfg)
		ea, _ := stacktest.WireConfig(t, a, b, link.PipeConfig{})
		im := impair.Attach(ea.Dev, impair.Config{Delay: 5 * time.Millisecond}, impair.Config{})
		l, err := b.Listen("tcp", ":9")
		require.NoError(t, err)
		got := make(chan error, 1)
		var read atomic.Int64
		go func() {
			c, err := l.Accept()
			if err != nil {
				got <- err
				return
			}
			m, err := io.Copy(io.Discard, c)
			read.Store(m)
			c.Close()
			got <- err
		}()
		c, err := a.Dial("tcp", "10.1.0.2:9")
		require.NoError(t, err)
		_, err = c.Write(make([]byte, n))
		require.NoError(t, err)
		tc := c.(*tcp.Conn)
		require.NoError(t, tc.SetLinger(linger))
		require.NoError(t, c.Close())
		st := tc.State()
		switch linger {
		case -1:
			assert.Equal(t, tcp.FinWait1, st, "without linger Close returns with the data still going out")
			assert.NoError(t, <-got)
			assert.EqualValues(t, n, read.Load(), "and it all arrives")
		case 10:
			assert.Contains(t, []tcp.State{tcp.FinWait2, tcp.TimeWait}, st, "with linger Close returns once everything is acknowledged")
			assert.NoError(t, <-got)
			assert.EqualValues(t, n, read.Load())
		case 0:
			assert.Equal(t, tcp.Closed, st, "linger 0 aborts")
			assert.ErrorIs(t, <-got, tcp.ErrConnReset, "the peer sees a reset")
			assert.Less(t, read.Load(), int64(n), "and not all the data")
		}
		im.Remove()
		l.Close()
	}
}

// The congestion window grows only while it is what limits the sender
// (RFC 7661, Linux's tcp_is_cwnd_limited). Request and response, a
// kilobyte at a time, never fill the initial window: it stays as it was,
// where it used to grow by every byte acknowledged (300 KB here). A bulk
// transfer on the same connection still opens it.
func TestCwndGrowsOnlyWhenLimiting(t *testing.T) {
	tc := tcp.Config{MSL: 100 * time.Millisecond}
	a, b := stacktest.Stack(t, tc), stacktest.Stack(t, tc)
	stacktest.WireConfig(t, a, b, link.PipeConfig{})
	stacktest.EchoTCP(t, b, ":7")
	c, err := a.Dial("tcp", "10.1.0.2:7")
	require.NoError(t, err)
	defer c.Close()
	conn := c.(*tcp.Conn)
	iw := conn.Info().Cwnd
	msg, back := make([]byte, 1000), make([]byte, 1000)
	for i := 0; i < 300; i++ {
		_, err := c.Write(msg)
		require.NoError(t, err)
		_, err = io.ReadFull(c, back)
		require.NoError(t, err)
	}
	assert.Equal(t, iw, conn.Info().Cwnd, "an application-limited sender keeps its window")
	done := make(chan error, 1)
	go func() {
		_, err := io.CopyN(io.Discard, c, 4<<20)
		done <- err
	}()
	_, err = c.Write(make([]byte, 4<<20))
	require.NoError(t, err)
	require.NoError(t, <-done)
	assert.Greater(t, conn.Info().Cwnd, 4*iw, "a window-limited one opens it")
}

// The receive queue's memory shows in Info (ss -tm's skmem r): what a
// reader that does not read costs, bounded by the receive buffer, and
// nothing once it has read everything.
func TestReceiveQueueMemory(t *testing.T) {
	a, b := pair(t, 0)
	l, err := b.Listen("tcp", ":5009")
	require.NoError(t, err)
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	c, err := a.Dial("tcp", "10.1.0.2:5009")
	require.NoError(t, err)
	defer c.Close()
	const n = 100 << 10
	_, err = c.Write(make([]byte, n))
	require.NoError(t, err)
	s := (<-accepted).(*tcp.Conn)
	defer s.Close()
	require.Eventually(t, func() bool { return s.Info().RcvNxt >= n+1 }, 5*time.Second, time.Millisecond) // the SYN took one
	info := s.Info()
	t.Logf("%d bytes queued: %s", n, info)
	assert.GreaterOrEqual(t, info.RcvMem, n, "the queued bytes' buffers")
	assert.LessOrEqual(t, info.RcvMem, 2*info.RcvBuf+skb.MaxDataSize, "bounded by the receive buffer")
	_, err = io.ReadFull(s, make([]byte, n))
	require.NoError(t, err)
	assert.Zero(t, s.Info().RcvMem, "read: nothing held")
}

// hashSink is a device that keeps the flow hash and TCP source port of
// every TCP frame it is given to send, and sends nothing.
type hashSink struct{ got chan [2]uint32 }

func (hashSink) Open() error { return nil }
func (hashSink) Stop() error { return nil }
func (h hashSink) StartXmit(b *skb.Buff) netcore.TxStatus {
	f := b.Data()
	if len(f) >= 38 && f[12] == 0x08 && f[13] == 0x00 && f[23] == header.ProtoTCP {
		h.got <- [2]uint32{b.Hash, uint32(f[34])<<8 | uint32(f[35])}
	}
	b.Free()
	return netcore.TxOK
}

// Every segment of a connection carries its transmit hash (Linux's
// sk_txhash, skb_set_hash_from_sk), the one a multi-queue driver picks
// its ring by: the SYN and its retransmission the same, never 0, and
// another connection's another.
func TestSegmentsCarryTxHash(t *testing.T) {
	clk := clock.NewFake(time.Unix(1e9, 0))
	s := stacktest.Stack(t, tcp.Config{Clock: clk})
	sink := hashSink{got: make(chan [2]uint32, 16)}
	dev, err := s.Core.Register(netcore.DeviceConfig{Name: "sink0", HardwareAddr: net.HardwareAddr{2, 0, 0, 0, 0, 1}}, sink)
	require.NoError(t, err)
	require.NoError(t, dev.Up())
	require.NoError(t, s.IP.AddAddress(dev, netip.MustParsePrefix("10.9.0.1/24")))
	s.IP.Neigh.AddStatic(dev, netip.MustParseAddr("10.9.0.2"), net.HardwareAddr{2, 0, 0, 0, 0, 2})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, port := range []string{"1", "2"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.DialContext(ctx, "tcp", "10.9.0.2:"+port) // the sink never answers
		}()
	}
	t.Cleanup(func() { cancel(); wg.Wait() })
	next := func() [2]uint32 {
		select {
		case g := <-sink.got:
			return g
		case <-time.After(10 * time.Second):
			t.Fatal("no SYN left the device")
			return [2]uint32{}
		}
	}
	first := map[uint32]uint32{} // source port -> hash of its SYN
	for range 2 {
		g := next()
		first[g[1]] = g[0]
	}
	require.Len(t, first, 2, "two connections, two source ports")
	var hashes []uint32
	for _, h := range first {
		assert.NotZero(t, h, "a connection's segments carry a hash")
		hashes = append(hashes, h)
	}
	assert.NotEqual(t, hashes[0], hashes[1], "each connection its own hash")
	// Both SYNs' retransmission timers, armed as each SYN went: the
	// earliest sends its SYN again.
	require.Eventually(t, func() bool { return clk.Pending() == 2 }, 5*time.Second, time.Millisecond, "two timers pending")
	_, ok := clk.AdvanceToNext()
	require.True(t, ok)
	g := next()
	assert.Equal(t, first[g[1]], g[0], "the retransmitted SYN carries its connection's hash")
}
