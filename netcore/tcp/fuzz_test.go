package tcp

import (
	"encoding/binary"
	"log/slog"
	"net"
	"net/netip"
	"testing"

	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/netcore/ipv4"
	"github.com/ringonet/ringo/netcore/skb"
)

// FuzzSegments drives TCP with arbitrary segments from one peer at a
// listening socket: each 12 input bytes are (flags, seq delta, ack delta,
// window, payload length). Connections come and go; nothing may panic, and
// no connection may hold more than its buffers allow.
func FuzzSegments(f *testing.F) {
	f.Add([]byte{header.TCPFlagSYN, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0})
	f.Add([]byte{header.TCPFlagSYN | 0x40, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0,
		header.TCPFlagACK | 0x40, 0, 0, 0, 1, 0, 0, 0, 1, 0xff, 0xff, 10,
		header.TCPFlagACK | 0x40, 0, 0, 0, 30, 0, 0, 0, 3, 0x10, 0x20, 50})
	f.Add([]byte{header.TCPFlagSYN, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0,
		header.TCPFlagACK, 0, 0, 0, 1, 0, 0, 0, 1, 0xff, 0xff, 10,
		header.TCPFlagACK | header.TCPFlagFIN, 0, 0, 0, 11, 0, 0, 0, 1, 0xff, 0xff, 0})
	f.Add([]byte{header.TCPFlagSYN, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, // 200 << 2 bytes, then 200 << 4
		header.TCPFlagACK, 0, 0, 0, 1, 0, 0, 0, 1, 0x7f, 0xff, 200,
		header.TCPFlagACK, 0, 0, 3, 0x21, 0, 0, 0, 0x80 | 1, 0xff, 0xff, 200})
	body := segmentsTarget(f)
	f.Fuzz(func(t *testing.T, in []byte) { body(t, in) })
}

// segmentsTarget sets up a listening TCP for FuzzSegments and returns
// the function that feeds it one input.
func segmentsTarget(f testing.TB) func(t *testing.T, in []byte) {
	quiet := slog.New(slog.DiscardHandler)
	c := netcore.New(netcore.Config{Logger: quiet})
	ip, err := ipv4.New(c, ipv4.Config{Logger: quiet})
	if err != nil {
		f.Fatal(err)
	}
	if err := ip.AddAddress(ip.Loopback(), netip.MustParsePrefix("127.0.0.9/8")); err != nil {
		f.Fatal(err)
	}
	tbl := New(ip, Config{RcvBuf: 16 << 10, SndBuf: 16 << 10})
	l, err := tbl.Listen(&net.TCPAddr{Port: 80})
	if err != nil {
		f.Fatal(err)
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	src, dst := [4]byte{127, 0, 0, 2}, [4]byte{127, 0, 0, 1}
	return func(t *testing.T, in []byte) {
		seq, ack := uint32(1000), uint32(0)
		for i := 0; i+12 <= len(in); i += 12 {
			r := in[i:]
			seq += binary.BigEndian.Uint32(r[1:])
			ack += binary.BigEndian.Uint32(r[4:])
			n := int(r[11]) << (r[8] >> 6 * 2) // up to 255 << 6: payloads the receive queue keeps in their packet, too
			fl := header.TCPFields{SrcPort: 4000, DstPort: 80, Seq: seq, Ack: ack, Flags: r[0] & 0x3f, Window: binary.BigEndian.Uint16(r[9:]), WScale: -1}
			if r[0]&0x80 != 0 {
				fl.MSS = 1
				fl.WScale = int(r[8] % 20)
			}
			if r[0]&0x40 != 0 { // timestamps and SACK blocks from the same bytes
				fl.SACKOK = fl.Flags&header.TCPFlagSYN != 0
				fl.TS, fl.TSVal, fl.TSEcr = true, binary.BigEndian.Uint32(r[2:]), binary.BigEndian.Uint32(r[6:])
				fl.NSACK = int(r[8] % 4)
				for k := 0; k < fl.NSACK; k++ {
					fl.SACK[k] = header.SACKBlock{Left: ack + uint32(r[9+k%2])*uint32(k+1), Right: ack + uint32(r[10])*uint32(k+7)}
				}
			}
			hl := header.TCPHeaderLen(fl)
			b := skb.Alloc(header.IPv4MinLen + hl + n)
			p := b.Put(header.IPv4MinLen + hl + n)
			header.EncodeIPv4(p, header.IPv4Fields{TotalLen: len(p), TTL: 64, Protocol: header.ProtoTCP, Src: src, Dst: dst})
			header.EncodeTCP(p[header.IPv4MinLen:], fl, src, dst)
			b.Dev = ip.Loopback()
			b.SetNetworkHeader()
			b.Pull(header.IPv4MinLen)
			tbl.Receive(b)
		}
		tbl.mu.Lock()
		conns := make([]*Conn, 0, len(tbl.conns))
		for _, c := range tbl.conns {
			conns = append(conns, c)
		}
		tbl.mu.Unlock()
		for _, c := range conns {
			c.mu.Lock()
			over := c.rcvQ.Len()+c.oooBytes > 16<<10 || c.sndQ.Len() > 16<<10 || len(c.sacked) > maxSACKed ||
				c.rcvQ.Held() > 2*(16<<10)+skb.MaxDataSize || // the buffers the receive queue holds
				c.oooHeld > 2*(16<<10) // and the out-of-order queue
			c.resetLocked() // start the next input clean
			c.rcvQ.Purge()
			c.mu.Unlock()
			if over {
				t.Fatal("a connection holds more than its buffers")
			}
		}
	}
}
