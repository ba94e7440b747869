package e1000

import (
	"encoding/binary"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ringonet/ringo/internal/e1000x"
	"github.com/ringonet/ringo/internal/e1000x/e1000xtest"
)

// fakeE1000 models the parts of an 82540EM the driver uses: reset,
// station address, ICR/IMS/IMC, the RX and TX descriptor rings with DMA,
// statistics that clear on read, link state, and an INTx eventfd.
type fakeE1000 struct {
	t   testing.TB
	dma *e1000xtest.DMA
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
	txe       e1000xtest.TxEngine
	special   uint16 // the special field (VLAN TCI) of the next receive
}

func newFakeE1000(t testing.TB) *fakeE1000 {
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(efd) })
	f := &fakeE1000{t: t, dma: e1000xtest.NewDMA(), mac: [6]byte{0x52, 0x54, 0, 0x12, 0x34, 0x56}, regs: map[uint32]uint32{}, link: true, efd: efd}
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
	if off >= e1000x.RegCRCERRS && off < e1000x.RegCRCERRS+0x100 {
		// The statistics registers all clear on read.
		v := f.regs[off]
		if !(f.keepStats && (off == e1000x.RegMPC || off == e1000x.RegRNBC)) {
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
	return f.dma.At(base+uint64(i)*16, 16)
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
		frames, ok := f.txe.Take(d, f.dma)
		if !ok {
			f.faults++
		}
		for _, fr := range frames {
			f.sent = append(f.sent, fr)
			f.regs[e1000x.RegGPTC]++
			f.regs[e1000x.RegTPT]++
		}
		f.regs[regTDH] = (f.regs[regTDH] + 1) % n
	}
	f.icr |= icr_TXDW
	f.interruptLocked()
}

// receive writes a frame into the next posted RX buffer, with the status,
// error and length fields given (a hostile device may lie in any of them).
// It reports false when no buffer is posted (RDH == RDT).
func (f *fakeE1000) receive(frame []byte, status, errs uint8, length int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.regs[regRCTL]&rctl_EN == 0 || f.regs[regRDH] == f.regs[regRDT] {
		f.regs[e1000x.RegMPC]++
		f.regs[e1000x.RegRNBC]++
		return false
	}
	d := f.desc(regRDBAL, regRDBAH, f.regs[regRDH])
	addr := binary.LittleEndian.Uint64(d[rxdAddr:])
	buf := f.dma.At(addr, len(frame))
	if buf == nil {
		f.faults++
		return false
	}
	copy(buf, frame)
	binary.LittleEndian.PutUint16(d[rxdLength:], uint16(length))
	e1000x.StoreStatus(d, uint32(status)|uint32(errs)<<8|uint32(f.special)<<16)
	f.regs[regRDH] = (f.regs[regRDH] + 1) % f.ringLen(regRDLEN)
	f.regs[e1000x.RegGPRC]++
	f.regs[e1000x.RegTPR]++
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
