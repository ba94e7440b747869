package ne2000

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// fakeNE2000 models a DP8390 with NE2000 buffer memory behind port I/O, as
// the datasheet describes it (and, unlike QEMU, with a ring that overflows:
// a frame that does not fit sets OVW and is missed).
type fakeNE2000 struct {
	unmasks atomic.Uint64 // interrupts served to the end

	mu  sync.Mutex
	mac [6]byte
	mem [0xc000]byte

	cmd, pstart, pstop, bnry, tpsr, isr, imr, rcr, tcr, dcr, curr, tsr uint8
	tbcr, rsar, rbcr                                                   uint16
	par                                                                [6]byte
	cntr                                                               [3]uint8

	sent     [][]byte
	sentN    int  // frames sent
	noRecord bool // count sent frames, keep none (an allocation each)
	missed   int
	writes   int // single-port writes (Write8), every one a VM exit on QEMU
	isrReads int // reads of ISR
	reads    int // single-port reads (Read8)
	// held keeps the interrupt from the driver (the eventfd unwritten)
	// until release.
	held bool
	// stallRDC holds back the end of remote DMA (RDC never set), as a
	// wedged card would; trace, if set, records every single-port write.
	stallRDC bool
	trace    [][2]uint32
	efd      int
	// memEnd, if set, is where buffer memory ends (0x8000 for a 16 KB
	// card): remote DMA above it reads 0xff and writes nothing.
	memEnd int
	// readLo and readHi bound the card addresses remote reads touched
	// since they were last reset (readLo > readHi: none).
	readLo, readHi int
}

func newFake(t testing.TB) *fakeNE2000 {
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(efd) })
	f := &fakeNE2000{mac: [6]byte{0x52, 0x54, 0, 0xbb, 0, 2}, efd: efd}
	f.resetLocked()
	return f
}

func (f *fakeNE2000) resetLocked() {
	f.isr = isr_RST
	f.cmd = cr_STP | cr_RD_ABORT
	for i := 0; i < 16; i++ {
		v := byte(0x57)
		if i < 6 {
			v = f.mac[i]
		} else if i < 14 {
			v = 0
		}
		f.mem[2*i], f.mem[2*i+1] = v, v
	}
}

func (f *fakeNE2000) Fd() int       { return f.efd }
func (f *fakeNE2000) Unmask() error { f.unmasks.Add(1); return nil }

func (f *fakeNE2000) irqLocked() {
	if !f.held && f.isr&f.imr&0x7f != 0 {
		one := [8]byte{1}
		unix.Write(f.efd, one[:])
	}
}

func (f *fakeNE2000) page() uint8 { return f.cmd >> 6 }

func (f *fakeNE2000) Read8(off uint32) (uint8, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	if off == ResetPort {
		f.resetLocked()
		return 0, nil
	}
	if off == regCR {
		return f.cmd, nil
	}
	switch f.page() {
	case 0:
		switch off {
		case regBNRY:
			return f.bnry, nil
		case regTSR:
			return f.tsr, nil
		case regISR:
			f.isrReads++
			return f.isr, nil
		case regCNTR0, regCNTR1, regCNTR2:
			v := f.cntr[off-regCNTR0]
			f.cntr[off-regCNTR0] = 0
			return v, nil
		}
	case 1:
		switch {
		case off >= regPAR0 && off < regPAR0+6:
			return f.par[off-regPAR0], nil
		case off == regCURR:
			return f.curr, nil
		}
	}
	return 0, nil
}

func (f *fakeNE2000) Write8(off uint32, v uint8) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writes++
	if f.trace != nil {
		f.trace = append(f.trace, [2]uint32{off, uint32(v)})
	}
	if off == ResetPort {
		return nil
	}
	if off == regCR {
		f.cmd = v
		if v&cr_STP == 0 {
			f.isr &^= isr_RST
		}
		if v&cr_STA != 0 && v&cr_TXP != 0 {
			start := int(f.tpsr) << 8
			f.sentN++
			if !f.noRecord {
				f.sent = append(f.sent, append([]byte(nil), f.mem[start:start+int(f.tbcr)]...))
			}
			f.tsr = tsr_PTX
			f.isr |= isr_PTX
			f.cmd &^= cr_TXP
			f.irqLocked()
		}
		return nil
	}
	switch f.page() {
	case 0:
		switch off {
		case regPSTART:
			f.pstart = v
		case regPSTOP:
			f.pstop = v
		case regBNRY:
			f.bnry = v
		case regTPSR:
			f.tpsr = v
		case regTBCR0:
			f.tbcr = f.tbcr&0xff00 | uint16(v)
		case regTBCR1:
			f.tbcr = f.tbcr&0xff | uint16(v)<<8
		case regISR:
			f.isr &^= v & 0x7f
		case regRSAR0:
			f.rsar = f.rsar&0xff00 | uint16(v)
		case regRSAR1:
			f.rsar = f.rsar&0xff | uint16(v)<<8
		case regRBCR0:
			f.rbcr = f.rbcr&0xff00 | uint16(v)
		case regRBCR1:
			f.rbcr = f.rbcr&0xff | uint16(v)<<8
		case regRCR:
			f.rcr = v
		case regTCR:
			f.tcr = v
		case regDCR:
			f.dcr = v
		case regIMR:
			f.imr = v
			f.irqLocked()
		}
	case 1:
		switch {
		case off >= regPAR0 && off < regPAR0+6:
			f.par[off-regPAR0] = v
		case off == regCURR:
			f.curr = v
		}
	}
	return nil
}

func (f *fakeNE2000) dmaStep(n int) {
	f.rsar += uint16(n)
	if f.pstop != 0 && f.rsar == uint16(f.pstop)<<8 {
		f.rsar = uint16(f.pstart) << 8
	}
	if int(f.rbcr) <= n {
		f.rbcr = 0
		if !f.stallRDC {
			f.isr |= isr_RDC
		}
	} else {
		f.rbcr -= uint16(n)
	}
}

func (f *fakeNE2000) ReadBuf(off uint32, width int, buf []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if off != DataPort {
		return errors.New("fake: ReadBuf not on the data port")
	}
	for i := 0; i < len(buf); i += width {
		f.readLo, f.readHi = min(f.readLo, int(f.rsar)), max(f.readHi, int(f.rsar)+width-1)
		if f.memEnd != 0 && int(f.rsar) >= f.memEnd {
			for j := i; j < i+width && j < len(buf); j++ {
				buf[j] = 0xff
			}
		} else {
			copy(buf[i:i+width], f.mem[int(f.rsar):])
		}
		f.dmaStep(width)
	}
	return nil
}

func (f *fakeNE2000) WriteBuf(off uint32, width int, buf []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if off != DataPort {
		return errors.New("fake: WriteBuf not on the data port")
	}
	for i := 0; i < len(buf); i += width {
		if f.rbcr == 0 {
			break
		}
		if f.memEnd == 0 || int(f.rsar) < f.memEnd {
			copy(f.mem[int(f.rsar):], buf[i:i+width])
		}
		f.dmaStep(width)
	}
	return nil
}

// receive puts a frame in the ring as the chip does: header at CURR,
// data after it, wrapping at PSTOP. A frame that does not fit before BNRY
// sets OVW and is missed.
func (f *fakeNE2000) receive(frame []byte) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cmd&cr_STP != 0 || f.tcr&tcr_LOOPBACK != 0 {
		return false
	}
	start, stop := int(f.pstart)<<8, int(f.pstop)<<8
	index := int(f.curr) << 8
	boundary := (int(f.bnry) + 1) << 8
	if boundary >= stop {
		boundary = start
	}
	avail := boundary - index
	if avail <= 0 {
		avail += stop - start
	}
	need := (len(frame) + 4 + 255) &^ 255
	if need >= avail {
		f.isr |= isr_OVW
		f.cntr[2]++
		f.missed++
		f.irqLocked()
		return false
	}
	next := index + need
	if next >= stop {
		next -= stop - start
	}
	f.mem[index] = rsr_PRX
	f.mem[index+1] = uint8(next >> 8)
	f.mem[index+2] = uint8(len(frame) + 4)
	f.mem[index+3] = uint8((len(frame) + 4) >> 8)
	p := index + 4
	for _, c := range frame {
		if p == stop {
			p = start
		}
		f.mem[p] = c
		p++
	}
	f.curr = uint8(next >> 8)
	f.isr |= isr_PRX
	f.irqLocked()
	return true
}

// corruptNextHeader writes a hostile header at CURR and advances CURR past
// it, as a broken card might.
func (f *fakeNE2000) corruptNextHeader(status, next uint8, count uint16) {
	f.mu.Lock()
	defer f.mu.Unlock()
	index := int(f.curr) << 8
	f.mem[index], f.mem[index+1] = status, next
	f.mem[index+2], f.mem[index+3] = uint8(count), uint8(count>>8)
	f.curr++
	if f.curr >= f.pstop {
		f.curr = f.pstart
	}
	f.isr |= isr_PRX
	f.irqLocked()
}

// hold keeps interrupts from the driver (on) or raises what is pending (off).
func (f *fakeNE2000) hold(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.held = on
	f.irqLocked()
}

// portAccesses is single-port reads and writes.
func (f *fakeNE2000) portAccesses() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reads + f.writes
}

func (f *fakeNE2000) portWrites() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.writes
}

func (f *fakeNE2000) sentFrames() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]byte(nil), f.sent...)
}
