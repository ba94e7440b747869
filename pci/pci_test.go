package pci_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	. "github.com/ringonet/ringo/pci"
	"github.com/ringonet/ringo/pci/pcitest"
)

var (
	e1000Dev = pcitest.E1000("0000:00:02.0", 1)
	ne2kDev  = func() pcitest.Dev { d := pcitest.NE2000("0000:00:03.0", 2); d.Driver = "ne2k-pci"; return d }()
	bridge   = pcitest.Dev{Addr: "0000:00:00.0", Vendor: "0x8086", Device: "0x29c0", Class: "0x060000", Group: -1, Resource: pcitest.NE2000Resource}
)

func TestList(t *testing.T) {
	_, bus := pcitest.New(t, e1000Dev, ne2kDev, bridge)
	devs, err := bus.List()
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
	_, bus := pcitest.New(t, e1000Dev)
	d, err := bus.Device("00:02.0")
	require.NoError(t, err)
	assert.Equal(t, "0000:00:02.0", d.Addr)

	_, err = bus.Device("00:09.0")
	require.Error(t, err)
	assert.True(t, errors.Is(err, os.ErrNotExist))
}

func TestBindUnbindRestoresDriver(t *testing.T) {
	_, b := pcitest.New(t, e1000Dev, ne2kDev)

	prev, err := b.Bind("00:03.0")
	require.NoError(t, err)
	assert.Equal(t, "ne2k-pci", prev)
	d, err := b.Device(ne2kDev.Addr)
	require.NoError(t, err)
	assert.Equal(t, VFIODriver, d.Driver)
	require.NoError(t, b.CheckGroupViable(d))

	// Binding again is a no-op that reports no previous driver.
	again, err := b.Bind(ne2kDev.Addr)
	require.NoError(t, err)
	assert.Equal(t, "", again)

	require.NoError(t, b.Unbind(ne2kDev.Addr, prev))
	d, err = b.Device(ne2kDev.Addr)
	require.NoError(t, err)
	assert.Equal(t, "ne2k-pci", d.Driver)
	ov, err := os.ReadFile(filepath.Join(d.Path(), "driver_override"))
	require.NoError(t, err)
	assert.Equal(t, "\n", string(ov))
}

func TestBindWithoutIOMMU(t *testing.T) {
	noGroup := e1000Dev
	noGroup.Group = -1
	_, b := pcitest.New(t, noGroup)
	_, err := b.Bind(noGroup.Addr)
	require.ErrorIs(t, err, ErrNoIOMMUGroup)
	assert.Contains(t, err.Error(), "intel_iommu=on")
}

func TestBindProbeFails(t *testing.T) {
	f, _ := pcitest.New(t, e1000Dev)
	b := NewBus(f.Root) // no kernel: nothing binds
	_, err := b.Bind(e1000Dev.Addr)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "vfio-pci module")
}

func TestGroupNotViable(t *testing.T) {
	other := ne2kDev
	other.Group = 1 // shares the e1000's group, and stays on ne2k-pci
	_, b := pcitest.New(t, e1000Dev, other)
	_, err := b.Bind(e1000Dev.Addr)
	require.NoError(t, err)
	d, err := b.Device(e1000Dev.Addr)
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
