package pci

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// DefaultSysfs is where the kernel exposes the PCI bus.
const DefaultSysfs = "/sys/bus/pci"

// ErrNoIOMMUGroup is returned for a device that has no IOMMU group: the
// IOMMU is off (enable VT-d / AMD-Vi in firmware and boot with intel_iommu=on
// or amd_iommu=on).
var ErrNoIOMMUGroup = errors.New("no IOMMU group: enable VT-d/AMD-Vi and boot with intel_iommu=on")

// Class codes (PCI Code and ID Assignment Specification, base class 02h).
const (
	ClassNetwork  = 0x02
	SubclassEther = 0x00
)

// BAR is one base address register as sysfs "resource" reports it.
type BAR struct {
	Index int
	Start uint64
	Size  uint64
	IO    bool // I/O-port space rather than memory space
	Pref  bool // prefetchable memory
	Mem64 bool // 64-bit memory BAR
}

func (b BAR) String() string {
	kind := "Memory"
	if b.IO {
		kind = "I/O ports"
	}
	s := fmt.Sprintf("Region %d: %s at %x [size=%d]", b.Index, kind, b.Start, b.Size)
	if b.Pref {
		s += " prefetchable"
	}
	return s
}

// Device is one PCI function as sysfs describes it.
type Device struct {
	Addr       string // domain:bus:slot.function, e.g. 0000:00:03.0
	Vendor     uint16
	DeviceID   uint16
	Class      uint32 // 24-bit class code: base, sub, prog-if
	Driver     string // bound driver, "" if none
	IOMMUGroup int    // -1 if the device has none
	BARs       []BAR  // only the implemented ones

	sysfs string
}

// Path is the device's sysfs directory.
func (d *Device) Path() string { return filepath.Join(d.sysfs, "devices", d.Addr) }

// IsEthernet reports whether the class code says Ethernet controller.
func (d *Device) IsEthernet() bool {
	return d.Class>>16 == ClassNetwork && (d.Class>>8)&0xff == SubclassEther
}

func (d *Device) String() string {
	drv := d.Driver
	if drv == "" {
		drv = "-"
	}
	return fmt.Sprintf("%s [%04x:%04x] class %06x driver %s iommu_group %d", d.Addr, d.Vendor, d.DeviceID, d.Class, drv, d.IOMMUGroup)
}

// Bus is a view of a sysfs PCI bus tree. Root is normally DefaultSysfs; tests
// point it at a fixture.
type Bus struct {
	Root string

	// Kernel, if set, is called after each sysfs write: a fixture tree uses
	// it to play the kernel's part (see package pcitest).
	Kernel func(path, val string)
}

// NewBus returns the bus at root, or at DefaultSysfs when root is "".
func NewBus(root string) *Bus {
	if root == "" {
		root = DefaultSysfs
	}
	return &Bus{Root: root}
}

// List returns every device on the bus sorted by address.
func (b *Bus) List() ([]*Device, error) {
	ents, err := os.ReadDir(filepath.Join(b.Root, "devices"))
	if err != nil {
		return nil, fmt.Errorf("pci: list devices: %w", err)
	}
	var devs []*Device
	for _, e := range ents {
		d, err := b.Device(e.Name())
		if err != nil {
			return nil, err
		}
		devs = append(devs, d)
	}
	sort.Slice(devs, func(i, j int) bool { return devs[i].Addr < devs[j].Addr })
	return devs, nil
}

// Device reads one device by its address. A short address ("00:03.0") gets
// domain 0000.
func (b *Bus) Device(addr string) (*Device, error) {
	addr = CanonicalAddr(addr)
	d := &Device{Addr: addr, sysfs: b.Root, IOMMUGroup: -1}
	p := d.Path()
	var err error
	if d.Vendor, err = readHex16(p, "vendor"); err != nil {
		return nil, err
	}
	if d.DeviceID, err = readHex16(p, "device"); err != nil {
		return nil, err
	}
	c, err := readHex(p, "class", 32)
	if err != nil {
		return nil, err
	}
	d.Class = uint32(c)
	if l, err := os.Readlink(filepath.Join(p, "driver")); err == nil {
		d.Driver = filepath.Base(l)
	}
	if l, err := os.Readlink(filepath.Join(p, "iommu_group")); err == nil {
		if g, err := strconv.Atoi(filepath.Base(l)); err == nil {
			d.IOMMUGroup = g
		}
	}
	d.BARs, err = readResources(p)
	if err != nil {
		return nil, err
	}
	return d, nil
}

// CanonicalAddr adds the 0000 domain to a short bus address.
func CanonicalAddr(addr string) string {
	if strings.Count(addr, ":") == 1 {
		return "0000:" + addr
	}
	return addr
}

// IOMMUGroupDevices lists the addresses of every device in the device's
// IOMMU group.
func (b *Bus) IOMMUGroupDevices(d *Device) ([]string, error) {
	if d.IOMMUGroup < 0 {
		return nil, fmt.Errorf("pci: %s: %w", d.Addr, ErrNoIOMMUGroup)
	}
	dir := filepath.Join(d.Path(), "iommu_group", "devices")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("pci: %s: iommu group devices: %w", d.Addr, err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out, nil
}

// Resource flags from include/linux/ioport.h, as printed in sysfs "resource".
const (
	ioresourceIO       = 0x00000100
	ioresourceMem      = 0x00000200
	ioresourcePrefetch = 0x00002000
	ioresourceMem64    = 0x00100000
)

func readResources(p string) ([]BAR, error) {
	raw, err := os.ReadFile(filepath.Join(p, "resource"))
	if err != nil {
		return nil, fmt.Errorf("pci: read %s/resource: %w", p, err)
	}
	var bars []BAR
	for i, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		if i > 5 {
			break // ROM and bridge windows follow the six BARs
		}
		f := strings.Fields(line)
		if len(f) != 3 {
			return nil, fmt.Errorf("pci: %s/resource line %d: want 3 fields, got %q", p, i, line)
		}
		var v [3]uint64
		for j := range f {
			if v[j], err = strconv.ParseUint(strings.TrimPrefix(f[j], "0x"), 16, 64); err != nil {
				return nil, fmt.Errorf("pci: %s/resource line %d: %w", p, i, err)
			}
		}
		if v[1] == 0 || v[2]&(ioresourceIO|ioresourceMem) == 0 {
			continue
		}
		bars = append(bars, BAR{
			Index: i,
			Start: v[0],
			Size:  v[1] - v[0] + 1,
			IO:    v[2]&ioresourceIO != 0,
			Pref:  v[2]&ioresourcePrefetch != 0,
			Mem64: v[2]&ioresourceMem64 != 0,
		})
	}
	return bars, nil
}

func readHex(dir, name string, bits int) (uint64, error) {
	raw, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return 0, fmt.Errorf("pci: read %s/%s: %w", dir, name, err)
	}
	v, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimSpace(string(raw)), "0x"), 16, bits)
	if err != nil {
		return 0, fmt.Errorf("pci: parse %s/%s: %w", dir, name, err)
	}
	return v, nil
}

func readHex16(dir, name string) (uint16, error) {
	v, err := readHex(dir, name, 16)
	return uint16(v), err
}
