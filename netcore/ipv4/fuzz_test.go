package ipv4

import (
	"encoding/binary"
	"testing"

	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/netcore/skb"
)

// FuzzReassembly drives the reassembler with arbitrary fragment sequences:
// each 4 input bytes are (datagram id, offset/8 high, offset/8 low,
// flags|length). No panic, memory never above the bound, and every
// datagram it returns is whole and consistent.
func FuzzReassembly(f *testing.F) {
	f.Add([]byte{1, 0, 0, 0x85, 1, 0, 1, 0x05})
	f.Add([]byte{2, 0, 0, 0x83, 2, 0, 2, 0x02, 2, 0, 1, 0x81})
	f.Add([]byte{3, 0x1f, 0xff, 0x08})
	h := newHost(f, Config{FragHighBytes: 32 << 10})
	r := h.ip.frags
	src, dst := [4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2}
	f.Fuzz(func(t *testing.T, in []byte) {
		for i := 0; i+4 <= len(in); i += 4 {
			id := uint16(in[i] & 7)
			off := int(binary.BigEndian.Uint16(in[i+1:])&0x1fff) * 8
			more := in[i+3]&0x80 != 0
			n := int(in[i+3]&0x7f) * 8
			b := skb.Alloc(20 + n)
			p := b.Put(20 + n)
			flags := uint16(0)
			if more {
				flags = header.IPv4FlagMF
			}
			header.EncodeIPv4(p, header.IPv4Fields{TotalLen: 20 + n, ID: id, Flags: flags, FragOff: off, TTL: 64, Protocol: 253, Src: src, Dst: dst})
			b.SetNetworkHeader()
			if out := r.add(b); out != nil {
				ip, err := header.ParseIPv4(out.Data())
				if err != nil || ip.IsFragment() {
					t.Fatalf("reassembled datagram is broken: %v", err)
				}
				out.Free()
			}
			if r.Mem() > 32<<10 {
				t.Fatalf("reassembly holds %d bytes, bound 32 KiB", r.Mem())
			}
		}
	})
}
