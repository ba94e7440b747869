package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// kernelNIC puts the first NIC on the Linux kernel's own driver and stack:
// it loads e1000 (with rxDescs receive descriptors, its RxDescriptors
// parameter; 0 for its default, 256), 8390 and ne2k-pci, gives the
// interface cidr, brings it and lo up and waits for carrier. It returns
// the interface name and the driver bound to it.
func kernelNIC(cidr string, rxDescs int) (ifname, driver string, err error) {
	e1000Params := ""
	if rxDescs > 0 {
		e1000Params = fmt.Sprintf("RxDescriptors=%d", rxDescs)
	}
	if err := loadModule("e1000", e1000Params); err != nil {
		return "", "", err
	}
	if err := loadModules("e1000e", "8390", "ne2k-pci"); err != nil {
		return "", "", err
	}
	ifs, err := nicsByPCIAddress(1)
	if err != nil {
		return "", "", err
	}
	ifname = ifs[0]
	drv, _ := os.Readlink("/sys/class/net/" + ifname + "/device/driver")
	for _, c := range [][]string{
		{"ip", "link", "set", "lo", "up"},
		{"ip", "addr", "add", cidr, "dev", ifname},
		{"ip", "link", "set", ifname, "up"},
	} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			return "", "", fmt.Errorf("%s: %v: %s", strings.Join(c, " "), err, out)
		}
	}
	for deadline := time.Now().Add(10 * time.Second); readInt("/sys/class/net/"+ifname+"/carrier") != 1; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			return "", "", fmt.Errorf("%s: no carrier", ifname)
		}
	}
	return ifname, filepath.Base(drv), nil
}

// sysctl writes one /proc/sys value ("net.core.rmem_max").
func sysctl(name, value string) error {
	return os.WriteFile("/proc/sys/"+strings.ReplaceAll(name, ".", "/"), []byte(value), 0)
}
