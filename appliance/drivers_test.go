package appliance

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestDriverRegistry: every registered driver has a name and an attach
// function, and no PCI ID is claimed twice (the first would silently win).
func TestDriverRegistry(t *testing.T) {
	claimed := map[[2]uint16]string{}
	names := map[string]bool{}
	for _, d := range Drivers {
		assert.NotEmpty(t, d.Name)
		assert.NotNil(t, d.Attach, d.Name)
		assert.False(t, names[d.Name], "driver name %s twice", d.Name)
		names[d.Name] = true
		for _, id := range d.IDs {
			k := [2]uint16{id.Vendor, id.Device}
			assert.Empty(t, claimed[k], "%04x:%04x claimed by %s and %s", id.Vendor, id.Device, claimed[k], d.Name)
			claimed[k] = d.Name
		}
	}
	assert.Equal(t, "e1000", DriverFor(0x8086, 0x100e).Name)
	assert.Equal(t, "ne2000", DriverFor(0x10ec, 0x8029).Name)
	assert.Equal(t, "e1000e", DriverFor(0x8086, 0x10d3).Name)
	assert.Nil(t, DriverFor(0x8086, 0x10d4), "an ID no driver claims")
}
