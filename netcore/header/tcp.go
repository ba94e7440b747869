package header

import "encoding/binary"

// TCP header (RFC 9293 3.1):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|          Source Port          |       Destination Port        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                        Sequence Number                        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    Acknowledgment Number                      |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  Data |       |C|E|U|A|P|R|S|F|                               |
//	| Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|           Checksum            |         Urgent Pointer        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
const (
	tcpSrc    = 0
	tcpDst    = 2
	tcpSeq    = 4
	tcpAck    = 8
	tcpOff    = 12
	tcpFlags  = 13
	tcpWin    = 14
	tcpCheck  = 16
	tcpUrg    = 18
	TCPMinLen = 20

	TCPFlagFIN = 0x01
	TCPFlagSYN = 0x02
	TCPFlagRST = 0x04
	TCPFlagPSH = 0x08
	TCPFlagACK = 0x10
	TCPFlagURG = 0x20

	TCPOptEnd           = 0
	TCPOptNOP           = 1
	TCPOptMSS           = 2
	TCPOptWS            = 3
	TCPOptSACKPermitted = 4
	TCPOptSACK          = 5
	TCPOptTimestamp     = 8

	// TCPMaxSACKBlocks is how many SACK blocks ringo reads or writes: four
	// fit in the 40 option bytes, three beside a timestamp (RFC 2018 3).
	TCPMaxSACKBlocks = 4
)

// SACKBlock is one block of a SACK option: [Left, Right) in sequence space.
type SACKBlock struct{ Left, Right uint32 }

// TCP is a view of a TCP segment.
type TCP []byte

// ParseTCP checks the data offset against the buffer, the checksum with
// the pseudo-header, and that the options are well formed.
func ParseTCP(b []byte, src, dst [4]byte) (TCP, error) {
	return parseTCP(b, PseudoHeaderSum(src, dst, ProtoTCP, len(b)), true)
}

// ParseTCP6 is ParseTCP over IPv6 (the RFC 8200 8.1 pseudo-header).
func ParseTCP6(b []byte, src, dst [16]byte) (TCP, error) {
	return parseTCP(b, PseudoHeaderSum6(src, dst, ProtoTCP, len(b)), true)
}

// ParseTCPVerified is ParseTCP for a segment whose checksum was verified
// already (a device's receive checksum offload, or GRO, which verifies
// each segment it merges and leaves the merged packet's field 0): every
// check but the checksum.
func ParseTCPVerified(b []byte) (TCP, error) {
	return parseTCP(b, 0, false)
}

func parseTCP(b []byte, pseudo uint32, verify bool) (TCP, error) {
	if len(b) < TCPMinLen {
		return nil, ErrTruncated
	}
	off := int(b[tcpOff]>>4) * 4
	if off < TCPMinLen {
		return nil, ErrMalformed
	}
	if off > len(b) {
		return nil, ErrTruncated
	}
	if verify && Fold(Checksum(b, pseudo)) != 0 {
		return nil, ErrChecksum
	}
	return TCP(b), nil
}

func (t TCP) SrcPort() uint16 { return binary.BigEndian.Uint16(t[tcpSrc:]) }
func (t TCP) DstPort() uint16 { return binary.BigEndian.Uint16(t[tcpDst:]) }
func (t TCP) Seq() uint32     { return binary.BigEndian.Uint32(t[tcpSeq:]) }
func (t TCP) Ack() uint32     { return binary.BigEndian.Uint32(t[tcpAck:]) }
func (t TCP) DataOffset() int { return int(t[tcpOff]>>4) * 4 }
func (t TCP) Flags() uint8    { return t[tcpFlags] }
func (t TCP) Window() uint16  { return binary.BigEndian.Uint16(t[tcpWin:]) }
func (t TCP) Payload() []byte { return t[t.DataOffset():] }
func (t TCP) Urgent() uint16  { return binary.BigEndian.Uint16(t[tcpUrg:]) }
func (t TCP) Options() []byte { return t[TCPMinLen:t.DataOffset()] }

// TCPOptions are the options ringo reads.
type TCPOptions struct {
	MSS    uint16 // 0: absent
	WScale int    // -1: absent
	SACKOK bool
	// Timestamps (RFC 7323 3).
	TS           bool
	TSVal, TSEcr uint32
	// SACK blocks (RFC 2018 3), NSACK of them.
	SACK  [TCPMaxSACKBlocks]SACKBlock
	NSACK int
}

// ParsedOptions returns the options ringo reads. A malformed option (a
// length below 2 or past the header) ends the walk with what came
// before it, as Linux's tcp_parse_options does: the segment itself is
// still good.
func (t TCP) ParsedOptions() TCPOptions {
	o, _ := t.parseOptions()
	return o
}

func (t TCP) parseOptions() (TCPOptions, error) {
	o := TCPOptions{WScale: -1}
	opts := t.Options()
	for i := 0; i < len(opts); {
		switch opts[i] {
		case TCPOptEnd:
			return o, nil
		case TCPOptNOP:
			i++
			continue
		}
		if i+1 >= len(opts) {
			return o, ErrMalformed
		}
		l := int(opts[i+1])
		if l < 2 || i+l > len(opts) {
			return o, ErrMalformed
		}
		switch {
		case opts[i] == TCPOptMSS && l == 4:
			o.MSS = binary.BigEndian.Uint16(opts[i+2:])
		case opts[i] == TCPOptWS && l == 3:
			o.WScale = int(min(opts[i+2], 14))
		case opts[i] == TCPOptSACKPermitted && l == 2:
			o.SACKOK = true
		case opts[i] == TCPOptTimestamp && l == 10:
			o.TS = true
			o.TSVal = binary.BigEndian.Uint32(opts[i+2:])
			o.TSEcr = binary.BigEndian.Uint32(opts[i+6:])
		case opts[i] == TCPOptSACK && l >= 10 && (l-2)%8 == 0:
			o.NSACK = 0
			for j := i + 2; j+8 <= i+l && o.NSACK < TCPMaxSACKBlocks; j += 8 {
				o.SACK[o.NSACK] = SACKBlock{binary.BigEndian.Uint32(opts[j:]), binary.BigEndian.Uint32(opts[j+4:])}
				o.NSACK++
			}
		}
		i += l
	}
	return o, nil
}

// TCPFields describes a segment header to encode.
type TCPFields struct {
	SrcPort, DstPort uint16
	Seq, Ack         uint32
	Flags            uint8
	Window           uint16
	Urgent           uint16 // the urgent pointer, with TCPFlagURG
	MSS              uint16 // if non-zero, an MSS option is added
	WScale           int    // if >= 0, a window scale option is added
	SACKOK           bool   // SACK-permitted (SYNs only)
	TS               bool   // a timestamp option with TSVal, TSEcr
	TSVal, TSEcr     uint32
	// SACK blocks to send, the first NSACK of them (fewer are written if
	// they do not fit).
	SACK  [TCPMaxSACKBlocks]SACKBlock
	NSACK int
}

// TCPHeaderLen is the header length EncodeTCP writes for f.
func TCPHeaderLen(f TCPFields) int {
	n := tcpBaseLen(f)
	if nb := sackBlocks(f, n); nb > 0 {
		n += 4 + 8*nb
	}
	return n
}

// tcpBaseLen is the header with every option but SACK blocks.
func tcpBaseLen(f TCPFields) int {
	n := TCPMinLen
	if f.MSS != 0 {
		n += 4
	}
	switch {
	case f.TS:
		n += 12 // SACKOK+TS or NOP NOP TS
	case f.SACKOK:
		n += 4 // NOP NOP SACKOK
	}
	if f.WScale >= 0 {
		n += 4
	}
	return n
}

// sackBlocks is how many of f's SACK blocks fit beside n header bytes.
func sackBlocks(f TCPFields, n int) int {
	room := (60 - n - 4) / 8 // two NOPs, kind and length
	return max(min(f.NSACK, room, TCPMaxSACKBlocks), 0)
}

// EncodeTCP writes the header into b, whose payload after the header the
// caller has filled (b is the whole segment), and the checksum.
func EncodeTCP(b []byte, f TCPFields, src, dst [4]byte) {
	EncodeTCPPartial(b, f)
	binary.BigEndian.PutUint16(b[tcpCheck:], Fold(Checksum(b, PseudoHeaderSum(src, dst, ProtoTCP, len(b)))))
}

// EncodeTCP6 is EncodeTCP over IPv6.
func EncodeTCP6(b []byte, f TCPFields, src, dst [16]byte) {
	EncodeTCPPartial(b, f)
	binary.BigEndian.PutUint16(b[tcpCheck:], Fold(Checksum(b, PseudoHeaderSum6(src, dst, ProtoTCP, len(b)))))
}

// EncodeTCPPartial is EncodeTCP leaving the checksum field 0, for a
// device that computes it (skb.Buff.CsumPartial).
func EncodeTCPPartial(b []byte, f TCPFields) {
	hl := TCPHeaderLen(f)
	binary.BigEndian.PutUint16(b[tcpSrc:], f.SrcPort)
	binary.BigEndian.PutUint16(b[tcpDst:], f.DstPort)
	binary.BigEndian.PutUint32(b[tcpSeq:], f.Seq)
	binary.BigEndian.PutUint32(b[tcpAck:], f.Ack)
	b[tcpOff] = byte(hl/4) << 4
	b[tcpFlags] = f.Flags
	binary.BigEndian.PutUint16(b[tcpWin:], f.Window)
	binary.BigEndian.PutUint16(b[tcpCheck:], 0)
	binary.BigEndian.PutUint16(b[tcpUrg:], f.Urgent)
	o := b[TCPMinLen:hl]
	if f.MSS != 0 {
		o[0], o[1] = TCPOptMSS, 4
		binary.BigEndian.PutUint16(o[2:], f.MSS)
		o = o[4:]
	}
	if f.TS || f.SACKOK {
		switch {
		case f.TS && f.SACKOK:
			o[0], o[1] = TCPOptSACKPermitted, 2
		case f.TS:
			o[0], o[1] = TCPOptNOP, TCPOptNOP
		default:
			o[0], o[1], o[2], o[3] = TCPOptNOP, TCPOptNOP, TCPOptSACKPermitted, 2
		}
		if f.TS {
			o[2], o[3] = TCPOptTimestamp, 10
			binary.BigEndian.PutUint32(o[4:], f.TSVal)
			binary.BigEndian.PutUint32(o[8:], f.TSEcr)
			o = o[12:]
		} else {
			o = o[4:]
		}
	}
	if f.WScale >= 0 {
		o[0], o[1], o[2], o[3] = TCPOptNOP, TCPOptWS, 3, byte(f.WScale)
		o = o[4:]
	}
	if nb := sackBlocks(f, hl-len(o)); nb > 0 {
		o[0], o[1], o[2], o[3] = TCPOptNOP, TCPOptNOP, TCPOptSACK, byte(2+8*nb)
		for i := 0; i < nb; i++ {
			binary.BigEndian.PutUint32(o[4+8*i:], f.SACK[i].Left)
			binary.BigEndian.PutUint32(o[8+8*i:], f.SACK[i].Right)
		}
	}
}
