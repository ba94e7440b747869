// Package gro is generic receive offload for TCP over IPv4 and IPv6
// (Linux's net/core/gro.c with inet_gro_receive, ipv6_gro_receive and
// tcp_gro_receive): within one
// NAPI poll, in-order segments of a TCP flow are merged into one packet
// before they go up, so IP and TCP run once per train of segments instead
// of once per segment, and TCP acknowledges the train at once.
//
// A merged packet is what Linux's tcp_gro_complete leaves: one IPv4 header
// (total length and header checksum rewritten), the first segment's TCP
// header with the latest window and any PSH, the payloads in order; the TCP
// checksum field 0 with skb.Buff.CsumPartial set (CHECKSUM_PARTIAL: a
// forwarding path segments and checksums it again, see netcore/gso) and
// CsumValid set (every segment's checksum was verified before it was
// merged); GSOSize is the segment size.
//
// The rules follow Linux's. A segment is a candidate when it is IPv4
// without options or fragmentation, its total length is the frame's (no
// padding), its header checksum is right — or IPv6 with TCP right after
// the fixed header and its payload length the frame's — it is TCP with only ACK (and
// PSH) set, it carries data and its TCP checksum is right (or the device
// vouched for it: CsumValid), and it is not already several segments
// (GSOSize, as a TAP with offloads hands them over). It merges into
// the held packet of its flow when it continues the sequence exactly, has
// the same TTL, TOS, DF (over IPv6: hop limit, traffic class and flow
// label), acknowledgment number and TCP options (byte for
// byte, so a changed timestamp starts a new packet), and is no longer than
// the first segment; the merged packet stays within 65,535 bytes. A PSH or
// a short segment ends the train. Anything else flushes the flow's held
// packet first and then goes up as it is, so a flow's packets keep their
// order. Other protocols pass straight through.
//
// A Table belongs to one NAPI instance and is used only from its poll, by
// the goroutine that polls it; its counters may be read from anywhere.
package gro

import (
	"encoding/binary"
	"sync/atomic"

	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/netcore/skb"
)

// MaxHeld is how many flows a Table holds a packet for at once
// (MAX_GRO_SKBS); a ninth flushes the oldest.
const MaxHeld = 8

// maxIPLen bounds a merged packet: the IPv4 total length field.
const maxIPLen = 0xffff

const (
	etherTypeIPv4 = 0x0800
	etherTypeIPv6 = 0x86dd
	ipv4HdrLen    = 20 // no options: a packet with options is not merged
	ipv6HdrLen    = 40 // no extension headers: a packet with them is not merged
	ipFlagDF      = 0x4000
	ipFragMask    = 0x3fff // MF and the fragment offset
	tcpFlagsOK    = header.TCPFlagACK | header.TCPFlagPSH
)

// Stats count what a Table did.
type Stats struct {
	Merged  atomic.Uint64 // segments merged into a held packet
	Packets atomic.Uint64 // merged packets sent up (two segments or more)
	Held    atomic.Uint64 // segments held for a possible merge
	Skipped atomic.Uint64 // IPv4 TCP data segments not eligible (checksum, flags, options, fragments)
}

type flow struct {
	src, dst     [16]byte // an IPv4 flow's addresses in the first four bytes
	sport, dport uint16
	v6           bool
}

type held struct {
	b     *skb.Buff
	flow  flow
	segs  int
	mss   int // payload of the first segment: the segment size
	next  uint32
	ipLen int // the network header's length
}

// Table holds the packets of one NAPI poll.
type Table struct {
	held  [MaxHeld]held
	n     int
	Stats Stats
}

// segment is a parsed candidate.
type segment struct {
	flow    flow
	ipLen   int
	ip      []byte // IP header and everything after
	tcp     []byte // TCP header and payload
	hdrLen  int    // TCP header length
	payload int
	seq     uint32
	flags   uint8
}

// Receive takes a received packet b (its data the IPv4 header on, as a
// driver's poll has it after eth_type_trans) and either holds it, merges
// it into a held packet, or hands it, after any held packet of its flow,
// to deliver. deliver owns what it is given.
func (t *Table) Receive(b *skb.Buff, deliver func(*skb.Buff)) {
	if b.Protocol != etherTypeIPv4 && b.Protocol != etherTypeIPv6 || b.Cloned() {
		deliver(b)
		return
	}
	s, ok := parse(b.Data(), b.Protocol == etherTypeIPv6, b.CsumValid)
	if !ok || b.GSOSize > 0 { // a packet of several segments already (a TAP's GSO) goes up whole
		if ok {
			ok, s.payload = false, 0 // not a skip: it is as merged as it gets
		}
		if s.flow != (flow{}) {
			// TCP all the same (a SYN, a FIN, a bare ACK, a bad
			// checksum): whatever of its flow is held goes first.
			if s.payload > 0 {
				t.Stats.Skipped.Add(1)
			}
			t.flushFlow(s.flow, deliver)
		}
		deliver(b)
		return
	}
	b.CsumValid = true
	i := t.find(s.flow)
	if i >= 0 {
		h := &t.held[i]
		if t.mergeable(h, &s) {
			if t.merge(h, b, &s) {
				if s.flags&header.TCPFlagPSH != 0 || s.payload < h.mss {
					t.flushAt(i, deliver) // the train ends here
				}
				return
			}
		}
		t.flushAt(i, deliver)
	}
	if s.flags&header.TCPFlagPSH != 0 {
		deliver(b) // nothing could follow it into the same packet
		return
	}
	if t.n == MaxHeld {
		t.flushAt(0, deliver)
	}
	t.held[t.n] = held{b: b, flow: s.flow, segs: 1, mss: s.payload, next: s.seq + uint32(s.payload), ipLen: s.ipLen}
	t.n++
	t.Stats.Held.Add(1)
}

// Flush sends every held packet up, oldest first (napi_gro_flush). The
// poll's owner calls it when the poll returns.
func (t *Table) Flush(deliver func(*skb.Buff)) {
	for i := 0; i < t.n; i++ {
		b := t.finish(&t.held[i])
		t.held[i] = held{}
		deliver(b)
	}
	t.n = 0
}

// Len is the number of packets held.
func (t *Table) Len() int { return t.n }

func (t *Table) find(f flow) int {
	for i := 0; i < t.n; i++ {
		if t.held[i].flow == f {
			return i
		}
	}
	return -1
}

func (t *Table) flushFlow(f flow, deliver func(*skb.Buff)) {
	if i := t.find(f); i >= 0 {
		t.flushAt(i, deliver)
	}
}

// flushAt sends held packet i up and closes the gap, keeping the others
// in arrival order.
func (t *Table) flushAt(i int, deliver func(*skb.Buff)) {
	b := t.finish(&t.held[i])
	copy(t.held[i:t.n], t.held[i+1:t.n])
	t.n--
	t.held[t.n] = held{}
	deliver(b)
}

// parse checks that pkt is a GRO candidate; csumValid says the device
// verified its TCP checksum (or vouched for it), so it is not summed here.
// When it is TCP over IP at all, s.flow is set even if ok is false.
func parse(pkt []byte, v6, csumValid bool) (s segment, ok bool) {
	if v6 {
		return parse6(pkt, csumValid)
	}
	if len(pkt) < ipv4HdrLen+header.TCPMinLen || pkt[0] != 0x45 || pkt[9] != header.ProtoTCP {
		return s, false
	}
	s.ipLen = ipv4HdrLen
	tot := int(binary.BigEndian.Uint16(pkt[2:]))
	tcp := pkt[ipv4HdrLen:]
	copy(s.flow.src[:4], pkt[12:16])
	copy(s.flow.dst[:4], pkt[16:20])
	s.flow.sport = binary.BigEndian.Uint16(tcp[0:])
	s.flow.dport = binary.BigEndian.Uint16(tcp[2:])
	s.hdrLen = int(tcp[12]>>4) * 4
	s.flags = tcp[13]
	if tot != len(pkt) || s.hdrLen < header.TCPMinLen || s.hdrLen > len(tcp) {
		return s, false
	}
	s.payload = len(tcp) - s.hdrLen
	if binary.BigEndian.Uint16(pkt[6:])&ipFragMask != 0 || s.flags&^tcpFlagsOK != 0 ||
		s.flags&header.TCPFlagACK == 0 || s.payload == 0 {
		return s, false
	}
	if header.Fold(header.Checksum(pkt[:ipv4HdrLen], 0)) != 0 || !csumValid &&
		header.Fold(header.Checksum(tcp, header.PseudoHeaderSum([4]byte(pkt[12:16]), [4]byte(pkt[16:20]), header.ProtoTCP, len(tcp)))) != 0 {
		return s, false
	}
	s.ip, s.tcp = pkt, tcp
	s.seq = binary.BigEndian.Uint32(tcp[4:])
	return s, true
}

// parse6 is parse for IPv6 (ipv6_gro_receive): TCP right after the fixed
// header, the payload length the frame's.
func parse6(pkt []byte, csumValid bool) (s segment, ok bool) {
	if len(pkt) < ipv6HdrLen+header.TCPMinLen || pkt[0]>>4 != 6 || pkt[6] != header.ProtoTCP {
		return s, false
	}
	s.ipLen = ipv6HdrLen
	tcp := pkt[ipv6HdrLen:]
	copy(s.flow.src[:], pkt[8:24])
	copy(s.flow.dst[:], pkt[24:40])
	s.flow.v6 = true
	s.flow.sport = binary.BigEndian.Uint16(tcp[0:])
	s.flow.dport = binary.BigEndian.Uint16(tcp[2:])
	s.hdrLen = int(tcp[12]>>4) * 4
	s.flags = tcp[13]
	if ipv6HdrLen+int(binary.BigEndian.Uint16(pkt[4:])) != len(pkt) || s.hdrLen < header.TCPMinLen || s.hdrLen > len(tcp) {
		return s, false
	}
	s.payload = len(tcp) - s.hdrLen
	if s.flags&^tcpFlagsOK != 0 || s.flags&header.TCPFlagACK == 0 || s.payload == 0 {
		return s, false
	}
	if !csumValid && header.Fold(header.Checksum(tcp, header.PseudoHeaderSum6(s.flow.src, s.flow.dst, header.ProtoTCP, len(tcp)))) != 0 {
		return s, false
	}
	s.ip, s.tcp = pkt, tcp
	s.seq = binary.BigEndian.Uint32(tcp[4:])
	return s, true
}

// mergeable reports whether s continues held packet h (tcp_gro_receive's
// flush conditions).
func (t *Table) mergeable(h *held, s *segment) bool {
	p := h.b.Data()
	ptcp := p[h.ipLen:]
	switch {
	case s.seq != h.next, s.payload > h.mss:
		return false
	case s.flow.v6 && (binary.BigEndian.Uint32(p) != binary.BigEndian.Uint32(s.ip) || p[7] != s.ip[7]): // class, flow label; hop limit
		return false
	case !s.flow.v6 && (p[8] != s.ip[8] || p[1] != s.ip[1]): // TTL, TOS
		return false
	case !s.flow.v6 && (binary.BigEndian.Uint16(p[6:])^binary.BigEndian.Uint16(s.ip[6:]))&ipFlagDF != 0:
		return false
	case int(ptcp[12]>>4)*4 != s.hdrLen:
		return false
	case binary.BigEndian.Uint32(ptcp[8:]) != binary.BigEndian.Uint32(s.tcp[8:]): // ACK number
		return false
	case string(ptcp[header.TCPMinLen:s.hdrLen]) != string(s.tcp[header.TCPMinLen:s.hdrLen]): // options
		return false
	case len(p)+s.payload > maxIPLen:
		return false
	}
	return true
}

// merge appends s's payload to h, moving h to a large buffer on its first
// merge, and frees b. It reports false, leaving b alone, when no large
// buffer can be had.
func (t *Table) merge(h *held, b *skb.Buff, s *segment) bool {
	if h.segs == 1 {
		nb := promote(h.b)
		if nb == nil {
			return false
		}
		h.b = nb
	}
	if h.b.Tailroom() < s.payload {
		return false
	}
	copy(h.b.Put(s.payload), s.tcp[s.hdrLen:])
	p := h.b.Data()
	if h.flow.v6 {
		binary.BigEndian.PutUint16(p[4:], uint16(len(p)-ipv6HdrLen))
	} else {
		binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	}
	ptcp := p[h.ipLen:]
	copy(ptcp[14:16], s.tcp[14:16]) // the latest window
	ptcp[13] |= s.flags & header.TCPFlagPSH
	h.segs++
	h.next += uint32(s.payload)
	b.Free()
	t.Stats.Merged.Add(1)
	return true
}

// promote copies a held single segment (in a frame-sized buffer) into a
// buffer that can take 64 KB, with its Ethernet header and metadata.
func promote(b *skb.Buff) *skb.Buff {
	frame := b.MACHeader()
	if frame == nil {
		frame = b.Data()
	}
	macLen := len(frame) - b.Len()
	nb := skb.Alloc(skb.MaxDataSize - skb.Headroom)
	if nb == nil {
		return nil
	}
	copy(nb.Put(len(frame)), frame)
	nb.SetMACHeader()
	nb.Pull(macLen)
	nb.SetNetworkHeader()
	nb.Dev, nb.Protocol, nb.PktType = b.Dev, b.Protocol, b.PktType
	nb.Priority, nb.Hash, nb.Stamp = b.Priority, b.Hash, b.Stamp
	nb.CsumValid = true
	b.Free()
	return nb
}

// finish makes a held packet ready to go up (tcp_gro_complete): a merged
// one gets its IPv4 header checksum and the CHECKSUM_PARTIAL marks.
func (t *Table) finish(h *held) *skb.Buff {
	b := h.b
	if h.segs < 2 {
		return b
	}
	p := b.Data()
	if !h.flow.v6 {
		p[10], p[11] = 0, 0
		binary.BigEndian.PutUint16(p[10:], header.Fold(header.Checksum(p[:ipv4HdrLen], 0)))
	}
	p[h.ipLen+16], p[h.ipLen+17] = 0, 0
	b.CsumPartial, b.CsumValid = true, true
	b.GSOSize = uint16(h.mss)
	t.Stats.Packets.Add(1)
	return b
}
