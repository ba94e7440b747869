// Command ringo runs ringo on a host with real NICs: list the NICs it
// supports, hand them to vfio-pci and back, run the stack on one, ping
// through it, and read its statistics or a packet capture.
//
//	ringo list                          supported NICs and their drivers
//	ringo bind [-force] ADDR            give ADDR to vfio-pci (remembers the old driver)
//	ringo unbind ADDR                   give ADDR back to the driver it had
//	ringo up -nic ADDR (-ip A/LEN | -dhcp) [-gw A] [-mode irq|poll]
//	ringo ping -nic ADDR -ip A/LEN [-c N] [-s SIZE] TARGET
//	ringo stats [-prometheus]           status (or metrics) of a running "ringo up"
//	ringo capture -w FILE [-c N]        capture from a running "ringo up"
//
// Every command takes -h.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/ringonet/ringo/pci"
)

// env is where the commands look: the real system, or a test fixture.
type env struct {
	stdout, stderr io.Writer
	sysfs          string                 // /sys/bus/pci
	sysClassNet    string                 // /sys/class/net
	procRoute      string                 // /proc/net/route
	procMounts     string                 // /proc/mounts
	stateDir       string                 // /run/ringo: previous drivers, control socket
	kernel         func(path, val string) // fixture hook for pci.Bus (tests)
}

func (e *env) bus() *pci.Bus {
	b := pci.NewBus(e.sysfs)
	b.Kernel = e.kernel
	return b
}

func defaultEnv() *env {
	return &env{stdout: os.Stdout, stderr: os.Stderr, sysfs: "/sys/bus/pci", sysClassNet: "/sys/class/net",
		procRoute: "/proc/net/route", procMounts: "/proc/mounts", stateDir: "/run/ringo"}
}

type command struct {
	name, usage, help string
	run               func(e *env, fs *flag.FlagSet, args []string) error
}

var commands []command

func main() {
	if err := run(defaultEnv(), os.Args[1:]); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "ringo:", err)
		}
		os.Exit(1)
	}
}

func run(e *env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "help" || args[0] == "--help" {
		usage(e.stdout)
		if len(args) == 0 {
			return errors.New("no command")
		}
		return nil
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		fs := flag.NewFlagSet("ringo "+c.name, flag.ContinueOnError)
		fs.SetOutput(e.stderr)
		fs.Usage = func() {
			fmt.Fprintf(e.stderr, "usage: ringo %s %s\n\n%s\n\n", c.name, c.usage, c.help)
			fs.PrintDefaults()
		}
		return c.run(e, fs, args[1:])
	}
	usage(e.stderr)
	return fmt.Errorf("unknown command %q", args[0])
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: ringo COMMAND [flags]\n\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.help)
	}
	fmt.Fprintln(w, "\nringo COMMAND -h shows a command's flags.")
}
