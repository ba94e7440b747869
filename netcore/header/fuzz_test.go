package header

import "testing"

// The parsers face the wire: whatever the bytes, no panic, and a view that
// parses can be read in full.

func FuzzIPv4(f *testing.F) {
	f.Add(goldenPacket())
	f.Add(withOptions([]byte{7, 7, 4, 0, 0, 0, 0, IPOptNOP, IPOptEnd, 0, 0, 0}))
	f.Fuzz(func(t *testing.T, b []byte) {
		ip, err := ParseIPv4(b)
		if err != nil {
			return
		}
		_ = ip.Src()
		_ = ip.Dst()
		_ = ip.Options()
		_ = ip.FragOffset()
		if len(ip.Payload()) != ip.TotalLen()-ip.HeaderLen() {
			t.Fatalf("payload %d, total %d, header %d", len(ip.Payload()), ip.TotalLen(), ip.HeaderLen())
		}
	})
}

func FuzzUDP(f *testing.F) {
	f.Add(goldenUDP)
	f.Fuzz(func(t *testing.T, b []byte) {
		u, err := ParseUDP(b, [4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2})
		if err != nil {
			return
		}
		if len(u.Payload()) != u.Length()-UDPLen {
			t.Fatal("payload length disagrees with the length field")
		}
	})
}

func FuzzICMP(f *testing.F) {
	f.Add(goldenEcho)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseICMPv4(b)
		if err != nil {
			return
		}
		_, _, _ = m.Type(), m.Ident(), m.Payload()
	})
}

func FuzzARP(f *testing.F) {
	f.Add([]byte{0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 10, 0, 2, 15, 0, 0, 0, 0, 0, 0, 10, 0, 2, 2})
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseARP(b)
		if err != nil {
			return
		}
		_, _, _ = a.SenderMAC(), a.SenderIP(), a.TargetIP()
	})
}

func FuzzTCP(f *testing.F) {
	b := make([]byte, 28)
	EncodeTCP(b, TCPFields{SrcPort: 1, DstPort: 2, Flags: TCPFlagSYN, MSS: 1460, WScale: 7}, [4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2})
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		seg, err := ParseTCP(b, [4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2})
		if err != nil {
			return
		}
		_ = seg.ParsedOptions()
		_ = seg.Payload()
	})
}

func FuzzIPv6(f *testing.F) {
	seed := make([]byte, IPv6Len+8)
	EncodeIPv6(seed, IPv6Fields{PayloadLen: 8, NextHeader: ProtoHopByHop, HopLimit: 64})
	copy(seed[IPv6Len:], []byte{ProtoICMPv6, 0, IPv6OptRouterAlert, 2, 0, 0, IPv6OptPadN, 0})
	f.Add(seed)
	f.Fuzz(func(t *testing.T, b []byte) {
		ip, err := ParseIPv6(b)
		if err != nil {
			return
		}
		if len(ip.Payload()) != ip.PayloadLen() {
			t.Fatal("payload length disagrees")
		}
		// The chain walked as ipv6 walks it: every length bounded.
		nh, p := ip.NextHeader(), ip.Payload()
		for k := 0; k < 16 && (nh == ProtoHopByHop || nh == ProtoDstOpts || nh == ProtoRouting); k++ {
			h, err := ParseExtHeader(p)
			if err != nil {
				return
			}
			if nh != ProtoRouting {
				_ = WalkIPv6Options(h.Options(), func(uint8, int, []byte) bool { return true })
			}
			nh, p = h.NextHeader(), p[h.Len():]
		}
	})
}

func FuzzNDOptions(f *testing.F) {
	f.Add([]byte{1, 1, 2, 0, 0, 0, 0, 1})
	pi := make([]byte, 32)
	copy(pi, []byte{3, 4, 64, 0xc0, 0, 0, 0, 100, 0, 0, 0, 50, 0, 0, 0, 0, 0x20, 1, 0xd, 0xb8})
	f.Add(pi)
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := ParseNDOptions(b)
		if err != nil {
			return
		}
		if o.NPrefix > NDMaxPrefixes || o.SourceLL != nil && len(o.SourceLL) != 6 {
			t.Fatal("options out of bounds")
		}
	})
}
