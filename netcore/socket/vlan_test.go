package socket_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/internal/stacktest"
	"github.com/ringonet/ringo/netcore/skb"
	"github.com/ringonet/ringo/netcore/tcp"
)

// 802.1Q between two stacks on a pipe: VLAN 100 on both ends carries
// ping and 1 MB of TCP beside the untagged link, each frame on the wire
// tagged 81 00 00 64 after the MAC addresses; VLAN 200, which only one
// end has, is dropped at the other and counted.
func TestVLAN(t *testing.T) {
	a, b := stacktest.Stack(t, tcp.Config{MSL: 100 * time.Millisecond}), stacktest.Stack(t, tcp.Config{MSL: 100 * time.Millisecond})
	ea, eb := stacktest.Wire(t, a, b, 0)
	var mu sync.Mutex
	var tagged [][]byte // frames ea sent with a tag
	a.Core.AddTap(&netcore.Tap{Func: func(d *netcore.Device, frame []byte, dir skb.PktType, _ time.Time) {
		if d == ea.Dev && dir == skb.PacketOutgoing && len(frame) >= 18 && binary.BigEndian.Uint16(frame[12:]) == netcore.EthP8021Q {
			mu.Lock()
			tagged = append(tagged, append([]byte(nil), frame[:18]...))
			mu.Unlock()
		}
	}})
	addVLAN := func(c *netcore.Core, real *netcore.Device, vid uint16) *netcore.Device {
		v, err := c.AddVLAN(real, vid)
		require.NoError(t, err)
		require.NoError(t, v.Up())
		return v
	}
	va, vb := addVLAN(a.Core, ea.Dev, 100), addVLAN(b.Core, eb.Dev, 100)
	assert.Equal(t, ea.Dev.Name+".100", va.Name)
	require.NoError(t, a.IP.AddAddress(va, netip.MustParsePrefix("10.12.100.1/24")))
	require.NoError(t, b.IP.AddAddress(vb, netip.MustParsePrefix("10.12.100.2/24")))
	real, vid, ok := netcore.VLANOf(va)
	assert.True(t, ok)
	assert.Equal(t, ea.Dev, real)
	assert.EqualValues(t, 100, vid)
	_, err := a.Core.AddVLAN(ea.Dev, 100)
	assert.Error(t, err, "one device per id")
	_, err = a.Core.AddVLAN(ea.Dev, 4095)
	assert.Error(t, err, "4095 is reserved")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = a.IP.Ping(ctx, [4]byte{10, 12, 100, 2}, 56, 1)
	require.NoError(t, err, "over the VLAN")
	_, err = a.IP.Ping(ctx, [4]byte{10, 1, 0, 2}, 56, 2)
	require.NoError(t, err, "untagged beside it")
	mu.Lock()
	require.NotEmpty(t, tagged)
	assert.Equal(t, []byte{0x81, 0x00, 0x00, 0x64}, tagged[0][12:16], "TPID, then priority 0 and id 100")
	mu.Unlock()
	assert.Positive(t, vb.Stats.RxPackets.Load())
	assert.Positive(t, va.Stats.TxPackets.Load())

	l, err := b.Listen("tcp", "10.12.100.2:7100")
	require.NoError(t, err)
	defer l.Close()
	got := make(chan []byte, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		d, _ := io.ReadAll(c)
		got <- d
	}()
	data := bytes.Repeat([]byte("802.1Q tagged "), 75000) // ~1 MB
	c, err := a.DialContext(ctx, "tcp", "10.12.100.2:7100")
	require.NoError(t, err)
	_, err = c.Write(data)
	require.NoError(t, err)
	require.NoError(t, c.Close())
	select {
	case d := <-got:
		assert.True(t, bytes.Equal(data, d), "%d of %d bytes", len(d), len(data))
	case <-ctx.Done():
		t.Fatal("TCP over the VLAN did not finish")
	}

	// VLAN 200 on b only: a drops what b sends on it.
	v200 := addVLAN(b.Core, eb.Dev, 200)
	require.NoError(t, b.IP.AddAddress(v200, netip.MustParsePrefix("10.12.200.2/24")))
	before := ea.Dev.Stats.RxNoHandler.Load()
	pctx, pcancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer pcancel()
	b.IP.Ping(pctx, [4]byte{10, 12, 200, 1}, 56, 3) // an ARP request, tagged 200
	require.Eventually(t, func() bool { return ea.Dev.Stats.RxNoHandler.Load() > before }, 5*time.Second, time.Millisecond,
		"tagged for a VLAN a does not have: counted")
}
