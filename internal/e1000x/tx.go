package e1000x

import (
	"encoding/binary"

	"github.com/ringonet/ringo/descring"
	"github.com/ringonet/ringo/netcore/header"
)

// Transmit descriptors (8254x SDM 3.3, 82574 datasheet 7.2): 16 bytes in
// three formats the two parts share.
//
// Legacy:  0: buffer address (64); 8: length (16) | CSO (8) | CMD (8);
// 12: STA (8) | CSS (8) | special (16).
// Context: 0: IPCSS (8) | IPCSO (8) | IPCSE (16); 4: TUCSS (8) | TUCSO (8)
// | TUCSE (16); 8: PAYLEN (20) | DTYP (4) | TUCMD (8); 12: STA (8) |
// HDRLEN (8) | MSS (16).
// Data:    0: buffer address (64); 8: DTALEN (20) | DTYP (4) | DCMD (8);
// 12: STA (8) | POPTS (8) | special (16).
const (
	TxDescSize = 16
	txdAddr    = 0
	txdLength  = 8
	txdCSO     = 10
	txdCmd     = 11

	ctxIPCSS  = 0
	ctxIPCSO  = 1
	ctxIPCSE  = 2
	ctxTUCSS  = 4
	ctxTUCSO  = 5
	ctxPAYLEN = 8
)

// Command and status bits.
const (
	TxdCmdEOP  = 1 << 0 // End of Packet
	TxdCmdIFCS = 1 << 1 // Insert FCS
	TxdCmdTSE  = 1 << 2 // TCP Segmentation Enable (data descriptors; IC in legacy ones)
	TxdCmdRS   = 1 << 3 // Report Status
	TxdCmdDEXT = 1 << 5 // Descriptor Extension (0: legacy)
	TxdCmdVLE  = 1 << 6 // VLAN Packet Enable
	TxdCmdIDE  = 1 << 7 // Interrupt Delay Enable

	TxdStatDD = 1 << 0 // Descriptor Done

	txdDtypContext = 0 // DTYP of a TCP/IP context descriptor
	txdDtypData    = 1 // DTYP of a TCP/IP data descriptor
	txdDtypShift   = 20

	// TUCMD of a context descriptor.
	txdTucmdTCP  = 1 << 0 // TCP (0: UDP)
	txdTucmdIP   = 1 << 1 // IPv4 (0: IPv6)
	txdTucmdTSE  = 1 << 2 // the context is for segmentation
	txdTucmdRS   = 1 << 3
	txdTucmdDEXT = 1 << 5

	// POPTS of a data descriptor.
	txdPoptsIXSM = 1 << 0 // insert the IP checksum
	txdPoptsTXSM = 1 << 1 // insert the TCP/UDP checksum
)

// WriteLegacy fills a legacy descriptor for n bytes of a frame, eop on
// its last: FCS inserted, status not reported (TxReport marks where);
// with tagged, the part inserts
// the 802.1Q tag vlan (CMD.VLE, the TCI in the special field; CTRL.VME
// on).
func WriteLegacy(desc []byte, iova uint64, n int, vlan uint16, tagged, eop bool) {
	cmd := uint64(TxdCmdIFCS)
	if eop {
		cmd |= TxdCmdEOP
	}
	var special uint64
	if tagged {
		cmd |= TxdCmdVLE
		special = uint64(vlan)
	}
	// Two 8-byte stores: the address, then length, CSO 0, CMD, STA and
	// CSS 0 and the special field. Byte by byte, the fill was a tenth of
	// a 60-byte sender's time under TCG.
	d := (*[16]byte)(desc[:16])
	binary.LittleEndian.PutUint64(d[txdAddr:], iova)
	binary.LittleEndian.PutUint64(d[txdLength:], uint64(uint16(n))|cmd<<(8*(txdCmd-txdLength))|special<<48)
}

// FillLegacy writes a frame into tx from its next free slot (the caller
// checked there is room for LegacyDescs of it): legacy descriptors over
// bufSize-byte pieces, EOP on the last (a jumbo frame takes several). It
// returns the slot after the last.
func FillLegacy(tx *descring.Ring, frame []byte, bufSize int, vlan uint16, tagged bool) int {
	i := tx.NextToUse()
	for off := 0; off < len(frame); off += bufSize {
		n := min(bufSize, len(frame)-off)
		buf := tx.Buf(i)
		copy(buf.Buf, frame[off:off+n])
		WriteLegacy(tx.Desc(i), buf.IOVA, n, vlan, tagged, off+n == len(frame))
		i = tx.Next(i)
	}
	return i
}

// LegacyDescs is how many descriptors FillLegacy takes for n bytes.
func LegacyDescs(n, bufSize int) int { return max(1, (n+bufSize-1)/bufSize) }

// TxOffload is what a context descriptor says about a packet: where its
// headers are, and for TSO the segment size.
type TxOffload struct {
	ipStart, ipEnd  int // IP header [ipStart, ipEnd)
	l4Start, l4Csum int
	hdrLen          int // Ethernet + IP + TCP headers (TSO)
	tcp             bool
	MSS             int // 0: checksum offload only
	// VLAN is the 802.1Q tag the part inserts when Tagged (CTRL.VME on).
	VLAN   uint16
	Tagged bool
}

// ParseOffload finds the headers of a frame the stack built for the
// offloads (IPv4, TCP or UDP, no VLAN tag), for buffers of bufSize bytes.
// The stack is trusted, the lengths are still checked: a bad frame is
// dropped, not sent garbled.
func ParseOffload(frame []byte, gsoSize, bufSize int) (TxOffload, bool) {
	const eth = header.EthernetLen
	var o TxOffload
	if len(frame) < eth+header.IPv4MinLen || binary.BigEndian.Uint16(frame[12:]) != header.EtherTypeIPv4 || frame[eth]>>4 != 4 {
		return o, false
	}
	ihl := int(frame[eth]&0x0f) * 4
	o.ipStart, o.ipEnd, o.l4Start = eth, eth+ihl, eth+ihl
	switch frame[eth+9] {
	case header.ProtoTCP:
		o.tcp, o.l4Csum = true, o.l4Start+16
		if o.l4Start+20 > len(frame) {
			return o, false
		}
		o.hdrLen = o.l4Start + int(frame[o.l4Start+12]>>4)*4
	case header.ProtoUDP:
		o.l4Csum, o.hdrLen = o.l4Start+6, o.l4Start+8
	default:
		return o, false
	}
	if ihl < header.IPv4MinLen || o.hdrLen > len(frame) || o.l4Csum+2 > len(frame) || o.hdrLen > bufSize {
		return o, false
	}
	if gsoSize > 0 {
		// A segment is at most a jumbo frame; it may span buffers.
		if !o.tcp || gsoSize+o.hdrLen > MaxJumboFrame {
			return o, false
		}
		o.MSS = gsoSize
	}
	return o, true
}

// WriteContext fills the context descriptor for a frame of frameLen bytes
// (e1000_tso, e1000_tx_csum): the header offsets, and for TSO the payload
// length, header length and segment size.
func (o TxOffload) WriteContext(ctx []byte, frameLen int) {
	clear(ctx[:12])
	ctx[ctxIPCSS], ctx[ctxIPCSO] = uint8(o.ipStart), uint8(o.ipStart+10)
	binary.LittleEndian.PutUint16(ctx[ctxIPCSE:], uint16(o.ipEnd-1))
	ctx[ctxTUCSS], ctx[ctxTUCSO] = uint8(o.l4Start), uint8(o.l4Csum)
	tucmd := uint32(txdTucmdDEXT)
	if o.tcp {
		tucmd |= txdTucmdTCP
	}
	var paylen, status uint32
	if o.MSS > 0 {
		tucmd |= txdTucmdIP | txdTucmdTSE
		paylen = uint32(frameLen - o.hdrLen)
		status = uint32(o.hdrLen)<<8 | uint32(o.MSS)<<16
	}
	binary.LittleEndian.PutUint32(ctx[ctxPAYLEN:], paylen|txdDtypContext<<txdDtypShift|tucmd<<24)
	SetStatus(ctx, status)
}

// WriteData fills one data descriptor of an offloaded packet: n bytes at
// iova, last marks its end.
func (o TxOffload) WriteData(desc []byte, iova uint64, n int, last bool) {
	popts := uint32(txdPoptsTXSM)
	cmd := uint32(TxdCmdDEXT | TxdCmdIFCS)
	if o.MSS > 0 {
		popts |= txdPoptsIXSM
		cmd |= TxdCmdTSE
	}
	if last {
		cmd |= TxdCmdEOP
	}
	var special uint32
	if o.Tagged {
		cmd |= TxdCmdVLE
		special = uint32(o.VLAN) << 16
	}
	binary.LittleEndian.PutUint64(desc[txdAddr:], iova)
	binary.LittleEndian.PutUint32(desc[txdLength:], uint32(n)|txdDtypData<<txdDtypShift|cmd<<24)
	SetStatus(desc, popts<<8|special)
}

// SeedChecksum writes into the first piece of an offloaded packet (its
// headers) what the device sums from: the pseudo-header, with the
// transport length unless the device segments (it adds each segment's),
// and a zero IP checksum when it recomputes that per segment.
func (o TxOffload) SeedChecksum(h []byte) {
	ip := h[o.ipStart:o.ipEnd]
	length := 0
	if o.MSS > 0 {
		binary.BigEndian.PutUint16(ip[10:], 0)
	} else {
		length = int(binary.BigEndian.Uint16(ip[2:])) - (o.ipEnd - o.ipStart)
	}
	proto := uint8(header.ProtoUDP)
	if o.tcp {
		proto = header.ProtoTCP
	}
	sum := header.PseudoHeaderSum([4]byte(ip[12:16]), [4]byte(ip[16:20]), proto, length)
	binary.BigEndian.PutUint16(h[o.l4Csum:], ^header.Fold(header.Checksum(nil, sum)))
}

// Fill writes an offloaded frame into tx from its next free slot (the
// caller checked there is room): the context descriptor, then data
// descriptors over bufSize-byte pieces copied into the slots' buffers,
// the checksum seeds in the first. It returns the slot after the last.
func (o TxOffload) Fill(tx *descring.Ring, frame []byte, bufSize int) int {
	i := tx.NextToUse()
	o.WriteContext(tx.Desc(i), len(frame))
	i = tx.Next(i)
	for off := 0; off < len(frame); off += bufSize {
		n := min(bufSize, len(frame)-off)
		buf := tx.Buf(i)
		copy(buf.Buf, frame[off:off+n])
		if off == 0 {
			o.SeedChecksum(buf.Buf[:n])
		}
		o.WriteData(tx.Desc(i), buf.IOVA, n, off+n == len(frame))
		i = tx.Next(i)
	}
	return i
}
