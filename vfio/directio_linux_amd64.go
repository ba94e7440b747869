package vfio

import (
	"fmt"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ringonet/ringo/pci"
)

// The port instructions, in ioport_amd64.s.
func inb(port uint16) uint8
func outb(port uint16, v uint8)
func insw(port uint16, buf *byte, count int)
func insl(port uint16, buf *byte, count int)
func outsw(port uint16, buf *byte, count int)
func outsl(port uint16, buf *byte, count int)

// DirectPorts reaches an I/O-port BAR with the CPU's IN and OUT
// instructions after ioperm(2) opened the BAR's ports to this process.
// VFIO gives I/O BARs no mmap, so the alternative, PortIO, costs a system
// call per access; here a frame is one REP INSL. It implements Ports.
//
// The device stays owned through VFIO (bus master, interrupts, reset);
// only the port accesses bypass it. It needs CAP_SYS_RAWIO and x86.
type DirectPorts struct {
	base uint16
	size uint32
	addr string
}

// DirectPortBAR opens BAR index of the device for direct port access.
// ioperm permissions belong to threads: they are set on every thread of
// the process at once (AllThreadsSyscall), and threads created later
// inherit them.
func (d *Device) DirectPortBAR(index int, sysfs string) (Ports, error) {
	pd, err := pci.NewBus(sysfs).Device(d.Addr)
	if err != nil {
		return nil, err
	}
	var bar *pci.BAR
	for i := range pd.BARs {
		if pd.BARs[i].Index == index {
			bar = &pd.BARs[i]
		}
	}
	if bar == nil || !bar.IO || bar.Start+bar.Size > 0x10000 {
		return nil, fmt.Errorf("vfio: %s BAR%d is not an I/O-port BAR", d.Addr, index)
	}
	if _, _, errno := syscall.AllThreadsSyscall(unix.SYS_IOPERM, uintptr(bar.Start), uintptr(bar.Size), 1); errno != 0 {
		return nil, fmt.Errorf("vfio: %s ioperm %#x+%d: %w", d.Addr, bar.Start, bar.Size, errno)
	}
	return &DirectPorts{base: uint16(bar.Start), size: uint32(bar.Size), addr: d.Addr}, nil
}

func (p *DirectPorts) check(off uint32, n int) error {
	if off+uint32(n) > p.size {
		return fmt.Errorf("vfio: %s port %#x+%d outside the %d-byte BAR", p.addr, off, n, p.size)
	}
	return nil
}

// Read8 implements Ports.
func (p *DirectPorts) Read8(off uint32) (uint8, error) {
	if err := p.check(off, 1); err != nil {
		return 0, err
	}
	return inb(p.base + uint16(off)), nil
}

// Write8 implements Ports.
func (p *DirectPorts) Write8(off uint32, v uint8) error {
	if err := p.check(off, 1); err != nil {
		return err
	}
	outb(p.base+uint16(off), v)
	return nil
}

// ReadBuf implements Ports: one REP INSW/INSL for the whole buffer.
func (p *DirectPorts) ReadBuf(off uint32, width int, buf []byte) error {
	if err := p.check(off, width); err != nil {
		return err
	}
	if len(buf) == 0 {
		return nil
	}
	switch {
	case width == 2 && len(buf)%2 == 0:
		insw(p.base+uint16(off), unsafe.SliceData(buf), len(buf)/2)
	case width == 4 && len(buf)%4 == 0:
		insl(p.base+uint16(off), unsafe.SliceData(buf), len(buf)/4)
	default:
		return fmt.Errorf("vfio: %s port %#x: read %d bytes by %d", p.addr, off, len(buf), width)
	}
	return nil
}

// WriteBuf implements Ports: one REP OUTSW/OUTSL.
func (p *DirectPorts) WriteBuf(off uint32, width int, buf []byte) error {
	if err := p.check(off, width); err != nil {
		return err
	}
	if len(buf) == 0 {
		return nil
	}
	switch {
	case width == 2 && len(buf)%2 == 0:
		outsw(p.base+uint16(off), unsafe.SliceData(buf), len(buf)/2)
	case width == 4 && len(buf)%4 == 0:
		outsl(p.base+uint16(off), unsafe.SliceData(buf), len(buf)/4)
	default:
		return fmt.Errorf("vfio: %s port %#x: write %d bytes by %d", p.addr, off, len(buf), width)
	}
	return nil
}
