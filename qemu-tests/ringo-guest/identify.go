package main

import (
	"fmt"
	"net"

	"github.com/ringonet/ringo/appliance"
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
func identify(_ map[string]string, nics []appliance.Opened) error {
	for _, n := range nics {
		if err := n.VFIO.EnableBusMaster(); err != nil {
			return err
		}
		r := IdentifyReport{Addr: n.VFIO.Addr, Kind: n.Driver.Name}
		info, err := n.VFIO.IRQInfo(0)
		if err != nil {
			return err
		}
		r.IRQs = info.Count
		var mac net.HardwareAddr
		switch n.Driver.Name {
		case "e1000":
			bar, err := n.VFIO.MapBAR(0)
			if err != nil {
				return err
			}
			id, err := e1000.Probe(bar)
			if err != nil {
				return err
			}
			mac, r.LinkUp = id.MAC, id.LinkUp
		case "ne2000":
			ports, err := n.VFIO.PortBAR(0)
			if err != nil {
				return err
			}
			if mac, err = ne2000.Probe(ports); err != nil {
				return err
			}
			r.LinkUp = true
		default:
			return fmt.Errorf("%s: unknown kind %q", n.VFIO.Addr, n.Driver.Name)
		}
		r.MAC = mac.String()
		if v, err := vfio.Open(n.VFIO.Addr, vfio.Options{}); err == nil {
			v.Close()
		} else {
			r.SecondOpen = err.Error()
		}
		report(r)
	}
	return nil
}
