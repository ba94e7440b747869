package socket_test

import (
	"encoding/binary"
	"fmt"
	"net"

	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/netcore/internal/stacktest"
)

// moreDiffCases widens the corpus by field: ARP headers with bad
// lengths and types, every IPv4 option with good and bad lengths, ICMP
// message types, UDP lengths and destinations, TCP options on SYNs.
func moreDiffCases() []diffCase {
	var cs []diffCase
	add := func(name string, run func(r *diffRig) []string) { cs = append(cs, diffCase{name: name, run: run}) }

	// ARP with one header field wrong (arp_rcv's checks).
	arpField := func(name string, mutate func(a []byte)) {
		add("arp_rcv/"+name, func(r *diffRig) []string {
			f := r.arp(nil, header.ARPRequest, nil, [4]byte{10, 0, 0, 70}, diffTarget)
			mutate(f[header.EthernetLen:])
			r.send(f)
			return append(r.frames(), fmt.Sprintf("neighbours %v", r.neighbours()))
		})
	}
	arpField("hardware-type-not-ethernet", func(a []byte) { binary.BigEndian.PutUint16(a[0:], 6) })
	arpField("protocol-type-not-ipv4", func(a []byte) { binary.BigEndian.PutUint16(a[2:], 0x86dd) })
	arpField("hardware-length-not-6", func(a []byte) { a[4] = 8 })
	arpField("protocol-length-not-4", func(a []byte) { a[5] = 16 })
	arpField("op-rarp-request", func(a []byte) { binary.BigEndian.PutUint16(a[6:], 3) })
	arpField("op-zero", func(a []byte) { binary.BigEndian.PutUint16(a[6:], 0) })
	arpField("target-mac-set-in-request", func(a []byte) { copy(a[18:24], []byte{2, 1, 2, 3, 4, 5}) })
	add("arp_process/request-unicast-to-us", func(r *diffRig) []string {
		r.send(r.arp(r.peerMAC, header.ARPRequest, nil, [4]byte{10, 0, 0, 71}, diffTarget))
		return append(r.frames(), fmt.Sprintf("neighbours %v", r.neighbours()))
	})
	add("arp_process/request-unicast-to-another-mac", func(r *diffRig) []string {
		r.send(r.arp(net.HardwareAddr{2, 9, 9, 9, 9, 9}, header.ARPRequest, nil, [4]byte{10, 0, 0, 72}, diffTarget))
		return append(r.frames(), fmt.Sprintf("neighbours %v", r.neighbours()))
	})
	add("arp_process/sender-mac-differs-from-ethernet-source", func(r *diffRig) []string {
		r.send(r.arp(nil, header.ARPRequest, net.HardwareAddr{2, 7, 7, 7, 7, 7}, [4]byte{10, 0, 0, 73}, diffTarget))
		return append(r.frames(), fmt.Sprintf("neighbours %v", r.neighbours()))
	})
	add("arp_process/reply-updates-known-neighbour", func(r *diffRig) []string {
		r.send(r.arp(nil, header.ARPRequest, nil, [4]byte{10, 0, 0, 74}, diffTarget))
		r.frames()
		r.send(r.arp(r.peerMAC, header.ARPReply, net.HardwareAddr{2, 6, 6, 6, 6, 6}, [4]byte{10, 0, 0, 74}, diffTarget))
		return append(r.frames(), fmt.Sprintf("neighbours %v", r.neighbours()))
	})
	add("arp_process/request-off-subnet-sender-answered", func(r *diffRig) []string {
		r.send(r.arp(nil, header.ARPRequest, nil, [4]byte{192, 0, 2, 9}, diffTarget))
		return r.frames()
	})

	// Every IPv4 option, with a good length and with bad ones, on an
	// echo request (ip_options_compile).
	echo := func(seq uint16) []byte {
		return icmpMsg(header.ICMPEcho, 0, uint32(0x5151)<<16|uint32(seq), []byte("opt"))
	}
	opt := func(name string, opts []byte) {
		for len(opts)%4 != 0 {
			opts = append(opts, header.IPOptEnd)
		}
		add("ip_options_compile/"+name, func(r *diffRig) []string {
			r.send(ipWithOptions(r, header.ProtoICMP, opts, echo(uint16(len(opts)))))
			return r.frames()
		})
	}
	opt("nop-only", []byte{header.IPOptNOP, header.IPOptNOP, header.IPOptNOP, header.IPOptNOP})
	opt("end-only", []byte{header.IPOptEnd})
	opt("rr-good", []byte{header.IPOptRR, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0})
	opt("rr-length-1", []byte{header.IPOptRR, 1, 4})
	opt("rr-length-past-header", []byte{header.IPOptRR, 39, 4})
	opt("rr-pointer-below-4", []byte{header.IPOptRR, 7, 2, 0, 0, 0, 0})
	opt("rr-full", []byte{header.IPOptRR, 7, 8, 1, 2, 3, 4})
	opt("timestamp-good", []byte{68, 12, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	opt("timestamp-bad-length", []byte{68, 3, 5})
	opt("timestamp-with-addresses", []byte{68, 12, 5, 1, 0, 0, 0, 0, 0, 0, 0, 0})
	opt("ssrr", []byte{header.IPOptSSRR, 7, 4, 10, 0, 0, 9})
	opt("security", []byte{130, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	opt("stream-id", []byte{136, 4, 0, 1})
	opt("router-alert", []byte{148, 4, 0, 0})
	opt("unknown-copied", []byte{0x9e, 4, 0, 0})
	opt("unknown-not-copied", []byte{0x1e, 4, 0, 0})
	opt("length-zero", []byte{0x1e, 0})
	opt("truncated-at-end", []byte{header.IPOptNOP, header.IPOptNOP, header.IPOptNOP, header.IPOptRR})

	// ICMP types (icmp_rcv's table).
	icmpType := func(name string, typ, code uint8) {
		add("icmp_rcv/"+name, func(r *diffRig) []string {
			r.send(r.ip(header.IPv4Fields{Protocol: header.ProtoICMP}, icmpMsg(typ, code, 0x01020304, make([]byte, 12))))
			return r.frames()
		})
	}
	icmpType("timestamp-request", 13, 0)
	icmpType("timestamp-reply-unasked", 14, 0)
	icmpType("information-request", 15, 0)
	icmpType("address-mask-request", 17, 0)
	icmpType("address-mask-reply", 18, 0)
	icmpType("source-quench", 4, 0)
	icmpType("router-advertisement", 9, 0)
	icmpType("router-solicitation", 10, 0)
	icmpType("echo-with-code-1", header.ICMPEcho, 1)
	add("icmp_rcv/redirect-ignored", func(r *diffRig) []string {
		q := make([]byte, 28)
		header.EncodeIPv4(q, header.IPv4Fields{TotalLen: 28, TTL: 64, Protocol: header.ProtoUDP, Src: diffTarget, Dst: [4]byte{10, 9, 0, 1}})
		r.send(r.ip(header.IPv4Fields{Protocol: header.ProtoICMP}, icmpMsg(header.ICMPRedirect, 1, binary.BigEndian.Uint32([]byte{10, 0, 0, 66}), q)))
		return r.frames()
	})
	add("icmp_rcv/echo-in-three-fragments", func(r *diffRig) []string {
		m := icmpMsg(header.ICMPEcho, 0, 0x61610001, make([]byte, 56))
		r.send(r.ip(header.IPv4Fields{Protocol: header.ProtoICMP, ID: 0x901, Flags: header.IPv4FlagMF}, m[:24]))
		r.send(r.ip(header.IPv4Fields{Protocol: header.ProtoICMP, ID: 0x901, Flags: header.IPv4FlagMF, FragOff: 24}, m[24:48]))
		r.send(r.ip(header.IPv4Fields{Protocol: header.ProtoICMP, ID: 0x901, FragOff: 48}, m[48:]))
		return r.frames()
	})
	add("ip_defrag/fragments-out-of-order", func(r *diffRig) []string {
		m := icmpMsg(header.ICMPEcho, 0, 0x61610002, make([]byte, 56))
		r.send(r.ip(header.IPv4Fields{Protocol: header.ProtoICMP, ID: 0x902, FragOff: 48}, m[48:]))
		r.send(r.ip(header.IPv4Fields{Protocol: header.ProtoICMP, ID: 0x902, Flags: header.IPv4FlagMF}, m[:24]))
		r.send(r.ip(header.IPv4Fields{Protocol: header.ProtoICMP, ID: 0x902, Flags: header.IPv4FlagMF, FragOff: 24}, m[24:48]))
		return r.frames()
	})
	add("ip_defrag/overlapping-fragments-dropped", func(r *diffRig) []string {
		m := icmpMsg(header.ICMPEcho, 0, 0x61610003, make([]byte, 56))
		r.send(r.ip(header.IPv4Fields{Protocol: header.ProtoICMP, ID: 0x903, Flags: header.IPv4FlagMF}, m[:32]))
		r.send(r.ip(header.IPv4Fields{Protocol: header.ProtoICMP, ID: 0x903, FragOff: 24}, m[24:]))
		return r.frames()
	})
	add("ip_defrag/duplicate-fragment-tolerated", func(r *diffRig) []string {
		m := icmpMsg(header.ICMPEcho, 0, 0x61610004, make([]byte, 56))
		first := r.ip(header.IPv4Fields{Protocol: header.ProtoICMP, ID: 0x904, Flags: header.IPv4FlagMF}, m[:32])
		r.send(first)
		r.send(first)
		r.send(r.ip(header.IPv4Fields{Protocol: header.ProtoICMP, ID: 0x904, FragOff: 32}, m[32:]))
		return r.frames()
	})
	add("ip_defrag/udp-closed-port-from-fragments", func(r *diffRig) []string {
		u := udpDatagram(5000, 9, make([]byte, 40), false)
		r.send(r.ip(header.IPv4Fields{Protocol: header.ProtoUDP, ID: 0x905, Flags: header.IPv4FlagMF}, u[:24]))
		r.send(r.ip(header.IPv4Fields{Protocol: header.ProtoUDP, ID: 0x905, FragOff: 24}, u[24:]))
		return r.frames()
	})
	add("icmp_send/no-error-about-a-non-first-fragment", func(r *diffRig) []string {
		r.send(r.ip(header.IPv4Fields{Protocol: 253, ID: 0x906, FragOff: 64}, make([]byte, 16)))
		return r.frames()
	})
	add("ip_rcv/ttl-0-local-delivered", func(r *diffRig) []string {
		r.send(r.ip(header.IPv4Fields{Protocol: header.ProtoICMP, TTL: 0}, echo(77)))
		return r.frames()
	})
	add("ip_rcv/tos-echoed", func(r *diffRig) []string {
		r.send(r.ip(header.IPv4Fields{Protocol: header.ProtoICMP, TOS: 0x10}, echo(78)))
		return r.frames()
	})
	add("ip_rcv/df-echo-answered", func(r *diffRig) []string {
		r.send(r.ip(header.IPv4Fields{Protocol: header.ProtoICMP, Flags: header.IPv4FlagDF}, echo(79)))
		return r.frames()
	})
	add("ip_rcv/to-loopback-address-dropped", func(r *diffRig) []string {
		r.send(r.ip(header.IPv4Fields{Protocol: header.ProtoICMP, Dst: [4]byte{127, 0, 0, 1}}, echo(80)))
		return r.frames()
	})
	add("ip_rcv/zero-source-echo", func(r *diffRig) []string {
		r.send(r.ip(header.IPv4Fields{Protocol: header.ProtoICMP, Src: [4]byte{0, 0, 0, 0}}, echo(81)))
		return r.frames()
	})
	add("ip_rcv/broadcast-source-dropped", func(r *diffRig) []string {
		r.send(r.ip(header.IPv4Fields{Protocol: header.ProtoICMP, Src: [4]byte{255, 255, 255, 255}}, echo(82)))
		return r.frames()
	})
	add("ip_rcv/class-e-source-dropped", func(r *diffRig) []string {
		r.send(r.ip(header.IPv4Fields{Protocol: header.ProtoICMP, Src: [4]byte{240, 0, 0, 1}}, echo(83)))
		return r.frames()
	})
	add("ip_rcv/unicast-ip-in-broadcast-frame", func(r *diffRig) []string {
		f := r.ip(header.IPv4Fields{Protocol: header.ProtoICMP}, echo(84))
		copy(f[0:6], header.Broadcast)
		r.send(f)
		return r.frames()
	})
	add("ip_rcv/frame-to-another-mac-dropped", func(r *diffRig) []string {
		f := r.ip(header.IPv4Fields{Protocol: header.ProtoICMP}, echo(85))
		copy(f[0:6], []byte{2, 9, 9, 9, 9, 9})
		r.send(f)
		return r.frames()
	})
	add("ip_rcv/trailing-bytes-past-total-length", func(r *diffRig) []string {
		m := echo(86)
		f := r.ip(header.IPv4Fields{Protocol: header.ProtoICMP, TotalLen: header.IPv4MinLen + len(m)}, append(m, 0xde, 0xad))
		r.send(f)
		return r.frames()
	})

	// UDP lengths and destinations.
	add("udp_rcv/length-below-header-dropped", func(r *diffRig) []string {
		u := udpDatagram(5000, 7000, []byte("x"), true)
		binary.BigEndian.PutUint16(u[4:], 4)
		return udpToSocket(r, ":7000", u)
	})
	add("udp_rcv/length-below-packet-trimmed", func(r *diffRig) []string {
		u := udpDatagram(5000, 7000, []byte("keep-trim"), true)
		binary.BigEndian.PutUint16(u[4:], header.UDPLen+4)
		return udpToSocket(r, ":7000", u)
	})
	add("udp_rcv/empty-datagram-delivered", func(r *diffRig) []string {
		return udpToSocket(r, ":7000", udpDatagram(5000, 7000, nil, false))
	})
	add("udp_rcv/checksum-0xffff-delivered", func(r *diffRig) []string {
		return udpToSocket(r, ":7000", udpDatagram(5000, 7000, []byte{0xff, 0xff, 0, 0}, false))
	})
	add("udp_rcv/source-port-0-delivered", func(r *diffRig) []string {
		return udpToSocket(r, ":7000", udpDatagram(0, 7000, []byte("p0"), false))
	})
	add("udp_rcv/to-bound-address-delivered", func(r *diffRig) []string {
		return udpToSocket(r, "10.0.0.1:7000", udpDatagram(5000, 7000, []byte("bound"), false))
	})
	add("udp_rcv/limited-broadcast-to-wildcard-socket", func(r *diffRig) []string {
		f := r.ip(header.IPv4Fields{Protocol: header.ProtoUDP, Dst: [4]byte{255, 255, 255, 255}}, udpDatagram(5000, 7000, []byte("bc"), true))
		copy(f[0:6], header.Broadcast)
		return udpFrameToSocket(r, ":7000", f)
	})
	add("udp_rcv/limited-broadcast-to-unicast-bound-socket", func(r *diffRig) []string {
		f := r.ip(header.IPv4Fields{Protocol: header.ProtoUDP, Dst: [4]byte{255, 255, 255, 255}}, udpDatagram(5000, 7000, []byte("bc"), true))
		copy(f[0:6], header.Broadcast)
		return udpFrameToSocket(r, "10.0.0.1:7000", f)
	})
	add("udp_rcv/subnet-broadcast-to-broadcast-bound-socket", func(r *diffRig) []string {
		f := r.ip(header.IPv4Fields{Protocol: header.ProtoUDP, Dst: [4]byte{10, 0, 0, 255}}, udpDatagram(5000, 7000, []byte("bc"), true))
		copy(f[0:6], header.Broadcast)
		return udpFrameToSocket(r, "10.0.0.255:7000", f)
	})
	add("udp_rcv/broadcast-ip-in-unicast-frame", func(r *diffRig) []string {
		f := r.ip(header.IPv4Fields{Protocol: header.ProtoUDP, Dst: [4]byte{10, 0, 0, 255}}, udpDatagram(5000, 7000, []byte("bc"), true))
		return udpFrameToSocket(r, ":7000", f)
	})
	add("udp_rcv/closed-port-quote-length", func(r *diffRig) []string {
		r.send(r.ip(header.IPv4Fields{Protocol: header.ProtoUDP}, udpDatagram(5000, 9, make([]byte, 900), false)))
		return r.frames()
	})

	// TCP: SYNs with unusual options to a listener, and to closed ports.
	synTo := func(name string, port uint16, f header.TCPFields, raw []byte) {
		add("tcp_v4_rcv/"+name, func(r *diffRig) []string {
			if port == 80 {
				l, err := r.listen("tcp4", ":80")
				if err != nil {
					r.t.Fatal(err)
				}
				defer l.Close()
			}
			f.SrcPort, f.DstPort = 40001, port
			seg := stacktest.Segment(f, diffTester, diffTarget, nil)
			if raw != nil {
				seg = tcpWithOptions(f, raw)
			}
			r.send(r.ip(header.IPv4Fields{Protocol: header.ProtoTCP}, seg))
			return r.frames()
		})
	}
	syn := header.TCPFields{Seq: 7000, Flags: header.TCPFlagSYN, Window: 64240, WScale: -1}
	synTo("listen/syn-mss-only", 80, header.TCPFields{Seq: 7000, Flags: header.TCPFlagSYN, Window: 64240, MSS: 1400, WScale: -1}, nil)
	synTo("listen/syn-mss-tiny", 80, header.TCPFields{Seq: 7000, Flags: header.TCPFlagSYN, Window: 64240, MSS: 88, WScale: -1}, nil)
	synTo("listen/syn-wscale-only", 80, header.TCPFields{Seq: 7000, Flags: header.TCPFlagSYN, Window: 64240, WScale: 7}, nil)
	synTo("listen/syn-wscale-over-14", 80, header.TCPFields{Seq: 7000, Flags: header.TCPFlagSYN, Window: 64240, WScale: 15}, nil)
	synTo("listen/syn-sack-only", 80, header.TCPFields{Seq: 7000, Flags: header.TCPFlagSYN, Window: 64240, SACKOK: true, WScale: -1}, nil)
	synTo("listen/syn-timestamps-only", 80, header.TCPFields{Seq: 7000, Flags: header.TCPFlagSYN, Window: 64240, TS: true, TSVal: 9, WScale: -1}, nil)
	synTo("listen/syn-unknown-option", 80, syn, []byte{30, 4, 0, 0})
	synTo("listen/syn-option-length-zero", 80, syn, []byte{30, 0, 0, 0})
	synTo("listen/syn-mss-length-wrong", 80, syn, []byte{2, 3, 5, 0})
	synTo("listen/syn-eol-first", 80, syn, []byte{0, 2, 4, 5, 0xb4, 0, 0, 0})
	synTo("listen/syn-window-zero", 80, header.TCPFields{Seq: 7000, Flags: header.TCPFlagSYN, MSS: 1460, WScale: -1}, nil)
	synTo("listen/syn-with-ack-flag", 80, header.TCPFields{Seq: 7000, Ack: 1, Flags: header.TCPFlagSYN | header.TCPFlagACK, Window: 64240, WScale: -1}, nil)
	synTo("listen/syn-urg", 80, header.TCPFields{Seq: 7000, Flags: header.TCPFlagSYN | header.TCPFlagURG, Window: 64240, WScale: -1}, nil)
	synTo("listen/syn-psh", 80, header.TCPFields{Seq: 7000, Flags: header.TCPFlagSYN | header.TCPFlagPSH, Window: 64240, WScale: -1}, nil)
	synTo("closed/syn-ack", 81, header.TCPFields{Seq: 7000, Ack: 1, Flags: header.TCPFlagSYN | header.TCPFlagACK, Window: 64240, WScale: -1}, nil)
	synTo("closed/rst-ack", 81, header.TCPFields{Seq: 7000, Ack: 1, Flags: header.TCPFlagRST | header.TCPFlagACK, WScale: -1}, nil)
	synTo("closed/urg-ack", 81, header.TCPFields{Seq: 7000, Ack: 1, Flags: header.TCPFlagURG | header.TCPFlagACK, WScale: -1}, nil)
	synTo("closed/all-flags", 81, header.TCPFields{Seq: 7000, Ack: 1, Flags: 0x3f, WScale: -1}, nil)
	synTo("closed/syn-fin", 81, header.TCPFields{Seq: 7000, Flags: header.TCPFlagSYN | header.TCPFlagFIN, WScale: -1}, nil)
	add("tcp_v4_rcv/bad-checksum-dropped", func(r *diffRig) []string {
		seg := stacktest.Segment(header.TCPFields{SrcPort: 40001, DstPort: 81, Seq: 7000, Flags: header.TCPFlagSYN, Window: 1000, WScale: -1}, diffTester, diffTarget, nil)
		seg[16] ^= 0xff
		r.send(r.ip(header.IPv4Fields{Protocol: header.ProtoTCP}, seg))
		return r.frames()
	})
	add("tcp_v4_rcv/data-offset-past-segment-dropped", func(r *diffRig) []string {
		seg := stacktest.Segment(header.TCPFields{SrcPort: 40001, DstPort: 81, Seq: 7000, Flags: header.TCPFlagSYN, Window: 1000, WScale: -1}, diffTester, diffTarget, nil)
		seg[12] = 15 << 4
		fixTCPChecksum(seg)
		r.send(r.ip(header.IPv4Fields{Protocol: header.ProtoTCP}, seg))
		return r.frames()
	})
	add("tcp_v4_rcv/to-broadcast-dropped", func(r *diffRig) []string {
		seg := stacktest.Segment(header.TCPFields{SrcPort: 40001, DstPort: 81, Seq: 7000, Flags: header.TCPFlagSYN, Window: 1000, WScale: -1}, diffTester, [4]byte{10, 0, 0, 255}, nil)
		f := r.ip(header.IPv4Fields{Protocol: header.ProtoTCP, Dst: [4]byte{10, 0, 0, 255}}, seg)
		copy(f[0:6], header.Broadcast)
		r.send(f)
		return r.frames()
	})
	// An established connection (tcp_validate_incoming, RFC 5961): the
	// tester is at 1001, the target at its ISN+1.
	estab := func(name string, f header.TCPFields, payload []byte) {
		add("tcp_validate_incoming/"+name, func(r *diffRig) []string {
			l := r.establish(80)
			defer l.Close()
			g := f // the case runs once a target: f stays as written
			g.SrcPort, g.DstPort, g.WScale = 40002, 80, -1
			if g.Flags&header.TCPFlagACK != 0 {
				g.Ack += r.isn
			}
			r.send(r.ip(header.IPv4Fields{Protocol: header.ProtoTCP}, stacktest.Segment(g, diffTester, diffTarget, payload)))
			return r.frames()
		})
	}
	estab("rst-exact-resets", header.TCPFields{Seq: 1001, Flags: header.TCPFlagRST}, nil)
	estab("rst-in-window-challenge-ack", header.TCPFields{Seq: 1101, Flags: header.TCPFlagRST}, nil)
	estab("rst-out-of-window-ignored", header.TCPFields{Seq: 1001 + 1<<30, Flags: header.TCPFlagRST}, nil)
	estab("syn-in-window-challenge-ack", header.TCPFields{Seq: 1101, Flags: header.TCPFlagSYN}, nil)
	estab("data-in-order-acked", header.TCPFields{Seq: 1001, Ack: 1, Flags: header.TCPFlagACK | header.TCPFlagPSH, Window: 64240}, []byte("hello"))
	estab("data-out-of-window-dup-ack", header.TCPFields{Seq: 1001 + 1<<30, Ack: 1, Flags: header.TCPFlagACK, Window: 64240}, []byte("far"))
	estab("old-data-dup-ack", header.TCPFields{Seq: 901, Ack: 1, Flags: header.TCPFlagACK, Window: 64240}, []byte("old"))
	estab("ack-of-unsent-data", header.TCPFields{Seq: 1001, Ack: 5000, Flags: header.TCPFlagACK, Window: 64240}, nil)
	estab("fin-acked", header.TCPFields{Seq: 1001, Ack: 1, Flags: header.TCPFlagFIN | header.TCPFlagACK, Window: 64240}, nil)
	estab("data-without-ack-flag-dropped", header.TCPFields{Seq: 1001, Flags: header.TCPFlagPSH, Window: 64240}, []byte("noack"))
	return cs
}

// tcpWithOptions encodes a segment with raw option bytes (a multiple of
// four) in place of f's options.
func tcpWithOptions(f header.TCPFields, opts []byte) []byte {
	f.MSS, f.WScale, f.SACKOK, f.TS = 0, -1, false, false
	seg := make([]byte, header.TCPMinLen+len(opts))
	header.EncodeTCP(seg[:header.TCPMinLen], f, diffTester, diffTarget)
	seg[12] = byte(len(seg)/4) << 4
	copy(seg[header.TCPMinLen:], opts)
	fixTCPChecksum(seg)
	return seg
}

func fixTCPChecksum(seg []byte) {
	binary.BigEndian.PutUint16(seg[16:], 0)
	binary.BigEndian.PutUint16(seg[16:], header.Fold(header.Checksum(seg, header.PseudoHeaderSum(diffTester, diffTarget, header.ProtoTCP, len(seg)))))
}
