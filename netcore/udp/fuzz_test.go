package udp

import (
	"log/slog"
	"net"
	"testing"

	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/netcore/ipv4"
	"github.com/ringonet/ringo/netcore/skb"
)

// FuzzReceive drives udp_rcv with arbitrary transport bytes behind a valid
// IPv4 header, with a socket bound to port 7: no panic, and the socket's
// queue never exceeds its bound.
func FuzzReceive(f *testing.F) {
	f.Add([]byte{0x04, 0xd2, 0x00, 0x07, 0x00, 0x0d, 0x00, 0x00, 'h', 'e', 'l', 'l', 'o'})
	f.Add([]byte{0, 7, 0, 7, 0, 8, 0xff, 0xff})
	f.Add([]byte{0, 7, 0, 7, 0, 200, 0, 0})
	quiet := slog.New(slog.DiscardHandler)
	c := netcore.New(netcore.Config{Logger: quiet})
	ip, err := ipv4.New(c, ipv4.Config{Logger: quiet})
	if err != nil {
		f.Fatal(err)
	}
	tbl := New(ip)
	sock, err := tbl.Listen(&net.UDPAddr{Port: 7})
	if err != nil {
		f.Fatal(err)
	}
	sock.SetReadBuffer(16 << 10)
	src, dst := [4]byte{127, 0, 0, 2}, [4]byte{127, 0, 0, 1}
	f.Fuzz(func(t *testing.T, udp []byte) {
		if len(udp) > 60000 {
			return
		}
		b := skb.Alloc(20 + len(udp))
		p := b.Put(20 + len(udp))
		header.EncodeIPv4(p, header.IPv4Fields{TotalLen: len(p), TTL: 64, Protocol: header.ProtoUDP, Src: src, Dst: dst})
		copy(p[20:], udp)
		b.Dev = ip.Loopback()
		b.SetNetworkHeader()
		b.Pull(20)
		b.SetTransportHeader()
		tbl.Receive(b)
		sock.mu.Lock()
		q := sock.qbytes
		sock.mu.Unlock()
		if q > 16<<10 {
			t.Fatalf("socket queue %d bytes over its 16 KiB bound", q)
		}
		// Drain so later inputs are not all dropped.
		for {
			sock.mu.Lock()
			n := sock.queue.len()
			sock.mu.Unlock()
			if n == 0 {
				break
			}
			sock.Read(make([]byte, 10))
		}
	})
}
