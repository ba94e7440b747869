package qemutests

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringonet/ringo/qemu-tests/vm"
)

type identifyReport struct {
	Addr   string `json:"addr"`
	Kind   string `json:"kind"`
	MAC    string `json:"mac"`
	LinkUp bool   `json:"link_up"`
	IRQs   int    `json:"intx_count"`
	Second string `json:"second_open"`
}

// TestIdentify: a guest with one e1000 and one ne2k_pci opens both through
// VFIO and reads their MACs from the hardware (e1000 RAL0/RAH0, NE2000 PROM
// by remote DMA); they must be the MACs given to QEMU, and the e1000's
// STATUS.LU must say link up.
func TestIdentify(t *testing.T) {
	v := boot(t, vm.Config{
		Name:    "identify",
		Timeout: 90 * time.Second,
		NICs: []vm.NIC{
			{Model: "e1000", MAC: "52:54:00:aa:00:01", Netdev: "user"},
			{Model: "ne2k_pci", MAC: "52:54:00:bb:00:02", Netdev: "user"},
		},
	}, "identify")
	raw, err := v.Wait()
	require.NoError(t, err)
	reps := decode[identifyReport](t, raw)
	require.Len(t, reps, 2, "one report per NIC:\n%s", v.Console())

	assert.Equal(t, "e1000", reps[0].Kind)
	assert.Equal(t, "52:54:00:aa:00:01", reps[0].MAC)
	assert.True(t, reps[0].LinkUp, "e1000 STATUS.LU")
	assert.Equal(t, 1, reps[0].IRQs, "one INTx vector")

	assert.Equal(t, "ne2000", reps[1].Kind)
	assert.Equal(t, "52:54:00:bb:00:02", reps[1].MAC)
	for _, r := range reps {
		assert.Contains(t, r.Second, "already open", "a second open of %s says the device is taken", r.Addr)
	}
}
