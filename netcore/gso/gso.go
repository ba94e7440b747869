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
	if len(scratch) < hdr+mss {
		return fmt.Errorf("gso: scratch of %d bytes for %d-byte headers and mss %d", len(scratch), hdr, mss)
	}
	payload := pkt[hdr:]
	id := binary.BigEndian.Uint16(pkt[4:])
	seq := binary.BigEndian.Uint32(pkt[ihl+4:])
	flags := pkt[ihl+13]
	for i, off := 0, 0; off < len(payload) || off == 0; i, off = i+1, off+mss {
		n := min(mss, len(payload)-off)
		s := scratch[:hdr+n]
		copy(s, pkt[:hdr])
		copy(s[hdr:], payload[off:off+n])
		binary.BigEndian.PutUint16(s[2:], uint16(hdr+n))
		binary.BigEndian.PutUint16(s[4:], id+uint16(i))
		binary.BigEndian.PutUint16(s[10:], 0)
		binary.BigEndian.PutUint16(s[10:], header.Fold(header.Checksum(s[:ihl], 0)))
		binary.BigEndian.PutUint32(s[ihl+4:], seq+uint32(off))
		if off+n < len(payload) {
			s[ihl+13] = flags &^ (header.TCPFlagFIN | header.TCPFlagPSH)
		}
		if err := Checksum(s); err != nil {
			return err
		}
		if err := out(s); err != nil {
			return err
		}
		if n == 0 {
			break
		}
	}
	return nil
}
