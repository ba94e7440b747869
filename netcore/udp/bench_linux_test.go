package udp_test

import (
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/internal/nettest"
	"github.com/ringonet/ringo/netcore/internal/stacktest"
)

// BenchmarkUDPTAP: ringo sends b.N datagrams (60-byte frames) to the Linux
// kernel across a TAP, and the kernel to ringo, with the TAP's checksum
// offloads (its default) and plain (NoOffload); BenchmarkUDPVeth is the
// kernel on both ends of a veth pair, the host-only baseline. rx-dgrams/s
// (at the receiver, first to last) is what to compare; ns/op is the
// sender's cost per datagram.
func BenchmarkUDPTAP(b *testing.B) {
	for _, name := range []string{"ringo-to-linux", "linux-to-ringo", "plain-ringo-to-linux", "plain-linux-to-ringo",
		"v6-ringo-to-linux", "v6-linux-to-ringo"} {
		b.Run(name, func(b *testing.B) {
			s := newStack(b)
			dir, v6 := strings.CutPrefix(name, "v6-")
			dir, plain := strings.CutPrefix(dir, "plain-")
			p := stacktest.LinuxPeer(b, s, "10.9.0.1/24", "10.9.0.2/24", plain)
			network, kernel, ringo := "udp4", net.IPv4(10, 9, 0, 1), net.IPv4(10, 9, 0, 2)
			if v6 {
				stacktest.AddIPv6(b, s, p, "2001:db8:9::1/64", "2001:db8:9::2/64")
				network, kernel, ringo = "udp6", net.ParseIP("2001:db8:9::1"), net.ParseIP("2001:db8:9::2")
			}
			var src, dst net.PacketConn
			var to net.Addr
			var err error
			if dir == "ringo-to-linux" {
				err = p.Do(func() (err error) {
					dst, err = net.ListenPacket(network, (&net.UDPAddr{IP: kernel, Port: 5001}).String())
					return
				})
				if err == nil {
					src, err = s.ListenPacket(network, ":0")
				}
				to = &net.UDPAddr{IP: kernel, Port: 5001}
			} else {
				dst, err = s.ListenPacket(network, ":5001")
				if err == nil {
					err = p.Do(func() (err error) { src, err = net.ListenPacket(network, (&net.UDPAddr{IP: kernel}).String()); return })
				}
				to = &net.UDPAddr{IP: ringo, Port: 5001}
			}
			if err != nil {
				b.Fatal(err)
			}
			udpOps(b, src, dst, to)
		})
	}
}

func BenchmarkUDPVeth(b *testing.B) {
	nsA, nsB := nettest.Veth(b, "10.10.0.1/24", "10.10.0.2/24")
	var src, dst net.PacketConn
	if err := nettest.InNS(nsB, func() (err error) { dst, err = net.ListenPacket("udp4", "10.10.0.2:5001"); return }); err != nil {
		b.Fatal(err)
	}
	if err := nettest.InNS(nsA, func() (err error) { src, err = net.ListenPacket("udp4", "10.10.0.1:0"); return }); err != nil {
		b.Fatal(err)
	}
	udpOps(b, src, dst, &net.UDPAddr{IP: net.IPv4(10, 10, 0, 2), Port: 5001})
}

// udpOps sends b.N 18-byte datagrams from src to dst as fast as src takes
// them and counts what dst receives.
func udpOps(b *testing.B, src, dst net.PacketConn, to net.Addr) {
	defer src.Close()
	defer dst.Close()
	if rb, ok := dst.(interface{ SetReadBuffer(int) error }); ok {
		rb.SetReadBuffer(4 << 20)
	}
	var got, last atomic.Int64
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, _, err := dst.ReadFrom(buf); err != nil {
				return
			}
			got.Add(1)
			last.Store(time.Now().UnixNano())
		}
	}()
	payload := make([]byte, 18)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; {
		if _, err := src.WriteTo(payload, to); err != nil {
			if errors.Is(err, netcore.ErrQueueFull) || errors.Is(err, syscall.ENOBUFS) {
				time.Sleep(10 * time.Microsecond)
				continue
			}
			b.Fatal(err)
		}
		i++
	}
	b.StopTimer()
	for prev := int64(-1); prev != got.Load(); {
		prev = got.Load()
		time.Sleep(50 * time.Millisecond)
	}
	if n := got.Load(); n > 0 {
		b.ReportMetric(float64(n)/(float64(last.Load()-start.UnixNano())/1e9), "rx-dgrams/s")
	}
	b.ReportMetric(float64(int64(b.N)-got.Load())/float64(b.N)*100, "%lost")
}
