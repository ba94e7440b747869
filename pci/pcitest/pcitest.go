// Package pcitest builds sysfs PCI trees for tests: devices with vendor,
// device, class, resources and IOMMU groups, drivers bound or not, and a
// Kernel hook on the pci.Bus that plays the kernel's part when a test
// binds or unbinds (unbind removes the driver link; drivers_probe binds the
// driver_override, else the device's native driver).
package pcitest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ringonet/ringo/pci"
)

// Dev is one fake device.
type Dev struct {
	Addr, Vendor, Device, Class string
	Driver                      string // bound driver, "" for none
	Native                      string // driver drivers_probe binds without an override
	Group                       int    // IOMMU group, -1 for none
	Resource                    string // sysfs "resource" contents
}

// Resources of QEMU's e1000 (128 KiB MMIO BAR0, 64-byte I/O BAR1) and
// ne2k_pci (256-byte I/O BAR0).
const (
	E1000Resource = "0x00000000feb80000 0x00000000feb9ffff 0x0000000000040200\n" +
		"0x000000000000c000 0x000000000000c03f 0x0000000000040101\n" +
		"0x0000000000000000 0x0000000000000000 0x0000000000000000\n" +
		"0x0000000000000000 0x0000000000000000 0x0000000000000000\n" +
		"0x0000000000000000 0x0000000000000000 0x0000000000000000\n" +
		"0x0000000000000000 0x0000000000000000 0x0000000000000000\n" +
		"0x00000000feb00000 0x00000000feb3ffff 0x0000000000046200\n"
	NE2000Resource = "0x000000000000c100 0x000000000000c1ff 0x0000000000040101\n" +
		"0x0000000000000000 0x0000000000000000 0x0000000000000000\n" +
		"0x0000000000000000 0x0000000000000000 0x0000000000000000\n" +
		"0x0000000000000000 0x0000000000000000 0x0000000000000000\n" +
		"0x0000000000000000 0x0000000000000000 0x0000000000000000\n" +
		"0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
)

// E1000 and NE2000 are typical devices.
func E1000(addr string, group int) Dev {
	return Dev{Addr: addr, Vendor: "0x8086", Device: "0x100e", Class: "0x020000", Group: group, Resource: E1000Resource, Native: "e1000"}
}
func NE2000(addr string, group int) Dev {
	return Dev{Addr: addr, Vendor: "0x10ec", Device: "0x8029", Class: "0x020000", Group: group, Resource: NE2000Resource, Native: "ne2k-pci"}
}

// Fixture is a fake /sys/bus/pci.
type Fixture struct {
	Root   string
	native map[string]string
}

// New builds a tree under t.TempDir() and returns it with a Bus on it.
func New(t testing.TB, devs ...Dev) (*Fixture, *pci.Bus) {
	t.Helper()
	f := &Fixture{Root: filepath.Join(t.TempDir(), "sys", "bus", "pci"), native: map[string]string{}}
	groups := filepath.Join(f.Root, "..", "..", "kernel", "iommu_groups")
	for _, dir := range []string{filepath.Join(f.Root, "devices"), filepath.Join(f.Root, "drivers"), groups} {
		must(t, os.MkdirAll(dir, 0o755))
	}
	must(t, os.WriteFile(filepath.Join(f.Root, "drivers_probe"), nil, 0o644))
	for _, d := range devs {
		p := filepath.Join(f.Root, "devices", d.Addr)
		must(t, os.MkdirAll(p, 0o755))
		for name, val := range map[string]string{"vendor": d.Vendor, "device": d.Device, "class": d.Class, "resource": d.Resource, "driver_override": "(null)"} {
			must(t, os.WriteFile(filepath.Join(p, name), []byte(val+"\n"), 0o644))
		}
		f.native[d.Addr] = d.Native
		if d.Driver != "" {
			f.attach(t, d.Addr, d.Driver)
		}
		if d.Group >= 0 {
			g := filepath.Join(groups, fmt.Sprint(d.Group))
			must(t, os.MkdirAll(filepath.Join(g, "devices"), 0o755))
			must(t, os.Symlink(p, filepath.Join(g, "devices", d.Addr)))
			must(t, os.Symlink(g, filepath.Join(p, "iommu_group")))
		}
	}
	b := pci.NewBus(f.Root)
	b.Kernel = func(path, val string) {
		switch {
		case strings.HasSuffix(path, "/unbind"):
			os.Remove(filepath.Join(f.Root, "devices", val, "driver"))
		case strings.HasSuffix(path, "drivers_probe"):
			ov, _ := os.ReadFile(filepath.Join(f.Root, "devices", val, "driver_override"))
			drv := strings.TrimSpace(string(ov))
			if drv == "" || drv == "(null)" {
				drv = f.native[val]
			}
			if drv != "" {
				f.attach(t, val, drv)
			}
		}
	}
	return f, b
}

func (f *Fixture) attach(t testing.TB, addr, driver string) {
	drv := filepath.Join(f.Root, "drivers", driver)
	must(t, os.MkdirAll(drv, 0o755))
	for _, n := range []string{"bind", "unbind"} {
		must(t, os.WriteFile(filepath.Join(drv, n), nil, 0o644))
	}
	os.Remove(filepath.Join(f.Root, "devices", addr, "driver"))
	must(t, os.Symlink(drv, filepath.Join(f.Root, "devices", addr, "driver")))
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
