package e1000

import (
	"github.com/ringonet/ringo/internal/e1000x"
	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/counter"
	"github.com/ringonet/ringo/nic"
)

// PCIDriver is the e1000's entry in the driver registry.
var PCIDriver = nic.Driver{
	Name: "e1000",
	IDs: []nic.ID{
		{Vendor: VendorIntel, Device: Device82540EM},
		{Vendor: VendorIntel, Device: Device82545EM},
		{Vendor: VendorIntel, Device: Device82545EMF},
	},
	Attach: attach,
}

// attach maps BAR0 (the register window), takes INTx unless busy
// polling, and starts the driver.
func attach(env nic.Env) (nic.Card, error) {
	v := env.VFIO
	if err := v.EnableBusMaster(); err != nil {
		return nil, err
	}
	bar, err := v.MapBAR(0)
	if err != nil {
		return nil, err
	}
	hw := HW{Regs: bar, DMA: v.DMA()}
	c := env.Config
	if !c.BusyPoll {
		if hw.IRQ, err = v.EnableINTx(); err != nil {
			return nil, err
		}
	}
	return New(env.Core, env.Bridge, hw, Config{Name: env.Name, CPU: c.CPU, RxRing: c.Ring, TxRing: c.Ring,
		BusyPoll: c.BusyPoll, InterruptRate: c.InterruptRate})
}

// Netdev implements nic.Card.
func (d *Driver) Netdev() *netcore.Device { return d.Dev }

// Stats implements nic.Card: the statistics registers, the driver's
// counters and the interrupt rate in force.
func (d *Driver) Stats() []counter.Stat {
	out := append(d.HWStats(), counter.Snake(counter.Fields(&d.Counters))...)
	return append(out, counter.Stat{Name: "interrupt_rate", Value: uint64(d.InterruptRate()), Gauge: true})
}

// HWStats reads the statistics registers, adds them to the running totals
// and returns every total, in the order ethtool -S would print them.
func (d *Driver) HWStats() []counter.Stat {
	return d.hwStats.Update(d.r.Regs, d.running.Load(), d.Dev)
}

// HWStat returns one accumulated counter by name after a fresh read.
func (d *Driver) HWStat(name string) uint64 { return e1000x.Lookup(d.HWStats(), name) }

// IRQCount implements nic.Card.
func (d *Driver) IRQCount() uint64 {
	if d.line == nil {
		return 0
	}
	return d.line.Count()
}
