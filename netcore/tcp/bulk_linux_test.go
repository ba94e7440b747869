package tcp_test

import (
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringonet/ringo/netcore/impair"
	"github.com/ringonet/ringo/netcore/internal/nettest"
	"github.com/ringonet/ringo/netcore/internal/stacktest"
	"github.com/ringonet/ringo/netcore/pcap"
	"github.com/ringonet/ringo/netcore/socket"
)

// seededReader is n pseudo-random bytes from a seed: both ends can make
// the same stream without holding 100 MB.
type seededReader struct {
	rng *rand.ChaCha8
	n   int64
}

func (r *seededReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.n {
		p = p[:r.n]
	}
	r.rng.Read(p)
	r.n -= int64(len(p))
	return len(p), nil
}

func streamSum(seed byte, n int64) [32]byte {
	h := sha256.New()
	io.Copy(h, &seededReader{rng: rand.NewChaCha8([32]byte{seed}), n: n})
	return [32]byte(h.Sum(nil))
}

// bulkMB is the size of each transfer: 100 MB, or RINGO_TCP_BULK_MB.
func bulkMB() int64 {
	if v, err := strconv.Atoi(os.Getenv("RINGO_TCP_BULK_MB")); err == nil && v > 0 {
		return int64(v)
	}
	return 100
}

// RINGO_TCP_PCAP=FILE captures the transfers (headers only) for a look
// with tshark; RINGO_TCP_BULK_TIMEOUT overrides the stall timeout.
//
// TestLinuxBulk moves 100 MB each way between ringo and the Linux kernel
// over a TAP, SHA-256 compared at both ends: once on a clean link, once
// with the link impaired both ways (delay with jitter, 2% loss,
// reordering, duplication) by netcore's seeded impairment, and once with
// the TAP's offloads (TSO and checksums left to the other side both ways);
// clean6 and impaired6 are the first two over IPv6.
func TestLinuxBulk(t *testing.T) {
	nettest.NeedRoot(t)
	n := bulkMB() << 20
	bad := impair.Config{Loss: 0.02, Delay: time.Millisecond, Jitter: 200 * time.Microsecond,
		Reorder: 0.02, Duplicate: 0.01, Limit: 4000}
	for _, tc := range []struct {
		name             string
		bad, offload, v6 bool
	}{{"clean", false, false, false}, {"impaired", true, false, false}, {"offload", false, true, false},
		{"clean6", false, false, true}, {"impaired6", true, false, true}} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStack(t)
			newPeer := nettest.NewPeer
			if tc.offload {
				newPeer = nettest.NewOffloadPeer
			}
			p := newPeer(t, s.Core, "10.7.0.1/24")
			require.NoError(t, p.TAP.Dev.Up())
			require.NoError(t, s.IP.AddAddress(p.TAP.Dev, netip.MustParsePrefix("10.7.0.2/24")))
			at := bulkAddrs{"tcp4", "10.7.0.1", "10.7.0.2"}
			if tc.v6 {
				stacktest.AddIPv6(t, s, p, "2001:db8:7::1/64", "2001:db8:7::2/64")
				at = bulkAddrs{"tcp6", "2001:db8:7::1", "2001:db8:7::2"}
			}
			if f := os.Getenv("RINGO_TCP_PCAP"); f != "" {
				out, err := os.Create(f)
				require.NoError(t, err)
				w, err := pcap.NewWriter(out, 128, "")
				require.NoError(t, err)
				defer s.Core.AddTap(w.Tap())()
				defer w.Flush()
			}
			var im *impair.Impairment
			if tc.bad {
				out, in := bad, bad
				out.Seed, in.Seed = 1, 2
				im = impair.Attach(p.TAP.Dev, out, in)
				defer im.Remove()
			}
			report := func() {
				var sb strings.Builder
				s.WriteSNMP(&sb)
				t.Logf("ringo snmp:\n%s", sb.String())
				if im != nil {
					t.Logf("impairment out: %s\nimpairment in: %s", &im.Egress.Stats, &im.Ingress.Stats)
				}
				o, _ := p.Exec("ip", "-s", "link", "show", p.IfName)
				t.Logf("kernel tap:\n%s\nringo tap: %+v napi polls %d softnet %+v", o, p.TAP.Dev.Stats.Snapshot(), p.TAP.NAPI().Polls(), s.Core.SoftnetStats())
				o, _ = p.Exec("nstat", "-az", "TcpRetransSegs", "TcpExtTCPSACKRecovery", "TcpExtTCPSACKReorder", "TcpExtTCPLostRetransmit")
				t.Logf("kernel:\n%s", o)
			}
			rate := func(d time.Duration) float64 { return float64(n) / 1e6 / d.Seconds() }
			dOut := ringoToLinux(t, s, p, at, n, report)
			t.Logf("%s: %d MB ringo -> Linux in %v (%.1f MB/s)", tc.name, n>>20, dOut.Round(time.Millisecond), rate(dOut))
			dIn := linuxToRingo(t, s, p, at, n, report)
			t.Logf("%s: %d MB Linux -> ringo in %v (%.1f MB/s)", tc.name, n>>20, dIn.Round(time.Millisecond), rate(dIn))
			if tc.offload {
				// Both ways in packets of several segments, and no
				// frame with a header that did not fit.
				assert.NotZero(t, p.TAP.TxGSO.Load(), "TSO packets handed to the kernel")
				assert.NotZero(t, p.TAP.RxGSO.Load(), "GSO packets taken from the kernel")
				assert.Zero(t, p.TAP.RxBadVnet.Load())
				assert.Zero(t, s.TCP.Stats.InCsumErrors.Load())
				t.Logf("offload: %d TSO packets out, %d GSO packets in", p.TAP.TxGSO.Load(), p.TAP.RxGSO.Load())
			}
			if tc.bad && !t.Failed() {
				t.Logf("FAULT | TCP%s vs Linux over TAP, %d MB each way through 2%% loss, 1 ms +-0.2 ms delay, 2%% reordering, 1%% duplication both ways | SHA-256 equal both ways; ringo->Linux %.1f MB/s, Linux->ringo %.1f MB/s; ringo retransmitted %d segments, %d SACK recoveries, %d timeouts",
					map[bool]string{true: " over IPv6"}[tc.v6], n>>20, rate(dOut), rate(dIn), s.TCP.Stats.RetransSegs.Load(), s.TCP.Ext.TCPSackRecovery.Load(), s.TCP.Ext.TCPTimeouts.Load())
			}
			if t.Failed() || testing.Verbose() {
				report()
			}
		})
	}
}

// bulkTimeout allows 1 MB/s plus a minute.
func bulkTimeout(n int64) time.Duration {
	if v := os.Getenv("RINGO_TCP_BULK_TIMEOUT"); v != "" {
		d, _ := time.ParseDuration(v)
		return d
	}
	return time.Minute + time.Duration(n>>20)*time.Second
}

// acceptSum takes one connection on l and sends the SHA-256 of all it
// reads.
func acceptSum(l net.Listener) <-chan [32]byte {
	sums := make(chan [32]byte, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			sums <- [32]byte{}
			return
		}
		defer c.Close()
		h := sha256.New()
		io.Copy(h, c)
		sums <- [32]byte(h.Sum(nil))
	}()
	return sums
}

// bulkAddrs are the network and the two ends' addresses a bulk test uses.
type bulkAddrs struct{ network, kernel, ringo string }

func ringoToLinux(t *testing.T, s *socket.Stack, p *nettest.Peer, at bulkAddrs, n int64, report func()) time.Duration {
	var l net.Listener
	require.NoError(t, p.Do(func() (err error) { l, err = net.Listen(at.network, net.JoinHostPort(at.kernel, "5001")); return }))
	defer l.Close()
	sums := acceptSum(l)
	start := time.Now()
	c, err := s.Dial("tcp", net.JoinHostPort(at.kernel, "5001"))
	require.NoError(t, err)
	c.SetDeadline(time.Now().Add(bulkTimeout(n)))
	_, err = io.Copy(c, &seededReader{rng: rand.NewChaCha8([32]byte{1}), n: n})
	require.NoError(t, err)
	require.NoError(t, c.Close())
	select {
	case got := <-sums:
		assert.Equal(t, fmt.Sprintf("%x", streamSum(1, n)), fmt.Sprintf("%x", got), "SHA-256 at Linux")
	case <-time.After(bulkTimeout(n)):
		report()
		t.Fatal("ringo -> Linux did not finish")
	}
	return time.Since(start)
}

func linuxToRingo(t *testing.T, s *socket.Stack, p *nettest.Peer, at bulkAddrs, n int64, report func()) time.Duration {
	l, err := s.Listen("tcp", ":5002")
	require.NoError(t, err)
	defer l.Close()
	sums := acceptSum(l)
	start := time.Now()
	var c net.Conn
	require.NoError(t, p.Do(func() (err error) { c, err = net.Dial(at.network, net.JoinHostPort(at.ringo, "5002")); return }))
	c.SetDeadline(time.Now().Add(bulkTimeout(n)))
	_, err = io.Copy(c, &seededReader{rng: rand.NewChaCha8([32]byte{2}), n: n})
	if err != nil {
		report()
		t.Logf("ringo sockets: %+v", s.TCP.Sockets())
		o, _ := p.Exec("ss", "-tni")
		t.Logf("kernel sockets:\n%s", o)
	}
	require.NoError(t, err)
	require.NoError(t, c.Close())
	select {
	case got := <-sums:
		assert.Equal(t, fmt.Sprintf("%x", streamSum(2, n)), fmt.Sprintf("%x", got), "SHA-256 at ringo")
	case <-time.After(bulkTimeout(n)):
		report()
		t.Logf("ringo sockets: %+v", s.TCP.Sockets())
		o, _ := p.Exec("ss", "-tni")
		t.Logf("kernel sockets:\n%s", o)
		t.Fatal("Linux -> ringo did not finish")
	}
	return time.Since(start)
}
