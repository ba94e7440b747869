package appliance

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ringonet/ringo/e1000"
	"github.com/ringonet/ringo/e1000e"
	"github.com/ringonet/ringo/irq"
	"github.com/ringonet/ringo/ne2000"
	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/ipv4"
	"github.com/ringonet/ringo/netcore/ipv6"
	"github.com/ringonet/ringo/netcore/socket"
	"github.com/ringonet/ringo/nic"
	"github.com/ringonet/ringo/pci"
	"github.com/ringonet/ringo/vfio"
)

// Drivers is the driver registry: a new driver adds its line here.
var Drivers = []*nic.Driver{
	&e1000.PCIDriver,
	&e1000e.PCIDriver,
	&ne2000.PCIDriver,
}

// DriverFor is the registered driver for a PCI ID, nil if none.
func DriverFor(vendor, device uint16) *nic.Driver { return nic.Lookup(Drivers, vendor, device) }

// NIC is one card under a ringo driver.
type NIC struct {
	Addr   string // PCI address
	Driver *nic.Driver
	VFIO   *vfio.Device
	Dev    *netcore.Device
	Card   nic.Card
}

// Opened is a supported NIC bound to vfio-pci and opened.
type Opened struct {
	VFIO   *vfio.Device
	Driver *nic.Driver
}

// Take binds every supported NIC (or those in only) to vfio-pci and opens
// it through VFIO, in PCI address order. On error it returns what it
// opened so far, for the caller to close.
func Take(bus *pci.Bus, only []string, log *slog.Logger) ([]Opened, error) {
	devs, err := bus.List()
	if err != nil {
		return nil, err
	}
	var opened []Opened
	for _, d := range devs {
		drv := DriverFor(d.Vendor, d.DeviceID)
		if drv == nil || (len(only) > 0 && !slices.Contains(only, d.Addr)) {
			continue
		}
		prev, err := bus.Bind(d.Addr)
		if err != nil {
			return opened, err
		}
		v, err := vfio.Open(d.Addr, vfio.Options{Sysfs: bus.Root})
		if err != nil {
			return opened, err
		}
		log.Info("nic", "addr", d.Addr, "driver", drv.Name, "iommu_group", d.IOMMUGroup, "was", prev)
		opened = append(opened, Opened{v, drv})
	}
	return opened, nil
}

// Attach starts a NIC's driver and registers its device with the core as
// name. The device is not brought up.
func Attach(core *netcore.Core, bridge *irq.Bridge, o Opened, name string, cfg nic.Config) (*NIC, error) {
	c, err := o.Driver.Attach(nic.Env{Core: core, Bridge: bridge, VFIO: o.VFIO, Name: name, Config: cfg})
	if err != nil {
		return nil, fmt.Errorf("appliance: %s: %s: %w", o.VFIO.Addr, o.Driver.Name, err)
	}
	return &NIC{Addr: o.VFIO.Addr, Driver: o.Driver, VFIO: o.VFIO, Dev: c.Netdev(), Card: c}, nil
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

	services     []func()
	ServiceStats ServiceStats

	metricsOnce  sync.Once
	registry     *prometheus.Registry
	cookieOnce   sync.Once
	httpTimeouts httpTimeouts // zero: defaultHTTPTimeouts (tests shorten them)
	cookieKey    [32]byte     // the status service's cookie secret, random per boot
}

// Up loads the VFIO modules, takes the NICs, brings them up under ringo's
// drivers, and configures addresses and routes.
func Up(cfg Config, log *slog.Logger) (*System, error) {
	s := &System{Cfg: cfg, Log: log, Start: time.Now(), Leases: map[string]string{}}
	if err := vfio.LoadModules(cfg.ModuleDir); err != nil {
		return nil, err
	}
	opened, err := Take(pci.NewBus(""), cfg.NICs, log)
	if err != nil {
		for _, o := range opened {
			o.VFIO.Close()
		}
		return nil, err
	}
	return s, s.upOn(opened)
}

// UpOn runs the appliance on devices already opened through VFIO.
func UpOn(cfg Config, log *slog.Logger, opened []Opened) (*System, error) {
	s := &System{Cfg: cfg, Log: log, Start: time.Now(), Leases: map[string]string{}}
	return s, s.upOn(opened)
}

func (s *System) upOn(opened []Opened) error {
	cfg := s.Cfg
	// Several CPUs: each softnet on its own, a multi-queue NIC's queues
	// spread over them by the NIC, a single-queue NIC's frames by RPS.
	multi := cfg.CPUs > 1
	s.Core = netcore.New(netcore.Config{CPUs: cfg.CPUs, PinCPUs: multi, RPS: multi, Logger: s.Log})
	var err error
	if s.Bridge, err = irq.New(s.Log); err != nil {
		return err
	}
	if s.Stack, err = socket.New(s.Core, socket.Config{IP: ipv4.Config{Logger: s.Log}, IP6: ipv6.Config{Logger: s.Log}}); err != nil {
		return err
	}
	for i, o := range opened {
		n, err := Attach(s.Core, s.Bridge, o, fmt.Sprintf("eth%d", i), nic.Config{CPU: i % cfg.CPUs, BusyPoll: cfg.BusyPoll, Ring: cfg.Ring,
			InterruptRate: cfg.InterruptRate, VFIOPortIO: cfg.VFIOPortIO, RSSKey: cfg.RSSKey})
		if err != nil {
			return err
		}
		s.NICs = append(s.NICs, n)
	}
	var devs []*netcore.Device
	for _, n := range s.NICs {
		if mtu, ok := cfg.MTUs[n.Dev.Name]; ok {
			if err := n.Dev.SetMTU(mtu); err != nil {
				s.Log.Error("ringo.mtu", "err", err) // the appliance boots with the default
			}
		}
		if err := n.Dev.Up(); err != nil {
			return err
		}
		devs = append(devs, n.Dev)
	}
	if err := WaitCarrier(devs, 5*time.Second); err != nil {
		s.Log.Warn("carrier", "err", err)
	}
	for _, spec := range cfg.VLANs {
		v, err := s.addVLAN(spec)
		if err != nil {
			s.Log.Error("vlan", "spec", spec, "err", err)
			continue
		}
		devs = append(devs, v)
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
	if cfg.IPv6 {
		for _, d := range devs {
			if err := s.Stack.IP6.Enable(d); err != nil {
				return err
			}
		}
	}
	for name, p := range cfg.Addrs6 {
		d := s.Core.DeviceByName(name)
		if d == nil {
			s.Log.Warn("ringo.ip names no device", "dev", name)
			continue
		}
		if err := s.Stack.IP6.AddAddress(d, p); err != nil {
			return err
		}
	}
	if cfg.Gateway6.IsValid() {
		s.setGateway6(cfg.Gateway6)
	}
	if len(cfg.DNS) > 0 {
		s.Stack.SetNameservers(cfg.DNS...)
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

// setGateway6 adds the IPv6 default route: through the device whose
// prefix holds the gateway, or the first device for a link-local one.
func (s *System) setGateway6(gw netip.Addr) {
	var dev *netcore.Device
	if rt, ok := s.Stack.IP6.Lookup(gw, nil); ok && !gw.IsLinkLocalUnicast() {
		dev = rt.Dev
	} else if len(s.NICs) > 0 {
		dev = s.NICs[0].Dev
	}
	if dev == nil {
		s.Log.Error("ipv6 gateway: no device", "gw", gw)
		return
	}
	s.Stack.IP6.AddRoute(ipv6.Route{Dst: netip.MustParsePrefix("::/0"), Gateway: gw, Dev: dev, Metric: 1024})
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

// addVLAN makes and brings up the VLAN device spec names ("eth0.100").
func (s *System) addVLAN(spec string) (*netcore.Device, error) {
	name, id, _ := strings.Cut(spec, ".")
	real := s.Core.DeviceByName(name)
	if real == nil {
		return nil, fmt.Errorf("appliance: vlan %s: no device %s", spec, name)
	}
	vid, err := strconv.Atoi(id)
	if err != nil {
		return nil, fmt.Errorf("appliance: vlan %s: %w", spec, err)
	}
	v, err := s.Core.AddVLAN(real, uint16(vid))
	if err != nil {
		return nil, err
	}
	s.Log.Info("vlan", "dev", v.Name)
	return v, v.Up()
}
