package nettest

import (
	"fmt"
	"runtime"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ethtoolValue is struct ethtool_value, the legacy get/set commands'
// argument.
type ethtoolValue struct {
	cmd, data uint32
}

// ifreqData is struct ifreq with ifr_data: the name, then a pointer in
// the 24-byte union.
type ifreqData struct {
	name [unix.IFNAMSIZ]byte
	data unsafe.Pointer
	_    [16]byte
}

func ethtool(fd int, dev string, cmd, data uint32) (uint32, error) {
	var ifr ifreqData
	copy(ifr.name[:unix.IFNAMSIZ-1], dev)
	v := &ethtoolValue{cmd: cmd, data: data}
	ifr.data = unsafe.Pointer(v)
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr)))
	runtime.KeepAlive(v)
	if errno != 0 {
		return 0, errno
	}
	return v.data, nil
}

// NoOffloads turns off a device's checksum offload, scatter-gather, TSO,
// GSO and GRO inside namespace ns, as `ethtool -K dev tx off sg off tso
// off gso off gro off` does (the legacy ETHTOOL_S* ioctls), and checks
// that TSO, GSO and GRO read back off: the kernel then moves one frame
// per packet through its stack, as ringo does over a TAP without the
// offloads.
func NoOffloads(t testing.TB, ns, dev string) {
	t.Helper()
	err := InNS(ns, func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("socket: %w", err)
		}
		defer unix.Close(fd)
		features := []struct {
			name     string
			set, get uint32 // get 0: not read back
		}{
			{"gro", unix.ETHTOOL_SGRO, unix.ETHTOOL_GGRO},
			{"gso", unix.ETHTOOL_SGSO, unix.ETHTOOL_GGSO},
			{"tso", unix.ETHTOOL_STSO, unix.ETHTOOL_GTSO},
			{"sg", unix.ETHTOOL_SSG, 0},
			{"tx", unix.ETHTOOL_STXCSUM, 0},
		}
		for _, f := range features {
			if _, err := ethtool(fd, dev, f.set, 0); err != nil {
				return fmt.Errorf("%s: %s off: %w", dev, f.name, err)
			}
		}
		for _, f := range features {
			if f.get == 0 {
				continue
			}
			on, err := ethtool(fd, dev, f.get, 0)
			if err != nil {
				return fmt.Errorf("%s: read %s: %w", dev, f.name, err)
			}
			if on != 0 {
				return fmt.Errorf("%s: %s still on", dev, f.name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("nettest: ethtool: %v", err)
	}
}
