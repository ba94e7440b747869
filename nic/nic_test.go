package nic

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringonet/ringo/vfio"
)

func TestLookupAndAttach(t *testing.T) {
	errDown := errors.New("link down")
	a := &Driver{Name: "a", IDs: []ID{{Vendor: 1, Device: 2}, {Vendor: 1, Device: 3}},
		Attach: func(Env) (Card, error) { return nil, errDown }}
	b := &Driver{Name: "b", IDs: []ID{{Vendor: 4, Device: 2}}}
	drivers := []*Driver{a, b}

	assert.Same(t, a, Lookup(drivers, 1, 3))
	assert.Same(t, b, Lookup(drivers, 4, 2))
	assert.Nil(t, Lookup(drivers, 2, 1), "vendor and device swapped")

	env := Env{VFIO: &vfio.Device{Addr: "0000:00:02.0"}}
	_, _, err := Attach(drivers, env, 9, 9)
	assert.ErrorContains(t, err, "0000:00:02.0: no driver for 0009:0009")
	d, _, err := Attach(drivers, env, 1, 2)
	require.ErrorIs(t, err, errDown, "the driver's error is wrapped")
	assert.Nil(t, d)
	assert.ErrorContains(t, err, "0000:00:02.0: a: link down")
}
