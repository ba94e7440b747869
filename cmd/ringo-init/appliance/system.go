package appliance

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"time"

	"github.com/ringonet/ringo/e1000"
	"github.com/ringonet/ringo/irq"
	"github.com/ringonet/ringo/ne2000"
	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/ipv4"
	"github.com/ringonet/ringo/netcore/socket"
	"github.com/ringonet/ringo/pci"
	"github.com/ringonet/ringo/vfio"
)

// NIC is one card under a ringo driver.
type NIC struct {
	Addr   string // PCI address
	Kind   string // "e1000" or "ne2000"
	VFIO   *vfio.Device
	Dev    *netcore.Device
	E1000  *e1000.Driver
	NE2000 *ne2000.Driver
}

// IRQCount is the number of interrupts the NIC raised (0 when polled).
func (n *NIC) IRQCount() uint64 {
	switch {
	case n.E1000 != nil && n.E1000.IRQLine() != nil:
		return n.E1000.IRQLine().Count()
	case n.NE2000 != nil && n.NE2000.IRQLine() != nil:
		return n.NE2000.IRQLine().Count()
	}
	return 0
}

// Kind names the driver for a PCI ID, "" if unsupported.
func Kind(vendor, device uint16) string {
	switch {
	case e1000.Supported(vendor, device):
		return "e1000"
	case ne2000.Supported(vendor, device):
		return "ne2000"
	}
	return ""
}

// Found is a supported NIC found on the bus.
type Found struct {
	Addr string
	Kind string
}

// Take binds every supported NIC (or those in only) to vfio-pci and opens
// it through VFIO, in PCI address order.
func Take(bus *pci.Bus, only []string, log *slog.Logger) ([]Found, []*vfio.Device, error) {
	devs, err := bus.List()
	if err != nil {
		return nil, nil, err
	}
	var found []Found
	var opened []*vfio.Device
	for _, d := range devs {
		kind := Kind(d.Vendor, d.DeviceID)
		if kind == "" || (len(only) > 0 && !slices.Contains(only, d.Addr)) {
			continue
		}
		prev, err := bus.Bind(d.Addr)
		if err != nil {
			return found, opened, err
		}
		v, err := vfio.Open(d.Addr, vfio.Options{Sysfs: bus.Root})
		if err != nil {
			return found, opened, err
		}
		log.Info("nic", "addr", d.Addr, "kind", kind, "iommu_group", d.IOMMUGroup, "was", prev)
		found = append(found, Found{d.Addr, kind})
		opened = append(opened, v)
	}
	return found, opened, nil
}

// AttachOpts tune a driver.
type AttachOpts struct {
	BusyPoll bool
	Ring     int
	IOWidth  int // NE2000 data port width, 2 or 4
	CPU      int
	// VFIOPortIO makes the NE2000 reach its ports by pread/pwrite on the
	// VFIO device (a system call per access) instead of IN/OUT after
	// ioperm, which is the default where the CPU and permissions allow.
	VFIOPortIO bool
	// InterruptRate is an e1000's interrupt rate limit (ITR),
	// interrupts/s: 0 adapts it to the traffic, -1 does not throttle.
	InterruptRate int
}

// Attach starts a ringo driver on an opened device and registers it with
// the core as name. The device is not brought up.
func Attach(core *netcore.Core, bridge *irq.Bridge, v *vfio.Device, kind, name string, o AttachOpts) (*NIC, error) {
	n := &NIC{Addr: v.Addr, Kind: kind, VFIO: v}
	if err := v.EnableBusMaster(); err != nil {
		return nil, err
	}
	switch kind {
	case "e1000":
		bar, err := v.MapBAR(0)
		if err != nil {
			return nil, err
		}
		hw := e1000.HW{Regs: bar, DMA: v.DMA()}
		if !o.BusyPoll {
			if hw.IRQ, err = v.EnableINTx(); err != nil {
				return nil, err
			}
		}
		if n.E1000, err = e1000.New(core, bridge, hw, e1000.Config{Name: name, CPU: o.CPU, RxRing: o.Ring, TxRing: o.Ring, BusyPoll: o.BusyPoll, InterruptRate: o.InterruptRate}); err != nil {
			return nil, err
		}
		n.Dev = n.E1000.Dev
	case "ne2000":
		var ports vfio.Ports
		if !o.VFIOPortIO {
			if dp, err := v.DirectPortBAR(0, ""); err == nil {
				ports = dp
			} else {
				slog.Debug("direct port I/O unavailable; using VFIO pread/pwrite", "addr", v.Addr, "err", err)
			}
		}
		if ports == nil {
			pio, err := v.PortBAR(0)
			if err != nil {
				return nil, err
			}
			ports = pio
		}
		// The NE2000 keeps its interrupt busy polling too: the poller
		// watches the line's eventfd instead of reading ISR, a port
		// access each look. Without one, busy polling reads ISR.
		hw := ne2000.HW{Ports: ports}
		intx, err := v.EnableINTx()
		switch {
		case err == nil:
			hw.IRQ = intx
		case !o.BusyPoll:
			return nil, err
		default:
			slog.Warn("ne2000: no INTx; busy polling reads ISR", "addr", v.Addr, "err", err)
		}
		if n.NE2000, err = ne2000.New(core, bridge, hw, ne2000.Config{Name: name, CPU: o.CPU, IOWidth: o.IOWidth, BusyPoll: o.BusyPoll}); err != nil {
			return nil, err
		}
		n.Dev = n.NE2000.Dev
	default:
		return nil, fmt.Errorf("appliance: %s: no driver for %q", v.Addr, kind)
	}
	return n, nil
}

// WaitCarrier waits until every device has carrier (QEMU's e1000 takes a
// moment after RCTL.EN).
func WaitCarrier(devs []*netcore.Device, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for _, d := range devs {
		for !d.Carrier() {
			if time.Now().After(deadline) {
				return fmt.Errorf("%s: no carrier after %v", d.Name, timeout)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return nil
}

// System is the running appliance.
type System struct {
	Cfg    Config
	Log    *slog.Logger
	Core   *netcore.Core
	Bridge *irq.Bridge
	Stack  *socket.Stack
	NICs   []*NIC
	Start  time.Time
	Leases map[string]string // device -> DHCP lease summary

	services []func()
}

// Up loads the VFIO modules, takes the NICs, brings them up under ringo's
// drivers, and configures addresses and routes.
func Up(cfg Config, log *slog.Logger) (*System, error) {
	s := &System{Cfg: cfg, Log: log, Start: time.Now(), Leases: map[string]string{}}
	if err := vfio.LoadModules(cfg.ModuleDir); err != nil {
		return nil, err
	}
	found, opened, err := Take(pci.NewBus(""), cfg.NICs, log)
	if err != nil {
		for _, v := range opened {
			v.Close()
		}
		return nil, err
	}
	kinds := make([]string, len(found))
	for i, f := range found {
		kinds[i] = f.Kind
	}
	return s, s.upOn(opened, kinds)
}

// UpOn runs the appliance on devices already opened through VFIO.
func UpOn(cfg Config, log *slog.Logger, opened []*vfio.Device, kinds []string) (*System, error) {
	s := &System{Cfg: cfg, Log: log, Start: time.Now(), Leases: map[string]string{}}
	return s, s.upOn(opened, kinds)
}

func (s *System) upOn(opened []*vfio.Device, kinds []string) error {
	cfg := s.Cfg
	s.Core = netcore.New(netcore.Config{CPUs: cfg.CPUs, Logger: s.Log})
	var err error
	if s.Bridge, err = irq.New(s.Log); err != nil {
		return err
	}
	if s.Stack, err = socket.New(s.Core, ipv4.Config{Logger: s.Log}); err != nil {
		return err
	}
	for i, v := range opened {
		n, err := Attach(s.Core, s.Bridge, v, kinds[i], fmt.Sprintf("eth%d", i), AttachOpts{BusyPoll: cfg.BusyPoll, Ring: cfg.Ring, IOWidth: 4, CPU: i % cfg.CPUs, VFIOPortIO: cfg.VFIOPortIO, InterruptRate: cfg.InterruptRate})
		if err != nil {
			return err
		}
		s.NICs = append(s.NICs, n)
	}
	var devs []*netcore.Device
	for _, n := range s.NICs {
		if err := n.Dev.Up(); err != nil {
			return err
		}
		devs = append(devs, n.Dev)
	}
	if err := WaitCarrier(devs, 5*time.Second); err != nil {
		s.Log.Warn("carrier", "err", err)
	}
	for name, p := range cfg.Addrs {
		d := s.Core.DeviceByName(name)
		if d == nil {
			s.Log.Warn("ringo.ip names no device", "dev", name)
			continue
		}
		if err := s.Stack.IP.AddAddress(d, p); err != nil {
			return err
		}
	}
	for name := range cfg.DHCP {
		d := s.Core.DeviceByName(name)
		if d == nil {
			s.Log.Warn("ringo.dhcp names no device", "dev", name)
			continue
		}
		if err := s.dhcp(d); err != nil {
			s.Log.Error("dhcp failed", "dev", name, "err", err)
		}
	}
	if cfg.Gateway.IsValid() {
		if err := s.Stack.IP.SetDefaultGateway(cfg.Gateway); err != nil {
			s.Log.Error("gateway", "gw", cfg.Gateway, "err", err)
		}
	}
	return nil
}

// Close stops services, devices and VFIO.
func (s *System) Close() error {
	for _, stop := range s.services {
		stop()
	}
	var errs []error
	if s.Stack != nil {
		s.Stack.Close()
	}
	if s.Core != nil {
		errs = append(errs, s.Core.Close())
	}
	if s.Bridge != nil {
		errs = append(errs, s.Bridge.Close())
	}
	for _, n := range s.NICs {
		errs = append(errs, n.VFIO.Close())
	}
	return errors.Join(errs...)
}

// AddrOf returns the first address of a device, if any.
func (s *System) AddrOf(d *netcore.Device) (netip.Prefix, bool) {
	for _, a := range s.Stack.IP.Addresses() {
		if a.Dev == d {
			return a.Prefix, true
		}
	}
	return netip.Prefix{}, false
}
