package main

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/ringonet/ringo/e1000"
	"github.com/ringonet/ringo/irq"
	"github.com/ringonet/ringo/ne2000"
	"github.com/ringonet/ringo/netcore"
)

// stack is netcore with the guest's NICs brought up under ringo's drivers.
type stack struct {
	core   *netcore.Core
	bridge *irq.Bridge
	e1000  []*e1000.Driver
	ne2000 []*ne2000.Driver
	devs   []*netcore.Device // in NIC order
	lines  []func() uint64   // interrupt count per NIC
}

type stackOpts struct {
	busyPoll bool
	ring     int
	ioWidth  int // NE2000 data port width
}

func newStack(nics []*nic, o stackOpts) (*stack, error) {
	s := &stack{core: netcore.New(netcore.Config{})}
	var err error
	if s.bridge, err = irq.New(slog.Default()); err != nil {
		return nil, err
	}
	for i, n := range nics {
		if err := n.dev.EnableBusMaster(); err != nil {
			return nil, err
		}
		name := fmt.Sprintf("eth%d", i)
		switch n.kind {
		case "e1000":
			bar, err := n.dev.MapBAR(0)
			if err != nil {
				return nil, err
			}
			hw := e1000.HW{Regs: bar, DMA: n.dev.DMA()}
			if !o.busyPoll {
				if hw.IRQ, err = n.dev.EnableINTx(); err != nil {
					return nil, err
				}
			}
			drv, err := e1000.New(s.core, s.bridge, hw, e1000.Config{Name: name, RxRing: o.ring, TxRing: o.ring, BusyPoll: o.busyPoll})
			if err != nil {
				return nil, err
			}
			s.e1000 = append(s.e1000, drv)
			s.devs = append(s.devs, drv.Dev)
			s.lines = append(s.lines, func() uint64 {
				if drv.IRQLine() == nil {
					return 0
				}
				return drv.IRQLine().Count()
			})
		case "ne2000":
			ports, err := n.dev.PortBAR(0)
			if err != nil {
				return nil, err
			}
			intx, err := n.dev.EnableINTx()
			if err != nil {
				return nil, err
			}
			drv, err := ne2000.New(s.core, s.bridge, ne2000.HW{Ports: ports, IRQ: intx}, ne2000.Config{Name: name, IOWidth: o.ioWidth})
			if err != nil {
				return nil, err
			}
			s.ne2000 = append(s.ne2000, drv)
			s.devs = append(s.devs, drv.Dev)
			s.lines = append(s.lines, drv.IRQLine().Count)
		default:
			return nil, fmt.Errorf("%s: no driver for %s yet", n.addr, n.kind)
		}
	}
	for _, d := range s.devs {
		if err := d.Up(); err != nil {
			return nil, err
		}
	}
	// QEMU's e1000 takes up to a second after RCTL.EN before it delivers
	// the first frame; wait for carrier on every device.
	deadline := time.Now().Add(5 * time.Second)
	for _, d := range s.devs {
		for !d.Carrier() {
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("%s: no carrier after 5 s", d.Name)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return s, nil
}

func (s *stack) close() {
	s.core.Close()
	s.bridge.Close()
}

// irqCount is the interrupt count of device i (0 in busy-poll mode).
func (s *stack) irqCount(i int) uint64 { return s.lines[i]() }
