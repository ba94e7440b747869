// Package gso does in software what a device with transmit offloads does
// in hardware, for packets the stack built for such a device that end up
// before one without (Linux's skb_gso_segment and skb_checksum_help):
// cut a TCP packet larger than one segment into segments, and fill in a
// transport checksum left to the device. A test device that plays an
// offloading NIC uses it as the hardware would.
//
// The packets are IPv4, built by this stack: the functions still check
// every length and offset they use and return an error rather than read
// past the packet.
package gso

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/ringonet/ringo/netcore/header"
)

// ErrMalformed is a packet the offload cannot apply to.
var ErrMalformed = errors.New("gso: malformed packet")

// Transport returns the IPv4 packet's header length (the transport
// header's offset), its protocol, and the offset of the TCP or UDP
// checksum, or an error for a packet with no offloadable checksum.
func Transport(pkt []byte) (ihl int, proto uint8, csumOff int, err error) {
	if len(pkt) < header.IPv4MinLen || pkt[0]>>4 != 4 {
		return 0, 0, 0, fmt.Errorf("%w: not IPv4", ErrMalformed)
	}
	ihl = int(pkt[0]&0x0f) * 4
	if ihl < header.IPv4MinLen || ihl > len(pkt) {
		return 0, 0, 0, fmt.Errorf("%w: header length %d of %d", ErrMalformed, ihl, len(pkt))
	}
	proto = pkt[9]
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

// Checksum fills in the TCP or UDP checksum of the IPv4 packet pkt, whose
// checksum field holds 0 (a CsumPartial packet).
func Checksum(pkt []byte) error {
	ihl, proto, off, err := Transport(pkt)
	if err != nil {
		return err
	}
	var src, dst [4]byte
	copy(src[:], pkt[12:16])
	copy(dst[:], pkt[16:20])
	seg := pkt[ihl:]
	binary.BigEndian.PutUint16(pkt[off:], 0)
	c := header.Fold(header.Checksum(seg, header.PseudoHeaderSum(src, dst, proto, len(seg))))
	if c == 0 && proto == header.ProtoUDP {
		c = 0xffff // 0 means "no checksum" in UDP (RFC 768)
	}
	binary.BigEndian.PutUint16(pkt[off:], c)
	return nil
}

// Segment cuts the IPv4 TCP packet pkt into segments of at most mss
// payload bytes, each a complete packet with its own IP length, ID
// (incremented per segment), IP checksum, sequence number and TCP
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
	if total := int(binary.BigEndian.Uint16(pkt[2:])); total != 0 && total != len(pkt) {
		return fmt.Errorf("%w: IP total length %d, packet %d", ErrMalformed, total, len(pkt))
	}
	thl := int(pkt[ihl+12]>>4) * 4
	hdr := ihl + thl
	if thl < header.TCPMinLen || hdr > len(pkt) || mss <= 0 {
		return fmt.Errorf("%w: TCP header %d, mss %d", ErrMalformed, thl, mss)
	}
	*sg = Segments{
		pkt: pkt, mss: mss, ihl: ihl, hdr: hdr,
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
	binary.BigEndian.PutUint16(seg[2:], uint16(n))
	binary.BigEndian.PutUint16(seg[4:], sg.id+uint16(sg.i))
	binary.BigEndian.PutUint16(seg[10:], 0)
	binary.BigEndian.PutUint16(seg[10:], header.Fold(header.Checksum(seg[:ihl], 0)))
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
