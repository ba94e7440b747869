package tcp_test

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ringonet/ringo/netcore/impair"
	"github.com/ringonet/ringo/netcore/internal/nettest"
	"github.com/ringonet/ringo/netcore/internal/stacktest"
	"github.com/ringonet/ringo/netcore/ipv4"
	"github.com/ringonet/ringo/netcore/tcp"
)

const benchBulk = 32 << 20

// BenchmarkBulkTAP: ringo sends 32 MB per op to the Linux kernel across a
// TAP (and back the other way), with the TAP's offloads (its default) in
// packets of up to 64 KB, and plain (NoOffload) frame by frame;
// BenchmarkBulkVeth is the kernel on both ends of a veth pair (with its
// own TSO and GRO), the host-only baseline, and BenchmarkBulkVethPlain the
// same pair with its offloads off (checksums, scatter-gather, TSO, GSO,
// GRO), the baseline for the plain rows. MB/s is what to compare. The
// kernel sends with CUBIC, as ringo does (dialCC).
//
// The plain6 rows are the plain ones over IPv6 (ringo has no offloads for
// TCP over IPv6 yet): compare them with the plain rows; v6-linux-to-ringo
// has the kernel leave checksums to ringo across the TAP (no TSO6).
func BenchmarkBulkTAP(b *testing.B) {
	for _, name := range []string{"ringo-to-linux", "linux-to-ringo", "plain-ringo-to-linux", "plain-linux-to-ringo",
		"plain6-ringo-to-linux", "plain6-linux-to-ringo", "v6-linux-to-ringo"} {
		b.Run(name, func(b *testing.B) {
			s := newStack(b)
			dir, plain6 := strings.CutPrefix(name, "plain6-")
			dir, offload6 := strings.CutPrefix(dir, "v6-")
			dir, plain := strings.CutPrefix(dir, "plain-")
			v6 := plain6 || offload6
			p := stacktest.LinuxPeer(b, s, "10.7.0.1/24", "10.7.0.2/24", plain || plain6)
			kernel, ringo, network := "10.7.0.1:5001", "10.7.0.2:5001", "tcp4"
			if v6 {
				stacktest.AddIPv6(b, s, p, "2001:db8:7::1/64", "2001:db8:7::2/64")
				kernel, ringo, network = "[2001:db8:7::1]:5001", "[2001:db8:7::2]:5001", "tcp6"
			}
			var l net.Listener
			var dial func() (net.Conn, error)
			var err error
			if dir == "ringo-to-linux" {
				err = p.Do(func() (err error) { l, err = net.Listen(network, kernel); return })
				dial = func() (net.Conn, error) { return s.Dial("tcp", kernel) }
			} else {
				l, err = s.Listen("tcp", ":5001")
				dial = func() (net.Conn, error) { return dialCC(p.NS, ringo, "cubic") }
			}
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			bulkOps(b, l, dial)
		})
	}
}

func BenchmarkBulkVeth(b *testing.B) { bulkVeth(b, false) }

func BenchmarkBulkVethPlain(b *testing.B) { bulkVeth(b, true) }

func bulkVeth(b *testing.B, plain bool) {
	nsA, nsB := nettest.Veth(b, "10.8.0.1/24", "10.8.0.2/24")
	if plain {
		nettest.NoOffloads(b, nsA, "va")
		nettest.NoOffloads(b, nsB, "vb")
	}
	var l net.Listener
	if err := nettest.InNS(nsB, func() (err error) { l, err = net.Listen("tcp4", "10.8.0.2:5001"); return }); err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	bulkOps(b, l, func() (net.Conn, error) { return dialCC(nsA, "10.8.0.2:5001", "cubic") })
}

// bulkOps moves benchBulk bytes per op over a fresh connection.
func bulkOps(b *testing.B, l net.Listener, dial func() (net.Conn, error)) {
	data := make([]byte, 1<<20)
	rand.NewChaCha8([32]byte{5}).Read(data)
	b.SetBytes(benchBulk)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		done := make(chan int64, 1)
		go func() {
			c, err := l.Accept()
			if err != nil {
				done <- 0
				return
			}
			n, _ := io.Copy(io.Discard, c)
			c.Close()
			done <- n
		}()
		c, err := dial()
		if err != nil {
			b.Fatal(err)
		}
		for sent := 0; sent < benchBulk; sent += len(data) {
			if _, err := c.Write(data); err != nil {
				b.Fatal(err)
			}
		}
		c.Close()
		if n := <-done; n != benchBulk {
			b.Fatalf("received %d of %d bytes", n, benchBulk)
		}
	}
}

// BenchmarkBulkLossy: 4 MB per op across a TAP impaired both ways as
// TestLinuxBulk impairs it (2% loss, 1 ms ± 0.2 ms, 2% reordering, 1%
// duplication). ringo sends to Linux with CUBIC and with NewReno; the
// anchor, linux-cubic-to-linux, is the kernel's CUBIC sending to the
// kernel across the same impaired link (ringo only forwards between two
// namespaces, the hop to the receiver impaired as in the ringo rows), so
// sender is compared with sender against the same receiver. The kernel's
// congestion control is set per socket: a host's default may be BBR,
// which paces by its bandwidth estimate and reads loss as noise — a
// different model from CUBIC's, shown in linux-bbr-to-ringo. Every row
// reports its sender's retransmissions a op beside its MB/s.
func BenchmarkBulkLossy(b *testing.B) {
	const n = 4 << 20
	bad := impair.Config{Loss: 0.02, Delay: time.Millisecond, Jitter: 200 * time.Microsecond,
		Reorder: 0.02, Duplicate: 0.01, Limit: 4000}
	for _, name := range []string{"ringo-cubic-to-linux", "ringo-reno-to-linux", "linux-cubic-to-linux",
		"linux-cubic-to-ringo", "linux-bbr-to-ringo"} {
		b.Run(name, func(b *testing.B) {
			cc := tcp.CongestionCubic
			if strings.Contains(name, "reno") {
				cc = tcp.CongestionReno
			}
			s := stacktest.Stack(b, tcp.Config{MSL: 100 * time.Millisecond, CongestionControl: cc}, ipv4.Config{Forwarding: true})
			p := stacktest.LinuxPeer(b, s, "10.6.0.1/24", "10.6.0.2/24", true)
			out, in := bad, bad
			out.Seed, in.Seed = 11, 12
			impair.Attach(p.TAP.Dev, out, in)
			// Who listens where and who dials, with which algorithm.
			listen := func() (net.Listener, error) { return s.Listen("tcp", ":5003") }
			dial := func() (net.Conn, error) { return dialCC(p.NS, "10.6.0.2:5003", strings.Split(name, "-")[1]) }
			linuxSender := true
			switch {
			case strings.HasPrefix(name, "ringo-"):
				linuxSender = false
				listen = func() (l net.Listener, err error) {
					err = p.Do(func() (err error) { l, err = net.Listen("tcp4", "10.6.0.1:5003"); return })
					return
				}
				dial = func() (net.Conn, error) { return s.Dial("tcp", "10.6.0.1:5003") }
			case name == "linux-cubic-to-linux":
				q := stacktest.LinuxPeer(b, s, "10.5.0.1/24", "10.5.0.2/24", true)
				nettest.Run(b, "ip", "-n", p.NS, "route", "add", "10.5.0.0/24", "via", "10.6.0.2")
				nettest.Run(b, "ip", "-n", q.NS, "route", "add", "10.6.0.0/24", "via", "10.5.0.2")
				listen = func() (l net.Listener, err error) {
					err = p.Do(func() (err error) { l, err = net.Listen("tcp4", "10.6.0.1:5003"); return })
					return
				}
				dial = func() (net.Conn, error) { return dialCC(q.NS, "10.6.0.1:5003", "cubic") }
			}
			// The handshake is left out of the time: a lost SYN costs the
			// initial RTO, a second, on an op of about one, whichever
			// stack sends.
			var retrans, rtos uint64
			var minRTT time.Duration
			b.SetBytes(n)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				l, err := listen()
				if err != nil {
					b.Fatal(err)
				}
				got := make(chan int64, 1)
				go func() {
					c, err := l.Accept()
					if err != nil {
						got <- 0
						return
					}
					m, _ := io.Copy(io.Discard, c)
					c.Close()
					got <- m
				}()
				c, err := dial()
				if err != nil {
					b.Fatal(err)
				}
				resent := func() uint64 {
					if linuxSender {
						return uint64(kernelInfo(b, c.(*net.TCPConn)).Total_retrans)
					}
					return s.TCP.Stats.RetransSegs.Load()
				}
				retrans0, rtos0 := resent(), s.TCP.Ext.TCPTimeouts.Load()
				b.StartTimer()
				c.SetDeadline(time.Now().Add(2 * time.Minute))
				if _, err := io.CopyN(c, zeroReader{}, n); err != nil {
					b.Fatal(err)
				}
				if linuxSender {
					// Half-close, so the kernel's count covers the tail
					// of the transfer too once the receiver has it all.
					c.(*net.TCPConn).CloseWrite()
				} else {
					c.Close()
				}
				if m := <-got; m != n {
					b.Fatalf("%d of %d bytes arrived", m, n)
				}
				b.StopTimer()
				retrans += resent() - retrans0
				// The least round trip the sender saw: RACK's reordering
				// window is a multiple of it.
				if linuxSender {
					minRTT += time.Duration(kernelInfo(b, c.(*net.TCPConn)).Min_rtt) * time.Microsecond
				} else {
					minRTT += c.(*tcp.Conn).Info().MinRTT
				}
				rtos += s.TCP.Ext.TCPTimeouts.Load() - rtos0
				c.Close()
				l.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(retrans)/float64(b.N), "retrans/op")
			b.ReportMetric(float64(minRTT.Microseconds())/float64(b.N), "minrtt-µs")
			if !linuxSender {
				// Where ringo's sender loses its time: RTOs stall it for
				// at least 200 ms each; fast recovery costs a round trip.
				b.ReportMetric(float64(rtos)/float64(b.N), "rto/op")
			}
		})
	}
}

// dialCC dials addr from namespace ns with the kernel's congestion
// control cc (TCP_CONGESTION), whatever the host's default: a new
// namespace inherits the host's, which may be BBR (it is on some cloud
// kernels), and may not change it to one the host does not allow.
func dialCC(ns, addr, cc string) (c net.Conn, err error) {
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptString(int(fd), unix.IPPROTO_TCP, unix.TCP_CONGESTION, cc)
		}); err != nil {
			return err
		}
		if serr != nil {
			return fmt.Errorf("TCP_CONGESTION %s: %w", cc, serr)
		}
		return nil
	}}
	err = nettest.InNS(ns, func() (err error) { c, err = d.Dial("tcp", addr); return })
	return
}

// kernelInfo is the kernel's TCP_INFO for c.
func kernelInfo(b *testing.B, c *net.TCPConn) *unix.TCPInfo {
	rc, err := c.SyscallConn()
	if err != nil {
		b.Fatal(err)
	}
	var info *unix.TCPInfo
	var ierr error
	rc.Control(func(fd uintptr) { info, ierr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) })
	if ierr != nil {
		b.Fatal(ierr)
	}
	return info
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
