package e1000e

import (
	"fmt"

	"github.com/ringonet/ringo/internal/e1000x"
	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/counter"
	"github.com/ringonet/ringo/nic"
	"github.com/ringonet/ringo/vfio"
)

// PCIDriver is the 82574L's entry in the driver registry.
var PCIDriver = nic.Driver{
	Name: "e1000e",
	IDs: []nic.ID{
		{Vendor: VendorIntel, Device: Device82574L},
		{Vendor: VendorIntel, Device: Device82574LA},
	},
	Attach: attach,
}

// attach maps BAR0 and takes MSI-X with a vector per queue and one for
// the rest, falling back to MSI and then to INTx (e1000e_set_interrupt_
// capability), unless busy polling.
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
		irqs, msix, err := enableInterrupts(v)
		if err != nil {
			return nil, err
		}
		hw.IRQs, hw.MSIX = irqs, msix
	}
	return New(env.Core, env.Bridge, hw, Config{Name: env.Name, CPU: c.CPU, RxRing: c.Ring, TxRing: c.Ring,
		BusyPoll: c.BusyPoll, InterruptRate: c.InterruptRate, RSSKey: c.RSSKey, Queues: c.Queues})
}

func enableInterrupts(v *vfio.Device) ([]vfio.InterruptSource, bool, error) {
	var errs []error
	if irqs, err := v.EnableMSI(NumVectors, true); err == nil {
		return sources(irqs), true, nil
	} else {
		errs = append(errs, err)
	}
	if irqs, err := v.EnableMSI(1, false); err == nil {
		return sources(irqs), false, nil
	} else {
		errs = append(errs, err)
	}
	q, err := v.EnableINTx()
	if err != nil {
		return nil, false, fmt.Errorf("e1000e: no interrupt: MSI-X: %v; MSI: %v; INTx: %w", errs[0], errs[1], err)
	}
	return []vfio.InterruptSource{q}, false, nil
}

func sources(irqs []*vfio.IRQ) []vfio.InterruptSource {
	out := make([]vfio.InterruptSource, len(irqs))
	for i, q := range irqs {
		out[i] = q
	}
	return out
}

// Netdev implements nic.Card.
func (d *Driver) Netdev() *netcore.Device { return d.Dev }

// Stats implements nic.Card: the statistics registers, the driver's
// counters, and each queue's packets, bytes, interrupts and rate, as
// ethtool -S names them for a multi-queue NIC.
func (d *Driver) Stats() []counter.Stat {
	out := append(d.HWStats(), counter.Snake(counter.Fields(&d.Counters))...)
	for _, q := range d.q {
		p := fmt.Sprintf("queue_%d_", q.idx)
		out = append(out,
			counter.Stat{Name: "rx_" + p + "packets", Value: q.rxPackets.Load()},
			counter.Stat{Name: "rx_" + p + "bytes", Value: q.rxBytes.Load()},
			counter.Stat{Name: "tx_" + p + "packets", Value: q.txPackets.Load()},
			counter.Stat{Name: "tx_" + p + "bytes", Value: q.txBytes.Load()},
			counter.Stat{Name: p + "interrupts", Value: q.irqs.Load()},
			counter.Stat{Name: p + "polls", Value: q.napi.Polls()},
			counter.Stat{Name: p + "cpu", Value: uint64(q.napi.CPU()), Gauge: true},
			counter.Stat{Name: p + "interrupt_rate", Value: uint64(q.itrNow.Load()), Gauge: true},
		)
	}
	return out
}

// HWStats reads the statistics registers, adds them to the running totals
// and returns every total.
func (d *Driver) HWStats() []counter.Stat {
	return d.hwStats.Update(d.r.Regs, d.running.Load(), d.Dev)
}

// HWStat returns one accumulated counter by name after a fresh read.
func (d *Driver) HWStat(name string) uint64 { return e1000x.Lookup(d.HWStats(), name) }

// IRQCount implements nic.Card: every vector's interrupts.
func (d *Driver) IRQCount() uint64 {
	var n uint64
	for _, l := range d.lines {
		n += l.Count()
	}
	return n
}

// InterruptRate is queue pair 0's interrupt rate limit now, interrupts/s.
func (d *Driver) InterruptRate() int { return int(d.q[0].itrNow.Load()) }
