package e1000

import (
	"encoding/binary"

	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/netcore/skb"
)

// The transmit path (e1000_xmit_frame and e1000_clean_tx_irq): frames
// copied into the ring's buffers, legacy descriptors or a context
// descriptor for the offloads, the doorbell, and reclaiming what was sent.

// StartXmit implements netcore.DeviceOps (e1000_xmit_frame): copy the frame
// into the slot's buffer, fill one legacy descriptor, bump TDT (or leave
// it for the batch's last frame).
func (d *Driver) StartXmit(b *skb.Buff) netcore.TxStatus {
	d.txMu.Lock()
	defer d.txMu.Unlock()
	tx := d.tx
	n := b.Len()
	if b.CsumPartial || b.GSOSize > 0 {
		return d.xmitOffloadLocked(b)
	}
	if n > bufSize {
		d.Counters.TxTooBig.Add(1)
		d.Dev.Stats.TxDropped.Add(1)
		b.Free()
		return netcore.TxOK
	}
	if tx.Unused() < txCleanThreshold {
		d.cleanTxLocked()
	}
	if !d.running.Load() || tx.Unused() < 1 {
		d.stopQueueLocked()
		return netcore.TxBusy
	}
	i := tx.NextToUse()
	buf := tx.Buf(i)
	copy(buf.Buf, b.Data())
	b.Free()
	desc := tx.Desc(i)
	binary.LittleEndian.PutUint64(desc[txdAddr:], buf.IOVA)
	binary.LittleEndian.PutUint16(desc[txdLength:], uint16(n))
	desc[txdCSO] = 0
	desc[txdCmd] = txd_CMD_EOP | txd_CMD_IFCS | txd_CMD_RS
	storeStatus(desc, 0)
	tx.SetNextToUse(tx.Next(i))
	d.doorbellLocked()
	if tx.Unused() < 1 {
		d.stopQueueLocked()
	}
	return netcore.TxOK
}

// txBatch bounds the frames filled behind the doorbell: the device starts
// on a batch no later than its 32nd frame (DPDK's tx_burst size).
const txBatch = 32

// doorbellLocked ends a frame: when the core says more follow
// (XmitMore), TDT waits for the last of the batch, one register write —
// under QEMU one VM exit, in which the device sends — for the whole
// batch instead of one per frame (e1000_xmit_frame's netdev_xmit_more).
func (d *Driver) doorbellLocked() {
	d.txPending++
	if d.Dev.XmitMore() && d.txPending < txBatch {
		return
	}
	d.flushTxLocked()
}

// flushTxLocked writes TDT if descriptors wait behind it. The store is a
// full barrier (vfio.MMIO): the descriptors and buffers are visible
// before the device reads TDT.
func (d *Driver) flushTxLocked() {
	if d.txPending == 0 {
		return
	}
	d.txPending = 0
	if !d.faultTxStall.Load() {
		d.Counters.TxDoorbells.Add(1) // before: the device may send, and a reader look, at once
		d.r.write(regTDT, uint32(d.tx.NextToUse()))
	}
}

// FlushXmit implements netcore.TxFlusher: the core promised more frames
// and has none after all.
func (d *Driver) FlushXmit() {
	d.txMu.Lock()
	d.flushTxLocked()
	d.txMu.Unlock()
}

// stopQueueLocked stops the queue on a full ring (__e1000_maybe_stop_tx)
// and asks for the completion interrupt that will wake it, then looks
// again: descriptors sent meanwhile (QEMU sends them as TDT is written)
// would otherwise leave it stopped with their TXDW already raised.
func (d *Driver) stopQueueLocked() {
	d.flushTxLocked() // the device must drain what it has not been told of
	d.Dev.NetifStopQueue()
	if d.running.Load() && !d.cfg.BusyPoll && d.hw.IRQ != nil {
		d.r.write(regIMS, icr_TXDW)
	}
	d.cleanTxLocked()
}

// cleanTxLocked reclaims sent descriptors (e1000_clean_tx_irq) and wakes
// the queue when enough are free. The caller holds txMu: both the NAPI
// poll and the transmit path clean.
func (d *Driver) cleanTxLocked() int {
	tx := d.tx
	i := tx.NextToClean()
	end := tx.NextToUse()
	n := 0
	for i != end {
		desc := tx.Desc(i)
		if loadStatus(desc)&txd_STAT_DD == 0 {
			break
		}
		storeStatus(desc, 0)
		i = tx.Next(i)
		n++
	}
	if n > 0 {
		tx.SetNextToClean(i)
	}
	if d.Dev.NetifQueueStopped() && d.running.Load() && tx.Unused() >= min(txWakeThreshold, tx.Count()/2) {
		d.Counters.TxRestarts.Add(1)
		d.Dev.NetifWakeQueue()
	}
	return n
}

// minTSORing is the smallest TX ring TSO is offered on: twice the
// descriptors of the largest TSO packet.
const minTSORing = 128

// txOffload is what a context descriptor says about a packet: where its
// headers are, and for TSO the segment size.
type txOffload struct {
	ipStart, ipEnd  int // IP header [ipStart, ipEnd)
	l4Start, l4Csum int
	hdrLen          int // Ethernet + IP + TCP headers (TSO)
	tcp             bool
	mss             int // 0: checksum offload only
}

// parseOffload finds the headers of a frame our stack built for the
// offloads (IPv4, TCP or UDP, no VLAN tag). The stack is trusted, the
// lengths are still checked: a bad frame is dropped, not sent garbled.
func parseOffload(frame []byte, gsoSize int) (txOffload, bool) {
	const eth = 14
	var o txOffload
	if len(frame) < eth+20 || binary.BigEndian.Uint16(frame[12:]) != 0x0800 || frame[eth]>>4 != 4 {
		return o, false
	}
	ihl := int(frame[eth]&0x0f) * 4
	o.ipStart, o.ipEnd, o.l4Start = eth, eth+ihl, eth+ihl
	switch frame[eth+9] {
	case 6:
		o.tcp, o.l4Csum = true, o.l4Start+16
		if o.l4Start+20 > len(frame) {
			return o, false
		}
		o.hdrLen = o.l4Start + int(frame[o.l4Start+12]>>4)*4
	case 17:
		o.l4Csum, o.hdrLen = o.l4Start+6, o.l4Start+8
	default:
		return o, false
	}
	if ihl < 20 || o.hdrLen > len(frame) || o.l4Csum+2 > len(frame) || o.hdrLen > bufSize {
		return o, false
	}
	if gsoSize > 0 {
		if !o.tcp || gsoSize+o.hdrLen > bufSize {
			return o, false
		}
		o.mss = gsoSize
	}
	return o, true
}

// xmitOffloadLocked sends a packet whose checksum, and for TSO whose
// segmentation, the device does (e1000_tso, e1000_tx_csum): a context
// descriptor with the header offsets, then data descriptors over
// bufSize-byte pieces of the packet, TSE on each for TSO, EOP on the last.
// The checksum field is seeded in the copy as the hardware expects: the
// pseudo-header sum, without the length for TSO (the device adds each
// segment's), and for TSO a zero IP checksum it fills per segment.
func (d *Driver) xmitOffloadLocked(b *skb.Buff) netcore.TxStatus {
	tx := d.tx
	frame := b.Data()
	o, ok := parseOffload(frame, int(b.GSOSize))
	need := 1 + (len(frame)+bufSize-1)/bufSize
	if !ok || need > tx.Count()/2 || (o.mss == 0 && len(frame) > bufSize) {
		d.Counters.TxBadOffload.Add(1)
		d.Dev.Stats.TxDropped.Add(1)
		b.Free()
		return netcore.TxOK
	}
	if tx.Unused() < need+txCleanThreshold {
		d.cleanTxLocked()
	}
	if !d.running.Load() || tx.Unused() < need {
		d.stopQueueLocked()
		return netcore.TxBusy
	}
	// The context descriptor.
	i := tx.NextToUse()
	ctx := tx.Desc(i)
	clear(ctx[:12])
	ctx[ctxIPCSS], ctx[ctxIPCSO] = uint8(o.ipStart), uint8(o.ipStart+10)
	binary.LittleEndian.PutUint16(ctx[ctxIPCSE:], uint16(o.ipEnd-1))
	ctx[ctxTUCSS], ctx[ctxTUCSO] = uint8(o.l4Start), uint8(o.l4Csum)
	tucmd := uint32(txd_TUCMD_DEXT | txd_TUCMD_RS)
	if o.tcp {
		tucmd |= txd_TUCMD_TCP
	}
	var paylen, status uint32
	if o.mss > 0 {
		tucmd |= txd_TUCMD_IP | txd_TUCMD_TSE
		paylen = uint32(len(frame) - o.hdrLen)
		status = uint32(o.hdrLen)<<8 | uint32(o.mss)<<16
		d.Counters.TxTSO.Add(1)
	} else {
		d.Counters.TxCsumOffload.Add(1)
	}
	binary.LittleEndian.PutUint32(ctx[ctxPAYLEN:], paylen|txd_DTYP_C<<txd_DTYP_SHL|tucmd<<24)
	storeStatus(ctx, status)
	i = tx.Next(i)
	// The data descriptors.
	popts := uint32(txd_POPTS_TXSM)
	dcmd := uint32(txd_CMD_DEXT | txd_CMD_IFCS | txd_CMD_RS)
	if o.mss > 0 {
		popts |= txd_POPTS_IXSM
		dcmd |= txd_CMD_TSE
	}
	for off := 0; off < len(frame); off += bufSize {
		n := min(bufSize, len(frame)-off)
		buf := tx.Buf(i)
		copy(buf.Buf, frame[off:off+n])
		if off == 0 {
			seedChecksum(buf.Buf[:n], o)
		}
		desc := tx.Desc(i)
		binary.LittleEndian.PutUint64(desc[txdAddr:], buf.IOVA)
		cmd := dcmd
		if off+n == len(frame) {
			cmd |= txd_CMD_EOP
		}
		binary.LittleEndian.PutUint32(desc[dataLength:], uint32(n)|txd_DTYP_D<<txd_DTYP_SHL|cmd<<24)
		storeStatus(desc, popts<<8)
		i = tx.Next(i)
	}
	b.Free()
	tx.SetNextToUse(i)
	d.doorbellLocked()
	if tx.Unused() < need {
		d.stopQueueLocked()
	}
	return netcore.TxOK
}

// seedChecksum writes into the first piece of an offloaded packet (its
// headers) what the device sums from: the pseudo-header, with the
// transport length unless the device segments (it adds each segment's),
// and a zero IP checksum when it recomputes that per segment.
func seedChecksum(h []byte, o txOffload) {
	ip := h[o.ipStart:o.ipEnd]
	length := 0
	if o.mss > 0 {
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
