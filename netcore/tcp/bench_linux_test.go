package tcp_test

import (
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ringonet/ringo/netcore/impair"
	"github.com/ringonet/ringo/netcore/internal/nettest"
	"github.com/ringonet/ringo/netcore/internal/stacktest"
	"github.com/ringonet/ringo/netcore/tcp"
)

const benchBulk = 32 << 20

// BenchmarkBulkTAP: ringo sends 32 MB per op to the Linux kernel across a
// TAP (and back the other way), with the TAP's offloads (its default) in
// packets of up to 64 KB, and plain (NoOffload) frame by frame;
// BenchmarkBulkVeth is the kernel on both ends of a veth pair (with its
// own TSO and GRO), the host-only baseline, and BenchmarkBulkVethPlain the
// same pair with its offloads off (checksums, scatter-gather, TSO, GSO,
// GRO), the baseline for the plain rows. MB/s is what to compare.
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
				dial = func() (c net.Conn, err error) {
					err = p.Do(func() (err error) { c, err = net.Dial(network, ringo); return })
					return
				}
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
	bulkOps(b, l, func() (c net.Conn, err error) {
		err = nettest.InNS(nsA, func() (err error) { c, err = net.Dial("tcp4", "10.8.0.2:5001"); return })
		return
	})
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
// duplication): ringo sending to Linux with CUBIC and with NewReno, and
// the anchor, Linux (its CUBIC) sending to ringo over the same path. MB/s
// is what to compare: ringo's sender against Linux's.
func BenchmarkBulkLossy(b *testing.B) {
	const n = 4 << 20
	bad := impair.Config{Loss: 0.02, Delay: time.Millisecond, Jitter: 200 * time.Microsecond,
		Reorder: 0.02, Duplicate: 0.01, Limit: 4000}
	for _, name := range []string{"ringo-cubic-to-linux", "ringo-reno-to-linux", "linux-to-ringo"} {
		b.Run(name, func(b *testing.B) {
			cc := tcp.CongestionCubic
			if strings.Contains(name, "reno") {
				cc = tcp.CongestionReno
			}
			s := stacktest.Stack(b, tcp.Config{MSL: 100 * time.Millisecond, CongestionControl: cc})
			p := stacktest.LinuxPeer(b, s, "10.6.0.1/24", "10.6.0.2/24", true)
			out, in := bad, bad
			out.Seed, in.Seed = 11, 12
			impair.Attach(p.TAP.Dev, out, in)
			b.SetBytes(n)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				var l net.Listener
				var err error
				if name == "linux-to-ringo" {
					l, err = s.Listen("tcp", ":5003")
				} else {
					err = p.Do(func() (err error) { l, err = net.Listen("tcp4", "10.6.0.1:5003"); return })
				}
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
				var c net.Conn
				if name == "linux-to-ringo" {
					err = p.Do(func() (err error) { c, err = net.Dial("tcp4", "10.6.0.2:5003"); return })
				} else {
					c, err = s.Dial("tcp", "10.6.0.1:5003")
				}
				if err != nil {
					b.Fatal(err)
				}
				c.SetDeadline(time.Now().Add(2 * time.Minute))
				if _, err := io.CopyN(c, zeroReader{}, n); err != nil {
					b.Fatal(err)
				}
				c.Close()
				if m := <-got; m != n {
					b.Fatalf("%d of %d bytes arrived", m, n)
				}
				l.Close()
			}
			if name != "linux-to-ringo" {
				// Where ringo's sender loses its time: RTOs stall it for
				// at least 200 ms each; fast recovery costs a round trip.
				b.ReportMetric(float64(s.TCP.Ext.TCPTimeouts.Load())/float64(b.N), "rto/op")
				b.ReportMetric(float64(s.TCP.Stats.RetransSegs.Load())/float64(b.N), "retrans/op")
			}
		})
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
