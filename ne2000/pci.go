package ne2000

import (
	"log/slog"

	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/counter"
	"github.com/ringonet/ringo/nic"
	"github.com/ringonet/ringo/vfio"
)

// PCIDriver is the NE2000's entry in the driver registry.
var PCIDriver = nic.Driver{
	Name:   "ne2000",
	IDs:    []nic.ID{{Vendor: VendorRealtek, Device: DeviceRTL8029}},
	Attach: attach,
}

// attach opens BAR0's ports (IN/OUT after ioperm where the CPU has them,
// else VFIO's pread/pwrite), takes INTx and starts the driver.
func attach(env nic.Env) (nic.Card, error) {
	v, c := env.VFIO, env.Config
	if err := v.EnableBusMaster(); err != nil {
		return nil, err
	}
	var ports vfio.Ports
	if !c.VFIOPortIO {
		if dp, err := v.DirectPortBAR(0, ""); err == nil {
			ports = dp
		} else {
			slog.Debug("ne2000: direct port I/O unavailable; using VFIO pread/pwrite", "addr", v.Addr, "err", err)
		}
	}
	if ports == nil {
		pio, err := v.PortBAR(0)
		if err != nil {
			return nil, err
		}
		ports = pio
	}
	// Busy polling keeps the interrupt too: the poller watches the
	// line's eventfd instead of reading ISR, a port access each look.
	// Without one, busy polling reads ISR.
	hw := HW{Ports: ports}
	intx, err := v.EnableINTx()
	switch {
	case err == nil:
		hw.IRQ = intx
	case !c.BusyPoll:
		return nil, err
	default:
		slog.Warn("ne2000: no INTx; busy polling reads ISR", "addr", v.Addr, "err", err)
	}
	width := c.IOWidth
	if width == 0 {
		width = 4
	}
	return New(env.Core, env.Bridge, hw, Config{Name: env.Name, CPU: c.CPU, IOWidth: width, BusyPoll: c.BusyPoll})
}

// Netdev implements nic.Card.
func (d *Driver) Netdev() *netcore.Device { return d.Dev }

// Stats implements nic.Card: the driver's counters (the DP8390's three
// tally counters go to the device's statistics, ip -s link).
func (d *Driver) Stats() []counter.Stat { return counter.Snake(counter.Fields(&d.Counters)) }

// IRQCount implements nic.Card.
func (d *Driver) IRQCount() uint64 {
	if d.line == nil {
		return 0
	}
	return d.line.Count()
}
