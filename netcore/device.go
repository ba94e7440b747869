package netcore

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringonet/ringo/netcore/skb"
)

// TxStatus is what a driver's StartXmit returns (netdev_tx_t).
type TxStatus int

const (
	// TxOK: the driver took the packet and will free it.
	TxOK TxStatus = iota
	// TxBusy: the driver could not take it; the core keeps it and requeues
	// it. A driver returns this only with its queue stopped.
	TxBusy
)

// DeviceOps are what a driver implements (struct net_device_ops).
type DeviceOps interface {
	// Open brings the hardware up (ndo_open); process context.
	Open() error
	// Stop brings it down and releases its packets (ndo_stop).
	Stop() error
	// StartXmit queues one frame for transmission (ndo_start_xmit). The
	// core calls it from one goroutine at a time per device.
	StartXmit(b *skb.Buff) TxStatus
}

// RxModer is implemented by drivers that filter on the hardware
// (ndo_set_rx_mode): called when promiscuous mode or the multicast list
// changes.
type RxModer interface {
	SetRxMode()
}

// BurstXmitter is implemented by drivers that take a burst of frames in
// one call (DPDK's tx_burst; Linux's nearest is a run of ndo_start_xmit
// under xmit_more): one lock, one doorbell and one pass over the ring for
// the lot. StartXmitBurst takes frames from the front of bs and returns
// how many it took, sent or dropped, each its own after the call; when
// its ring fills it stops the queue (NetifStopQueue) and takes fewer, and
// the rest stay the caller's. The device sees every frame it took before
// the call returns. The core calls it from one goroutine at a time per
// device, with frames no tap wants to see.
type BurstXmitter interface {
	StartXmitBurst(bs []*skb.Buff) int
}

// TxFlusher is implemented by drivers that batch their doorbell: a
// frame given with Device.XmitMore true may wait in the ring, unseen by
// the device, until a frame without it, or until FlushXmit, which the
// core calls when a qdisc run ends early (the qdisc emptied under it, or
// the queue stopped) after promising more.
type TxFlusher interface {
	FlushXmit()
}

// MTUChanger is implemented by drivers whose hardware depends on the MTU
// (ndo_change_mtu): long-packet reception for jumbo frames. SetMTU calls
// it with the new MTU, already within MaxMTU; an error keeps the old.
type MTUChanger interface {
	ChangeMTU(mtu int) error
}

// TxTimeouter is implemented by drivers that can recover a stalled
// transmitter (ndo_tx_timeout); the watchdog calls it.
type TxTimeouter interface {
	TxTimeout()
}

// Features are offloads a device offers (NETIF_F_*).
type Features uint32

const (
	FeatureRxCsum Features = 1 << iota // verifies TCP/UDP checksums on receive
	FeatureIPCsum                      // computes IPv4 TCP/UDP checksums on transmit (NETIF_F_IP_CSUM)
	FeatureTSO                         // segments TCP over IPv4 on transmit (NETIF_F_TSO)
	// FeatureGSO (never in Device.Features: Device.TxFeatures adds it)
	// says the stack may build TCP packets of several segments for the
	// device and cut them in software before it, where it lacks TSO
	// (NETIF_F_GSO, on by default in Linux; ethtool -K dev gso off).
	FeatureGSO
	// FeatureVLANRx: the device takes the 802.1Q tag off received frames
	// and hands it up in skb.VlanTCI (NETIF_F_HW_VLAN_CTAG_RX).
	FeatureVLANRx
	// FeatureVLANTx: the device inserts the tag of a frame that carries
	// it in skb.VlanTCI (NETIF_F_HW_VLAN_CTAG_TX).
	FeatureVLANTx
)

// VLANFilterer is a device with a VLAN filter table: the core tells it
// each VLAN id a VLAN device over it uses (ndo_vlan_rx_add_vid and
// ndo_vlan_rx_kill_vid), and it drops tagged frames of other ids.
type VLANFilterer interface {
	VLANRxAddVID(vid uint16)
	VLANRxKillVID(vid uint16)
}

// Has reports whether every feature in want is in f.
func (f Features) Has(want Features) bool { return f&want == want }

// Interface flags (IFF_*), as ip link shows them.
const (
	FlagUp        = 1 << 0
	FlagBroadcast = 1 << 1
	FlagLoopback  = 1 << 3
	FlagRunning   = 1 << 6 // carrier on and up
	FlagPromisc   = 1 << 8
	FlagMulticast = 1 << 12
)

// Stats are the counters ip -s link shows (struct rtnl_link_stats64).
type Stats struct {
	RxPackets, TxPackets atomic.Uint64
	RxBytes, TxBytes     atomic.Uint64
	RxErrors, TxErrors   atomic.Uint64
	RxDropped, TxDropped atomic.Uint64
	Multicast            atomic.Uint64
	Collisions           atomic.Uint64
	RxLengthErrors       atomic.Uint64
	RxOverErrors         atomic.Uint64 // receiver ring overflow
	RxCRCErrors          atomic.Uint64
	RxFrameErrors        atomic.Uint64
	RxFIFOErrors         atomic.Uint64
	RxMissedErrors       atomic.Uint64 // missed by the hardware
	TxAbortedErrors      atomic.Uint64
	TxCarrierErrors      atomic.Uint64
	TxFIFOErrors         atomic.Uint64
	TxTimeouts           atomic.Uint64
	RxNoHandler          atomic.Uint64 // no protocol handler for the ethertype
}

// StatsSnapshot is a copy of Stats.
type StatsSnapshot struct {
	RxPackets, TxPackets, RxBytes, TxBytes, RxErrors, TxErrors, RxDropped, TxDropped uint64
	Multicast, Collisions, RxLengthErrors, RxOverErrors, RxCRCErrors, RxFrameErrors  uint64
	RxFIFOErrors, RxMissedErrors, TxAbortedErrors, TxCarrierErrors, TxFIFOErrors     uint64
	TxTimeouts, RxNoHandler                                                          uint64
}

// Snapshot reads every counter.
func (s *Stats) Snapshot() StatsSnapshot {
	return StatsSnapshot{
		s.RxPackets.Load(), s.TxPackets.Load(), s.RxBytes.Load(), s.TxBytes.Load(),
		s.RxErrors.Load(), s.TxErrors.Load(), s.RxDropped.Load(), s.TxDropped.Load(),
		s.Multicast.Load(), s.Collisions.Load(), s.RxLengthErrors.Load(), s.RxOverErrors.Load(),
		s.RxCRCErrors.Load(), s.RxFrameErrors.Load(), s.RxFIFOErrors.Load(), s.RxMissedErrors.Load(),
		s.TxAbortedErrors.Load(), s.TxCarrierErrors.Load(), s.TxFIFOErrors.Load(),
		s.TxTimeouts.Load(), s.RxNoHandler.Load(),
	}
}

// DeviceConfig describes a device to register.
type DeviceConfig struct {
	Name         string // "" gives ethN
	HardwareAddr net.HardwareAddr
	MTU          int // 0 gives 1500
	// MaxMTU is the largest MTU the driver has buffers and a receive
	// filter for (Linux's max_mtu); 0 gives 65535. SetMTU refuses more
	// rather than accept an MTU whose frames the device drops.
	MaxMTU     int
	Features   Features
	TxQueueLen int           // qdisc bound; 0 gives 1000
	CPU        int           // softnet that polls its NAPI and takes its netif_rx
	Watchdog   time.Duration // TX stall before TxTimeout; 0 gives 5 s
	Kind       string        // driver name, for display
	// TxArena is memory the device sends from in place (DPDK's per-port
	// mempool): a sender that builds its frames in the arena's skbs
	// (Device.TxArena().AllocBulk) saves the driver a copy. nil: none.
	TxArena *skb.Arena
}

// Device is a registered net device (struct net_device).
type Device struct {
	Name         string
	Index        int
	HardwareAddr net.HardwareAddr
	Features     Features
	Kind         string
	Stats        Stats

	core     *Core
	ops      DeviceOps
	burst    BurstXmitter // ops, when the driver takes bursts
	cpu      int
	mtu      atomic.Int32
	flags    atomic.Uint32
	carrier  atomic.Bool
	watchdog time.Duration
	napis    []*NAPI
	qdisc    *PfifoFast

	// Transmit queue state (netdev_queue).
	txStopped   atomic.Bool
	txStoppedAt atomic.Int64  // unix nanos of the last stop
	txScheduled atomic.Bool   // on a softnet's output queue
	txNext      *Device       // output queue link, guarded by that softnet's mu
	qdiscBusy   atomic.Bool   // a goroutine is running the qdisc (__QDISC_STATE_RUNNING)
	xmitCalls   atomic.Uint32 // DevQueueXmit calls, for the sender's yield
	xmitMore    atomic.Bool   // more frames follow the one StartXmit has (netdev_xmit_more)
	maxMTU      int           // set at Register
	txArena     *skb.Arena    // set at Register
	lastYield   atomic.Int64  // when a sender last yielded (maybeYield)
	noGRO       atomic.Bool   // generic receive offload off (ethtool -K gro off)
	noGSO       atomic.Bool   // generic segmentation offload off (ethtool -K gso off)

	// Hooks that may take frames on their way in (after the taps) and out
	// (before the qdisc): Linux's rx_handler and an egress qdisc such as
	// netem. See SetHooks.
	ingress, egress atomic.Pointer[Hook]

	// VLAN devices over this one by id: written under mu, read by the
	// receive path through vlanMap.
	vlans   map[uint16]*Device
	vlanMap atomic.Pointer[map[uint16]*Device]

	mu            sync.Mutex // guards carrierNotify, mcList, mcRefs, vlans
	carrierNotify []func(d *Device, up bool)
	mcList        []net.HardwareAddr
	mcRefs        map[[6]byte]int // McAdd's groups and their users
}

// Register adds a device with the driver's ops (register_netdev). It starts
// down with its carrier off.
func (c *Core) Register(cfg DeviceConfig, ops DeviceOps) (*Device, error) {
	if ops == nil {
		return nil, errors.New("netcore: register: nil ops")
	}
	if cfg.MTU == 0 {
		cfg.MTU = 1500
	}
	if cfg.MaxMTU <= 0 || cfg.MaxMTU > 65535 {
		cfg.MaxMTU = 65535
	}
	if cfg.MTU > cfg.MaxMTU {
		return nil, fmt.Errorf("netcore: register %s: mtu %d above its max %d", cfg.Name, cfg.MTU, cfg.MaxMTU)
	}
	if cfg.TxQueueLen <= 0 {
		cfg.TxQueueLen = DefaultTxQueueLen
	}
	if cfg.Watchdog <= 0 {
		cfg.Watchdog = 5 * time.Second
	}
	if cfg.CPU < 0 || cfg.CPU >= len(c.cpus) {
		return nil, fmt.Errorf("netcore: register %s: cpu %d of %d", cfg.Name, cfg.CPU, len(c.cpus))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cfg.Name == "" {
		cfg.Name = fmt.Sprintf("eth%d", len(c.devs))
	}
	for _, o := range c.devs {
		if o.Name == cfg.Name {
			return nil, fmt.Errorf("netcore: register %s: name in use", cfg.Name)
		}
	}
	d := &Device{
		Name:         cfg.Name,
		Index:        c.nextIdx,
		HardwareAddr: append(net.HardwareAddr(nil), cfg.HardwareAddr...),
		Features:     cfg.Features,
		Kind:         cfg.Kind,
		core:         c,
		ops:          ops,
		cpu:          cfg.CPU,
		watchdog:     cfg.Watchdog,
		qdisc:        NewPfifoFast(cfg.TxQueueLen),
		maxMTU:       cfg.MaxMTU,
		txArena:      cfg.TxArena,
	}
	d.burst, _ = ops.(BurstXmitter)
	d.mtu.Store(int32(cfg.MTU))
	d.flags.Store(FlagBroadcast | FlagMulticast)
	c.nextIdx++
	c.devs = append(c.devs, d)
	return d, nil
}

// Unregister removes a device, bringing it down first.
func (c *Core) Unregister(d *Device) error {
	var err error
	if d.IsUp() {
		err = d.Down()
	}
	if v, ok := d.ops.(*vlanDev); ok {
		v.unlink()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, o := range c.devs {
		if o == d {
			c.devs = append(c.devs[:i], c.devs[i+1:]...)
			break
		}
	}
	return err
}

// Core is the core the device is registered with.
func (d *Device) Core() *Core { return d.core }

// CPU is the device's home softnet.
func (d *Device) CPU() int { return d.cpu }

// MTU is the largest L3 packet the device sends.
func (d *Device) MTU() int { return int(d.mtu.Load()) }

// MaxMTU is the largest MTU the driver takes (its max_mtu).
func (d *Device) MaxMTU() int { return d.maxMTU }

// TxArena is the memory the driver sends from without copying, nil if it
// has none: senders that allocate from it (TxArena().AllocBulk, which
// falls back to the ordinary pool) build frames where the device reads.
func (d *Device) TxArena() *skb.Arena { return d.txArena }

// SetMTU changes the MTU, within 68 and the driver's MaxMTU (dev_set_mtu).
func (d *Device) SetMTU(mtu int) error {
	if mtu < 68 || mtu > d.maxMTU {
		return fmt.Errorf("netcore: %s: mtu %d out of the device's range 68..%d", d.Name, mtu, d.maxMTU)
	}
	if c, ok := d.ops.(MTUChanger); ok {
		if err := c.ChangeMTU(mtu); err != nil {
			return fmt.Errorf("netcore: %s: mtu %d: %w", d.Name, mtu, err)
		}
	}
	d.mtu.Store(int32(mtu))
	return nil
}

// Flags returns the IFF_* flags.
func (d *Device) Flags() uint32 {
	f := d.flags.Load()
	if f&FlagUp != 0 && d.carrier.Load() {
		f |= FlagRunning
	}
	return f
}

// IsUp reports whether the device is administratively up.
func (d *Device) IsUp() bool { return d.flags.Load()&FlagUp != 0 }

// SetPromisc records promiscuous mode; the driver reads it on Open and in
// its rx-mode hook.
func (d *Device) SetPromisc(on bool) {
	for {
		old := d.flags.Load()
		nw := old &^ FlagPromisc
		if on {
			nw |= FlagPromisc
		}
		if d.flags.CompareAndSwap(old, nw) {
			break
		}
	}
	if m, ok := d.ops.(RxModer); ok {
		m.SetRxMode()
	}
}

// SetMulticastList sets the link-layer multicast addresses the device
// accepts (dev_mc_add/dev_mc_del) and tells the driver.
func (d *Device) SetMulticastList(addrs []net.HardwareAddr) {
	d.mu.Lock()
	d.mcList = nil
	for _, a := range addrs {
		d.mcList = append(d.mcList, append(net.HardwareAddr(nil), a...))
	}
	d.mu.Unlock()
	if m, ok := d.ops.(RxModer); ok {
		m.SetRxMode()
	}
}

// McAdd adds a user of the link-layer multicast address mac (dev_mc_add):
// the first user puts it on the device's list and tells the driver.
func (d *Device) McAdd(mac [6]byte) {
	d.mu.Lock()
	if d.mcRefs == nil {
		d.mcRefs = map[[6]byte]int{}
	}
	d.mcRefs[mac]++
	first := d.mcRefs[mac] == 1
	if first {
		d.mcList = append(d.mcList, append(net.HardwareAddr(nil), mac[:]...))
	}
	d.mu.Unlock()
	if m, ok := d.ops.(RxModer); ok && first {
		m.SetRxMode()
	}
}

// McDel drops a user of mac (dev_mc_del); the last takes it off the list.
func (d *Device) McDel(mac [6]byte) {
	d.mu.Lock()
	n, ok := d.mcRefs[mac]
	if !ok {
		d.mu.Unlock()
		return
	}
	last := n == 1
	if last {
		delete(d.mcRefs, mac)
		for i, a := range d.mcList {
			if [6]byte(a) == mac {
				d.mcList = append(d.mcList[:i], d.mcList[i+1:]...)
				break
			}
		}
	} else {
		d.mcRefs[mac] = n - 1
	}
	d.mu.Unlock()
	if m, ok := d.ops.(RxModer); ok && last {
		m.SetRxMode()
	}
}

// MulticastList returns the multicast addresses the device accepts.
func (d *Device) MulticastList() []net.HardwareAddr {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]net.HardwareAddr(nil), d.mcList...)
}

// Promisc reports promiscuous mode.
func (d *Device) Promisc() bool { return d.flags.Load()&FlagPromisc != 0 }

// Up opens the device (dev_open): enables its NAPI instances, calls the
// driver's Open, and starts the transmit queue.
func (d *Device) Up() error {
	if d.IsUp() {
		return nil
	}
	for _, n := range d.napis {
		n.Enable()
	}
	if err := d.ops.Open(); err != nil {
		for _, n := range d.napis {
			n.Disable()
		}
		return fmt.Errorf("netcore: %s: open: %w", d.Name, err)
	}
	d.txStopped.Store(false)
	d.flags.Or(FlagUp)
	d.core.log.Info("device up", "dev", d.Name, "kind", d.Kind, "mac", d.HardwareAddr.String())
	return nil
}

// Down closes the device (dev_close): stops the queue, disables NAPI,
// calls the driver's Stop and drops what the qdisc held.
func (d *Device) Down() error {
	if !d.IsUp() {
		return nil
	}
	d.flags.And(^uint32(FlagUp))
	d.NetifStopQueue()
	for _, n := range d.napis {
		n.Disable()
	}
	err := d.ops.Stop()
	// A qdisc run another goroutine began before the queue stopped may
	// still hold a packet it will requeue; let it finish before the
	// purge (dev_deactivate waits for some_qdisc_is_busy the same way).
	for d.qdiscBusy.Load() {
		runtime.Gosched()
	}
	d.qdisc.Reset()
	d.core.log.Info("device down", "dev", d.Name)
	if err != nil {
		return fmt.Errorf("netcore: %s: stop: %w", d.Name, err)
	}
	return nil
}

// NetifCarrierOn and NetifCarrierOff report link state from the driver
// (netif_carrier_on/off); watchers hear of changes.
func (d *Device) NetifCarrierOn()  { d.setCarrier(true) }
func (d *Device) NetifCarrierOff() { d.setCarrier(false) }

// Carrier reports the link state.
func (d *Device) Carrier() bool { return d.carrier.Load() }

func (d *Device) setCarrier(up bool) {
	if d.carrier.Swap(up) == up {
		return
	}
	d.core.log.Info("carrier", "dev", d.Name, "up", up)
	d.mu.Lock()
	fns := make([]func(*Device, bool), len(d.carrierNotify))
	copy(fns, d.carrierNotify)
	d.mu.Unlock()
	for _, f := range fns {
		f(d, up)
	}
	if up && d.IsUp() {
		d.netifSchedule()
	}
}

// OnCarrier registers a function called on every carrier change.
func (d *Device) OnCarrier(f func(d *Device, up bool)) {
	d.mu.Lock()
	d.carrierNotify = append(d.carrierNotify, f)
	d.mu.Unlock()
}

// NetifRx hands a received frame to the stack from a non-NAPI driver's
// interrupt handler (netif_rx): it goes on a backlog (the device's CPU, or
// one chosen by flow hash with RPS) and the softirq takes it from there.
// At the backlog bound the frame is dropped and counted. The stack owns b.
// It reports whether the frame was queued.
func (d *Device) NetifRx(b *skb.Buff) bool {
	d.Stats.RxPackets.Add(1)
	d.Stats.RxBytes.Add(uint64(b.Len() + ethHeaderLen))
	if d.core.cfg.RPS && len(d.core.cpus) > 1 {
		if cpu := d.core.rpsCPU(b); cpu != d.cpu {
			target := d.core.cpus[cpu]
			ok := target.enqueueToBacklog(b, d)
			if ok {
				target.receivedRPS.Add(1) // steered, as from NAPI's ReceiveSkb
			}
			return ok
		}
	}
	return d.core.cpus[d.cpu].enqueueToBacklog(b, d)
}

// A Hook sees a frame on a device and may take it (true: the hook owns
// b). It runs in the context of the path it hooks (softirq on ingress,
// the sender's on egress) and must not block.
type Hook func(b *skb.Buff) bool

// SetHooks installs (or, with nil, removes) the device's ingress hook,
// run on each received frame after the taps and before the protocol
// handlers (netdev_rx_handler_register), and its egress hook, run on each
// frame dev_queue_xmit is given before the qdisc. A hook that takes a
// frame may give it back later with ReinjectRx or ReinjectTx; netcore's
// impair package is the user.
func (d *Device) SetHooks(ingress, egress Hook) {
	for _, p := range []struct {
		h   Hook
		dst *atomic.Pointer[Hook]
	}{{ingress, &d.ingress}, {egress, &d.egress}} {
		if p.h == nil {
			p.dst.Store(nil)
		} else {
			h := p.h
			p.dst.Store(&h)
		}
	}
}

// ReinjectRx continues a frame the ingress hook took: it goes through the
// device CPU's backlog to the protocol handlers, past the hook and taps.
func (d *Device) ReinjectRx(b *skb.Buff) bool {
	b.Hooked = true
	b.Dev = d
	return d.core.cpus[d.cpu].enqueueToBacklog(b, d)
}

// ReinjectTx continues a frame the egress hook took, into the qdisc.
func (d *Device) ReinjectTx(b *skb.Buff) error {
	b.Hooked = true
	b.Dev = d
	return DevQueueXmit(b)
}

// NetifStopQueue stops the transmit queue: the qdisc holds packets until
// NetifWakeQueue. Drivers call it when their ring is full.
func (d *Device) NetifStopQueue() {
	if !d.txStopped.Swap(true) {
		d.txStoppedAt.Store(time.Now().UnixNano())
	}
}

// NetifWakeQueue restarts a stopped queue and schedules the qdisc on the
// device's softnet (NET_TX). Drivers call it from TX completion.
func (d *Device) NetifWakeQueue() {
	if d.txStopped.Swap(false) {
		d.netifSchedule()
	}
}

// SetGRO turns generic receive offload on or off (ethtool -K dev gro
// on|off). It is on by default, as Linux sets NETIF_F_GRO on every device;
// it applies to drivers that receive through NAPI.GROReceive.
func (d *Device) SetGRO(on bool) { d.noGRO.Store(!on) }

// GRO reports whether generic receive offload is on.
func (d *Device) GRO() bool { return !d.noGRO.Load() }

// SetGSO turns generic segmentation offload on or off (ethtool -K dev
// gso on|off). It is on by default: TCP builds packets of up to 64 KB
// for any device and the IP layer cuts them into segments before a
// device without TSO, so TCP's and IP's work is done once a packet, not
// once a segment.
func (d *Device) SetGSO(on bool) { d.noGSO.Store(!on) }

// TxFeatures are the device's offloads and, with GSO on, FeatureGSO:
// what a protocol may build packets for (sk_route_caps).
func (d *Device) TxFeatures() Features {
	if d.noGSO.Load() {
		return d.Features
	}
	return d.Features | FeatureGSO
}

// NetifQueueStopped reports whether the transmit queue is stopped.
func (d *Device) NetifQueueStopped() bool { return d.txStopped.Load() }

func (d *Device) netifSchedule() { d.core.cpus[d.cpu].netifSchedule(d) }

// Qdisc is the device's queueing discipline.
func (d *Device) Qdisc() *PfifoFast { return d.qdisc }

// NAPIs are the device's polling contexts.
func (d *Device) NAPIs() []*NAPI { return d.napis }

// checkTxTimeout is one dev_watchdog look at the device.
func (d *Device) checkTxTimeout(now time.Time) {
	if !d.IsUp() || !d.carrier.Load() || !d.txStopped.Load() {
		return
	}
	since := now.Sub(time.Unix(0, d.txStoppedAt.Load()))
	if since < d.watchdog {
		return
	}
	d.Stats.TxTimeouts.Add(1)
	d.core.log.Warn("transmit queue timed out", "dev", d.Name, "stopped_for", since.Round(time.Millisecond))
	d.txStoppedAt.Store(now.UnixNano())
	if t, ok := d.ops.(TxTimeouter); ok {
		t.TxTimeout()
	}
}

// LogValue lets slog print a device by name.
func (d *Device) LogValue() slog.Value { return slog.StringValue(d.Name) }
