package socket_test

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/netcore/internal/stacktest"
	"github.com/ringonet/ringo/netcore/neigh"
	"github.com/ringonet/ringo/netcore/tcp"
)

// TestAttackReplay sends a corpus of malformed and hostile frames at a
// ringo host (b) from another (a, the attacker, writing raw frames) and
// checks, for each, the counter that must move and that nothing else
// happened; after the corpus ordinary UDP and TCP traffic still flows.
// Each case logs a FAULT line for the README's fault table.
func TestAttackReplay(t *testing.T) {
	cfg := tcp.Config{MSL: 100 * time.Millisecond}
	a, b := stacktest.Stack(t, cfg), stacktest.Stack(t, cfg)
	ea, eb := stacktest.Wire(t, a, b, 0)
	atk, vic := [4]byte{10, 1, 0, 1}, [4]byte{10, 1, 0, 2}
	send := func(ip header.IPv4Fields, payload []byte) {
		t.Helper()
		if ip.Src == ([4]byte{}) {
			ip.Src = atk
		}
		if ip.Dst == ([4]byte{}) {
			ip.Dst = vic
		}
		require.NoError(t, stacktest.Send(ea.Dev, stacktest.Frame(eb.Dev.HardwareAddr, ea.Dev.HardwareAddr, ip, payload)))
	}
	settle := func() { stacktest.Settle(t, a, b) } // the frame, and all it caused on both hosts, done

	// Services on the victim.
	stacktest.EchoUDP(t, b, ":7")
	stacktest.EchoTCP(t, b, ":80")
	udp := func(dport uint16, n int) []byte {
		p := make([]byte, header.UDPLen+n)
		binary.BigEndian.PutUint16(p[0:], 4000)
		binary.BigEndian.PutUint16(p[2:], dport)
		binary.BigEndian.PutUint16(p[4:], uint16(len(p)))
		return p // checksum 0: none (RFC 768)
	}
	mib, icmp := &b.IP.MIB, &b.IP.ICMP

	t.Run("teardrop", func(t *testing.T) {
		// Two fragments of one datagram, the second starting inside the
		// first with a length that ends before the first does.
		before := mib.ReasmOverlaps.Load()
		delivered := b.UDP.Stats.InDatagrams.Load()
		p := udp(7, 40)
		send(header.IPv4Fields{ID: 0x7001, Protocol: header.ProtoUDP, Flags: header.IPv4FlagMF}, p[:32])
		send(header.IPv4Fields{ID: 0x7001, Protocol: header.ProtoUDP, FragOff: 24}, p[24:28])
		settle()
		assert.Equal(t, before+1, mib.ReasmOverlaps.Load())
		assert.Equal(t, delivered, b.UDP.Stats.InDatagrams.Load(), "nothing delivered")
		t.Logf("FAULT | teardrop (overlapping IP fragments) | dropped, ReasmOverlaps +%d, nothing delivered", mib.ReasmOverlaps.Load()-before)
	})
	t.Run("overlap-rewrite", func(t *testing.T) {
		// A later fragment that would rewrite bytes already received
		// (the overlapping-fragment filter bypass of RFC 1858).
		before := mib.ReasmOverlaps.Load()
		p := udp(7, 64)
		send(header.IPv4Fields{ID: 0x7002, Protocol: header.ProtoUDP, Flags: header.IPv4FlagMF}, p[:40])
		q := append([]byte(nil), p[8:72]...)
		q[0] = 0xff
		send(header.IPv4Fields{ID: 0x7002, Protocol: header.ProtoUDP, FragOff: 8}, q)
		settle()
		assert.Equal(t, before+1, mib.ReasmOverlaps.Load())
		t.Logf("FAULT | overlapping fragment rewriting received data | dropped, ReasmOverlaps +%d", mib.ReasmOverlaps.Load()-before)
	})
	t.Run("tiny-fragments", func(t *testing.T) {
		// A datagram in 8-byte fragments (legal, RFC 791): reassembled
		// and answered, not an error.
		oks := mib.ReasmOKs.Load()
		p := udp(7, 56)
		for off := 0; off < len(p); off += 8 {
			f := header.IPv4Fields{ID: 0x7003, Protocol: header.ProtoUDP, FragOff: off, TotalLen: header.IPv4MinLen + min(8, len(p)-off)}
			if off+8 < len(p) {
				f.Flags = header.IPv4FlagMF
			}
			send(f, p[off:min(off+8, len(p))])
		}
		settle()
		assert.Equal(t, oks+1, mib.ReasmOKs.Load())
		t.Logf("FAULT | tiny fragments (8 bytes each, 8 of them) | reassembled and delivered, ReasmOKs +1")
	})
	t.Run("source-route", func(t *testing.T) {
		disc := mib.InDiscards.Load()
		delivered := b.UDP.Stats.InDatagrams.Load()
		p := udp(7, 8)
		hdr := make([]byte, 28+len(p)) // 20 + LSRR(7) + END(1)
		header.EncodeIPv4(hdr, header.IPv4Fields{TotalLen: len(hdr), TTL: 64, Protocol: header.ProtoUDP, Src: atk, Dst: vic})
		hdr[0] = 4<<4 | 7
		copy(hdr[20:], []byte{header.IPOptLSRR, 7, 4, 10, 1, 0, 9, header.IPOptEnd})
		binary.BigEndian.PutUint16(hdr[10:], 0)
		binary.BigEndian.PutUint16(hdr[10:], header.Fold(header.Checksum(hdr[:28], 0)))
		copy(hdr[28:], p)
		frame := make([]byte, header.EthernetLen+len(hdr))
		header.EncodeEthernet(frame, eb.Dev.HardwareAddr, ea.Dev.HardwareAddr, header.EtherTypeIPv4)
		copy(frame[header.EthernetLen:], hdr)
		require.NoError(t, stacktest.Send(ea.Dev, frame))
		settle()
		assert.Equal(t, disc+1, mib.InDiscards.Load())
		assert.Equal(t, delivered, b.UDP.Stats.InDatagrams.Load())
		t.Logf("FAULT | IP loose source route option | dropped, InDiscards +1")
	})
	t.Run("tcp-flag-combinations", func(t *testing.T) {
		// Every combination of the six flags in a zero-length segment, to
		// an open and to a closed port: answered with RST or challenge
		// ACK or ignored, and no connection left behind.
		rsts, ch := b.TCP.Stats.OutRsts.Load(), b.TCP.Ext.TCPChallengeACK.Load()
		for _, port := range []uint16{80, 81} {
			for fl := 0; fl < 64; fl++ {
				seg := stacktest.Segment(header.TCPFields{SrcPort: 5555, DstPort: port, Seq: 1000, Ack: 1, Flags: uint8(fl), Window: 1000, WScale: -1}, atk, vic, nil)
				send(header.IPv4Fields{Protocol: header.ProtoTCP}, seg)
			}
		}
		settle()
		open := 0
		for _, s := range b.TCP.Sockets() {
			if s.State != "LISTEN" && s.State != "TIME-WAIT" {
				open++
			}
		}
		// The SYN combinations to port 80 make half-open connections
		// that our (dropped) SYN-ACKs and the RSTs end: none may stay
		// ESTABLISHED.
		assert.Zero(t, b.TCP.Stats.CurrEstab.Load())
		t.Logf("FAULT | zero-length TCP, all 64 flag combinations x open/closed port | RST sent %d, challenge ACKs %d, no connection established, %d half-open left to time out",
			b.TCP.Stats.OutRsts.Load()-rsts, b.TCP.Ext.TCPChallengeACK.Load()-ch, open)
	})
	t.Run("land", func(t *testing.T) {
		out, martians := b.TCP.Stats.OutSegs.Load(), mib.InAddrErrors.Load()
		seg := stacktest.Segment(header.TCPFields{SrcPort: 80, DstPort: 80, Seq: 1, Flags: header.TCPFlagSYN, Window: 1000, WScale: -1}, vic, vic, nil)
		send(header.IPv4Fields{Protocol: header.ProtoTCP, Src: vic}, seg)
		settle()
		assert.Equal(t, out, b.TCP.Stats.OutSegs.Load(), "no answer to itself")
		assert.Equal(t, martians+1, mib.InAddrErrors.Load(), "our own address as source from the wire is a martian")
		t.Logf("FAULT | LAND (SYN from the victim's own address and port) | dropped at IP, InAddrErrors +1, nothing sent")
	})
	t.Run("icmp-redirect", func(t *testing.T) {
		routes := fmt.Sprint(b.IP.Routes())
		red := icmp.InRedirects.Load()
		inner := make([]byte, 28)
		header.EncodeIPv4(inner, header.IPv4Fields{TotalLen: 28, TTL: 64, Protocol: header.ProtoUDP, Src: vic, Dst: [4]byte{10, 9, 0, 1}})
		m := make([]byte, 8+len(inner))
		copy(m[8:], inner)
		header.EncodeICMPv4(m, header.ICMPRedirect, 1, binary.BigEndian.Uint32([]byte{10, 1, 0, 66}))
		send(header.IPv4Fields{Protocol: header.ProtoICMP}, m)
		settle()
		assert.Equal(t, red+1, icmp.InRedirects.Load())
		assert.Equal(t, routes, fmt.Sprint(b.IP.Routes()), "routes unchanged")
		t.Logf("FAULT | ICMP redirect to a rogue gateway | counted (InRedirects +1), not followed: routes unchanged")
	})
	t.Run("broadcast-ping", func(t *testing.T) {
		bc, reps := icmp.InBroadcastEcho.Load(), icmp.OutEchoReps.Load()
		m := make([]byte, 8+32)
		header.EncodeICMPv4(m, header.ICMPEcho, 0, 0x12340001)
		send(header.IPv4Fields{Protocol: header.ProtoICMP, Dst: [4]byte{10, 1, 0, 255}}, m)
		settle()
		assert.Equal(t, bc+1, icmp.InBroadcastEcho.Load())
		assert.Equal(t, reps, icmp.OutEchoReps.Load(), "no reply (smurf amplifier)")
		t.Logf("FAULT | ping to the subnet broadcast (smurf) | ignored, InBroadcastEcho +1, no reply")
	})
	t.Run("arp-spoof-static", func(t *testing.T) {
		b.IP.Neigh.AddStatic(eb.Dev, netip.AddrFrom4(atk), ea.Dev.HardwareAddr)
		spoof := b.IP.Neigh.Stats.SpoofIgnored.Load()
		evil := net.HardwareAddr{0x02, 0xee, 0xee, 0xee, 0xee, 0xee}
		arp := make([]byte, header.EthernetLen+header.ARPLen)
		header.EncodeEthernet(arp, eb.Dev.HardwareAddr, evil, header.EtherTypeARP)
		header.EncodeARP(arp[header.EthernetLen:], header.ARPFields{Op: header.ARPReply, SenderMAC: evil, SenderIP: atk, TargetMAC: eb.Dev.HardwareAddr, TargetIP: vic})
		require.NoError(t, stacktest.Send(ea.Dev, arp))
		settle()
		st, mac := b.IP.Neigh.Lookup(eb.Dev, netip.AddrFrom4(atk))
		assert.Equal(t, neigh.Permanent, st)
		assert.Equal(t, ea.Dev.HardwareAddr, mac, "static entry kept")
		assert.Equal(t, spoof+1, b.IP.Neigh.Stats.SpoofIgnored.Load())
		t.Logf("FAULT | ARP reply spoofing a static neighbour | ignored, SpoofIgnored +1, entry unchanged")
	})

	t.Run("arp-martians", func(t *testing.T) {
		// ARP from senders Linux's arp_process drops: loopback, our own
		// address from another MAC, the subnet's broadcast, multicast,
		// zero-net, an all-zero sender MAC; and a request for a loopback
		// target. None may enter the table or be answered.
		entries := len(b.IP.Neigh.Entries())
		martians, bad, conflicts, repliesOut := b.IP.Neigh.Stats.MartianSenders.Load(), b.IP.Neigh.Stats.BadARP.Load(),
			b.IP.Neigh.Stats.AddrConflicts.Load(), b.IP.Neigh.Stats.RepliesOut.Load()
		foreign := net.HardwareAddr{0x02, 0xbb, 0xbb, 0xbb, 0xbb, 0xbb}
		zero := net.HardwareAddr{0, 0, 0, 0, 0, 0}
		cases := []struct {
			mac      net.HardwareAddr
			sip, tip [4]byte
		}{
			{foreign, [4]byte{127, 0, 0, 1}, vic},
			{foreign, [4]byte{127, 9, 8, 7}, vic},
			{foreign, vic, vic},                                     // our own address: a conflict
			{foreign, [4]byte{10, 1, 0, 255}, vic},                  // the subnet's broadcast
			{foreign, [4]byte{224, 0, 0, 1}, vic},                   // multicast
			{foreign, [4]byte{0, 1, 2, 3}, vic},                     // zero-net
			{zero, [4]byte{10, 1, 0, 77}, vic},                      // all-zero MAC
			{foreign, [4]byte{10, 1, 0, 78}, [4]byte{127, 0, 0, 1}}, // a loopback target
		}
		for _, c := range cases {
			arp := make([]byte, header.EthernetLen+header.ARPLen)
			header.EncodeEthernet(arp, header.Broadcast, foreign, header.EtherTypeARP)
			header.EncodeARP(arp[header.EthernetLen:], header.ARPFields{Op: header.ARPRequest, SenderMAC: c.mac, SenderIP: c.sip, TargetIP: c.tip})
			require.NoError(t, stacktest.Send(ea.Dev, arp))
		}
		settle()
		assert.Len(t, b.IP.Neigh.Entries(), entries, "nothing learnt: %v", b.IP.Neigh.Entries())
		assert.Equal(t, repliesOut, b.IP.Neigh.Stats.RepliesOut.Load(), "nothing answered")
		assert.Equal(t, martians+7, b.IP.Neigh.Stats.MartianSenders.Load())
		assert.Equal(t, bad+1, b.IP.Neigh.Stats.BadARP.Load(), "the zero MAC")
		assert.Equal(t, conflicts+1, b.IP.Neigh.Stats.AddrConflicts.Load())
		t.Logf("FAULT | ARP from martian senders (127/8, our own address, broadcast, multicast, zero-net, zero MAC) and for a loopback target | none learnt or answered; MartianSenders +7, BadARP +1, AddrConflicts +1")
	})

	// Ordinary traffic after all of it.
	c, err := a.Dial("udp", "10.1.0.2:7")
	require.NoError(t, err)
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	_, err = c.Write([]byte("still here"))
	require.NoError(t, err)
	buf := make([]byte, 100)
	n, err := c.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "still here", string(buf[:n]))
	tc, err := a.Dial("tcp", "10.1.0.2:80")
	require.NoError(t, err)
	defer tc.Close()
	tc.SetDeadline(time.Now().Add(5 * time.Second))
	_, err = tc.Write([]byte("tcp too"))
	require.NoError(t, err)
	n, err = io.ReadFull(tc, buf[:7])
	require.NoError(t, err)
	assert.Equal(t, "tcp too", string(buf[:n]))
}
