package main

import (
	"fmt"
	"net"

	"github.com/ringonet/ringo/e1000"
	"github.com/ringonet/ringo/ne2000"
	"github.com/ringonet/ringo/vfio"
)

// IdentifyReport is what the identify scenario reports per NIC.
type IdentifyReport struct {
	Addr   string `json:"addr"`
	Kind   string `json:"kind"`
	MAC    string `json:"mac"`
	LinkUp bool   `json:"link_up"`
	IRQs   int    `json:"intx_count"`
	// SecondOpen is the error a second vfio.Open of the same device gave.
	SecondOpen string `json:"second_open"`
}

// identify opens each NIC's BAR, reads its MAC from the hardware and, for
// the e1000, its link state.
func identify(_ map[string]string, nics []*nic) error {
	for _, n := range nics {
		if err := n.dev.EnableBusMaster(); err != nil {
			return err
		}
		r := IdentifyReport{Addr: n.addr, Kind: n.kind}
		info, err := n.dev.IRQInfo(0)
		if err != nil {
			return err
		}
		r.IRQs = info.Count
		var mac net.HardwareAddr
		switch n.kind {
		case "e1000":
			bar, err := n.dev.MapBAR(0)
			if err != nil {
				return err
			}
			id, err := e1000.Probe(bar)
			if err != nil {
				return err
			}
			mac, r.LinkUp = id.MAC, id.LinkUp
		case "ne2000":
			ports, err := n.dev.PortBAR(0)
			if err != nil {
				return err
			}
			if mac, err = ne2000.Probe(ports); err != nil {
				return err
			}
			r.LinkUp = true
		default:
			return fmt.Errorf("%s: unknown kind %q", n.addr, n.kind)
		}
		r.MAC = mac.String()
		if v, err := vfio.Open(n.addr, vfio.Options{}); err == nil {
			v.Close()
		} else {
			r.SecondOpen = err.Error()
		}
		report(r)
	}
	return nil
}
