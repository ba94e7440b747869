package netcore

import (
	"encoding/binary"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringonet/ringo/netcore/skb"
)

// The receive side of 802.1Q: a tag for a VLAN device moves the frame to
// it, a priority tag (id 0) keeps it on the real device; either way the
// tag is off the data, the MAC header whole before the packet, and the
// TCI in the skb. A tag for no device, or a frame too short for its
// tag, is dropped and counted.
func TestVLANReceive(t *testing.T) {
	c := New(Config{Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() { c.Close() })
	m := &moreNIC{}
	var err error
	m.dev, err = c.Register(DeviceConfig{Name: "eth0", HardwareAddr: []byte{2, 0, 0, 0, 0, 1}}, m)
	require.NoError(t, err)
	require.NoError(t, m.dev.Up())
	v, err := c.AddVLAN(m.dev, 100)
	require.NoError(t, err)
	require.NoError(t, v.Up())

	type seen struct {
		dev      string
		tci      uint16
		present  bool
		mac, net []byte
	}
	got := make(chan seen, 4)
	c.AddPacketType(0x88b5, func(b *skb.Buff) {
		got <- seen{b.Dev.(*Device).Name, b.VlanTCI, b.VlanPresent, append([]byte(nil), b.MACHeader()[:14]...), append([]byte(nil), b.Data()[:4]...)}
		b.Free()
	})
	tagged := func(tci uint16, n int) *skb.Buff {
		b := skb.Alloc(n)
		p := b.Put(n)
		copy(p[0:6], m.dev.HardwareAddr)
		copy(p[6:12], []byte{2, 9, 9, 9, 9, 9})
		binary.BigEndian.PutUint16(p[12:], EthP8021Q)
		if n >= 18 {
			binary.BigEndian.PutUint16(p[14:], tci)
			binary.BigEndian.PutUint16(p[16:], 0x88b5)
			copy(p[18:], []byte{0xde, 0xad, 0xbe, 0xef})
		}
		m.dev.EthTypeTrans(b)
		return b
	}
	recv := func(b *skb.Buff) seen {
		c.cpus[0].netifReceiveSkb(b)
		select {
		case s := <-got:
			return s
		case <-time.After(5 * time.Second):
			t.Fatal("not delivered")
			return seen{}
		}
	}
	wantMAC := append(append(append([]byte(nil), m.dev.HardwareAddr...), 2, 9, 9, 9, 9, 9), 0x88, 0xb5)

	live := skb.Live()
	s := recv(tagged(3<<13|100, 60)) // priority 3, VLAN 100
	assert.Equal(t, seen{"eth0.100", 3<<13 | 100, true, wantMAC, []byte{0xde, 0xad, 0xbe, 0xef}}, s)
	assert.EqualValues(t, 1, v.Stats.RxPackets.Load())

	s = recv(tagged(5<<13, 60)) // priority-tagged: stays on eth0
	assert.Equal(t, seen{"eth0", 5 << 13, true, wantMAC, []byte{0xde, 0xad, 0xbe, 0xef}}, s)

	c.cpus[0].netifReceiveSkb(tagged(200, 60)) // no eth0.200
	assert.EqualValues(t, 1, m.dev.Stats.RxNoHandler.Load())
	c.cpus[0].netifReceiveSkb(tagged(100, 16)) // the tag cut short
	assert.EqualValues(t, 1, m.dev.Stats.RxLengthErrors.Load())
	assert.Empty(t, got)
	assert.Equal(t, live, skb.Live(), "every frame freed")
}

// The MTU stays within what the driver posts buffers for (its MaxMTU),
// on the device and on a VLAN device over it.
func TestSetMTURange(t *testing.T) {
	c := New(Config{Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() { c.Close() })
	big, err := c.Register(DeviceConfig{Name: "big0"}, &moreNIC{})
	require.NoError(t, err)
	assert.NoError(t, big.SetMTU(9000), "no driver limit: up to 65535")
	assert.Error(t, big.SetMTU(67))
	m := &moreNIC{}
	m.dev, err = c.Register(DeviceConfig{Name: "e0", HardwareAddr: []byte{2, 0, 0, 0, 0, 2}, MaxMTU: 1500}, m)
	require.NoError(t, err)
	assert.Equal(t, 1500, m.dev.MaxMTU())
	assert.ErrorContains(t, m.dev.SetMTU(1501), "68..1500")
	assert.NoError(t, m.dev.SetMTU(1400))
	v, err := c.AddVLAN(m.dev, 7)
	require.NoError(t, err)
	assert.Equal(t, 1400, v.MTU(), "the real device's MTU")
	assert.Error(t, v.SetMTU(1501), "and its limit")
	_, err = c.Register(DeviceConfig{Name: "e1", MTU: 9000, MaxMTU: 1500}, &moreNIC{})
	assert.Error(t, err)
}

// accelNIC strips and inserts tags in "hardware" and filters VLAN ids:
// it records what the core hands it.
type accelNIC struct {
	dev  *Device
	mu   sync.Mutex
	sent []*skb.Buff
	vids map[uint16]bool
}

func (a *accelNIC) Open() error { a.dev.NetifCarrierOn(); return nil }
func (a *accelNIC) Stop() error { return nil }
func (a *accelNIC) StartXmit(b *skb.Buff) TxStatus {
	a.mu.Lock()
	a.sent = append(a.sent, b)
	a.mu.Unlock()
	return TxOK
}
func (a *accelNIC) VLANRxAddVID(vid uint16)  { a.mu.Lock(); a.vids[vid] = true; a.mu.Unlock() }
func (a *accelNIC) VLANRxKillVID(vid uint16) { a.mu.Lock(); delete(a.vids, vid); a.mu.Unlock() }

// A NIC with VLAN acceleration: a frame it untagged (TCI in the skb)
// goes to the VLAN device as a software-untagged one would, a priority
// tag stays, an id without a device is dropped and counted; on transmit
// the VLAN device leaves the tag to the NIC (the frame untagged, the TCI
// in the skb), and the NIC's filter learns the id.
func TestVLANAccel(t *testing.T) {
	c := New(Config{Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() { c.Close() })
	a := &accelNIC{vids: map[uint16]bool{}}
	var err error
	a.dev, err = c.Register(DeviceConfig{Name: "eth0", HardwareAddr: []byte{2, 0, 0, 0, 0, 1}, Features: FeatureVLANRx | FeatureVLANTx}, a)
	require.NoError(t, err)
	require.NoError(t, a.dev.Up())
	v, err := c.AddVLAN(a.dev, 100)
	require.NoError(t, err)
	require.NoError(t, v.Up())
	assert.Equal(t, map[uint16]bool{100: true}, a.vids, "the filter learnt the id")

	got := make(chan string, 4)
	c.AddPacketType(0x88b5, func(b *skb.Buff) {
		got <- b.Dev.(*Device).Name
		b.Free()
	})
	stripped := func(tci uint16) *skb.Buff {
		b := skb.Alloc(60)
		p := b.Put(60)
		copy(p[0:6], a.dev.HardwareAddr)
		copy(p[6:12], []byte{2, 9, 9, 9, 9, 9})
		binary.BigEndian.PutUint16(p[12:], 0x88b5)
		a.dev.EthTypeTrans(b)
		b.VlanTCI, b.VlanPresent = tci, true // as the driver sets them
		return b
	}
	live := skb.Live()
	c.cpus[0].netifReceiveSkb(stripped(2<<13 | 100))
	assert.Equal(t, "eth0.100", <-got)
	assert.EqualValues(t, 1, v.Stats.RxPackets.Load())
	c.cpus[0].netifReceiveSkb(stripped(4 << 13))
	assert.Equal(t, "eth0", <-got, "priority tag")
	c.cpus[0].netifReceiveSkb(stripped(200))
	assert.EqualValues(t, 1, a.dev.Stats.RxNoHandler.Load())
	assert.Empty(t, got)
	assert.Equal(t, live, skb.Live())

	b := skb.Alloc(60)
	p := b.Put(60)
	binary.BigEndian.PutUint16(p[12:], 0x88b5)
	b.Dev = v
	require.NoError(t, DevQueueXmit(b))
	require.Eventually(t, func() bool { a.mu.Lock(); defer a.mu.Unlock(); return len(a.sent) == 1 }, 5*time.Second, time.Millisecond)
	s := a.sent[0]
	assert.True(t, s.VlanPresent)
	assert.EqualValues(t, 100, s.VlanTCI)
	assert.Equal(t, 60, s.Len(), "no tag in the frame")
	assert.EqualValues(t, 0x88b5, binary.BigEndian.Uint16(s.Data()[12:]))
	s.Free()

	require.NoError(t, c.Unregister(v))
	assert.Empty(t, a.vids, "the id left the filter")
	c.cpus[0].netifReceiveSkb(stripped(100))
	assert.EqualValues(t, 2, a.dev.Stats.RxNoHandler.Load(), "and is no longer delivered")
	_, err = c.AddVLAN(a.dev, 100)
	assert.NoError(t, err, "the id is free again")
}
