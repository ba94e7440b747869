// Package nic is the contract between a PCI NIC driver and the programs
// that run one (the appliance, ringo up, the QEMU tests' guest): a driver
// offers its PCI ID table and an attach function, as Linux's struct
// pci_driver offers id_table and probe, and an attached card answers for
// its netcore device, its ethtool -S counters and its interrupt count.
//
// Adding a driver is its own package, a Driver value in it, and one line
// in the appliance's driver list.
package nic

import (
	"fmt"

	"github.com/ringonet/ringo/irq"
	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/counter"
	"github.com/ringonet/ringo/vfio"
)

// ID is a PCI vendor and device ID.
type ID struct{ Vendor, Device uint16 }

// Driver is one driver's entry in the registry.
type Driver struct {
	Name string // "e1000": the netcore device kind and ethtool -i's driver
	IDs  []ID
	// Attach starts the driver on a device opened through VFIO and
	// registers a netcore device for it; the device is not brought up.
	Attach func(Env) (Card, error)
}

// Supports reports whether the driver's ID table holds the ID.
func (d *Driver) Supports(vendor, device uint16) bool {
	for _, id := range d.IDs {
		if id.Vendor == vendor && id.Device == device {
			return true
		}
	}
	return false
}

// Lookup is the first driver in drivers that supports the ID, nil if none.
func Lookup(drivers []*Driver, vendor, device uint16) *Driver {
	for _, d := range drivers {
		if d.Supports(vendor, device) {
			return d
		}
	}
	return nil
}

// Env is what a driver is attached with.
type Env struct {
	Core   *netcore.Core
	Bridge *irq.Bridge
	VFIO   *vfio.Device
	Name   string // the netcore device's name, "eth0"
	Config Config
}

// Config tunes a driver; each driver takes the fields that apply to it.
type Config struct {
	CPU      int // the softnet that runs the card's NAPI or backlog
	BusyPoll bool
	Ring     int // descriptors per ring; 0 is the driver's default
	// InterruptRate is an interrupt rate limit (e1000 ITR),
	// interrupts/s: 0 adapts it to the traffic, -1 does not throttle.
	InterruptRate int
	IOWidth       int // NE2000 data port width, 2 or 4; 0 takes 4 (QEMU's ne2k_pci and the RTL8029 take 32-bit accesses)
	// VFIOPortIO makes a port-I/O card (NE2000) reach its ports by
	// pread/pwrite on the VFIO device, a system call per access, instead
	// of IN/OUT after ioperm, the default where the CPU allows it.
	VFIOPortIO bool
	// Queues is how many queue pairs a multi-queue NIC uses; 0: the
	// driver's choice (all it has with MSI-X).
	Queues int
	// RSSKey is the receive-side scaling key of a multi-queue NIC
	// (ethtool -X hkey); nil: a random one.
	RSSKey []byte
}

// Card is an attached NIC.
type Card interface {
	Netdev() *netcore.Device
	// Stats is what ethtool -S prints: the hardware's statistics (read
	// fresh) and the driver's own event counts, in snake_case.
	Stats() []counter.Stat
	// IRQCount is how many interrupts the card raised, 0 when polled.
	IRQCount() uint64
}

// Attach looks up the driver for the opened device's PCI ID and attaches it.
func Attach(drivers []*Driver, env Env, vendor, device uint16) (*Driver, Card, error) {
	d := Lookup(drivers, vendor, device)
	if d == nil {
		return nil, nil, fmt.Errorf("nic: %s: no driver for %04x:%04x", env.VFIO.Addr, vendor, device)
	}
	c, err := d.Attach(env)
	if err != nil {
		return nil, nil, fmt.Errorf("nic: %s: %s: %w", env.VFIO.Addr, d.Name, err)
	}
	return d, c, nil
}
