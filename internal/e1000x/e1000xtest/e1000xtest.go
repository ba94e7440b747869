// Package e1000xtest is what the fake 8254x and 82574L of the drivers'
// unit tests share: DMA memory the fake device reaches by IOVA, and the
// transmit engine both parts have (legacy, context and data descriptors,
// checksum insertion and TCP segmentation as QEMU's models do them).
package e1000xtest

import (
	"encoding/binary"
	"sync"

	"github.com/ringonet/ringo/internal/e1000x"
	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/vfio"
)

// DMA hands out Go memory and translates an IOVA back, as the IOMMU would
// for the fake device.
type DMA struct {
	mu   sync.Mutex
	next uint64
	Mem  map[uint64][]byte // base IOVA -> buffer
}

// NewDMA returns an empty allocator.
func NewDMA() *DMA { return &DMA{next: 0x200000, Mem: map[uint64][]byte{}} }

// AllocDMA implements vfio.DMAAllocator.
func (f *DMA) AllocDMA(size, align int) (vfio.DMABuf, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.next = (f.next + uint64(align) - 1) &^ (uint64(align) - 1)
	b := vfio.DMABuf{Buf: make([]byte, size), IOVA: f.next}
	f.Mem[f.next] = b.Buf
	f.next += uint64(size)
	return b, nil
}

// Mapped is how many allocations there are.
func (f *DMA) Mapped() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.Mem)
}

// At returns n bytes at iova, or nil if the range is not mapped (the IOMMU
// would fault).
func (f *DMA) At(iova uint64, n int) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	for base, b := range f.Mem {
		if iova >= base && iova+uint64(n) <= base+uint64(len(b)) {
			return b[iova-base : iova-base+uint64(n)]
		}
	}
	return nil
}

// TxEngine is one transmit queue's descriptor processing: the last
// context, the packet being gathered.
type TxEngine struct {
	ctx     []byte
	pending []byte
}

// Take processes one descriptor and, if it asks for status (CMD.RS, as
// QEMU's txdesc_writeback and the parts do), sets its DD bit. It returns
// the frames the descriptor completed (none until EOP; several for TSO)
// and false if its buffer was not mapped.
func (e *TxEngine) Take(d []byte, dma *DMA) ([][]byte, bool) {
	if d[11]&e1000x.TxdCmdRS != 0 {
		defer e1000x.StoreStatus(d, e1000x.LoadStatus(d)|e1000x.TxdStatDD)
	}
	word := binary.LittleEndian.Uint32(d[8:])
	cmd := d[11]
	// VLE: the part inserts the tag from the special field after the
	// MAC addresses (legacy CMD and data DCMD share the bit).
	tag := func(f []byte) []byte {
		if cmd&e1000x.TxdCmdVLE == 0 || len(f) < 12 {
			return f
		}
		t := make([]byte, 0, len(f)+4)
		t = append(t, f[:12]...)
		t = binary.BigEndian.AppendUint16(t, e1000x.EtherType8021Q)
		t = binary.BigEndian.AppendUint16(t, binary.LittleEndian.Uint16(d[14:]))
		return append(t, f[12:]...)
	}
	if cmd&e1000x.TxdCmdDEXT == 0 { // legacy: a frame over one or more
		data := dma.At(binary.LittleEndian.Uint64(d[0:]), int(word&0xffff))
		if data == nil {
			return nil, false
		}
		e.pending = append(e.pending, data...)
		if cmd&e1000x.TxdCmdEOP == 0 {
			return nil, true
		}
		f := e.pending
		e.pending = nil
		return [][]byte{tag(f)}, true
	}
	if (word>>20)&0xf == 0 { // context
		e.ctx = append([]byte(nil), d[:16]...)
		return nil, true
	}
	data := dma.At(binary.LittleEndian.Uint64(d[0:]), int(word&0xfffff))
	if data == nil {
		return nil, false
	}
	e.pending = append(e.pending, data...)
	if cmd&e1000x.TxdCmdEOP == 0 {
		return nil, true
	}
	pkt, c := e.pending, e.ctx
	e.pending = nil
	if c == nil {
		return nil, false
	}
	popts := d[13]
	ipcss, ipcso, ipcse := int(c[0]), int(c[1]), int(binary.LittleEndian.Uint16(c[2:]))
	tucss, tucso := int(c[4]), int(c[5])
	putsum := func(b []byte, start, end, at int) {
		binary.BigEndian.PutUint16(b[at:], header.Fold(header.Checksum(b[start:end], 0)))
	}
	var out [][]byte
	emit := func(b []byte) {
		if popts&2 != 0 { // TXSM
			putsum(b, tucss, len(b), tucso)
		}
		if popts&1 != 0 { // IXSM
			putsum(b, ipcss, ipcse+1, ipcso)
		}
		out = append(out, tag(b))
	}
	if cmd&e1000x.TxdCmdTSE == 0 {
		emit(append([]byte(nil), pkt...))
		return out, true
	}
	hdr, mss := int(c[13]), int(binary.LittleEndian.Uint16(c[14:]))
	for k, off := 0, hdr; off < len(pkt); k, off = k+1, off+mss {
		n := min(mss, len(pkt)-off)
		s := append(append([]byte(nil), pkt[:hdr]...), pkt[off:off+n]...)
		binary.BigEndian.PutUint16(s[ipcss+2:], uint16(len(s)-ipcss))
		binary.BigEndian.PutUint16(s[ipcss+4:], binary.BigEndian.Uint16(s[ipcss+4:])+uint16(k))
		binary.BigEndian.PutUint32(s[tucss+4:], binary.BigEndian.Uint32(s[tucss+4:])+uint32(off-hdr))
		if off+n < len(pkt) {
			s[tucss+13] &^= header.TCPFlagFIN | header.TCPFlagPSH
		}
		// The device adds this segment's TCP length to the seed.
		seed := uint32(binary.BigEndian.Uint16(s[tucso:])) + uint32(len(s)-tucss)
		binary.BigEndian.PutUint16(s[tucso:], uint16(seed>>16+seed&0xffff))
		emit(s)
	}
	return out, true
}
