package socket_test

import (
	"encoding/binary"
	"fmt"
	"net"
	"time"

	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/netcore/internal/stacktest"
)

// diffCases is the corpus. Each case is a few lines: the frames it sends
// and what it records besides the frames that come back.
func diffCases() []diffCase {
	var cs []diffCase
	add := func(name string, run func(r *diffRig) []string) { cs = append(cs, diffCase{name: name, run: run}) }
	foreign := net.HardwareAddr{0x02, 0xbb, 0xbb, 0xbb, 0xbb, 0xbb}

	// ARP (arp_process).
	arpFrom := func(name string, sha net.HardwareAddr, spa, tpa [4]byte) {
		add("arp_process/"+name, func(r *diffRig) []string {
			r.send(r.arp(nil, header.ARPRequest, sha, spa, tpa))
			return append(r.frames(), fmt.Sprintf("neighbours %v", r.neighbours()))
		})
	}
	arpFrom("request-for-us-answered-and-learnt", nil, [4]byte{10, 0, 0, 50}, diffTarget)
	arpFrom("request-for-another-host-ignored", nil, [4]byte{10, 0, 0, 51}, [4]byte{10, 0, 0, 77})
	arpFrom("loopback-sender-dropped", nil, [4]byte{127, 0, 0, 1}, diffTarget)
	arpFrom("loopback-net-sender-dropped", nil, [4]byte{127, 9, 8, 7}, diffTarget)
	arpFrom("multicast-sender-dropped", nil, [4]byte{224, 0, 0, 1}, diffTarget)
	arpFrom("limited-broadcast-sender-dropped", nil, [4]byte{255, 255, 255, 255}, diffTarget)
	arpFrom("subnet-broadcast-sender-dropped", nil, [4]byte{10, 0, 0, 255}, diffTarget)
	arpFrom("own-address-sender-dropped", foreign, diffTarget, diffTarget)
	arpFrom("zero-mac-sender-dropped", net.HardwareAddr{0, 0, 0, 0, 0, 0}, [4]byte{10, 0, 0, 52}, diffTarget)
	arpFrom("broadcast-mac-sender-dropped", header.Broadcast, [4]byte{10, 0, 0, 53}, diffTarget)
	arpFrom("multicast-mac-sender-dropped", net.HardwareAddr{0x01, 0, 0x5e, 0, 0, 1}, [4]byte{10, 0, 0, 54}, diffTarget)
	arpFrom("loopback-target-unanswered", nil, [4]byte{10, 0, 0, 55}, [4]byte{127, 0, 0, 1})
	arpFrom("multicast-target-unanswered", nil, [4]byte{10, 0, 0, 56}, [4]byte{224, 0, 0, 5})
	arpFrom("rfc5227-probe-answered-not-learnt", nil, [4]byte{}, diffTarget)
	add("arp_process/unsolicited-reply-not-learnt", func(r *diffRig) []string {
		r.send(r.arp(r.peerMAC, header.ARPReply, nil, [4]byte{10, 0, 0, 60}, diffTarget))
		return append(r.frames(), fmt.Sprintf("neighbours %v", r.neighbours()))
	})
	add("arp_process/gratuitous-request-not-learnt", func(r *diffRig) []string {
		r.send(r.arp(nil, header.ARPRequest, nil, [4]byte{10, 0, 0, 61}, [4]byte{10, 0, 0, 61}))
		return append(r.frames(), fmt.Sprintf("neighbours %v", r.neighbours()))
	})

	// ICMP (icmp_rcv, icmp_echo).
	echo := func(seq uint16, data string) []byte {
		return icmpMsg(header.ICMPEcho, 0, uint32(0x4242)<<16|uint32(seq), []byte(data))
	}
	add("icmp_echo/echo-answered", func(r *diffRig) []string {
		r.send(r.ip(header.IPv4Fields{Protocol: header.ProtoICMP}, echo(1, "ringo")))
		return r.frames()
	})
	add("icmp_echo/echo-with-odd-length", func(r *diffRig) []string {
		r.send(r.ip(header.IPv4Fields{Protocol: header.ProtoICMP}, echo(2, "odd")))
		return r.frames()
	})
	add("icmp_echo/echo-large-fragmented-reply", func(r *diffRig) []string {
		// 1400 bytes of echo in one packet: the reply fits too.
		r.send(r.ip(header.IPv4Fields{Protocol: header.ProtoICMP}, echo(3, string(make([]byte, 1400)))))
		return r.frames()
	})
	add("icmp_rcv/bad-checksum-dropped", func(r *diffRig) []string {
		m := echo(4, "x")
		m[2] ^= 0xff
		r.send(r.ip(header.IPv4Fields{Protocol: header.ProtoICMP}, m))
		return r.frames()
	})
	add("icmp_echo_ignore_broadcasts/limited-broadcast-echo-ignored", func(r *diffRig) []string {
		f := r.ip(header.IPv4Fields{Protocol: header.ProtoICMP, Dst: [4]byte{255, 255, 255, 255}}, echo(5, "bc"))
		copy(f[0:6], header.Broadcast)
		r.send(f)
		return r.frames()
	})
	add("icmp_echo_ignore_broadcasts/subnet-broadcast-echo-ignored", func(r *diffRig) []string {
		f := r.ip(header.IPv4Fields{Protocol: header.ProtoICMP, Dst: [4]byte{10, 0, 0, 255}}, echo(6, "bc"))
		copy(f[0:6], header.Broadcast)
		r.send(f)
		return r.frames()
	})
	add("icmp_rcv/echo-reply-unasked-ignored", func(r *diffRig) []string {
		r.send(r.ip(header.IPv4Fields{Protocol: header.ProtoICMP}, icmpMsg(header.ICMPEchoReply, 0, 7, nil)))
		return r.frames()
	})
	add("icmp_rcv/error-about-nothing-ignored", func(r *diffRig) []string {
		// A port unreachable quoting a datagram the target never sent.
		q := make([]byte, 28)
		header.EncodeIPv4(q, header.IPv4Fields{TotalLen: 28, TTL: 64, Protocol: header.ProtoUDP, Src: diffTarget, Dst: diffTester})
		r.send(r.ip(header.IPv4Fields{Protocol: header.ProtoICMP}, icmpMsg(header.ICMPDestUnreach, header.ICMPPortUnreach, 0, q)))
		return r.frames()
	})
	add("icmp_rcv/unknown-type-ignored", func(r *diffRig) []string {
		r.send(r.ip(header.IPv4Fields{Protocol: header.ProtoICMP}, icmpMsg(42, 0, 0, nil)))
		return r.frames()
	})

	// UDP (udp_rcv, __udp4_lib_rcv).
	add("udp_rcv/closed-port-unreachable", func(r *diffRig) []string {
		r.send(r.ip(header.IPv4Fields{Protocol: header.ProtoUDP}, udpDatagram(5000, 9, []byte("hi"), false)))
		return r.frames()
	})
	add("udp_rcv/zero-checksum-delivered", func(r *diffRig) []string {
		return udpToSocket(r, ":7000", udpDatagram(5000, 7000, []byte("no sum"), true))
	})
	add("udp_rcv/good-checksum-delivered", func(r *diffRig) []string {
		return udpToSocket(r, ":7000", udpDatagram(5000, 7000, []byte("summed"), false))
	})
	add("udp_rcv/bad-checksum-dropped-silently", func(r *diffRig) []string {
		u := udpDatagram(5000, 7000, []byte("bad"), false)
		u[6] ^= 0x55
		return udpToSocket(r, ":7000", u)
	})
	add("udp_rcv/bad-checksum-closed-port-no-icmp", func(r *diffRig) []string {
		u := udpDatagram(5000, 9, []byte("bad"), false)
		u[6] ^= 0x55
		r.send(r.ip(header.IPv4Fields{Protocol: header.ProtoUDP}, u))
		return r.frames()
	})
	add("udp_rcv/length-past-packet-dropped", func(r *diffRig) []string {
		u := udpDatagram(5000, 7000, []byte("short"), true)
		binary.BigEndian.PutUint16(u[4:], 200)
		return udpToSocket(r, ":7000", u)
	})
	add("udp_rcv/broadcast-closed-port-no-icmp", func(r *diffRig) []string {
		f := r.ip(header.IPv4Fields{Protocol: header.ProtoUDP, Dst: [4]byte{255, 255, 255, 255}}, udpDatagram(5000, 9, []byte("bc"), true))
		copy(f[0:6], header.Broadcast)
		r.send(f)
		return r.frames()
	})
	add("__udp_is_mcast_sock/broadcast-not-to-unicast-bound-socket", func(r *diffRig) []string {
		f := r.ip(header.IPv4Fields{Protocol: header.ProtoUDP, Dst: [4]byte{10, 0, 0, 255}}, udpDatagram(5000, 7000, []byte("bc"), true))
		copy(f[0:6], header.Broadcast)
		return udpFrameToSocket(r, "10.0.0.1:7000", f)
	})
	add("__udp_is_mcast_sock/broadcast-to-wildcard-socket", func(r *diffRig) []string {
		f := r.ip(header.IPv4Fields{Protocol: header.ProtoUDP, Dst: [4]byte{10, 0, 0, 255}}, udpDatagram(5000, 7000, []byte("bc"), true))
		copy(f[0:6], header.Broadcast)
		return udpFrameToSocket(r, ":7000", f)
	})

	// IPv4 (ip_rcv, ip_rcv_finish, ip_local_deliver).
	add("ip_rcv/bad-header-checksum-dropped", func(r *diffRig) []string {
		f := r.ip(header.IPv4Fields{Protocol: header.ProtoICMP}, echo(8, "x"))
		f[header.EthernetLen+10] ^= 0xff
		r.send(f)
		return r.frames()
	})
	add("ip_rcv/ihl-below-5-dropped", func(r *diffRig) []string {
		f := r.ip(header.IPv4Fields{Protocol: header.ProtoICMP}, echo(9, "x"))
		f[header.EthernetLen] = 0x44
		r.send(f)
		return r.frames()
	})
	add("ip_rcv/total-length-past-frame-dropped", func(r *diffRig) []string {
		f := r.ip(header.IPv4Fields{Protocol: header.ProtoICMP, TotalLen: 400}, echo(10, "x"))
		r.send(f)
		return r.frames()
	})
	add("ip_rcv/version-6-in-ipv4-dropped", func(r *diffRig) []string {
		f := r.ip(header.IPv4Fields{Protocol: header.ProtoICMP}, echo(11, "x"))
		f[header.EthernetLen] = 0x65
		r.send(f)
		return r.frames()
	})
	add("ip_route_input/martian-loopback-source-dropped", func(r *diffRig) []string {
		r.send(r.ip(header.IPv4Fields{Protocol: header.ProtoICMP, Src: [4]byte{127, 0, 0, 1}}, echo(12, "x")))
		return r.frames()
	})
	add("ip_route_input/multicast-source-dropped", func(r *diffRig) []string {
		r.send(r.ip(header.IPv4Fields{Protocol: header.ProtoICMP, Src: [4]byte{224, 1, 2, 3}}, echo(13, "x")))
		return r.frames()
	})
	add("ip_route_input/own-address-source-dropped", func(r *diffRig) []string {
		r.send(r.ip(header.IPv4Fields{Protocol: header.ProtoICMP, Src: diffTarget}, echo(14, "x")))
		return r.frames()
	})
	add("ip_forward/not-for-us-forwarding-off-dropped", func(r *diffRig) []string {
		r.send(r.ip(header.IPv4Fields{Protocol: header.ProtoICMP, Dst: [4]byte{10, 0, 0, 99}}, echo(15, "x")))
		return r.frames()
	})
	add("ip_options/lsrr-dropped", func(r *diffRig) []string {
		opts := []byte{header.IPOptLSRR, 7, 4, 10, 0, 0, 9, header.IPOptEnd}
		r.send(ipWithOptions(r, header.ProtoICMP, opts, echo(16, "x")))
		return r.frames()
	})
	add("ip_options/record-route-echo-answered", func(r *diffRig) []string {
		opts := []byte{header.IPOptNOP, header.IPOptRR, 7, 4, 0, 0, 0, 0}
		r.send(ipWithOptions(r, header.ProtoICMP, opts, echo(17, "rr")))
		return r.frames()
	})
	add("ip_local_deliver/unknown-protocol-unreachable", func(r *diffRig) []string {
		r.send(r.ip(header.IPv4Fields{Protocol: 253}, []byte("experimental")))
		return r.frames()
	})
	add("ip_defrag/two-fragments-echo-answered", func(r *diffRig) []string {
		m := echo(18, string(make([]byte, 40)))
		r.send(r.ip(header.IPv4Fields{Protocol: header.ProtoICMP, ID: 0x777, Flags: header.IPv4FlagMF}, m[:24]))
		r.send(r.ip(header.IPv4Fields{Protocol: header.ProtoICMP, ID: 0x777, FragOff: 24}, m[24:]))
		return r.frames()
	})
	add("ip_defrag/ttl-1-local-delivery-answered", func(r *diffRig) []string {
		r.send(r.ip(header.IPv4Fields{Protocol: header.ProtoICMP, TTL: 1}, echo(19, "ttl1")))
		return r.frames()
	})

	// TCP (tcp_v4_rcv, tcp_v4_send_reset, tcp_rcv_state_process).
	seg := func(r *diffRig, f header.TCPFields, payload []byte) []byte {
		if f.SrcPort == 0 {
			f.SrcPort = 40000
		}
		if f.Flags&header.TCPFlagSYN == 0 {
			f.WScale = -1
		}
		return r.ip(header.IPv4Fields{Protocol: header.ProtoTCP}, stacktest.Segment(f, diffTester, diffTarget, payload))
	}
	closed := func(name string, f header.TCPFields, payload []byte) {
		add("tcp_v4_send_reset/"+name, func(r *diffRig) []string {
			f.DstPort = 81
			r.send(seg(r, f, payload))
			return r.frames()
		})
	}
	closed("syn-to-closed-port", header.TCPFields{Seq: 1000, Flags: header.TCPFlagSYN, Window: 1000, WScale: -1}, nil)
	closed("syn-with-data-to-closed-port", header.TCPFields{Seq: 1000, Flags: header.TCPFlagSYN, Window: 1000, WScale: -1}, []byte("data"))
	closed("ack-to-closed-port", header.TCPFields{Seq: 1000, Ack: 5000, Flags: header.TCPFlagACK, Window: 1000}, nil)
	closed("fin-to-closed-port", header.TCPFields{Seq: 1000, Ack: 5000, Flags: header.TCPFlagFIN | header.TCPFlagACK, Window: 1000}, nil)
	closed("data-without-ack-to-closed-port", header.TCPFields{Seq: 1000, Flags: header.TCPFlagPSH, Window: 1000}, []byte("xyz"))
	closed("rst-to-closed-port-ignored", header.TCPFields{Seq: 1000, Flags: header.TCPFlagRST}, nil)
	closed("no-flags-to-closed-port", header.TCPFields{Seq: 1000, Window: 1000}, nil)
	listening := func(name string, f header.TCPFields, payload []byte) {
		add("tcp_rcv_state_process/listen/"+name, func(r *diffRig) []string {
			l, err := r.listen("tcp4", ":80")
			if err != nil {
				r.t.Fatal(err)
			}
			defer l.Close()
			f.DstPort = 80
			r.send(seg(r, f, payload))
			return r.frames()
		})
	}
	listening("syn-answered-with-syn-ack", header.TCPFields{Seq: 1000, Flags: header.TCPFlagSYN, Window: 64240, MSS: 1460, WScale: 7, SACKOK: true, TS: true, TSVal: 1}, nil)
	listening("plain-syn-answered-without-options", header.TCPFields{Seq: 1000, Flags: header.TCPFlagSYN, Window: 64240, WScale: -1}, nil)
	listening("syn-fin-dropped", header.TCPFields{Seq: 1000, Flags: header.TCPFlagSYN | header.TCPFlagFIN, Window: 1000, WScale: -1}, nil)
	listening("syn-rst-dropped", header.TCPFields{Seq: 1000, Flags: header.TCPFlagSYN | header.TCPFlagRST, Window: 1000, WScale: -1}, nil)
	listening("ack-reset", header.TCPFields{Seq: 1000, Ack: 5000, Flags: header.TCPFlagACK, Window: 1000}, nil)
	listening("rst-ignored", header.TCPFields{Seq: 1000, Flags: header.TCPFlagRST}, nil)
	listening("fin-without-ack-dropped", header.TCPFields{Seq: 1000, Flags: header.TCPFlagFIN, Window: 1000}, nil)
	listening("data-without-ack-dropped", header.TCPFields{Seq: 1000, Flags: header.TCPFlagPSH, Window: 1000}, []byte("early"))

	cs = append(cs, moreDiffCases()...)

	// Where ringo deliberately differs (docs/divergences.md).
	add("arp_notify/address-added-announced", func(r *diffRig) []string {
		// The rigs drop what adding 10.0.0.1 sent; add another.
		addAddress(r, "10.0.0.3/24")
		r.settle()
		return r.frames()
	})
	for i := range cs {
		if why, ok := divergences[cs[i].name]; ok {
			cs[i].divergence = why
		}
	}
	return cs
}

// divergences are the cases where ringo differs from Linux on purpose,
// each with its reason; docs/divergences.md lists the same.
var divergences = map[string]string{
	"arp_process/subnet-broadcast-sender-dropped": "ringo answers no ARP request whose sender claims a broadcast address (Linux answers, and learns nothing)",
	"arp_process/zero-mac-sender-dropped":         "ringo learns and answers no sender with an all-zero MAC (Linux learns it and replies to 00:00:00:00:00:00)",
	"arp_process/broadcast-mac-sender-dropped":    "ringo learns no broadcast MAC for a unicast address (Linux does, and sends its reply to every host)",
	"arp_process/multicast-mac-sender-dropped":    "ringo learns no multicast MAC for a unicast address (Linux does)",
	"arp_notify/address-added-announced":          "ringo announces an address it adds with a gratuitous ARP (Linux does with arp_notify=1; its default is 0)",
}

// udpToSocket binds a target socket at addr, sends the tester's datagram
// u and records the frames back and what the socket read.
func udpToSocket(r *diffRig, addr string, u []byte) []string {
	return udpFrameToSocket(r, addr, r.ip(header.IPv4Fields{Protocol: header.ProtoUDP}, u))
}

func udpFrameToSocket(r *diffRig, addr string, f []byte) []string {
	pc, err := r.listenPacket("udp4", addr)
	if err != nil {
		r.t.Fatal(err)
	}
	defer pc.Close()
	r.send(f)
	out := r.frames()
	pc.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	buf := make([]byte, 2000)
	n, from, err := pc.ReadFrom(buf)
	if err != nil {
		return append(out, "socket read nothing")
	}
	return append(out, fmt.Sprintf("socket read %q from %v", buf[:n], from))
}

// ipWithOptions builds a frame with an IPv4 header carrying options.
func ipWithOptions(r *diffRig, proto uint8, opts, payload []byte) []byte {
	hl := header.IPv4MinLen + len(opts)
	p := make([]byte, hl+len(payload))
	header.EncodeIPv4(p, header.IPv4Fields{TotalLen: len(p), TTL: 64, Protocol: proto, Src: diffTester, Dst: diffTarget})
	p[0] = 0x40 | byte(hl/4)
	copy(p[header.IPv4MinLen:], opts)
	copy(p[hl:], payload)
	binary.BigEndian.PutUint16(p[10:], 0)
	binary.BigEndian.PutUint16(p[10:], header.Fold(header.Checksum(p[:hl], 0)))
	f := make([]byte, header.EthernetLen+len(p))
	header.EncodeEthernet(f, r.peerMAC, r.dev.HardwareAddr, header.EtherTypeIPv4)
	copy(f[header.EthernetLen:], p)
	return f
}
