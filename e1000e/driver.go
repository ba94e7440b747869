package e1000e

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringonet/ringo/descring"
	"github.com/ringonet/ringo/internal/e1000x"
	"github.com/ringonet/ringo/irq"
	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/vfio"
)

// Defaults.
const (
	DefaultRing = 256  // descriptors per ring (e1000e's default)
	MaxQueues   = 2    // queue pairs the 82574 has
	bufSize     = 2048 // RCTL.BSIZE 2048: one frame per descriptor
	// txWakeThreshold is how many free TX descriptors wake a stopped
	// queue: room for the largest TSO packet in 2 KB buffers.
	txWakeThreshold = 1 + (65535+14+bufSize-1)/bufSize
	// txCleanThreshold: with fewer free TX descriptors than this, the
	// transmit path reclaims sent ones before filling more.
	txCleanThreshold = 64
	// minTSORing is the smallest TX ring TSO is offered on.
	minTSORing = 128
)

// MSI-X vectors, in the order HW.IRQs holds them (the 82574 has five:
// 7.4.2). Linux's e1000e names them eth0-rx-0, eth0-tx-0 and eth0.
const (
	VectorRx0 = iota
	VectorRx1
	VectorTx0
	VectorTx1
	VectorOther
	NumVectors
)

// imsLegacy are the causes one shared vector (MSI or INTx) takes, as the
// e1000 driver takes them; TXDW only while the queue is stopped.
const imsLegacy = icr_RXT0 | icr_RXDMT0 | icr_LSC | icr_RXO

// imsOther are the causes the MSI-X "other" vector takes.
const imsOther = icr_OTHER | icr_LSC | icr_RXO

// HW is the hardware seam: what the driver needs from its device.
type HW struct {
	Regs vfio.Registers
	DMA  vfio.DMAAllocator
	// IRQs are the interrupt vectors: with MSIX, NumVectors of them in
	// the order VectorRx0 ... VectorOther; otherwise one (MSI or INTx)
	// for every cause; none when busy polling.
	IRQs []vfio.InterruptSource
	MSIX bool
}

// Config sets the driver up.
type Config struct {
	Name string // netcore device name
	// CPU is the softnet of queue pair 0; pair q is polled on CPU+q
	// (modulo the core's softnets).
	CPU int
	// Queues is how many queue pairs to use, 1 or 2; 0 takes 2 with
	// MSI-X or busy polling and 1 with a single vector. Two queues turn
	// RSS on.
	Queues int
	RxRing int // RX descriptors per queue (power of two); 0: DefaultRing
	TxRing int // TX descriptors per queue; 0: DefaultRing
	// InterruptRate is EITR (ITR with one vector), interrupts/s at most
	// per vector: 0 adapts it to the traffic between 4,000 and 20,000;
	// -1 does not throttle (QEMU still holds a vector to 7,813/s).
	InterruptRate int
	BusyPoll      bool          // no interrupts: a polling thread drives NAPI
	NoOffload     bool          // no checksum offload or TSO on transmit
	NoRxCsum      bool          // no checksum validation on receive (ethtool -K rx off)
	Weight        int           // NAPI weight; 0: 64
	TxTimeout     time.Duration // stalled-queue watchdog; 0: 5 s
	RSSKey        []byte        // RSSKeyLen bytes; nil: random
	// TxArena is the 2 KB data areas of DMA memory senders may build
	// frames in for the driver to send without copying (Device.TxArena);
	// 0: e1000x.DefaultTxArena (2 MB), -1: none.
	TxArena int
	// RxArena is the data areas of DMA memory the receive rings are
	// posted with (shared by the queues), a frame of RxCopybreak bytes or
	// more going up in its area without a copy; 0: e1000x.DefaultRxArena
	// (2 MB), -1: none (every frame copied).
	RxArena int
	// RxCopybreak is the frame length below which a frame is copied; 0:
	// e1000x.DefaultRxCopybreak (256).
	RxCopybreak int
	Logger      *slog.Logger
}

// Driver is one 82574L bound to a netcore device.
type Driver struct {
	Dev *netcore.Device
	cfg Config
	r   regs
	hw  HW
	log *slog.Logger

	q      []*queue
	lines  []*irq.Line // by vector with MSI-X, else one
	rssKey [RSSKeyLen]byte

	// resetMu serializes Open, Stop and the watchdog's reset.
	resetMu sync.Mutex
	running atomic.Bool

	pollStop, pollDone chan struct{}

	// filter is the VLAN ids and long packet reception, in RCTL, VFTA.
	filter e1000x.RxFilter

	Counters Counters
	hwStats  e1000x.Stats
}

// Counters are the driver's own event counts (ethtool -S style).
type Counters struct {
	OtherInterrupts atomic.Uint64 // link and other causes (MSI-X "other" vector, or the shared vector's non-queue causes)
	Spurious        atomic.Uint64 // a shared vector whose ICR read 0
	RxDescErrors    atomic.Uint64 // descriptor reported a frame error
	RxBadLength     atomic.Uint64 // descriptor length 0, short, or past the buffer
	RxNoEOP         atomic.Uint64 // frame spanning descriptors (not configured; dropped)
	RxCsumGood      atomic.Uint64 // TCP/UDP checksums the device verified (the stack does not)
	RxCsumBad       atomic.Uint64 // TCP/UDP checksums the device found wrong (the stack checks and drops)
	RxIPCsumBad     atomic.Uint64 // IPv4 header checksums the device found wrong
	RxHashed        atomic.Uint64 // frames with an RSS hash (skb hash set)
	TxRestarts      atomic.Uint64 // queue woken after being full
	TxDoorbells     atomic.Uint64 // TDT writes
	RxInPlace       atomic.Uint64 // frames handed up in their receive arena area, not copied
	RxArenaEmpty    atomic.Uint64 // frames at or above the copybreak copied: the stack held every area
	TxTooBig        atomic.Uint64 // frame larger than a TX buffer, dropped
	TxTSO           atomic.Uint64 // packets the device segmented
	TxCsumOffload   atomic.Uint64 // packets the device checksummed
	TxBadOffload    atomic.Uint64 // offload packets whose headers did not parse, dropped
	Resets          atomic.Uint64 // resets by the watchdog
	LinkChanges     atomic.Uint64
	BusyPollRounds  atomic.Uint64
	ITRUpdates      atomic.Uint64 // EITR/ITR rewritten by the adaptive rate
}

// New registers a netcore device for the 82574L behind hw. The chip is
// reset and its address read here; rings are allocated once and live until
// the DMA allocator is closed. With an irq bridge the vectors are
// requested here too.
func New(core *netcore.Core, bridge *irq.Bridge, hw HW, cfg Config) (*Driver, error) {
	if cfg.RxRing == 0 {
		cfg.RxRing = DefaultRing
	}
	if cfg.TxRing == 0 {
		cfg.TxRing = DefaultRing
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	switch {
	case cfg.BusyPoll:
		hw.IRQs, hw.MSIX = nil, false
	case bridge == nil:
		return nil, errors.New("e1000e: interrupt mode needs an irq bridge")
	case hw.MSIX && len(hw.IRQs) != NumVectors:
		return nil, fmt.Errorf("e1000e: MSI-X needs %d vectors, have %d", NumVectors, len(hw.IRQs))
	case !hw.MSIX && len(hw.IRQs) != 1:
		return nil, fmt.Errorf("e1000e: one interrupt vector (MSI or INTx) wanted, have %d", len(hw.IRQs))
	}
	if cfg.Queues == 0 {
		cfg.Queues = 1
		if hw.MSIX || cfg.BusyPoll {
			cfg.Queues = MaxQueues
		}
	}
	if cfg.Queues < 1 || cfg.Queues > MaxQueues {
		return nil, fmt.Errorf("e1000e: %d queue pairs: the 82574 has 1 or 2", cfg.Queues)
	}
	if cfg.Queues > 1 && !hw.MSIX && !cfg.BusyPoll {
		return nil, errors.New("e1000e: two queue pairs need MSI-X (or busy polling)")
	}
	d := &Driver{cfg: cfg, r: newRegs(hw.Regs), hw: hw, log: cfg.Logger}
	switch {
	case len(cfg.RSSKey) == 0:
		d.rssKey = newRSSKey()
	case len(cfg.RSSKey) != RSSKeyLen:
		return nil, fmt.Errorf("e1000e: RSS key of %d bytes, want %d", len(cfg.RSSKey), RSSKeyLen)
	default:
		copy(d.rssKey[:], cfg.RSSKey)
	}
	if err := d.r.reset(); err != nil {
		return nil, err
	}
	d.r.Set(regCTRL, ctrl_SLU|ctrl_ASDE)
	mac, err := d.r.macAddr()
	if err != nil {
		return nil, err
	}
	arena, err := e1000x.NewTxArena(hw.DMA, cfg.TxArena)
	if err != nil {
		return nil, fmt.Errorf("e1000e: %w", err)
	}
	rxArena, err := e1000x.NewRxArena(hw.DMA, cfg.RxArena, bufSize)
	if err != nil {
		return nil, fmt.Errorf("e1000e: %w", err)
	}
	for i := 0; i < cfg.Queues; i++ {
		q := &queue{d: d, idx: i}
		if q.rx, err = descring.New(hw.DMA, descring.Config{Count: cfg.RxRing, DescSize: RxDescSize, DescAlign: 128, BufSize: bufSize}); err != nil {
			return nil, fmt.Errorf("e1000e: rx ring %d: %w", i, err)
		}
		if q.tx, err = descring.New(hw.DMA, descring.Config{Count: cfg.TxRing, DescSize: e1000x.TxDescSize, DescAlign: 128, BufSize: bufSize}); err != nil {
			return nil, fmt.Errorf("e1000e: tx ring %d: %w", i, err)
		}
		q.txr = e1000x.NewTxReport(q.tx.Count())
		q.txInPlace = e1000x.NewTxInPlace(arena, q.tx.Count())
		q.rxInPlace = e1000x.NewRxInPlace(rxArena, q.rx.Count(), bufSize, cfg.RxCopybreak,
			e1000x.RxInPlaceCounters{InPlace: &d.Counters.RxInPlace, ArenaEmpty: &d.Counters.RxArenaEmpty})
		d.q = append(d.q, q)
	}
	// The 82574 checksums and segments TCP/UDP on transmit (7.3); what
	// the stack hands a device with these is IPv4 (see e1000x).
	features := netcore.FeatureIPCsum | netcore.FeatureTSO
	if cfg.TxRing < minTSORing {
		features &^= netcore.FeatureTSO
	}
	if cfg.NoOffload {
		features = 0
	}
	if !cfg.NoRxCsum {
		features |= netcore.FeatureRxCsum
	}
	// 802.1Q tags stripped on receive and inserted on transmit (CTRL.VME,
	// 7.4), ids filtered in the VFTA.
	features |= netcore.FeatureVLANRx | netcore.FeatureVLANTx
	d.Dev, err = core.Register(netcore.DeviceConfig{
		Name: cfg.Name, HardwareAddr: mac, CPU: cfg.CPU, Kind: "e1000e", Features: features,
		TxQueueLen: netcore.DefaultTxQueueLen, Watchdog: cfg.TxTimeout,
		// Up to 9000 with RCTL.LPE (ChangeMTU), a frame then spanning
		// several 2 KB buffers.
		MaxMTU:  e1000x.MaxJumboMTU,
		TxArena: arena,
	}, d)
	if err != nil {
		return nil, err
	}
	for _, q := range d.q {
		q.napi = d.Dev.NetifNAPIAddOn(cfg.CPU+q.idx, q.poll, cfg.Weight)
	}
	if err := d.requestIRQs(core, bridge); err != nil {
		core.Unregister(d.Dev)
		return nil, err
	}
	return d, nil
}

// requestIRQs registers the vectors with the bridge, each on the softnet
// of the queue it serves (the IRQ affinity Linux would set).
func (d *Driver) requestIRQs(core *netcore.Core, bridge *irq.Bridge) error {
	if d.cfg.BusyPoll {
		return nil
	}
	name := d.Dev.Name
	request := func(label string, cpu int, src vfio.InterruptSource, h irq.Handler) error {
		l, err := bridge.Request(label, cpu, src, h)
		if err != nil {
			return err // the lines requested so far stay with the bridge until it closes
		}
		d.lines = append(d.lines, l)
		return nil
	}
	if !d.hw.MSIX {
		if err := request(name, d.cfg.CPU, d.hw.IRQs[0], d.intrShared); err != nil {
			return err
		}
		core.SetIRQPoll(bridge.Poll)
		return nil
	}
	for v := 0; v < NumVectors; v++ {
		var err error
		switch {
		case v == VectorOther:
			err = request(name, d.cfg.CPU, d.hw.IRQs[v], d.intrOther)
		case v <= VectorRx1 && v < len(d.q):
			q := d.q[v]
			err = request(fmt.Sprintf("%s-rx-%d", name, v), q.napi.CPU(), d.hw.IRQs[v], q.intrRx)
		case v >= VectorTx0 && v-VectorTx0 < len(d.q):
			q := d.q[v-VectorTx0]
			err = request(fmt.Sprintf("%s-tx-%d", name, q.idx), q.napi.CPU(), d.hw.IRQs[v], q.intrTx)
		default:
			// A queue not in use: its vector is enabled (VFIO takes
			// all or none) but IVAR never routes a cause to it.
			continue
		}
		if err != nil {
			return err
		}
	}
	core.SetIRQPoll(bridge.Poll)
	return nil
}

// Queues is how many queue pairs are in use.
func (d *Driver) Queues() int { return len(d.q) }

// NAPI is queue pair q's polling context.
func (d *Driver) NAPI(q int) *netcore.NAPI { return d.q[q].napi }

// IRQLines are the interrupt lines: with MSI-X by vector (queues in use
// and the other vector), else the one shared line.
func (d *Driver) IRQLines() []*irq.Line { return d.lines }

// MSIX reports whether the device runs with a vector per queue.
func (d *Driver) MSIX() bool { return d.hw.MSIX }

// Open implements netcore.DeviceOps.
func (d *Driver) Open() error {
	d.resetMu.Lock()
	defer d.resetMu.Unlock()
	if err := d.up(); err != nil {
		return err
	}
	d.pollStop, d.pollDone = make(chan struct{}), make(chan struct{})
	if d.cfg.BusyPoll {
		go d.busyPoll(d.pollStop, d.pollDone)
	} else {
		go d.housekeeping(d.pollStop, d.pollDone)
	}
	return nil
}

// housekeeping folds the statistics registers into their 64-bit totals
// every 2 s (e1000_watchdog_task), so no 32-bit register wraps.
func (d *Driver) housekeeping(stop, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			d.HWStats()
		}
	}
}

// up resets the chip and programs it (e1000e_up: e1000_configure, then
// the interrupts): link, receive, transmit, vectors and their rates.
func (d *Driver) up() error {
	r := d.r
	if err := r.reset(); err != nil {
		return err
	}
	ctrl := r.Read(regCTRL)
	ctrl |= ctrl_SLU | ctrl_ASDE | ctrl_VME
	ctrl &^= ctrl_PHY_RST | ctrl_RFCE | ctrl_TFCE | ctrl_GIO_MD
	r.Write(regCTRL, ctrl)
	for _, reg := range []uint32{regFCAL, regFCAH, regFCT, regFCTTV} {
		r.Write(reg, 0)
	}
	// Interrupt acknowledge: with MSI-X a vector's causes clear and mask
	// themselves when it fires (EIAC; IAME off); with one vector reading
	// ICR clears it and masks everything (IAME, IAM all ones), as on the
	// 8254x.
	ext := r.Read(regCTRL_EXT) | ctrlExt_DRV_LOAD
	if d.hw.MSIX {
		ext = ext&^ctrlExt_IAME | ctrlExt_EIAME | ctrlExt_PBA_CLR
		r.Write(regIAM, 0)
	} else {
		ext = ext&^ctrlExt_EIAME | ctrlExt_IAME
		r.Write(regIAM, 0xffffffff)
	}
	r.Write(regCTRL_EXT, ext)

	// Receive (e1000_configure_rx): address, multicast, descriptor
	// format and offloads before RCTL.EN, which is when the part reads
	// them.
	r.SetStationAddress(d.Dev.HardwareAddr)
	e1000x.WriteMTA(r.Regs, d.Dev.MulticastList())
	d.filter.WriteVLANs(r.Regs)
	for _, q := range d.q {
		q.setupRx()
	}
	r.Write(regRDTR, 0)
	r.Write(regRADV, 0)
	rfctl := uint32(rfctl_EXSTEN | rfctl_ISCSI_DIS | rfctl_NFSW_DIS | rfctl_NFSR_DIS)
	if d.hw.MSIX {
		rfctl |= rfctl_ACK_DIS // Linux's workaround for spurious MSI-X interrupts on the 82574
	}
	r.Write(regRFCTL, rfctl)
	var rxcsum uint32
	if !d.cfg.NoRxCsum {
		rxcsum = rxcsum_IPOFL | rxcsum_TUOFL
	}
	if len(d.q) > 1 {
		// The descriptor's checksum field carries the RSS hash instead
		// (the status bits still say what was verified).
		rxcsum |= rxcsum_PCSD
		d.writeRSS()
	} else {
		r.Write(regMRQC, 0)
	}
	r.Write(regRXCSUM, rxcsum)
	r.Write(regRCTL, d.rctl())
	for _, q := range d.q {
		q.postRx()
	}

	// Transmit (e1000_configure_tx).
	for _, q := range d.q {
		q.setupTx()
	}
	r.Write(regTIDV, 0)
	r.Write(regTADV, 0)
	r.Write(regTIPG, tipgCopper)
	r.Write(regTCTL, tctl_EN|tctl_PSP|0x0f<<tctl_CT_SHIFT|0x3f<<tctl_COLD_SHIFT|tctl_RTLC|tctl_MULR)

	// Interrupts: vectors, their rates, then unmask.
	if d.hw.MSIX {
		ivar := uint32(ivarValid|VectorOther) << ivarOtherShift
		for _, q := range d.q {
			ivar |= uint32(ivarValid|(VectorRx0+q.idx)) << (ivarRXQ0Shift + 4*q.idx)
			ivar |= uint32(ivarValid|(VectorTx0+q.idx)) << (ivarTXQ0Shift + 4*q.idx)
		}
		r.Write(regIVAR, ivar)
		eiac := uint32(icr_OTHER)
		for _, q := range d.q {
			eiac |= icrRXQ(q.idx) | icrTXQ(q.idx)
		}
		r.Write(regEIAC, eiac)
		r.Write(regITR, 0)
	}
	for _, q := range d.q {
		q.startITR()
	}
	r.Read(regICR)
	r.Write(regICR, 0xffffffff)
	d.running.Store(true)
	if !d.cfg.BusyPoll {
		r.Write(regIMS, d.imsEnable())
	}
	d.updateCarrier()
	return nil
}

// imsEnable is every cause the driver takes while running.
func (d *Driver) imsEnable() uint32 {
	if !d.hw.MSIX {
		return imsLegacy
	}
	ims := uint32(imsOther)
	for _, q := range d.q {
		ims |= icrRXQ(q.idx)
	}
	return ims
}

// rctl is the receive control word for the device's current flags.
func (d *Driver) rctl() uint32 { return d.filter.RCTL(d.Dev.Promisc()) }

// ChangeMTU implements netcore.MTUChanger (e1000_change_mtu): an MTU
// over 1500 turns long packet reception on.
func (d *Driver) ChangeMTU(mtu int) error {
	d.filter.SetLPE(mtu > e1000x.StandardMTU)
	if d.running.Load() {
		d.r.Write(regRCTL, d.rctl())
	}
	return nil
}

// rxErrors are the counters RxChain.Take adds to.
func (d *Driver) rxErrors() e1000x.RxErrors {
	return e1000x.RxErrors{NoEOP: &d.Counters.RxNoEOP, DescErrors: &d.Counters.RxDescErrors, BadLength: &d.Counters.RxBadLength}
}

// VLANRxAddVID implements netcore.VLANFilterer (e1000_vlan_rx_add_vid).
func (d *Driver) VLANRxAddVID(vid uint16) { d.setVID(vid, true) }

// VLANRxKillVID implements netcore.VLANFilterer.
func (d *Driver) VLANRxKillVID(vid uint16) { d.setVID(vid, false) }

func (d *Driver) setVID(vid uint16, on bool) {
	d.filter.SetVID(vid, on)
	if d.running.Load() {
		d.filter.WriteVLANs(d.r.Regs)
		d.r.Write(regRCTL, d.rctl())
	}
}

// SetRxMode implements netcore.RxModer: promiscuous mode and the
// multicast table.
func (d *Driver) SetRxMode() {
	if !d.running.Load() {
		return
	}
	e1000x.WriteMTA(d.r.Regs, d.Dev.MulticastList())
	d.r.Write(regRCTL, d.rctl())
}

// Stop implements netcore.DeviceOps: mask, stop the DMA engines, reset.
func (d *Driver) Stop() error {
	d.resetMu.Lock()
	defer d.resetMu.Unlock()
	if d.pollStop != nil {
		close(d.pollStop)
		<-d.pollDone
		d.pollStop = nil
	}
	d.down()
	d.Dev.NetifCarrierOff()
	return nil
}

func (d *Driver) down() {
	d.running.Store(false)
	d.r.Quiesce()
	for _, q := range d.q {
		q.txMu.Lock()
	}
	d.r.reset()
	for _, q := range d.q {
		q.txInPlace.FreeAll() // the reset device reads no more
		q.txMu.Unlock()
	}
	// Nor writes: the receive areas go back (the NAPIs are disabled on
	// both paths here) and setupRx posts the rings afresh.
	for _, q := range d.q {
		q.rxInPlace.FreeAll()
	}
}

// intrShared is the handler of a single vector, MSI or INTx
// (e1000_intr_msi, e1000_intr): reading ICR clears it and masks every
// cause (IAME); the one NAPI instance does the rest.
func (d *Driver) intrShared() bool {
	icr := d.r.Read(regICR)
	if icr == 0 {
		d.Counters.Spurious.Add(1)
		return false
	}
	if icr&(icr_LSC|icr_RXO) != 0 {
		d.Counters.OtherInterrupts.Add(1)
		if icr&icr_LSC != 0 {
			d.Counters.LinkChanges.Add(1)
			d.updateCarrier()
		}
	}
	q := d.q[0]
	q.irqs.Add(1)
	q.napi.Schedule()
	return true
}

// intrOther is the MSI-X "other" vector (e1000_msix_other): link changes
// and overruns. Its causes are acknowledged by writing them to ICR, and
// the vector unmasked again.
func (d *Driver) intrOther() bool {
	d.Counters.OtherInterrupts.Add(1)
	icr := d.r.Read(regICR)
	d.r.Write(regICR, icr&(icr_OTHER|icr_LSC|icr_RXO))
	if icr&icr_LSC != 0 {
		d.Counters.LinkChanges.Add(1)
		d.updateCarrier()
	}
	if d.running.Load() {
		d.r.Write(regIMS, imsOther)
	}
	return true
}

func (d *Driver) updateCarrier() {
	if d.r.linkUp() {
		d.Dev.NetifCarrierOn()
	} else {
		d.Dev.NetifCarrierOff()
	}
}

// TxTimeout implements netcore.TxTimeouter: a transmitter stalled, so
// reset the chip and rebuild every ring on the same buffers. Frames in
// the TX rings are lost (counted as TX errors).
func (d *Driver) TxTimeout() {
	d.resetMu.Lock()
	defer d.resetMu.Unlock()
	if !d.running.Load() {
		return
	}
	d.Counters.Resets.Add(1)
	lost := 0
	for _, q := range d.q {
		lost += q.tx.InUse()
	}
	d.log.Warn("e1000e: transmit timed out; resetting", "dev", d.Dev.Name, "in_flight", lost)
	for _, q := range d.q {
		q.napi.Disable()
	}
	d.down()
	d.Dev.Stats.TxErrors.Add(uint64(lost))
	err := d.up()
	for _, q := range d.q {
		q.napi.Enable()
	}
	if err != nil {
		d.log.Error("e1000e: reset failed", "dev", d.Dev.Name, "err", err)
		return
	}
	d.Dev.NetifWakeQueue()
	for _, q := range d.q {
		q.napi.Schedule()
	}
}

// busyPoll watches every queue's rings instead of waiting for interrupts
// and schedules the queue's NAPI when it has work; link state every
// 100 ms.
func (d *Driver) busyPoll(stop, done chan struct{}) {
	lastLink := time.Now()
	netcore.BusyPollLoop(stop, done, busyPollIdle, d.Dev, func() bool {
		d.Counters.BusyPollRounds.Add(1)
		busy := false
		for _, q := range d.q {
			rxReady := q.rxReady()
			txPending := d.Dev.NetifQueueStopped() && q.tx.InUse() > 0
			if rxReady || txPending {
				q.napi.Schedule()
				busy = true
			}
		}
		if time.Since(lastLink) > 100*time.Millisecond {
			lastLink = time.Now()
			d.updateCarrier()
			if d.Counters.BusyPollRounds.Load()%64 == 0 {
				d.HWStats()
			}
		}
		return busy
	})
}

const busyPollIdle = 2 * time.Millisecond
