package vfio

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ringonet/ringo/pci"
)

// Region describes one VFIO region (a BAR, the ROM, config space).
type Region struct {
	Index  int
	Flags  uint32
	Size   uint64
	Offset uint64 // offset of the region in the device fd
}

// Region returns the region's description; a size of 0 means the device
// does not implement it.
func (d *Device) Region(index int) (Region, error) {
	ri := regionInfo{Argsz: uint32(unsafe.Sizeof(regionInfo{})), Index: uint32(index)}
	if err := ioctlPtr(d.dev, ioctlDeviceGetRegion, unsafe.Pointer(&ri)); err != nil {
		return Region{}, fmt.Errorf("vfio: %s region %d info: %w", d.Addr, index, err)
	}
	return Region{Index: index, Flags: ri.Flags, Size: ri.Size, Offset: ri.Offset}, nil
}

// Config returns the device's configuration space through the VFIO config
// region (VFIO virtualizes parts of it, such as the BARs).
func (d *Device) Config() (pci.Config, error) {
	r, err := d.Region(PCIConfigRegion)
	if err != nil {
		return pci.Config{}, err
	}
	return pci.Config{RW: d.dev, Base: int64(r.Offset)}, nil
}

// EnableBusMaster sets Bus Master (and memory and I/O decode) in the command
// register: the device cannot DMA without it.
func (d *Device) EnableBusMaster() error {
	c, err := d.Config()
	if err != nil {
		return err
	}
	if err := c.EnableBusMaster(); err != nil {
		return fmt.Errorf("vfio: %s bus master: %w", d.Addr, err)
	}
	return nil
}

// MMIO is a BAR mapped into the process. It implements Registers.
type MMIO struct {
	mem []byte
}

// MapBAR maps a memory BAR.
func (d *Device) MapBAR(index int) (*MMIO, error) {
	r, err := d.Region(index)
	if err != nil {
		return nil, err
	}
	if r.Size == 0 {
		return nil, fmt.Errorf("vfio: %s BAR%d not implemented", d.Addr, index)
	}
	if r.Flags&RegionMmap == 0 {
		return nil, fmt.Errorf("vfio: %s BAR%d cannot be mmapped (an I/O-port BAR? use PortBAR)", d.Addr, index)
	}
	mem, err := unix.Mmap(int(d.dev.Fd()), int64(r.Offset), int(r.Size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("vfio: %s mmap BAR%d (%d bytes): %w", d.Addr, index, r.Size, err)
	}
	m := &MMIO{mem: mem}
	d.mu.Lock()
	d.maps = append(d.maps, m)
	d.mu.Unlock()
	return m, nil
}

// Len is the window's size in bytes.
func (m *MMIO) Len() int { return len(m.mem) }

func (m *MMIO) reg(off uint32) *uint32 {
	_ = m.mem[off+3] // bounds check: an offset outside the BAR is a driver bug
	return (*uint32)(unsafe.Pointer(&m.mem[off]))
}

// Read32 loads a register. The atomic load is one MOV on amd64 that the
// compiler keeps and does not move across other atomics.
func (m *MMIO) Read32(off uint32) uint32 { return atomic.LoadUint32(m.reg(off)) }

// Write32 stores a register. On amd64 the atomic store is an XCHG, a full
// barrier: earlier writes to DMA memory are visible before the device sees
// the register write (the wmb() before a tail update in Linux drivers).
func (m *MMIO) Write32(off uint32, v uint32) { atomic.StoreUint32(m.reg(off), v) }

func (m *MMIO) unmap() error {
	if m.mem == nil {
		return nil
	}
	err := unix.Munmap(m.mem)
	m.mem = nil
	return err
}

// PortIO is an I/O-port BAR reached by pread/pwrite on the device fd. It
// implements Ports.
type PortIO struct {
	fd   int
	base int64
	size uint32
	addr string
}

// PortBAR opens an I/O-port BAR.
func (d *Device) PortBAR(index int) (*PortIO, error) {
	r, err := d.Region(index)
	if err != nil {
		return nil, err
	}
	if r.Size == 0 {
		return nil, fmt.Errorf("vfio: %s BAR%d not implemented", d.Addr, index)
	}
	return &PortIO{fd: int(d.dev.Fd()), base: int64(r.Offset), size: uint32(r.Size), addr: d.Addr}, nil
}

// Read8 reads one port.
func (p *PortIO) Read8(off uint32) (uint8, error) {
	var b [1]byte
	if err := p.pread(b[:], off); err != nil {
		return 0, err
	}
	return b[0], nil
}

// Write8 writes one port.
func (p *PortIO) Write8(off uint32, v uint8) error { return p.pwrite([]byte{v}, off) }

// Read16 reads a 16-bit port.
func (p *PortIO) Read16(off uint32) (uint16, error) {
	var b [2]byte
	if err := p.pread(b[:], off); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint16(b[:]), nil
}

// ReadBuf fills buf by repeated width-sized reads of one port. vfio-pci
// turns a pread of N bytes at a port into accesses of consecutive ports, so
// each access is one pread; a read of width bytes is one port access.
func (p *PortIO) ReadBuf(off uint32, width int, buf []byte) error {
	if width != 1 && width != 2 && width != 4 || len(buf)%width != 0 {
		return fmt.Errorf("vfio: %s port %#x: read %d bytes by %d", p.addr, off, len(buf), width)
	}
	for i := 0; i < len(buf); i += width {
		if err := p.pread(buf[i:i+width], off); err != nil {
			return err
		}
	}
	return nil
}

// WriteBuf writes buf by repeated width-sized writes of one port.
func (p *PortIO) WriteBuf(off uint32, width int, buf []byte) error {
	if width != 1 && width != 2 && width != 4 || len(buf)%width != 0 {
		return fmt.Errorf("vfio: %s port %#x: write %d bytes by %d", p.addr, off, len(buf), width)
	}
	for i := 0; i < len(buf); i += width {
		if err := p.pwrite(buf[i:i+width], off); err != nil {
			return err
		}
	}
	return nil
}

func (p *PortIO) pread(b []byte, off uint32) error {
	if off+uint32(len(b)) > p.size {
		return fmt.Errorf("vfio: %s port %#x+%d outside the %d-byte BAR", p.addr, off, len(b), p.size)
	}
	n, err := unix.Pread(p.fd, b, p.base+int64(off))
	if err != nil || n != len(b) {
		return fmt.Errorf("vfio: %s read port %#x: %d bytes, %v", p.addr, off, n, err)
	}
	return nil
}

func (p *PortIO) pwrite(b []byte, off uint32) error {
	if off+uint32(len(b)) > p.size {
		return fmt.Errorf("vfio: %s port %#x+%d outside the %d-byte BAR", p.addr, off, len(b), p.size)
	}
	n, err := unix.Pwrite(p.fd, b, p.base+int64(off))
	if err != nil || n != len(b) {
		return fmt.Errorf("vfio: %s write port %#x: %d bytes, %v", p.addr, off, n, err)
	}
	return nil
}
