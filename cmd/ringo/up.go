package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ringonet/ringo/appliance"
	"github.com/ringonet/ringo/netcore/ipv6"
	"github.com/ringonet/ringo/netcore/pcap"
	"github.com/ringonet/ringo/pci"
	"github.com/ringonet/ringo/vfio"
)

func init() {
	commands = append(commands,
		command{"up", "-nic ADDR (-ip ADDR/LEN | -dhcp) [-gw ADDR] [-dns ADDR] [-mode irq|poll] [-itr N] [-cpus N] [-mtu N]", "run ringo's driver and stack on a NIC, serving status and echo", cmdUp},
		command{"ping", "-nic ADDR -ip ADDR/LEN [-gw ADDR] [-dns ADDR] [-c N] [-s SIZE] TARGET", "bring a NIC up under ringo and ping TARGET (an address or a name) through it", cmdPing},
		command{"stats", "[-prometheus]", "print the status of a running ringo up (or its metrics in Prometheus's text format)", cmdStats},
		command{"capture", "-w FILE [-c N]", "write a pcap of the frames a running ringo up sees", cmdCapture},
	)
}

type upFlags struct {
	nic, ip, gw, mode, dns string
	dhcp                   bool
	itr, cpus, mtu         int
}

func (u *upFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&u.nic, "nic", "", "PCI address of the NIC (bound with ringo bind)")
	fs.StringVar(&u.ip, "ip", "", "static addresses ADDR/LEN[,ADDR/LEN]: IPv4, IPv6 or one of each")
	fs.StringVar(&u.gw, "gw", "", "default gateway (IPv4 or IPv6)")
	fs.StringVar(&u.mode, "mode", "irq", "irq (interrupts) or poll (busy polling)")
	fs.BoolVar(&u.dhcp, "dhcp", false, "take the address by DHCP")
	fs.StringVar(&u.dns, "dns", "", "DNS servers ADDR[,ADDR] (default: the DHCP lease's)")
	fs.IntVar(&u.itr, "itr", 0, "e1000 interrupts/s at most: 0 adapts to the traffic, -1 unthrottled")
	fs.IntVar(&u.cpus, "cpus", 1, "softnet CPUs: a multi-queue NIC's queues (the 82574L's two) poll each on its own")
	fs.IntVar(&u.mtu, "mtu", 1500, "MTU; up to 9000 (jumbo frames) on the Intel NICs")
}

// start opens the NIC and brings the appliance up on it.
func (u *upFlags) start(e *env, log *slog.Logger) (*appliance.System, error) {
	if u.nic == "" {
		return nil, errors.New("-nic is required (see ringo list)")
	}
	cfg := appliance.Defaults()
	cfg.BusyPoll = u.mode == "poll"
	if u.itr < -1 {
		return nil, fmt.Errorf("-itr %d: want -1 (unthrottled), 0 (adaptive) or interrupts/s", u.itr)
	}
	cfg.InterruptRate = u.itr
	if u.cpus < 1 || u.cpus > 64 {
		return nil, fmt.Errorf("-cpus %d: want 1 to 64", u.cpus)
	}
	cfg.CPUs = u.cpus
	if u.mtu != 1500 {
		cfg.MTUs = map[string]int{"eth0": u.mtu}
	}
	if u.mode != "irq" && u.mode != "poll" {
		return nil, fmt.Errorf("-mode %q: want irq or poll", u.mode)
	}
	switch {
	case u.dhcp:
		cfg.DHCP["eth0"] = true
	case u.ip != "":
		for _, spec := range strings.Split(u.ip, ",") {
			p, err := netip.ParsePrefix(spec)
			if err != nil {
				return nil, fmt.Errorf("-ip %q: want ADDR/LEN: %w", spec, err)
			}
			if p.Addr().Is4() {
				cfg.Addrs["eth0"] = p
			} else {
				cfg.Addrs6["eth0"] = p
			}
		}
	default:
		return nil, errors.New("give -ip ADDR/LEN or -dhcp")
	}
	if u.gw != "" {
		a, err := netip.ParseAddr(u.gw)
		if err != nil {
			return nil, fmt.Errorf("-gw %q: %w", u.gw, err)
		}
		if a.Is4() {
			cfg.Gateway = a
		} else {
			cfg.Gateway6 = a
		}
	}
	if u.dns != "" {
		for _, spec := range strings.Split(u.dns, ",") {
			a, err := netip.ParseAddr(spec)
			if err != nil {
				return nil, fmt.Errorf("-dns %q: want IP addresses: %w", u.dns, err)
			}
			cfg.DNS = append(cfg.DNS, a)
		}
	}
	bus := e.bus()
	d, err := bus.Device(u.nic)
	if err != nil {
		return nil, err
	}
	drv := appliance.DriverFor(d.Vendor, d.DeviceID)
	if drv == nil {
		return nil, fmt.Errorf("%s [%04x:%04x] is not a NIC ringo drives", d.Addr, d.Vendor, d.DeviceID)
	}
	if d.Driver != pci.VFIODriver {
		return nil, fmt.Errorf("%s is bound to %q: run ringo bind %s first", d.Addr, d.Driver, d.Addr)
	}
	v, err := vfio.Open(d.Addr, vfio.Options{Sysfs: e.sysfs})
	if err != nil {
		return nil, err
	}
	sys, err := appliance.UpOn(cfg, log, []appliance.Opened{{VFIO: v, Driver: drv}})
	if err != nil {
		v.Close()
		return nil, err
	}
	return sys, nil
}

func cmdUp(e *env, fs *flag.FlagSet, args []string) error {
	var u upFlags
	u.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(e.stderr, nil))
	sys, err := u.start(e, log)
	if err != nil {
		return err
	}
	defer sys.Close()
	if err := sys.StartServices(); err != nil {
		return err
	}
	ctl, err := serveControl(e, sys, log)
	if err != nil {
		return err
	}
	defer ctl.Close()
	a, _ := sys.AddrOf(sys.NICs[0].Dev)
	fmt.Fprintf(e.stdout, "ringo up on %s (%s) as %s; ringo stats and ringo capture talk to %s; Ctrl-C stops\n", u.nic, sys.NICs[0].Driver.Name, a, ctl.Addr())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	return nil
}

// serveControl answers "status", "metrics" and "capture N" on a unix socket.
func serveControl(e *env, sys *appliance.System, log *slog.Logger) (net.Listener, error) {
	if err := os.MkdirAll(e.stateDir, 0o755); err != nil {
		return nil, err
	}
	path := filepath.Join(e.stateDir, "ringo.sock")
	os.Remove(path)
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go handleControl(c, sys, log)
		}
	}()
	return l, nil
}

func handleControl(c net.Conn, sys *appliance.System, log *slog.Logger) {
	defer c.Close()
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return
	}
	f := strings.Fields(line)
	switch {
	case len(f) == 1 && f[0] == "status":
		sys.WriteStatus(c)
	case len(f) == 1 && f[0] == "metrics":
		if err := sys.WriteMetrics(c); err != nil {
			fmt.Fprintln(c, err)
		}
	case len(f) == 2 && f[0] == "capture":
		n, _ := strconv.Atoi(f[1])
		w, err := pcap.NewWriter(c, 0, "")
		if err != nil {
			return
		}
		remove := sys.Core.AddTap(w.Tap())
		defer remove()
		for w.Count() < uint64(n) {
			time.Sleep(10 * time.Millisecond)
			if w.Flush() != nil {
				return
			}
		}
		w.Flush()
	default:
		fmt.Fprintf(c, "unknown request %q\n", line)
	}
}

func dialControl(e *env, req string) (net.Conn, error) {
	path := filepath.Join(e.stateDir, "ringo.sock")
	c, err := net.Dial("unix", path)
	if err != nil {
		return nil, fmt.Errorf("no ringo up running (%v); start one with ringo up", err)
	}
	if _, err := io.WriteString(c, req+"\n"); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func cmdStats(e *env, fs *flag.FlagSet, args []string) error {
	prom := fs.Bool("prometheus", false, "every counter in the Prometheus text format, as /metrics serves it")
	if err := fs.Parse(args); err != nil {
		return err
	}
	req := "status"
	if *prom {
		req = "metrics"
	}
	c, err := dialControl(e, req)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = io.Copy(e.stdout, c)
	return err
}

func cmdCapture(e *env, fs *flag.FlagSet, args []string) error {
	file := fs.String("w", "", "pcap file to write (readable by tcpdump -r, wireshark)")
	count := fs.Int("c", 100, "frames to capture")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *file == "" {
		fs.Usage()
		return errors.New("capture: -w FILE is required")
	}
	c, err := dialControl(e, fmt.Sprintf("capture %d", *count))
	if err != nil {
		return err
	}
	defer c.Close()
	f, err := os.Create(*file)
	if err != nil {
		return err
	}
	n, err := io.Copy(f, c)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	fmt.Fprintf(e.stdout, "wrote %d bytes to %s\n", n, *file)
	return err
}

// waitIPv6 waits, at most d, until no IPv6 address of sys is still
// running duplicate address detection.
func waitIPv6(sys *appliance.System, d time.Duration) {
	deadline := time.After(d)
	for {
		ch := sys.Stack.IP6.Changed()
		tentative := false
		for _, a := range sys.Stack.IP6.Addrs() {
			tentative = tentative || a.State == ipv6.Tentative
		}
		if !tentative {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			return
		}
	}
}

func cmdPing(e *env, fs *flag.FlagSet, args []string) error {
	var u upFlags
	u.register(fs)
	count := fs.Int("c", 4, "echo requests to send")
	size := fs.Int("s", 56, "data bytes per request")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("ping: want one target address")
	}
	sys, err := u.start(e, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return err
	}
	defer sys.Close()
	target, err := netip.ParseAddr(fs.Arg(0))
	if err != nil { // a host name, resolved through ringo
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		addrs, lerr := sys.Stack.LookupNetIP(ctx, "ip", fs.Arg(0))
		cancel()
		if lerr != nil {
			return fmt.Errorf("ping: %q is not an IP address (fe80::1%%eth0 for a link-local one) and does not resolve: %w", fs.Arg(0), lerr)
		}
		target = addrs[0]
		fmt.Fprintf(e.stdout, "PING %s (%s)\n", fs.Arg(0), target)
	}
	ping := func(ctx context.Context, seq uint16) (time.Duration, error) {
		return sys.Stack.IP.Ping(ctx, target.As4(), *size, seq)
	}
	if !target.Is4() {
		dev := sys.NICs[0].Dev
		waitIPv6(sys, 3*time.Second)
		ping = func(ctx context.Context, seq uint16) (time.Duration, error) {
			return sys.Stack.IP6.Ping(ctx, target.WithZone(""), dev, *size, seq)
		}
	}
	got := 0
	for i := 0; i < *count; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		rtt, err := ping(ctx, uint16(i+1))
		cancel()
		if err != nil {
			fmt.Fprintf(e.stdout, "seq=%d %v\n", i+1, err)
		} else {
			got++
			fmt.Fprintf(e.stdout, "%d bytes from %s: seq=%d time=%.3f ms\n", *size+8, target, i+1, float64(rtt.Microseconds())/1000)
		}
		time.Sleep(time.Second)
	}
	fmt.Fprintf(e.stdout, "%d transmitted, %d received\n", *count, got)
	if got == 0 {
		return errors.New("no reply")
	}
	return nil
}
