// Command ringo-guest is the uinit of the QEMU test initramfs. It loads the
// VFIO modules, binds every supported NIC to vfio-pci, runs the scenario the
// kernel command line names (ringo.test=NAME), prints each result as a
// "RINGO {json}" line on the console, then "RINGO-DONE" (or "RINGO-FAIL
// reason"), and powers off.
package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ringonet/ringo/appliance"
	"github.com/ringonet/ringo/pci"
	"github.com/ringonet/ringo/vfio"
)

// scenarios by name.
var scenarios = map[string]func(args map[string]string, nics []appliance.Opened) error{
	"identify":   identify,
	"hub":        hub,
	"arp":        arp,
	"linkflap":   linkflap,
	"flood":      flood,
	"ipserve":    ipServe,
	"blast":      blast,
	"txonly":     txOnly,
	"rxonly":     rxOnly,
	"l2fwd":      l2fwd,
	"appliance":  applianceScenario,
	"stackbench": stackBench,
}

func main() {
	start := time.Now()
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{Level: slog.LevelInfo})))
	args := cmdline()
	if v := args["ringo.gomaxprocs"]; v != "" {
		runtime.GOMAXPROCS(atoiDefault(v, 0))
	}
	interruptRate, _ = strconv.Atoi(args["ringo.itr"]) // 0 (adaptive) unless set
	rssKey, _ = hex.DecodeString(args["ringo.rsskey"])
	if child := os.Getenv(childEnv); child != "" {
		// A child of killrestart: run the named scenario until killed.
		args["ringo.test"] = child
		if err := run(args); err != nil {
			fmt.Printf("child: %v\n", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	err := run(args)
	if err != nil {
		fmt.Printf("RINGO-FAIL %v\n", err)
	} else {
		fmt.Printf("RINGO-DONE in %v\n", time.Since(start).Round(time.Millisecond))
	}
	drainConsole()
	unix.Sync()
	unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
}

// kernelScenarios run on the Linux kernel's own drivers: no VFIO.
var kernelScenarios = map[string]func(args map[string]string) error{
	"linuxpeer":       linuxPeer,
	"linuxblast":      linuxBlast,
	"linuxstackbench": linuxStackBench,
	"benchpeer":       benchPeer,
	"dpdktxonly":      dpdkTxOnly,
	"dpdkrxonly":      dpdkRxOnly,
	"dpdkl2fwd":       dpdkL2Fwd,
}

func run(args map[string]string) error {
	name := args["ringo.test"]
	if ks, ok := kernelScenarios[name]; ok {
		return ks(args)
	}
	sc, ok := scenarios[name]
	if !ok && name != "killrestart" {
		return fmt.Errorf("unknown scenario ringo.test=%q", name)
	}
	if err := vfio.LoadModules("/lib/modules/ringo"); err != nil {
		return err
	}
	if name == "killrestart" {
		return killRestart(args) // opens the NICs only after its child dies
	}
	nics, err := openNICs()
	if err != nil {
		return err
	}
	defer func() {
		for _, n := range nics {
			n.VFIO.Close()
		}
	}()
	return sc(args, nics)
}

// openNICs binds every supported NIC to vfio-pci and opens it, in PCI
// address order.
func openNICs() ([]appliance.Opened, error) {
	opened, err := appliance.Take(pci.NewBus(""), nil, slog.Default())
	if err != nil {
		for _, o := range opened {
			o.VFIO.Close()
		}
		return nil, err
	}
	return opened, nil
}

func report(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	fmt.Printf("RINGO %s\n", b)
}

func cmdline() map[string]string {
	b, _ := os.ReadFile("/proc/cmdline")
	m := map[string]string{}
	for _, f := range strings.Fields(string(b)) {
		k, v, _ := strings.Cut(f, "=")
		m[k] = v
	}
	return m
}

// drainConsole waits until the serial console has sent everything written
// to it (tcdrain): powering off with output still queued in the UART's
// buffer cuts the last report in half.
func drainConsole() {
	os.Stdout.Sync()
	unix.IoctlSetInt(int(os.Stdout.Fd()), unix.TCSBRK, 1)
	time.Sleep(100 * time.Millisecond)
}
