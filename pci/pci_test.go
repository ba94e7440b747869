package pci

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fixture builds a sysfs PCI tree like the one QEMU's q35 guest shows: an
// e1000 at 00:02.0 (group 1, no driver), an ne2k_pci at 00:03.0 (group 2,
// bound to ne2k-pci) and a host bridge sharing group 2's number space.
type fixture struct {
	root string
}

type fakeDev struct {
	addr, vendor, device, class, driver string
	group                               int
	resource                            string
}

const e1000Resource = "0x00000000feb80000 0x00000000feb9ffff 0x0000000000040200\n" +
	"0x000000000000c000 0x000000000000c03f 0x0000000000040101\n" +
	"0x0000000000000000 0x0000000000000000 0x0000000000000000\n" +
	"0x0000000000000000 0x0000000000000000 0x0000000000000000\n" +
	"0x0000000000000000 0x0000000000000000 0x0000000000000000\n" +
	"0x0000000000000000 0x0000000000000000 0x0000000000000000\n" +
	"0x00000000feb00000 0x00000000feb3ffff 0x0000000000046200\n"

const ne2kResource = "0x000000000000c100 0x000000000000c1ff 0x0000000000040101\n" +
	"0x0000000000000000 0x0000000000000000 0x0000000000000000\n" +
	"0x0000000000000000 0x0000000000000000 0x0000000000000000\n" +
	"0x0000000000000000 0x0000000000000000 0x0000000000000000\n" +
	"0x0000000000000000 0x0000000000000000 0x0000000000000000\n" +
	"0x0000000000000000 0x0000000000000000 0x0000000000000000\n"

func newFixture(t *testing.T, devs ...fakeDev) *fixture {
	t.Helper()
	f := &fixture{root: filepath.Join(t.TempDir(), "sys", "bus", "pci")}
	for _, dir := range []string{"devices", "drivers", "../../kernel/iommu_groups"} {
		require.NoError(t, os.MkdirAll(filepath.Join(f.root, dir), 0o755))
	}
	require.NoError(t, os.WriteFile(filepath.Join(f.root, "drivers_probe"), nil, 0o644))
	for _, d := range devs {
		p := filepath.Join(f.root, "devices", d.addr)
		require.NoError(t, os.MkdirAll(p, 0o755))
		for name, val := range map[string]string{
			"vendor": d.vendor, "device": d.device, "class": d.class,
			"resource": d.resource, "driver_override": "(null)\n",
		} {
			require.NoError(t, os.WriteFile(filepath.Join(p, name), []byte(val+"\n"), 0o644))
		}
		if d.driver != "" {
			f.attach(t, d.addr, d.driver)
		}
		if d.group >= 0 {
			g := filepath.Join(f.root, "../../kernel/iommu_groups", itoa(d.group))
			require.NoError(t, os.MkdirAll(filepath.Join(g, "devices"), 0o755))
			require.NoError(t, os.Symlink(p, filepath.Join(g, "devices", d.addr)))
			require.NoError(t, os.Symlink(g, filepath.Join(p, "iommu_group")))
		}
	}
	return f
}

func itoa(i int) string { return string(rune('0' + i)) }

func (f *fixture) attach(t *testing.T, addr, driver string) {
	drv := filepath.Join(f.root, "drivers", driver)
	require.NoError(t, os.MkdirAll(drv, 0o755))
	for _, n := range []string{"bind", "unbind"} {
		require.NoError(t, os.WriteFile(filepath.Join(drv, n), nil, 0o644))
	}
	require.NoError(t, os.Symlink(drv, filepath.Join(f.root, "devices", addr, "driver")))
}

// bus returns a Bus whose kernel hook plays drivers/pci/pci-driver.c: unbind
// removes the driver link, drivers_probe binds driver_override if set, else
// the device's "native" driver.
func (f *fixture) bus(t *testing.T, native map[string]string) *Bus {
	b := NewBus(f.root)
	b.kernel = func(path, val string) {
		switch {
		case strings.HasSuffix(path, "/unbind"):
			require.NoError(t, os.Remove(filepath.Join(f.root, "devices", val, "driver")))
		case strings.HasSuffix(path, "drivers_probe"):
			ov, _ := os.ReadFile(filepath.Join(f.root, "devices", val, "driver_override"))
			drv := strings.TrimSpace(string(ov))
			if drv == "" || drv == "(null)" {
				drv = native[val]
			}
			if drv != "" {
				f.attach(t, val, drv)
			}
		}
	}
	return b
}

var (
	e1000Dev = fakeDev{addr: "0000:00:02.0", vendor: "0x8086", device: "0x100e", class: "0x020000", group: 1, resource: e1000Resource}
	ne2kDev  = fakeDev{addr: "0000:00:03.0", vendor: "0x10ec", device: "0x8029", class: "0x020000", driver: "ne2k-pci", group: 2, resource: ne2kResource}
	bridge   = fakeDev{addr: "0000:00:00.0", vendor: "0x8086", device: "0x29c0", class: "0x060000", group: -1, resource: ne2kResource}
)

func TestList(t *testing.T) {
	f := newFixture(t, e1000Dev, ne2kDev, bridge)
	devs, err := NewBus(f.root).List()
	require.NoError(t, err)
	require.Len(t, devs, 3)

	assert.Equal(t, "0000:00:00.0", devs[0].Addr)
	assert.False(t, devs[0].IsEthernet())
	assert.Equal(t, -1, devs[0].IOMMUGroup)

	e := devs[1]
	assert.Equal(t, uint16(0x8086), e.Vendor)
	assert.Equal(t, uint16(0x100e), e.DeviceID)
	assert.True(t, e.IsEthernet())
	assert.Equal(t, "", e.Driver)
	assert.Equal(t, 1, e.IOMMUGroup)
	require.Len(t, e.BARs, 2)
	assert.Equal(t, BAR{Index: 0, Start: 0xfeb80000, Size: 128 << 10}, e.BARs[0])
	assert.Equal(t, BAR{Index: 1, Start: 0xc000, Size: 64, IO: true}, e.BARs[1])

	n := devs[2]
	assert.Equal(t, "ne2k-pci", n.Driver)
	require.Len(t, n.BARs, 1)
	assert.True(t, n.BARs[0].IO)
	assert.Equal(t, uint64(256), n.BARs[0].Size)
	assert.Contains(t, n.String(), "[10ec:8029]")
}

func TestDeviceShortAddr(t *testing.T) {
	f := newFixture(t, e1000Dev)
	d, err := NewBus(f.root).Device("00:02.0")
	require.NoError(t, err)
	assert.Equal(t, "0000:00:02.0", d.Addr)

	_, err = NewBus(f.root).Device("00:09.0")
	require.Error(t, err)
	assert.True(t, errors.Is(err, os.ErrNotExist))
}

func TestBindUnbindRestoresDriver(t *testing.T) {
	f := newFixture(t, e1000Dev, ne2kDev)
	b := f.bus(t, map[string]string{ne2kDev.addr: "ne2k-pci"})

	prev, err := b.Bind("00:03.0")
	require.NoError(t, err)
	assert.Equal(t, "ne2k-pci", prev)
	d, err := b.Device(ne2kDev.addr)
	require.NoError(t, err)
	assert.Equal(t, VFIODriver, d.Driver)
	require.NoError(t, b.CheckGroupViable(d))

	// Binding again is a no-op that reports no previous driver.
	again, err := b.Bind(ne2kDev.addr)
	require.NoError(t, err)
	assert.Equal(t, "", again)

	require.NoError(t, b.Unbind(ne2kDev.addr, prev))
	d, err = b.Device(ne2kDev.addr)
	require.NoError(t, err)
	assert.Equal(t, "ne2k-pci", d.Driver)
	ov, err := os.ReadFile(filepath.Join(d.Path(), "driver_override"))
	require.NoError(t, err)
	assert.Equal(t, "\n", string(ov))
}

func TestBindWithoutIOMMU(t *testing.T) {
	noGroup := e1000Dev
	noGroup.group = -1
	f := newFixture(t, noGroup)
	_, err := f.bus(t, nil).Bind(noGroup.addr)
	require.ErrorIs(t, err, ErrNoIOMMUGroup)
	assert.Contains(t, err.Error(), "intel_iommu=on")
}

func TestBindProbeFails(t *testing.T) {
	f := newFixture(t, e1000Dev)
	b := NewBus(f.root) // no kernel: nothing binds
	_, err := b.Bind(e1000Dev.addr)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "vfio-pci module")
}

func TestGroupNotViable(t *testing.T) {
	other := ne2kDev
	other.group = 1 // shares the e1000's group, and stays on ne2k-pci
	f := newFixture(t, e1000Dev, other)
	b := f.bus(t, nil)
	_, err := b.Bind(e1000Dev.addr)
	require.NoError(t, err)
	d, err := b.Device(e1000Dev.addr)
	require.NoError(t, err)
	err = b.CheckGroupViable(d)
	require.ErrorIs(t, err, ErrGroupNotViable)
	assert.Contains(t, err.Error(), "0000:00:03.0 (bound to ne2k-pci)")
}

// memConfig is configuration space in memory.
type memConfig []byte

func (m memConfig) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || int(off)+len(p) > len(m) {
		return 0, errors.New("out of range")
	}
	return copy(p, m[off:]), nil
}

func (m memConfig) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 || int(off)+len(p) > len(m) {
		return 0, errors.New("out of range")
	}
	return copy(m[off:], p), nil
}

func TestCapabilities(t *testing.T) {
	m := make(memConfig, 256)
	m[CfgStatus] = StatusCapList
	m[CfgCapPtr] = 0xdc
	m[0xdc], m[0xdd] = CapPM, 0xe5 // low bits of a pointer are ignored
	m[0xe4], m[0xe5] = CapMSI, 0xf0
	m[0xf0], m[0xf1] = CapMSIX, 0
	caps, err := Config{RW: m}.Capabilities()
	require.NoError(t, err)
	assert.Equal(t, []Capability{{CapPM, 0xdc}, {CapMSI, 0xe4}, {CapMSIX, 0xf0}}, caps)
	off, err := Config{RW: m}.FindCapability(CapMSIX)
	require.NoError(t, err)
	assert.Equal(t, 0xf0, off)
	assert.Equal(t, "[e4] MSI", caps[1].String())
}

func TestCapabilitiesHostile(t *testing.T) {
	loop := make(memConfig, 256)
	loop[CfgStatus] = StatusCapList
	loop[CfgCapPtr] = 0x40
	loop[0x40], loop[0x41] = CapPM, 0x40
	_, err := Config{RW: loop}.Capabilities()
	require.ErrorIs(t, err, ErrCapLoop)

	intoHeader := make(memConfig, 256)
	intoHeader[CfgStatus] = StatusCapList
	intoHeader[CfgCapPtr] = 0x10
	_, err = Config{RW: intoHeader}.Capabilities()
	require.Error(t, err)

	none := make(memConfig, 256)
	caps, err := Config{RW: none}.Capabilities()
	require.NoError(t, err)
	assert.Empty(t, caps)
}

func TestEnableBusMaster(t *testing.T) {
	m := make(memConfig, 256)
	m[CfgCommand] = CommandINTxDisable & 0xff
	require.NoError(t, Config{RW: m}.EnableBusMaster())
	assert.True(t, bytes.Equal([]byte{CommandBusMaster | CommandMemory | CommandIO, 0}, m[CfgCommand:CfgCommand+2]))
}
