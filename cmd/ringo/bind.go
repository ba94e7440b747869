package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"math/bits"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/ringonet/ringo/appliance"
	"github.com/ringonet/ringo/pci"
)

func init() {
	commands = append(commands,
		command{"list", "", "list the NICs ringo supports and the drivers they are bound to", cmdList},
		command{"bind", "[-force] ADDR", "hand the NIC at PCI address ADDR to vfio-pci", cmdBind},
		command{"unbind", "ADDR", "give the NIC back to the driver it had before bind", cmdUnbind},
	)
}

func cmdList(e *env, fs *flag.FlagSet, args []string) error {
	all := fs.Bool("a", false, "list every network controller, supported or not")
	if err := fs.Parse(args); err != nil {
		return err
	}
	devs, err := e.bus().List()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ADDRESS\tID\tDRIVER\tRINGO\tIOMMU GROUP\tINTERFACE")
	for _, d := range devs {
		kind := "unsupported"
		if drv := appliance.DriverFor(d.Vendor, d.DeviceID); drv != nil {
			kind = drv.Name
		} else if !*all || !d.IsEthernet() {
			continue
		}
		drv, grp := d.Driver, fmt.Sprint(d.IOMMUGroup)
		if drv == "" {
			drv = "-"
		}
		if d.IOMMUGroup < 0 {
			grp = "none (enable VT-d / intel_iommu=on)"
		}
		fmt.Fprintf(tw, "%s\t%04x:%04x\t%s\t%s\t%s\t%s\n", d.Addr, d.Vendor, d.DeviceID, drv, kind, grp, e.ifaceOf(d.Addr))
	}
	return tw.Flush()
}

// ifaceOf names the kernel interface a device has, "-" if none.
func (e *env) ifaceOf(addr string) string {
	ents, err := os.ReadDir(e.sysClassNet)
	if err != nil {
		return "-"
	}
	for _, ent := range ents {
		if l, err := os.Readlink(filepath.Join(e.sysClassNet, ent.Name(), "device")); err == nil && filepath.Base(l) == addr {
			return ent.Name()
		}
	}
	return "-"
}

// defaultRouteIface is the interface of the IPv4 default route.
func (e *env) defaultRouteIface() string {
	f, err := os.Open(e.procRoute)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		if len(fl) > 2 && fl[1] == "00000000" && fl[0] != "Iface" {
			return fl[0]
		}
	}
	return ""
}

// routeIface is the interface /proc/net/route sends ip through (longest
// prefix), "" if none.
func (e *env) routeIface(ip netip.Addr) string {
	f, err := os.Open(e.procRoute)
	if err != nil {
		return ""
	}
	defer f.Close()
	best, bestLen := "", -1
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		if len(fl) < 2 || fl[0] == "Iface" {
			continue
		}
		dst, err1 := strconv.ParseUint(fl[1], 16, 32)
		mask := uint64(0)
		if len(fl) > 7 {
			mask, _ = strconv.ParseUint(fl[7], 16, 32)
		} else if dst != 0 {
			continue // no mask column: only the default route is known
		}
		if err1 != nil {
			continue
		}
		// /proc/net/route prints addresses in host (little-endian) order.
		a := ip.As4()
		v := uint64(binary.LittleEndian.Uint32(a[:]))
		if v&mask != dst&mask {
			continue
		}
		if n := bits.OnesCount64(mask); n > bestLen {
			best, bestLen = fl[0], n
		}
	}
	return best
}

// netMountsVia lists the network filesystems (NFS, CIFS, Ceph, ...)
// whose server the host reaches through interface ifc.
func (e *env) netMountsVia(ifc string) []string {
	b, err := os.ReadFile(e.procMounts)
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		fl := strings.Fields(line)
		if len(fl) < 4 {
			continue
		}
		src, mnt, typ, opts := fl[0], fl[1], fl[2], fl[3]
		switch typ {
		case "nfs", "nfs4", "cifs", "smb3", "ceph", "glusterfs", "afs":
		default:
			continue
		}
		var server netip.Addr
		for _, o := range strings.Split(opts, ",") {
			if v, ok := strings.CutPrefix(o, "addr="); ok {
				server, _ = netip.ParseAddr(v)
			}
		}
		if !server.IsValid() {
			host := strings.TrimPrefix(src, "//")
			host, _, _ = strings.Cut(host, ":")
			host, _, _ = strings.Cut(host, "/")
			server, _ = netip.ParseAddr(host)
		}
		if server.IsValid() && server.Is4() && e.routeIface(server) == ifc {
			out = append(out, fmt.Sprintf("%s (%s from %s)", mnt, typ, server))
		}
	}
	return out
}

func cmdBind(e *env, fs *flag.FlagSet, args []string) error {
	force := fs.Bool("force", false, "bind even if the host's default route or a network filesystem uses the NIC")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("bind: want one PCI address (see ringo list)")
	}
	bus := e.bus()
	d, err := bus.Device(fs.Arg(0))
	if err != nil {
		return fmt.Errorf("bind: %w (see ringo list for addresses)", err)
	}
	if d.IOMMUGroup < 0 {
		return fmt.Errorf("bind %s: %w", d.Addr, pci.ErrNoIOMMUGroup)
	}
	if ifc := e.ifaceOf(d.Addr); ifc != "-" && ifc == e.defaultRouteIface() && !*force {
		return fmt.Errorf("bind %s: the host's default route goes through %s on this NIC; binding it cuts the host off (use -force if you mean it)", d.Addr, ifc)
	}
	if ifc := e.ifaceOf(d.Addr); ifc != "-" && !*force {
		if m := e.netMountsVia(ifc); len(m) > 0 {
			return fmt.Errorf("bind %s: mounted filesystems depend on %s on this NIC: %s; binding it hangs them (use -force if you mean it)",
				d.Addr, ifc, strings.Join(m, ", "))
		}
	}
	prev, err := bus.Bind(d.Addr)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(e.stateDir, 0o755); err == nil && prev != "" {
		os.WriteFile(filepath.Join(e.stateDir, d.Addr+".driver"), []byte(prev+"\n"), 0o644)
	}
	d, _ = bus.Device(d.Addr)
	if err := bus.CheckGroupViable(d); err != nil {
		fmt.Fprintf(e.stderr, "warning: %v\n", err)
	}
	was := prev
	if was == "" {
		was = "no driver"
	}
	fmt.Fprintf(e.stdout, "%s: bound to vfio-pci (was %s), iommu group %d\n", d.Addr, was, d.IOMMUGroup)
	return nil
}

func cmdUnbind(e *env, fs *flag.FlagSet, args []string) error {
	driver := fs.String("driver", "", "driver to give the NIC to (default: the one it had before bind)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("unbind: want one PCI address")
	}
	addr := pci.CanonicalAddr(fs.Arg(0))
	prev := *driver
	state := filepath.Join(e.stateDir, addr+".driver")
	if prev == "" {
		if b, err := os.ReadFile(state); err == nil {
			prev = strings.TrimSpace(string(b))
		}
	}
	bus := e.bus()
	if d, err := bus.Device(addr); err != nil {
		return fmt.Errorf("unbind: %w", err)
	} else if d.Driver != pci.VFIODriver {
		return fmt.Errorf("unbind %s: bound to %q, not vfio-pci", addr, d.Driver)
	}
	if err := bus.Unbind(addr, prev); err != nil {
		return err
	}
	os.Remove(state)
	if prev == "" {
		prev = "no driver (none was recorded; use -driver)"
	}
	fmt.Fprintf(e.stdout, "%s: released from vfio-pci, now %s\n", addr, prev)
	return nil
}
