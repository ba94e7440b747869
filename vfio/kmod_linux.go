package vfio

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Modules are the kernel modules VFIO needs, in load order. Debian builds
// them as modules; the kernel's own modprobe would follow modules.dep, but a
// u-root initramfs has no depmod output, and vfio_iommu_type1 is only a
// softdep of vfio, so it is named explicitly.
var Modules = []string{"vfio", "vfio_iommu_type1", "vfio_virqfd", "irqbypass", "vfio-pci-core", "vfio-pci"}

// LoadModules loads each of Modules from dir (which holds NAME.ko files) with
// finit_module. A module already loaded or built in is fine.
func LoadModules(dir string) error {
	for _, m := range Modules {
		path := filepath.Join(dir, m+".ko")
		f, err := os.Open(path)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) && builtin(m) {
				continue
			}
			return fmt.Errorf("vfio: load module %s: %w", m, err)
		}
		err = unix.FinitModule(int(f.Fd()), "", 0)
		f.Close()
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("vfio: load module %s: %w", path, err)
		}
	}
	return nil
}

// builtin reports whether the running kernel already has the module (built in
// or loaded), as /sys/module shows.
func builtin(m string) bool {
	name := filepath.Base(m)
	for i := range len(name) {
		if name[i] == '-' {
			name = name[:i] + "_" + name[i+1:]
		}
	}
	_, err := os.Stat(filepath.Join("/sys/module", name))
	return err == nil
}
