// Package gso does in software what a device with transmit offloads does
// in hardware, for packets the stack built for such a device that end up
// before one without (Linux's skb_gso_segment and skb_checksum_help):
// cut a TCP packet larger than one segment into segments, and fill in a
// transport checksum left to the device. A test device that plays an
// offloading NIC uses it as the hardware would.
//
// The packets are IPv4, or IPv6 with the transport header right after
// the fixed one, built by this stack: the functions still check every
// length and offset they use and return an error rather than read past
// the packet.
package gso

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/netcore/skb"
)

// ErrMalformed is a packet the offload cannot apply to.
var ErrMalformed = errors.New("gso: malformed packet")

// Transport returns the IP packet's header length (the transport
// header's offset), its protocol, and the offset of the TCP or UDP
// checksum, or an error for a packet with no offloadable checksum.
func Transport(pkt []byte) (ihl int, proto uint8, csumOff int, err error) {
	switch {
	case len(pkt) >= header.IPv6Len && pkt[0]>>4 == 6:
		ihl, proto = header.IPv6Len, pkt[6]
	case len(pkt) >= header.IPv4MinLen && pkt[0]>>4 == 4:
		ihl = int(pkt[0]&0x0f) * 4
		if ihl < header.IPv4MinLen || ihl > len(pkt) {
			return 0, 0, 0, fmt.Errorf("%w: header length %d of %d", ErrMalformed, ihl, len(pkt))
		}
		proto = pkt[9]
	default:
		return 0, 0, 0, fmt.Errorf("%w: not IPv4 or IPv6", ErrMalformed)
	}
	switch proto {
	case header.ProtoTCP:
		csumOff = ihl + 16
	case header.ProtoUDP:
		csumOff = ihl + 6
	default:
		return 0, 0, 0, fmt.Errorf("%w: protocol %d has no offloaded checksum", ErrMalformed, proto)
	}
	if csumOff+2 > len(pkt) {
		return 0, 0, 0, fmt.Errorf("%w: %d bytes, checksum at %d", ErrMalformed, len(pkt), csumOff)
	}
	return ihl, proto, csumOff, nil
}

// Checksum fills in the TCP or UDP checksum of the IP packet pkt, whose
// checksum field holds 0 (a CsumPartial packet).
func Checksum(pkt []byte) error {
	ihl, proto, off, err := Transport(pkt)
	if err != nil {
		return err
	}
	seg := pkt[ihl:]
	var pseudo uint32
	if pkt[0]>>4 == 6 {
		pseudo = header.PseudoHeaderSum6([16]byte(pkt[8:24]), [16]byte(pkt[24:40]), proto, len(seg))
	} else {
		pseudo = header.PseudoHeaderSum([4]byte(pkt[12:16]), [4]byte(pkt[16:20]), proto, len(seg))
	}
	binary.BigEndian.PutUint16(pkt[off:], 0)
	c := header.Fold(header.Checksum(seg, pseudo))
	if c == 0 && proto == header.ProtoUDP {
		c = 0xffff // 0 means "no checksum" in UDP (RFC 768)
	}
	binary.BigEndian.PutUint16(pkt[off:], c)
	return nil
}

// Segment cuts the TCP packet pkt into segments of at most mss payload
// bytes, each a complete packet with its own IP length (and for IPv4 ID,
// incremented per segment, and header checksum), sequence number and TCP
// checksum; FIN and PSH stay on the last segment only, as TSO hardware
// does. Each segment is built in scratch (which must hold the headers
// plus mss bytes) and passed to out, which must copy what it keeps.
func Segment(pkt []byte, mss int, scratch []byte, out func(seg []byte) error) error {
	var sg Segments
	if err := sg.Init(pkt, mss); err != nil {
		return err
	}
	if len(scratch) < sg.hdr+mss {
		return fmt.Errorf("gso: scratch of %d bytes for %d-byte headers and mss %d", len(scratch), sg.hdr, mss)
	}
	for n := sg.Len(); n > 0; n = sg.Len() {
		s := scratch[:n]
		if err := sg.Next(s); err != nil {
			return err
		}
		if err := out(s); err != nil {
			return err
		}
	}
	return nil
}

// Segments walks the segments of an IPv4 TCP packet, as Segment cuts
// it, building each into memory the caller gives (no scratch copy, no
// allocation): Init, then Len and Next until Len is 0.
type Segments struct {
	pkt      []byte
	mss      int
	ihl, hdr int
	off, i   int
	id       uint16
	seq      uint32
	flags    uint8
	done     bool
	v6       bool
}

// Init checks pkt (IPv4, TCP, lengths that agree) and starts the walk.
func (sg *Segments) Init(pkt []byte, mss int) error {
	*sg = Segments{}
	ihl, proto, _, err := Transport(pkt)
	if err != nil {
		return err
	}
	if proto != header.ProtoTCP {
		return fmt.Errorf("%w: segmentation of protocol %d", ErrMalformed, proto)
	}
	v6 := pkt[0]>>4 == 6
	if total := int(binary.BigEndian.Uint16(pkt[2:])); !v6 && total != 0 && total != len(pkt) {
		return fmt.Errorf("%w: IP total length %d, packet %d", ErrMalformed, total, len(pkt))
	}
	if plen := int(binary.BigEndian.Uint16(pkt[4:])); v6 && plen != 0 && header.IPv6Len+plen != len(pkt) {
		return fmt.Errorf("%w: IPv6 payload length %d, packet %d", ErrMalformed, plen, len(pkt))
	}
	thl := int(pkt[ihl+12]>>4) * 4
	hdr := ihl + thl
	if thl < header.TCPMinLen || hdr > len(pkt) || mss <= 0 {
		return fmt.Errorf("%w: TCP header %d, mss %d", ErrMalformed, thl, mss)
	}
	*sg = Segments{
		pkt: pkt, mss: mss, ihl: ihl, hdr: hdr, v6: v6,
		id:    binary.BigEndian.Uint16(pkt[4:]),
		seq:   binary.BigEndian.Uint32(pkt[ihl+4:]),
		flags: pkt[ihl+13],
	}
	return nil
}

// Len is the size of the next segment (headers and payload), 0 when
// every segment has been built.
func (sg *Segments) Len() int {
	if sg.done || sg.pkt == nil {
		return 0
	}
	return sg.hdr + min(sg.mss, len(sg.pkt)-sg.hdr-sg.off)
}

// Next builds the next segment into seg, which must be Len bytes.
func (sg *Segments) Next(seg []byte) error {
	n := sg.Len()
	if n == 0 || len(seg) != n {
		return fmt.Errorf("gso: segment buffer of %d bytes for %d", len(seg), n)
	}
	payload := sg.pkt[sg.hdr:]
	plen := n - sg.hdr
	ihl := sg.ihl
	copy(seg, sg.pkt[:sg.hdr])
	copy(seg[sg.hdr:], payload[sg.off:sg.off+plen])
	if sg.v6 {
		binary.BigEndian.PutUint16(seg[4:], uint16(n-header.IPv6Len))
	} else {
		binary.BigEndian.PutUint16(seg[2:], uint16(n))
		binary.BigEndian.PutUint16(seg[4:], sg.id+uint16(sg.i))
		binary.BigEndian.PutUint16(seg[10:], 0)
		binary.BigEndian.PutUint16(seg[10:], header.Fold(header.Checksum(seg[:ihl], 0)))
	}
	binary.BigEndian.PutUint32(seg[ihl+4:], sg.seq+uint32(sg.off))
	last := sg.off+plen >= len(payload)
	if !last {
		seg[ihl+13] = sg.flags &^ (header.TCPFlagFIN | header.TCPFlagPSH)
	}
	if err := Checksum(seg); err != nil {
		return err
	}
	sg.i++
	sg.off += plen
	sg.done = last
	return nil
}

// Apply does for b what a device without the offload would need done
// (validate_xmit_skb): a CsumPartial packet gets its transport checksum,
// in place, and goes to send; a GSO packet is cut into segments, each
// built in its own buffer straight from the packet and given to send,
// and b freed. b is consumed either way. It returns the offload's own
// error (nothing more was sent after it) and the first error send gave
// (the others were still sent, as Linux goes on past a segment the
// neighbour layer queued or dropped).
func Apply(b *skb.Buff, send func(*skb.Buff) error) (offloadErr, sendErr error) {
	if b.GSOSize == 0 {
		if err := Checksum(b.Data()); err != nil {
			b.Free()
			return err, nil
		}
		b.CsumPartial = false
		return nil, send(b)
	}
	defer b.Free()
	var sg Segments
	err := sg.Init(b.Data(), int(b.GSOSize))
	for n := sg.Len(); err == nil && n > 0; n = sg.Len() {
		f := skb.Alloc(n)
		if f == nil {
			return fmt.Errorf("gso: no buffer for a %d-byte segment", n), sendErr
		}
		if err = sg.Next(f.Put(n)); err != nil {
			f.Free()
			break
		}
		f.SetNetworkHeader()
		f.Priority = b.Priority
		if e := send(f); e != nil && sendErr == nil {
			sendErr = e
		}
	}
	return err, sendErr
}
