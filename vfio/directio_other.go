//go:build linux && !amd64

package vfio

import (
	"errors"
	"fmt"
)

// ErrNoDirectPortIO: IN and OUT exist only on x86; elsewhere a port BAR is
// reached through PortBAR's pread and pwrite.
var ErrNoDirectPortIO = errors.New("vfio: direct port I/O needs x86")

// DirectPortBAR is unavailable off amd64; callers fall back to PortBAR.
func (d *Device) DirectPortBAR(index int, sysfs string) (Ports, error) {
	return nil, fmt.Errorf("vfio: %s BAR%d: %w", d.Addr, index, ErrNoDirectPortIO)
}
