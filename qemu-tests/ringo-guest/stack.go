package main

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/ringonet/ringo/appliance"
	"github.com/ringonet/ringo/e1000"
	"github.com/ringonet/ringo/irq"
	"github.com/ringonet/ringo/ne2000"
	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/skb"
	"github.com/ringonet/ringo/nic"
)

// stack is netcore with the guest's NICs brought up under ringo's drivers
// (through the appliance's Attach, the code ringo-init runs).
type stack struct {
	core   *netcore.Core
	bridge *irq.Bridge
	nics   []*appliance.NIC
	e1000  []*e1000.Driver
	ne2000 []*ne2000.Driver
	devs   []*netcore.Device // in NIC order
}

type stackOpts struct {
	cpus     int // softnets (ringo.cpus); 0: 1
	queues   int // queue pairs of a multi-queue NIC (ringo.queues); 0: the driver's choice
	busyPoll bool
	ring     int
	ioWidth  int // NE2000 data port width
	vfioPIO  bool
}

// interruptRate is ringo.itr: an e1000's ITR, interrupts/s (0: adaptive, -1: none).
var interruptRate int

// rssKey is ringo.rsskey (hex): a multi-queue NIC's RSS key, so a test
// knows which queue a flow takes.
var rssKey []byte

func newStack(nics []appliance.Opened, o stackOpts) (*stack, error) {
	s := &stack{core: netcore.New(netcore.Config{CPUs: o.cpus})}
	var err error
	if s.bridge, err = irq.New(slog.Default()); err != nil {
		return nil, err
	}
	for i, n := range nics {
		an, err := appliance.Attach(s.core, s.bridge, n, fmt.Sprintf("eth%d", i),
			nic.Config{CPU: i % max(o.cpus, 1), Queues: o.queues, BusyPoll: o.busyPoll, Ring: o.ring, IOWidth: o.ioWidth, VFIOPortIO: o.vfioPIO,
				InterruptRate: interruptRate, RSSKey: rssKey})
		if err != nil {
			return nil, err
		}
		s.nics = append(s.nics, an)
		s.devs = append(s.devs, an.Dev)
		switch c := an.Card.(type) {
		case *e1000.Driver:
			s.e1000 = append(s.e1000, c)
		case *ne2000.Driver:
			s.ne2000 = append(s.ne2000, c)
		}
	}
	for _, d := range s.devs {
		if err := d.Up(); err != nil {
			return nil, err
		}
	}
	return s, appliance.WaitCarrier(s.devs, 5*time.Second)
}

func (s *stack) close() {
	s.core.Close()
	s.bridge.Close()
}

// skbLive takes every device down and then counts the skbs still out: a
// running driver keeps its receive ring posted with arena skbs, which
// are no leak; once down it holds none, so what is left was lost.
func (s *stack) skbLive() int64 {
	for _, d := range s.devs {
		d.Down()
	}
	return skb.Live()
}

// irqCount is the interrupt count of device i (0 in busy-poll mode).
func (s *stack) irqCount(i int) uint64 { return s.nics[i].Card.IRQCount() }

// stat is device i's driver statistic name (ethtool -S), 0 if it has none.
func (s *stack) stat(i int, name string) uint64 {
	for _, st := range s.nics[i].Card.Stats() {
		if st.Name == name {
			return st.Value
		}
	}
	return 0
}

// missed is what device i lost for want of room: the e1000's missed-packet
// count (Stats reads the registers and folds it in) or the NE2000's ring overflows and
// missed frames, as ip -s link reports them.
func (s *stack) missed(i int) uint64 {
	s.nics[i].Card.Stats()
	st := &s.devs[i].Stats
	return st.RxMissedErrors.Load() + st.RxOverErrors.Load()
}
