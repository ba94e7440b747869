package netcore

import (
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/ringonet/ringo/netcore/skb"
)

// 802.1Q VLANs (Linux's net/8021q): a VLAN device over any device, named
// as Linux names it (eth0.100). The core strips the tag from a frame
// that arrives on the real device and delivers it on the VLAN device
// (vlan_do_receive); the VLAN device inserts the tag and hands the frame
// to the real device. A real device with FeatureVLANRx strips the tag
// itself and hands it up in skb.VlanTCI; one with FeatureVLANTx inserts
// the tag the VLAN device leaves in skb.VlanTCI; one that filters
// (VLANFilterer) is told the ids in use.

const (
	vlanHdrLen = 4    // TCI and the inner ethertype
	vlanVIDMax = 4094 // 0 is priority-tagged, 4095 reserved
)

// vlanDev is a VLAN device's driver: the real device and the tag.
type vlanDev struct {
	dev  *Device
	real *Device
	vid  uint16

	mu     sync.Mutex
	synced map[[6]byte]bool // multicast groups passed down to the real device
}

// AddVLAN creates the VLAN device real.vid (eth0.100) over real: the
// same MAC address and MTU, carrier following the real device's, no
// offloads (the stack checksums and segments before the tag goes in).
// It is brought up like any device.
func (c *Core) AddVLAN(real *Device, vid uint16) (*Device, error) {
	if vid == 0 || vid > vlanVIDMax {
		return nil, fmt.Errorf("netcore: vlan %d on %s: want an id in 1..%d", vid, real.Name, vlanVIDMax)
	}
	v := &vlanDev{real: real, vid: vid, synced: map[[6]byte]bool{}}
	d, err := c.Register(DeviceConfig{Name: fmt.Sprintf("%s.%d", real.Name, vid), HardwareAddr: real.HardwareAddr,
		MTU: real.MTU(), MaxMTU: real.MaxMTU(), CPU: real.cpu, Kind: "vlan"}, v)
	if err != nil {
		return nil, err
	}
	v.dev = d
	real.mu.Lock()
	if real.vlans == nil {
		real.vlans = map[uint16]*Device{}
	}
	if real.vlans[vid] != nil {
		real.mu.Unlock()
		c.Unregister(d)
		return nil, fmt.Errorf("netcore: vlan %d on %s: exists", vid, real.Name)
	}
	m := make(map[uint16]*Device, len(real.vlans)+1)
	for k, o := range real.vlans {
		m[k] = o
	}
	m[vid] = d
	real.vlans = m
	real.vlanMap.Store(&m)
	real.mu.Unlock()
	real.OnCarrier(func(_ *Device, up bool) { d.setCarrier(up) })
	if f, ok := real.ops.(VLANFilterer); ok {
		f.VLANRxAddVID(vid)
	}
	return d, nil
}

// unlink takes the VLAN device off its real device (unregister_vlan_dev):
// its id stops being delivered and leaves the NIC's filter.
func (v *vlanDev) unlink() {
	real := v.real
	real.mu.Lock()
	m := make(map[uint16]*Device, len(real.vlans))
	for k, o := range real.vlans {
		if o != v.dev {
			m[k] = o
		}
	}
	real.vlans = m
	real.vlanMap.Store(&m)
	real.mu.Unlock()
	if f, ok := real.ops.(VLANFilterer); ok {
		f.VLANRxKillVID(v.vid)
	}
}

// isVLAN reports whether d is a VLAN device.
func (d *Device) isVLAN() bool {
	_, ok := d.ops.(*vlanDev)
	return ok
}

// vlanHWAccelReceive is vlan_do_receive for a frame whose tag the NIC
// took off into b.VlanTCI: the VLAN device to deliver on, dev itself for
// a priority tag (id 0), or nil when no VLAN device of dev has the id
// (the frame is dropped and counted).
func vlanHWAccelReceive(dev *Device, b *skb.Buff) *Device {
	vid := b.VlanTCI & 0x0fff
	if vid == 0 {
		return dev
	}
	var to *Device
	if m := dev.vlanMap.Load(); m != nil {
		to = (*m)[vid]
	}
	if to == nil || !to.IsUp() {
		dev.Stats.RxNoHandler.Add(1)
		b.Free()
		return nil
	}
	b.Dev = to
	to.Stats.RxPackets.Add(1)
	to.Stats.RxBytes.Add(uint64(b.Len() + ethHeaderLen))
	return to
}

// VLANOf reports the real device and id of a VLAN device.
func VLANOf(d *Device) (real *Device, vid uint16, ok bool) {
	v, ok := d.ops.(*vlanDev)
	if !ok {
		return nil, 0, false
	}
	return v.real, v.vid, true
}

func (v *vlanDev) Open() error {
	if v.real.Carrier() {
		v.dev.NetifCarrierOn()
	}
	return nil
}

func (v *vlanDev) Stop() error { return nil }

// StartXmit inserts the tag after the MAC addresses (vlan_dev_hard_start_xmit
// with a software tag) and queues the frame on the real device.
func (v *vlanDev) StartXmit(b *skb.Buff) TxStatus {
	if v.real.Features.Has(FeatureVLANTx) {
		// The NIC inserts the tag (vlan_dev_hard_start_xmit with
		// __vlan_hwaccel_put_tag).
		b.Dev = v.real
		b.VlanTCI, b.VlanPresent = v.vid, true
		if err := DevQueueXmit(b); err != nil {
			v.dev.Stats.TxDropped.Add(1)
		}
		return TxOK
	}
	if b.Len() < ethHeaderLen || b.Push(vlanHdrLen) == nil {
		v.dev.Stats.TxDropped.Add(1)
		b.Free()
		return TxOK
	}
	f := b.Data()
	copy(f[0:12], f[vlanHdrLen:vlanHdrLen+12])
	binary.BigEndian.PutUint16(f[12:14], EthP8021Q)
	binary.BigEndian.PutUint16(f[14:16], v.vid) // priority 0, DEI 0
	b.Dev = v.real
	b.VlanTCI, b.VlanPresent = 0, false // the tag is in the frame now
	if err := DevQueueXmit(b); err != nil {
		v.dev.Stats.TxDropped.Add(1)
	}
	return TxOK
}

// SetRxMode passes the VLAN device's multicast groups down to the real
// device's filter (vlan_dev_set_rx_mode): IPv6's neighbour discovery on
// the VLAN needs them.
func (v *vlanDev) SetRxMode() {
	v.mu.Lock()
	defer v.mu.Unlock()
	want := map[[6]byte]bool{}
	for _, mac := range v.dev.MulticastList() {
		want[[6]byte(mac)] = true
	}
	for mac := range want {
		if !v.synced[mac] {
			v.real.McAdd(mac)
			v.synced[mac] = true
		}
	}
	for mac := range v.synced {
		if !want[mac] {
			v.real.McDel(mac)
			delete(v.synced, mac)
		}
	}
}

// vlanReceive is vlan_do_receive for a frame b on dev whose ethertype is
// 802.1Q: the tag is taken off (the MAC header moved up over it), the
// VLAN id kept in the skb, and the frame handed back on the VLAN device,
// or on dev for a priority tag (id 0). A tag for no VLAN device of dev
// is dropped and counted. It reports the device to deliver on, or nil.
func vlanReceive(dev *Device, b *skb.Buff) *Device {
	p := b.Data()
	if len(p) < vlanHdrLen {
		dev.Stats.RxLengthErrors.Add(1)
		b.Free()
		return nil
	}
	tci := binary.BigEndian.Uint16(p[0:2])
	vid := tci & 0x0fff
	to := dev
	if vid != 0 {
		var vlans map[uint16]*Device
		if m := dev.vlanMap.Load(); m != nil {
			vlans = *m
		}
		to = vlans[vid]
		if to == nil || !to.IsUp() {
			dev.Stats.RxNoHandler.Add(1)
			b.Free()
			return nil
		}
	}
	b.VlanTCI, b.VlanPresent = tci, true
	b.Protocol = binary.BigEndian.Uint16(p[2:4])
	// Move the MAC addresses up over the tag, so the MAC header stays
	// contiguous with the packet behind it (skb_vlan_untag).
	if b.Push(ethHeaderLen) == nil {
		dev.Stats.RxLengthErrors.Add(1)
		b.Free()
		return nil
	}
	f := b.Data()
	copy(f[vlanHdrLen:vlanHdrLen+12], f[0:12])
	b.Pull(vlanHdrLen)
	b.SetMACHeader()
	b.Pull(ethHeaderLen)
	b.SetNetworkHeader()
	if to != dev {
		b.Dev = to
		to.Stats.RxPackets.Add(1)
		to.Stats.RxBytes.Add(uint64(b.Len() + ethHeaderLen))
		if b.PktType == skb.PacketMulticast {
			to.Stats.Multicast.Add(1)
		}
	}
	return to
}
