// Package appliance is ringo as a unikernel-style appliance: it reads its
// configuration from the kernel command line, takes every supported NIC
// through VFIO, runs the stack on them, and serves a status report and the
// echo and discard services. cmd/ringo-init runs it as u-root's uinit; the
// QEMU tests run the same code.
package appliance

import (
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
)

// Config is the appliance's configuration. Every field has a safe default.
type Config struct {
	NICs    []string                // PCI addresses to take; empty: every supported NIC
	Addrs   map[string]netip.Prefix // device name -> static address
	Gateway netip.Addr
	// IPv6: link-local addresses and SLAAC on every device (default on;
	// ringo.ipv6=0 turns it off), static IPv6 addresses and gateway.
	IPv6     bool
	Addrs6   map[string]netip.Prefix
	Gateway6 netip.Addr
	DHCP     map[string]bool // device name -> configure by DHCP
	// VLANs are 802.1Q devices to make: "eth0.100" is VLAN 100 over eth0.
	VLANs []string
	// MTUs are device MTUs other than 1500 (jumbo frames: up to 9000 on
	// the Intel NICs), by device name.
	MTUs map[string]int
	// DNS servers host names are resolved with; empty: the DHCP lease's.
	DNS      []netip.Addr
	BusyPoll bool
	CPUs     int
	Ring     int
	// InterruptRate is the e1000's ITR, interrupts/s: 0 adapts it to
	// the traffic (4,000-20,000), -1 does not throttle.
	InterruptRate int
	// RSSKey is the RSS hash key of multi-queue NICs (40 bytes, from
	// hex); nil: random per NIC, as Linux does.
	RSSKey   []byte
	EchoPort int // TCP and UDP echo; 0 disables
	Discard  int // TCP and UDP discard
	Status   int // UDP status port: any datagram gets the status report
	HTTP     int // HTTP status page
	// ConnRate is the new TCP connections a second each source address
	// may open to the services (bursts as large); 0: no limit.
	ConnRate  int
	LogLevel  slog.Level
	ModuleDir string
	// VFIOPortIO: NE2000 port access through VFIO pread/pwrite rather
	// than IN/OUT after ioperm (ringo.portio=vfio).
	VFIOPortIO bool
}

// Defaults is the configuration with nothing on the command line.
func Defaults() Config {
	return Config{
		Addrs: map[string]netip.Prefix{}, Addrs6: map[string]netip.Prefix{}, DHCP: map[string]bool{}, IPv6: true,
		CPUs: 1, Ring: 256, EchoPort: 7, Discard: 9, Status: 7070, HTTP: 80,
		LogLevel: slog.LevelInfo, ModuleDir: "/lib/modules/ringo",
	}
}

// Parse reads ringo.* parameters from a kernel command line. A bad value
// is reported in the returned warnings and the default kept: the appliance
// always boots.
//
//	ringo.nic=all|ADDR[,ADDR]   PCI addresses of the NICs to take (default all)
//	ringo.ip=ADDR/LEN           static address of eth0 (IPv4 or IPv6: one of each per device)
//	ringo.ip=DEV:ADDR/LEN,...   static addresses per device
//	ringo.gw=ADDR               default gateway (IPv4 or IPv6)
//	ringo.ipv6=0|1              link-local addresses and SLAAC on every device (default 1)
//	ringo.dhcp=1|DEV[,DEV]      DHCP on eth0 (1) or on the devices named
//	ringo.dns=ADDR[,ADDR]       DNS servers (default: the DHCP lease's)
//	ringo.vlan=DEV.ID[,DEV.ID]  802.1Q VLAN devices (eth0.100); address them with ringo.ip=eth0.100:ADDR/LEN
//	ringo.mtu=DEV:N[,DEV:N]     device MTUs (jumbo frames up to 9000 on the Intel NICs; default 1500)
//	ringo.mode=irq|poll         interrupts (default) or busy polling
//	ringo.cpus=N                softnet CPUs (default 1)
//	ringo.ring=N                descriptors per e1000 ring (default 256)
//	ringo.itr=N                 e1000 interrupts/s at most; 0 adaptive (default), -1 unthrottled
//	ringo.rsskey=HEX            RSS key of multi-queue NICs, 40 bytes (default random)
//	ringo.echo=PORT ringo.discard=PORT ringo.status=PORT ringo.http=PORT  (0 disables)
//	ringo.connrate=N            new TCP connections/s per source to the services (default 0: no limit)
//	ringo.portio=direct|vfio    NE2000 port access: IN/OUT (default) or VFIO pread/pwrite
//	ringo.log=debug|info|warn
func Parse(cmdline string) (Config, []string) {
	c := Defaults()
	var warn []string
	bad := func(k, v, why string) { warn = append(warn, fmt.Sprintf("%s=%q: %s; using the default", k, v, why)) }
	for _, f := range strings.Fields(cmdline) {
		k, v, _ := strings.Cut(f, "=")
		if !strings.HasPrefix(k, "ringo.") {
			continue
		}
		switch k {
		case "ringo.nic":
			if v != "all" && v != "" {
				c.NICs = strings.Split(v, ",")
			}
		case "ringo.ip":
			for _, spec := range strings.Split(v, ",") {
				dev, pfx := "eth0", spec
				if d, rest, ok := strings.Cut(spec, ":"); ok && d != "" && !isHex(d) {
					dev, pfx = d, rest // DEV:ADDR/LEN (an IPv6 address starts with hex digits)
				}
				p, err := netip.ParsePrefix(pfx)
				switch {
				case err != nil || p.Addr().Zone() != "":
					bad(k, spec, "want ADDR/LEN or DEV:ADDR/LEN")
				case p.Addr().Is4():
					c.Addrs[dev] = p
				default:
					c.Addrs6[dev] = p
				}
			}
		case "ringo.ipv6":
			c.IPv6 = v != "0"
		case "ringo.gw":
			a, err := netip.ParseAddr(v)
			switch {
			case err != nil || a.Zone() != "":
				bad(k, v, "want an IPv4 or IPv6 address")
			case a.Is4():
				c.Gateway = a
			default:
				c.Gateway6 = a
			}
		case "ringo.dhcp":
			switch v {
			case "0", "":
			case "1":
				c.DHCP["eth0"] = true
			default:
				for _, d := range strings.Split(v, ",") {
					c.DHCP[d] = true
				}
			}
		case "ringo.dns":
			for _, spec := range strings.Split(v, ",") {
				a, err := netip.ParseAddr(spec)
				if err != nil {
					bad(k, spec, "want an IPv4 or IPv6 address")
					continue
				}
				c.DNS = append(c.DNS, a)
			}
		case "ringo.vlan":
			for _, spec := range strings.Split(v, ",") {
				dev, id, ok := strings.Cut(spec, ".")
				n, err := strconv.Atoi(id)
				if !ok || dev == "" || err != nil || n < 1 || n > 4094 {
					bad(k, spec, "want DEV.ID with an id in 1..4094")
					continue
				}
				c.VLANs = append(c.VLANs, spec)
			}
		case "ringo.mtu":
			for _, spec := range strings.Split(v, ",") {
				dev, n, ok := strings.Cut(spec, ":")
				mtu, err := strconv.Atoi(n)
				if !ok || dev == "" || err != nil || mtu < 68 || mtu > 65535 {
					bad(k, spec, "want DEV:MTU")
					continue
				}
				if c.MTUs == nil {
					c.MTUs = map[string]int{}
				}
				c.MTUs[dev] = mtu
			}
		case "ringo.mode":
			switch v {
			case "irq":
			case "poll":
				c.BusyPoll = true
			default:
				bad(k, v, "want irq or poll")
			}
		case "ringo.cpus":
			c.CPUs = intParam(k, v, 1, 64, c.CPUs, bad)
		case "ringo.ring":
			n := intParam(k, v, 8, 4096, c.Ring, bad)
			if n&(n-1) != 0 {
				bad(k, v, "want a power of two")
			} else {
				c.Ring = n
			}
		case "ringo.itr":
			c.InterruptRate = intParam(k, v, -1, 100000, c.InterruptRate, bad)
		case "ringo.rsskey":
			if key, err := hex.DecodeString(v); err != nil || len(key) != 40 {
				bad(k, v, "want 40 bytes in hex")
			} else {
				c.RSSKey = key
			}
		case "ringo.echo":
			c.EchoPort = intParam(k, v, 0, 65535, c.EchoPort, bad)
		case "ringo.discard":
			c.Discard = intParam(k, v, 0, 65535, c.Discard, bad)
		case "ringo.status":
			c.Status = intParam(k, v, 0, 65535, c.Status, bad)
		case "ringo.http":
			c.HTTP = intParam(k, v, 0, 65535, c.HTTP, bad)
		case "ringo.connrate":
			c.ConnRate = intParam(k, v, 0, 100000, c.ConnRate, bad)
		case "ringo.portio":
			switch v {
			case "direct":
			case "vfio":
				c.VFIOPortIO = true
			default:
				bad(k, v, "want direct or vfio")
			}
		case "ringo.log":
			if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
				bad(k, v, "want debug, info, warn or error")
				c.LogLevel = slog.LevelInfo
			}
		default:
			// Other ringo.* keys belong to tests or later versions.
		}
	}
	return c, warn
}

// isHex reports whether s is all hex digits (an IPv6 address's first
// group, not a device name).
func isHex(s string) bool {
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return false
		}
	}
	return true
}

func intParam(k, v string, lo, hi, def int, bad func(k, v, why string)) int {
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		bad(k, v, fmt.Sprintf("want a number in %d..%d", lo, hi))
		return def
	}
	return n
}
