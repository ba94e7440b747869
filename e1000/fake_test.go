package e1000

import (
	"encoding/binary"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/vfio"
)

// fakeDMA hands out Go memory and can translate an IOVA back, as the
// IOMMU would for the fake device.
type fakeDMA struct {
	mu   sync.Mutex
	next uint64
	mem  map[uint64][]byte // base IOVA -> buffer
}

func newFakeDMA() *fakeDMA { return &fakeDMA{next: 0x200000, mem: map[uint64][]byte{}} }

func (f *fakeDMA) AllocDMA(size, align int) (vfio.DMABuf, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.next = (f.next + uint64(align) - 1) &^ (uint64(align) - 1)
	b := vfio.DMABuf{Buf: make([]byte, size), IOVA: f.next}
	f.mem[f.next] = b.Buf
	f.next += uint64(size)
	return b, nil
}

// at returns n bytes at iova, or nil if the range is not mapped (the IOMMU
// would fault).
func (f *fakeDMA) at(iova uint64, n int) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	for base, b := range f.mem {
		if iova >= base && iova+uint64(n) <= base+uint64(len(b)) {
			return b[iova-base : iova-base+uint64(n)]
		}
	}
	return nil
}

// fakeE1000 models the parts of an 82540EM the driver uses: reset,
// station address, ICR/IMS/IMC, the RX and TX descriptor rings with DMA,
// statistics that clear on read, link state, and an INTx eventfd.
type fakeE1000 struct {
	t   testing.TB
	dma *fakeDMA
	mac [6]byte

	mu        sync.Mutex
	regs      map[uint32]uint32
	icr       uint32
	ims       uint32
	link      bool
	sent      [][]byte
	faults    int  // DMA to unmapped memory
	holdTx    bool // TDT writes do not transmit until releaseTx
	doorbells int  // TDT writes
	// keepStats: MPC and RNBC keep their totals when read, as QEMU's
	// model has them (the part clears them).
	keepStats bool
	efd       int
	// Extended descriptors: the last context, the packet being gathered.
	ctx     []byte
	pending []byte
}

func newFakeE1000(t testing.TB) *fakeE1000 {
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(efd) })
	f := &fakeE1000{t: t, dma: newFakeDMA(), mac: [6]byte{0x52, 0x54, 0, 0x12, 0x34, 0x56}, regs: map[uint32]uint32{}, link: true, efd: efd}
	f.loadEEPROM()
	return f
}

func (f *fakeE1000) loadEEPROM() {
	f.regs[regRAL0] = binary.LittleEndian.Uint32(f.mac[0:4])
	f.regs[regRAH0] = uint32(binary.LittleEndian.Uint16(f.mac[4:6])) | rah_AV
}

func (f *fakeE1000) hw() HW { return HW{Regs: f, DMA: f.dma, IRQ: f} }

// Fd and Unmask make the fake an interrupt source.
func (f *fakeE1000) Fd() int       { return f.efd }
func (f *fakeE1000) Unmask() error { return nil }

func (f *fakeE1000) Read32(off uint32) uint32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch off {
	case regICR:
		v := f.icr
		f.icr = 0
		return v
	case regIMS:
		return f.ims
	case regSTATUS:
		if f.link {
			return status_FD | status_LU
		}
		return status_FD
	}
	if off >= regCRCERRS && off < regCRCERRS+0x100 {
		// The statistics registers all clear on read.
		v := f.regs[off]
		if !(f.keepStats && (off == regMPC || off == regRNBC)) {
			f.regs[off] = 0
		}
		return v
	}
	return f.regs[off]
}

func (f *fakeE1000) Write32(off uint32, v uint32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch off {
	case regCTRL:
		if v&ctrl_RST != 0 {
			f.regs = map[uint32]uint32{}
			f.icr, f.ims = 0, 0
			f.loadEEPROM()
			v &^= ctrl_RST
		}
		f.regs[regCTRL] = v
	case regIMS:
		f.ims |= v
		f.interruptLocked()
	case regIMC:
		f.ims &^= v
	case regICS:
		f.icr |= v
		f.interruptLocked()
	case regTDT:
		f.regs[regTDT] = v
		f.doorbells++
		if !f.holdTx {
			f.transmitLocked()
		}
	case regEERD:
		word := (v >> eerd_ADDR_SHIFT) & 0xff
		var data uint32
		if word < 3 {
			data = uint32(f.mac[2*word]) | uint32(f.mac[2*word+1])<<8
		}
		f.regs[regEERD] = v | eerd_DONE | data<<eerd_DATA_SHIFT
	default:
		f.regs[off] = v
	}
}

func (f *fakeE1000) interruptLocked() {
	if f.icr&f.ims != 0 {
		one := [8]byte{1}
		unix.Write(f.efd, one[:])
	}
}

func (f *fakeE1000) ringLen(lenReg uint32) uint32 { return f.regs[lenReg] / 16 }

func (f *fakeE1000) desc(baseLo, baseHi uint32, i uint32) []byte {
	base := uint64(f.regs[baseLo]) | uint64(f.regs[baseHi])<<32
	return f.dma.at(base+uint64(i)*16, 16)
}

// transmitLocked sends every descriptor from TDH to TDT.
func (f *fakeE1000) transmitLocked() {
	if f.regs[regTCTL]&tctl_EN == 0 {
		return
	}
	n := f.ringLen(regTDLEN)
	for f.regs[regTDH] != f.regs[regTDT] && n > 0 {
		d := f.desc(regTDBAL, regTDBAH, f.regs[regTDH])
		if d == nil {
			f.faults++
			return
		}
		if d[txdCmd]&txd_CMD_DEXT != 0 {
			f.extendedLocked(d)
			storeStatus(d, loadStatus(d)|txd_STAT_DD)
			f.regs[regTDH] = (f.regs[regTDH] + 1) % n
			continue
		}
		addr := binary.LittleEndian.Uint64(d[txdAddr:])
		length := int(binary.LittleEndian.Uint16(d[txdLength:]))
		data := f.dma.at(addr, length)
		if data == nil {
			f.faults++
		} else {
			f.sent = append(f.sent, append([]byte(nil), data...))
			f.regs[regGPTC]++
			f.regs[regTPT]++
		}
		storeStatus(d, loadStatus(d)|txd_STAT_DD)
		f.regs[regTDH] = (f.regs[regTDH] + 1) % n
	}
	f.icr |= icr_TXDW
	f.interruptLocked()
}

// extendedLocked takes a context or data descriptor as the 82540EM does
// (SDM 3.3.6-3.3.7, and QEMU's e1000): data gathers until EOP, then goes
// out whole or, with TSE, cut into segments by the context, the checksums
// summed from the seeds the driver left in the fields.
func (f *fakeE1000) extendedLocked(d []byte) {
	word := binary.LittleEndian.Uint32(d[8:])
	if (word>>txd_DTYP_SHL)&0xf == txd_DTYP_C {
		f.ctx = append([]byte(nil), d[:16]...)
		return
	}
	data := f.dma.at(binary.LittleEndian.Uint64(d[txdAddr:]), int(word&0xfffff))
	if data == nil {
		f.faults++
		return
	}
	f.pending = append(f.pending, data...)
	if d[txdCmd]&txd_CMD_EOP == 0 {
		return
	}
	pkt, c := f.pending, f.ctx
	f.pending = nil
	popts := d[txdStatus+1]
	ipcss, ipcso, ipcse := int(c[ctxIPCSS]), int(c[ctxIPCSO]), int(binary.LittleEndian.Uint16(c[ctxIPCSE:]))
	tucss, tucso := int(c[ctxTUCSS]), int(c[ctxTUCSO])
	putsum := func(b []byte, start, end, at int) {
		binary.BigEndian.PutUint16(b[at:], header.Fold(header.Checksum(b[start:end], 0)))
	}
	emit := func(b []byte) {
		if popts&txd_POPTS_TXSM != 0 {
			putsum(b, tucss, len(b), tucso)
		}
		if popts&txd_POPTS_IXSM != 0 {
			putsum(b, ipcss, ipcse+1, ipcso)
		}
		f.sent = append(f.sent, b)
		f.regs[regGPTC]++
	}
	if d[txdCmd]&txd_CMD_TSE == 0 {
		emit(append([]byte(nil), pkt...))
		return
	}
	hdr, mss := int(c[ctxHDRLEN]), int(binary.LittleEndian.Uint16(c[ctxMSS:]))
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
}

// receive writes a frame into the next posted RX buffer, with the status,
// error and length fields given (a hostile device may lie in any of them).
// It reports false when no buffer is posted (RDH == RDT).
func (f *fakeE1000) receive(frame []byte, status, errs uint8, length int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.regs[regRCTL]&rctl_EN == 0 || f.regs[regRDH] == f.regs[regRDT] {
		f.regs[regMPC]++
		f.regs[regRNBC]++
		return false
	}
	d := f.desc(regRDBAL, regRDBAH, f.regs[regRDH])
	addr := binary.LittleEndian.Uint64(d[rxdAddr:])
	buf := f.dma.at(addr, len(frame))
	if buf == nil {
		f.faults++
		return false
	}
	copy(buf, frame)
	binary.LittleEndian.PutUint16(d[rxdLength:], uint16(length))
	storeStatus(d, uint32(status)|uint32(errs)<<8)
	f.regs[regRDH] = (f.regs[regRDH] + 1) % f.ringLen(regRDLEN)
	f.regs[regGPRC]++
	f.regs[regTPR]++
	f.icr |= icr_RXT0
	f.interruptLocked()
	return true
}

func (f *fakeE1000) setLink(up bool) {
	f.mu.Lock()
	f.link = up
	f.icr |= icr_LSC
	f.interruptLocked()
	f.mu.Unlock()
}

func (f *fakeE1000) sentFrames() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]byte(nil), f.sent...)
}

// hold stops the transmitter from sending; release sends what queued up.
func (f *fakeE1000) hold(on bool) {
	f.mu.Lock()
	f.holdTx = on
	if !on {
		f.transmitLocked()
	}
	f.mu.Unlock()
}

// noEEPROMLoad clears RAH.AV as a part with a blank RAR after reset would.
func (f *fakeE1000) clearRAR() {
	f.mu.Lock()
	f.regs[regRAH0] = 0
	f.regs[regRAL0] = 0
	f.mu.Unlock()
}
