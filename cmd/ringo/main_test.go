package main

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringonet/ringo/appliance"
	"github.com/ringonet/ringo/irq"
	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/socket"
	"github.com/ringonet/ringo/pci/pcitest"
)

// fixtureEnv is a host with an e1000 driven by the kernel (its interface
// eth0 carries the default route), an ne2k_pci, an 82574L under the
// kernel's e1000e, and an unsupported NIC (an 82576, igb's).
func fixtureEnv(t *testing.T) (*env, *pcitest.Fixture, *bytes.Buffer) {
	e1 := pcitest.E1000("0000:00:02.0", 1)
	e1.Driver = "e1000"
	ne := pcitest.NE2000("0000:00:03.0", 2)
	ne.Driver = "ne2k-pci"
	other := pcitest.Dev{Addr: "0000:00:04.0", Vendor: "0x8086", Device: "0x10c9", Class: "0x020000", Group: 3, Resource: pcitest.E1000Resource, Driver: "igb"}
	e1e := pcitest.Dev{Addr: "0000:00:05.0", Vendor: "0x8086", Device: "0x10d3", Class: "0x020000", Group: 4, Resource: pcitest.E1000Resource, Driver: "e1000e"}
	f, bus := pcitest.New(t, e1, ne, other, e1e)
	dir := t.TempDir()
	net := filepath.Join(dir, "class", "net")
	require.NoError(t, os.MkdirAll(filepath.Join(net, "eth0"), 0o755))
	require.NoError(t, os.Symlink(filepath.Join(f.Root, "devices", e1.Addr), filepath.Join(net, "eth0", "device")))
	route := filepath.Join(dir, "route")
	require.NoError(t, os.WriteFile(route, []byte("Iface\tDestination\tGateway\tFlags\nEth0\t0002000A\t00000000\t0001\neth0\t00000000\t0202000A\t0003\n"), 0o644))
	out := &bytes.Buffer{}
	e := &env{stdout: out, stderr: out, sysfs: f.Root, sysClassNet: net, procRoute: route, stateDir: filepath.Join(dir, "run"), kernel: bus.Kernel}
	return e, f, out
}

func TestList(t *testing.T) {
	e, _, out := fixtureEnv(t)
	require.NoError(t, run(e, []string{"list"}))
	s := out.String()
	assert.Contains(t, s, "0000:00:02.0  8086:100e  e1000")
	assert.Contains(t, s, "e1000   1            eth0")
	assert.Contains(t, s, "0000:00:03.0  10ec:8029  ne2k-pci  ne2000")
	assert.Contains(t, s, "0000:00:05.0  8086:10d3  e1000e    e1000e", "the 82574L is supported")
	assert.NotContains(t, s, "0000:00:04.0", "unsupported NICs only with -a")
	out.Reset()
	require.NoError(t, run(e, []string{"list", "-a"}))
	assert.Contains(t, out.String(), "unsupported")
}

func TestBindUnbind(t *testing.T) {
	e, _, out := fixtureEnv(t)
	// The NE2000 carries no route: bind it, then give it back.
	require.NoError(t, run(e, []string{"bind", "00:03.0"}))
	assert.Contains(t, out.String(), "0000:00:03.0: bound to vfio-pci (was ne2k-pci), iommu group 2")
	out.Reset()
	require.NoError(t, run(e, []string{"list"}))
	assert.Contains(t, out.String(), "0000:00:03.0  10ec:8029  vfio-pci")
	out.Reset()
	require.NoError(t, run(e, []string{"unbind", "0000:00:03.0"}))
	assert.Contains(t, out.String(), "now ne2k-pci")
	out.Reset()
	require.NoError(t, run(e, []string{"list"}))
	assert.Contains(t, out.String(), "0000:00:03.0  10ec:8029  ne2k-pci")

	// Unbinding something not on vfio-pci says so.
	err := run(e, []string{"unbind", "0000:00:03.0"})
	assert.ErrorContains(t, err, "not vfio-pci")
}

func TestBindRefusesDefaultRoute(t *testing.T) {
	e, _, out := fixtureEnv(t)
	err := run(e, []string{"bind", "0000:00:02.0"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "default route goes through eth0")
	assert.Contains(t, err.Error(), "-force")
	require.NoError(t, run(e, []string{"bind", "-force", "0000:00:02.0"}))
	assert.Contains(t, out.String(), "bound to vfio-pci (was e1000)")
}

func TestBindErrors(t *testing.T) {
	e, _, _ := fixtureEnv(t)
	assert.ErrorContains(t, run(e, []string{"bind"}), "want one PCI address")
	assert.ErrorContains(t, run(e, []string{"bind", "00:09.0"}), "see ringo list")
	assert.ErrorContains(t, run(e, []string{"frobnicate"}), "unknown command")
	assert.ErrorContains(t, run(e, []string{"up", "-ip", "10.0.0.1/24"}), "-nic is required")
	assert.ErrorContains(t, run(e, []string{"up", "-nic", "00:05.0", "-ip", "10.0.0.1/24", "-cpus", "0"}), "-cpus 0")
	assert.ErrorContains(t, run(e, []string{"up", "-nic", "00:05.0", "-ip", "10.0.0.1/24", "-cpus", "2", "-mtu", "9000"}), "run ringo bind", "the flags pass; the 82574L is still the kernel's")
	assert.ErrorContains(t, run(e, []string{"stats"}), "no ringo up running")
	assert.NoError(t, run(e, []string{"-h"}))
	for _, c := range commands {
		assert.Error(t, run(e, []string{c.name, "-h"}), "%s -h prints help", c.name)
	}
}

// A NIC that carries the route to an NFS server with a mounted export is
// refused, as the default route's is.
func TestBindRefusesNetworkMount(t *testing.T) {
	e, f, out := fixtureEnv(t)
	require.NoError(t, os.MkdirAll(filepath.Join(e.sysClassNet, "eth1"), 0o755))
	require.NoError(t, os.Symlink(filepath.Join(f.Root, "devices", "0000:00:03.0"), filepath.Join(e.sysClassNet, "eth1", "device")))
	route := "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n" +
		"eth0\t00000000\t0202000A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n" +
		"eth1\t0000A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
	require.NoError(t, os.WriteFile(e.procRoute, []byte(route), 0o644))
	e.procMounts = filepath.Join(t.TempDir(), "mounts")
	require.NoError(t, os.WriteFile(e.procMounts, []byte("/dev/sda1 / ext4 rw 0 0\n192.168.0.5:/export /mnt/data nfs4 rw,vers=4.2,addr=192.168.0.5 0 0\n"), 0o644))
	err := run(e, []string{"bind", "0000:00:03.0"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "/mnt/data (nfs4 from 192.168.0.5)")
	assert.Contains(t, err.Error(), "-force")
	require.NoError(t, run(e, []string{"bind", "-force", "0000:00:03.0"}))
	assert.Contains(t, out.String(), "bound to vfio-pci (was ne2k-pci)")
}

// ringo stats and ringo stats -prometheus read a running ringo up through
// its control socket.
func TestStatsControl(t *testing.T) {
	e, _, out := fixtureEnv(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	core := netcore.New(netcore.Config{Logger: log})
	stack, err := socket.New(core, socket.Config{})
	require.NoError(t, err)
	bridge, err := irq.New(log)
	require.NoError(t, err)
	t.Cleanup(func() { stack.Close(); core.Close(); bridge.Close() })
	sys := &appliance.System{Cfg: appliance.Defaults(), Log: log, Core: core, Bridge: bridge, Stack: stack, Start: time.Now()}
	ctl, err := serveControl(e, sys, log)
	require.NoError(t, err)
	defer ctl.Close()

	require.NoError(t, run(e, []string{"stats"}))
	assert.Contains(t, out.String(), "# /proc/net/snmp")
	out.Reset()
	require.NoError(t, run(e, []string{"stats", "-prometheus"}))
	assert.Contains(t, out.String(), "# TYPE ringo_tcp_active_opens_total counter")
	assert.Contains(t, out.String(), "ringo_device_up{dev=\"lo\",driver=")
}
