package main

import (
	"bytes"
	"os"
	"time"

	"log/slog"

	"github.com/ringonet/ringo/appliance"
	"github.com/ringonet/ringo/netcore/skb"
)

// ApplianceReport is what the appliance scenario reports at the end.
type ApplianceReport struct {
	Devices []ApplianceDev
	Status  string
	SkbLive int64
}

// ApplianceDev is one device's state.
type ApplianceDev struct {
	Name, Kind, Addr string
	Up, Carrier      bool
	RxPackets        uint64
	TxPackets        uint64
	IRQs             uint64
}

// applianceScenario runs ringo-init's own code (package appliance) with
// the kernel command line, reports "ready" with the addresses, serves for
// ringo.seconds, then reports device counters and the status page.
func applianceScenario(args map[string]string, nics []appliance.Opened) error {
	raw, _ := os.ReadFile("/proc/cmdline")
	cfg, warn := appliance.Parse(string(raw))
	for _, w := range warn {
		slog.Warn("bad parameter", "problem", w)
	}
	sys, err := appliance.UpOn(cfg, slog.Default(), nics)
	if err != nil {
		return err
	}
	if err := sys.StartServices(); err != nil {
		return err
	}
	devs := func() []ApplianceDev {
		var out []ApplianceDev
		for _, n := range sys.NICs {
			a, _ := sys.AddrOf(n.Dev)
			out = append(out, ApplianceDev{Name: n.Dev.Name, Kind: n.Driver.Name, Addr: a.String(), Up: n.Dev.IsUp(), Carrier: n.Dev.Carrier(),
				RxPackets: n.Dev.Stats.RxPackets.Load(), TxPackets: n.Dev.Stats.TxPackets.Load(), IRQs: n.Card.IRQCount()})
		}
		return out
	}
	report(map[string]any{"phase": "ready", "devices": devs()})
	time.Sleep(time.Duration(atoiDefault(args["ringo.seconds"], 10)) * time.Second)
	var st bytes.Buffer
	sys.WriteStatus(&st)
	rep := ApplianceReport{Devices: devs(), Status: st.String()}
	for _, n := range sys.NICs {
		n.Dev.Down()
	}
	rep.SkbLive = skb.Live()
	report(rep)
	return nil
}
