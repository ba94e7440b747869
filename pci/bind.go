package pci

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// VFIODriver is the kernel driver that hands devices to userspace.
const VFIODriver = "vfio-pci"

// ErrGroupNotViable says a device shares its IOMMU group with devices that
// are bound to a host driver; VFIO will not open such a group.
var ErrGroupNotViable = errors.New("iommu group not viable")

// Bind hands the device to vfio-pci: unbind from its current driver, set
// driver_override and ask the kernel to probe it again. It returns the name
// of the driver it was bound to before ("" if none), which Unbind restores.
func (b *Bus) Bind(addr string) (prev string, err error) {
	d, err := b.Device(addr)
	if err != nil {
		return "", err
	}
	if d.IOMMUGroup < 0 {
		return "", fmt.Errorf("pci: bind %s: %w", d.Addr, ErrNoIOMMUGroup)
	}
	if d.Driver == VFIODriver {
		return "", nil
	}
	prev = d.Driver
	if err := b.writeAttr(filepath.Join(d.Path(), "driver_override"), VFIODriver); err != nil {
		return "", fmt.Errorf("pci: bind %s: %w", d.Addr, err)
	}
	if prev != "" {
		if err := b.writeAttr(filepath.Join(d.Path(), "driver", "unbind"), d.Addr); err != nil {
			return "", fmt.Errorf("pci: bind %s: unbind from %s: %w", d.Addr, prev, err)
		}
	}
	if err := b.writeAttr(filepath.Join(b.Root, "drivers_probe"), d.Addr); err != nil {
		return "", fmt.Errorf("pci: bind %s: drivers_probe: %w", d.Addr, err)
	}
	if err := b.waitDriver(d, VFIODriver, time.Second); err != nil {
		return "", fmt.Errorf("pci: bind %s: %w (is the vfio-pci module loaded?)", d.Addr, err)
	}
	return prev, nil
}

// Unbind releases the device from vfio-pci, clears driver_override and, if
// prev is not "", probes it again so that its previous driver takes it back.
func (b *Bus) Unbind(addr, prev string) error {
	d, err := b.Device(addr)
	if err != nil {
		return err
	}
	if d.Driver != "" {
		if err := b.writeAttr(filepath.Join(d.Path(), "driver", "unbind"), d.Addr); err != nil {
			return fmt.Errorf("pci: unbind %s from %s: %w", d.Addr, d.Driver, err)
		}
	}
	// An empty line clears the override (drivers/pci/pci-sysfs.c).
	if err := b.writeAttr(filepath.Join(d.Path(), "driver_override"), "\n"); err != nil {
		return fmt.Errorf("pci: unbind %s: clear driver_override: %w", d.Addr, err)
	}
	if prev == "" {
		return nil
	}
	if err := b.writeAttr(filepath.Join(b.Root, "drivers_probe"), d.Addr); err != nil {
		return fmt.Errorf("pci: unbind %s: drivers_probe: %w", d.Addr, err)
	}
	if err := b.waitDriver(d, prev, time.Second); err != nil {
		return fmt.Errorf("pci: unbind %s: give back to %s: %w", d.Addr, prev, err)
	}
	return nil
}

// CheckGroupViable returns ErrGroupNotViable naming every device in d's
// IOMMU group that is bound to a driver other than vfio-pci (bridges bound to
// pcieport are fine, as the kernel allows them).
func (b *Bus) CheckGroupViable(d *Device) error {
	addrs, err := b.IOMMUGroupDevices(d)
	if err != nil {
		return err
	}
	var bad []string
	for _, a := range addrs {
		o, err := b.Device(a)
		if err != nil {
			return err
		}
		if o.Driver != "" && o.Driver != VFIODriver && o.Driver != "pcieport" {
			bad = append(bad, fmt.Sprintf("%s (bound to %s)", a, o.Driver))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("pci: iommu group %d: %w: bind these to vfio-pci too: %s", d.IOMMUGroup, ErrGroupNotViable, strings.Join(bad, ", "))
	}
	return nil
}

// waitDriver waits until the device's driver link names want. Probing runs
// synchronously in the kernel, so one read is normally enough; the deadline
// covers asynchronous probing.
func (b *Bus) waitDriver(d *Device, want string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		got := ""
		if l, err := os.Readlink(filepath.Join(d.Path(), "driver")); err == nil {
			got = filepath.Base(l)
		}
		if got == want {
			return nil
		}
		if time.Now().After(deadline) {
			if got == "" {
				got = "none"
			}
			return fmt.Errorf("driver is %s after %v, want %s", got, timeout, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (b *Bus) writeAttr(path, val string) error {
	if err := writeAttr(path, val); err != nil {
		return err
	}
	if b.Kernel != nil {
		b.Kernel(path, val)
	}
	return nil
}

func writeAttr(path, val string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0) // sysfs ignores O_TRUNC; fixtures need it
	if err != nil {
		return err
	}
	_, err = f.WriteString(val)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
