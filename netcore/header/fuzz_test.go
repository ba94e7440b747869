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
