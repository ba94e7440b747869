package vm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Root finds the repository root (the directory holding go.mod) above the
// working directory.
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("vm: go.mod not found above the working directory")
		}
		dir = parent
	}
}

// Kernel is the Debian kernel that scripts/setup.sh unpacked.
type Kernel struct {
	Vmlinuz string
	Modules string // lib/modules/VERSION
}

// ErrNoKernel says scripts/setup.sh has not been run.
var ErrNoKernel = errors.New("no cached kernel: run scripts/setup.sh")

// FindKernel returns the cached kernel under root/.cache/kernel.
func FindKernel(root string) (Kernel, error) {
	k := Kernel{
		Vmlinuz: filepath.Join(root, ".cache", "kernel", "vmlinuz"),
		Modules: filepath.Join(root, ".cache", "kernel", "modules"),
	}
	if _, err := os.Stat(k.Vmlinuz); err != nil {
		return k, fmt.Errorf("%w (%v)", ErrNoKernel, err)
	}
	return k, nil
}

// GuestModuleDir is where the initramfs carries kernel modules.
const GuestModuleDir = "/lib/modules/ringo"

// VFIOModules are the .ko files the guest needs, relative to the modules dir.
var VFIOModules = []string{
	"kernel/drivers/vfio/vfio.ko",
	"kernel/drivers/vfio/vfio_iommu_type1.ko",
	"kernel/drivers/vfio/vfio_virqfd.ko",
	"kernel/virt/lib/irqbypass.ko",
	"kernel/drivers/vfio/pci/vfio-pci-core.ko",
	"kernel/drivers/vfio/pci/vfio-pci.ko",
}

// LinuxNICModules are the kernel's own drivers, for guests that compare with
// or talk to the Linux stack.
var LinuxNICModules = []string{
	"kernel/drivers/net/ethernet/intel/e1000/e1000.ko",
	"kernel/drivers/net/ethernet/intel/e1000e/e1000e.ko",
	"kernel/drivers/net/ethernet/8390/8390.ko",
	"kernel/drivers/net/ethernet/8390/ne2k-pci.ko",
	"kernel/net/core/pktgen.ko", // the kernel's packet generator, for benchmarks
	// VLANs, the peer of ringo's: 8021q and what it needs, in load order.
	"kernel/net/llc/llc.ko",
	"kernel/net/802/stp.ko",
	"kernel/net/802/garp.ko",
	"kernel/net/802/mrp.ko",
	"kernel/net/8021q/8021q.ko",
}

// BuildInitramfs builds a u-root initramfs at out whose uinit is the command
// built from the package uinit (a path relative to the repo root, e.g.
// "./cmd/ringo-init"). extraPkgs are added as further commands; extraFiles
// are "host:guest" pairs. The VFIO and Linux NIC modules are always added.
func BuildInitramfs(ctx context.Context, root string, k Kernel, out, uinit string, extraPkgs, extraFiles []string) error {
	// u-root builds with inlining off (-gcflags=all=-l) for a smaller
	// image unless asked: ringo's fast paths depend on it (the checksum
	// loop, header views, register accessors), so ask.
	args := []string{"tool", "u-root", "-o", out, "-uinitcmd=" + filepath.Base(uinit), "-defaultsh=", "-go-enable-inlining"}
	for _, m := range append(append([]string{}, VFIOModules...), LinuxNICModules...) {
		args = append(args, "-files", filepath.Join(k.Modules, m)+":"+strings.TrimPrefix(GuestModuleDir, "/")+"/"+filepath.Base(m))
	}
	for _, f := range extraFiles {
		args = append(args, "-files", f)
	}
	args = append(args, "github.com/u-root/u-root/cmds/core/init", uinit)
	args = append(args, extraPkgs...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("vm: u-root: %w\n%s", err, b)
	}
	return nil
}
