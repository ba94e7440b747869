package pci

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Configuration space header offsets (PCI Local Bus Specification 3.0, 6.1).
const (
	CfgVendorID   = 0x00
	CfgDeviceID   = 0x02
	CfgCommand    = 0x04
	CfgStatus     = 0x06
	CfgRevision   = 0x08
	CfgClass      = 0x09
	CfgHeaderType = 0x0e
	CfgBAR0       = 0x10
	CfgCapPtr     = 0x34
	CfgIntLine    = 0x3c
	CfgIntPin     = 0x3d
)

// Command register bits.
const (
	CommandIO          = 1 << 0
	CommandMemory      = 1 << 1
	CommandBusMaster   = 1 << 2
	CommandINTxDisable = 1 << 10
)

// Status register bits.
const (
	StatusIntStatus = 1 << 3
	StatusCapList   = 1 << 4
)

// Capability IDs.
const (
	CapPM   = 0x01
	CapMSI  = 0x05
	CapPCIe = 0x10
	CapMSIX = 0x11
)

// CapName names a capability ID the way lspci does.
func CapName(id uint8) string {
	switch id {
	case CapPM:
		return "Power Management"
	case CapMSI:
		return "MSI"
	case CapPCIe:
		return "Express"
	case CapMSIX:
		return "MSI-X"
	}
	return fmt.Sprintf("cap %#02x", id)
}

// Config is configuration space as a random-access file: sysfs "config" or
// the VFIO config region both serve.
type Config struct {
	RW interface {
		io.ReaderAt
		io.WriterAt
	}
	Base int64 // offset of config space within RW (the VFIO region offset)
}

// Read8 reads one byte of configuration space.
func (c Config) Read8(off int) (uint8, error) {
	var b [1]byte
	if _, err := c.RW.ReadAt(b[:], c.Base+int64(off)); err != nil {
		return 0, fmt.Errorf("pci: config read8 %#x: %w", off, err)
	}
	return b[0], nil
}

// Read16 reads a little-endian 16-bit word.
func (c Config) Read16(off int) (uint16, error) {
	var b [2]byte
	if _, err := c.RW.ReadAt(b[:], c.Base+int64(off)); err != nil {
		return 0, fmt.Errorf("pci: config read16 %#x: %w", off, err)
	}
	return binary.LittleEndian.Uint16(b[:]), nil
}

// Read32 reads a little-endian 32-bit word.
func (c Config) Read32(off int) (uint32, error) {
	var b [4]byte
	if _, err := c.RW.ReadAt(b[:], c.Base+int64(off)); err != nil {
		return 0, fmt.Errorf("pci: config read32 %#x: %w", off, err)
	}
	return binary.LittleEndian.Uint32(b[:]), nil
}

// Write16 writes a little-endian 16-bit word.
func (c Config) Write16(off int, v uint16) error {
	var b [2]byte
	binary.LittleEndian.PutUint16(b[:], v)
	if _, err := c.RW.WriteAt(b[:], c.Base+int64(off)); err != nil {
		return fmt.Errorf("pci: config write16 %#x: %w", off, err)
	}
	return nil
}

// SetCommand sets bits in the command register (read-modify-write).
func (c Config) SetCommand(bits uint16) error {
	cmd, err := c.Read16(CfgCommand)
	if err != nil {
		return err
	}
	return c.Write16(CfgCommand, cmd|bits)
}

// EnableBusMaster lets the device master the bus: without it no DMA.
func (c Config) EnableBusMaster() error {
	return c.SetCommand(CommandBusMaster | CommandMemory | CommandIO)
}

// Capability is one entry of the standard capability list.
type Capability struct {
	ID     uint8
	Offset int
}

func (c Capability) String() string { return fmt.Sprintf("[%02x] %s", c.Offset, CapName(c.ID)) }

// ErrCapLoop says the capability list does not terminate.
var ErrCapLoop = errors.New("capability list loops")

// Capabilities walks the standard capability list. The pointers come from
// the device, so the walk is bounded (48 entries fit in 256 bytes) and every
// pointer is checked to lie in the header's capability area.
func (c Config) Capabilities() ([]Capability, error) {
	st, err := c.Read16(CfgStatus)
	if err != nil {
		return nil, err
	}
	if st&StatusCapList == 0 {
		return nil, nil
	}
	ptr, err := c.Read8(CfgCapPtr)
	if err != nil {
		return nil, err
	}
	var caps []Capability
	for n := 0; ptr != 0; n++ {
		if n >= 48 {
			return caps, fmt.Errorf("pci: %w", ErrCapLoop)
		}
		off := int(ptr &^ 3) // the low two bits are reserved
		if off < 0x40 {
			return caps, fmt.Errorf("pci: capability pointer %#x inside the header", ptr)
		}
		id, err := c.Read8(off)
		if err != nil {
			return caps, err
		}
		caps = append(caps, Capability{ID: id, Offset: off})
		if ptr, err = c.Read8(off + 1); err != nil {
			return caps, err
		}
	}
	return caps, nil
}

// FindCapability returns the offset of the first capability with id, or 0.
func (c Config) FindCapability(id uint8) (int, error) {
	caps, err := c.Capabilities()
	for _, cp := range caps {
		if cp.ID == id {
			return cp.Offset, nil
		}
	}
	return 0, err
}
