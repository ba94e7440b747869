// Command ringo-init is the u-root uinit that makes an initramfs a ringo
// appliance: it reads ringo.* parameters from the kernel command line (see
// package appliance), loads the VFIO modules, binds every supported NIC to
// vfio-pci, runs ringo's drivers and stack on them, and serves the UDP
// echo, discard and status services. It logs to the console and powers the
// machine off on SIGTERM or SIGINT.
package main

import (
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ringonet/ringo/appliance"
)

func main() {
	raw, err := os.ReadFile("/proc/cmdline")
	if err != nil {
		slog.Error("ringo-init: read /proc/cmdline; using defaults", "err", err)
	}
	cfg, warnings := appliance.Parse(string(raw))
	log := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{Level: cfg.LogLevel}))
	slog.SetDefault(log)
	for _, w := range warnings {
		log.Warn("ringo-init: bad kernel parameter", "problem", w)
	}
	sys, err := appliance.Up(cfg, log)
	if err != nil {
		// Stay up so the console shows why; nothing to serve.
		log.Error("ringo-init: bring-up failed", "err", err)
		waitAndPowerOff(log, nil)
		return
	}
	if err := sys.StartServices(); err != nil {
		log.Error("ringo-init: services", "err", err)
	}
	for _, n := range sys.NICs {
		addr, _ := sys.AddrOf(n.Dev)
		log.Info("ringo-init: ready", "dev", n.Dev.Name, "driver", n.Driver.Name, "pci", n.Addr, "mac", n.Dev.HardwareAddr.String(), "addr", addr)
	}
	waitAndPowerOff(log, sys)
}

func waitAndPowerOff(log *slog.Logger, sys *appliance.System) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	s := <-sig
	log.Info("ringo-init: powering off", "signal", s.String())
	if sys != nil {
		// Stop the devices first: no DMA into memory about to be freed.
		if err := sys.Close(); err != nil {
			log.Warn("ringo-init: close", "err", err)
		}
	}
	// Let the console send what is queued (tcdrain), then power off.
	os.Stdout.Sync()
	unix.IoctlSetInt(int(os.Stdout.Fd()), unix.TCSBRK, 1)
	unix.Sync()
	time.Sleep(100 * time.Millisecond)
	unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
}
