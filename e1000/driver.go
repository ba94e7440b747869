package e1000

import (
	"encoding/binary"
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
	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/netcore/skb"
	"github.com/ringonet/ringo/vfio"
)

// Defaults.
const (
	DefaultRing = 256  // descriptors per ring (e1000's default)
	bufSize     = 2048 // RCTL.BSIZE 2048: one frame per descriptor
	// txWakeThreshold is how many free TX descriptors wake a stopped queue
	// (Linux's E1000_TX_WAKE_THRESHOLD is 32, its buffers 4 KB): room for
	// the largest TSO packet, a context descriptor and 64 KB in 2 KB
	// buffers, so a woken queue does not stop again at once; at most half
	// a small ring.
	txWakeThreshold = 1 + (header.IPv4MaxTotal+header.EthernetLen+bufSize-1)/bufSize
	// txCleanThreshold: with fewer free TX descriptors than this, the
	// transmit path reclaims sent ones before filling more.
	txCleanThreshold = 64
)

// imsEnable are the causes the driver always takes: Linux's
// IMS_ENABLE_MASK, plus receiver overrun, less TXDW. Sent descriptors are
// reclaimed by the transmit path itself when the ring runs low (as DPDK's
// tx_free_thresh) and by every NAPI poll; TXDW is unmasked only while the
// queue is stopped on a full ring, the one time a completion must wake
// someone. Through VFIO an interrupt is an eventfd, a wake-up and an unmask
// ioctl; QEMU's e1000 raises TXDW on every TDT write (it sends
// synchronously), which was one interrupt per few frames sent.
const imsEnable = icr_RXT0 | icr_RXDMT0 | icr_RXSEQ | icr_LSC | icr_RXO

// HW is the hardware seam: what the driver needs from its device.
type HW struct {
	Regs vfio.Registers
	DMA  vfio.DMAAllocator
	IRQ  vfio.InterruptSource // nil in busy-poll mode
}

// Config sets the driver up.
type Config struct {
	Name   string // netcore device name
	CPU    int    // softnet for NAPI
	RxRing int    // RX descriptors (power of two); 0: DefaultRing
	TxRing int    // TX descriptors; 0: DefaultRing
	// InterruptRate is ITR, interrupts/s at most: 0 adapts it to the
	// traffic between 4,000 and 20,000 (Linux's default); -1 does not
	// throttle.
	InterruptRate int
	BusyPoll      bool          // no interrupts: a polling thread drives NAPI
	NoOffload     bool          // no checksum offload or TSO on transmit (ethtool -K tx off tso off)
	NoRxCsum      bool          // no checksum validation on receive (ethtool -K rx off)
	Weight        int           // NAPI weight; 0: 64
	TxTimeout     time.Duration // stalled-queue watchdog; 0: 5 s
	// TxArena is the 2 KB data areas of DMA memory senders may build
	// frames in for the driver to send without copying (Device.TxArena);
	// 0: e1000x.DefaultTxArena (2 MB), -1: none.
	TxArena int
	// RxArena is the data areas of DMA memory the receive ring is
	// posted with, a frame of RxCopybreak bytes or more going up in its
	// area without a copy; 0: e1000x.DefaultRxArena (2 MB), -1: none
	// (every frame copied out of the ring's buffers).
	RxArena int
	// RxCopybreak is the frame length below which a frame is copied
	// (Linux's copybreak); 0: e1000x.DefaultRxCopybreak (256).
	RxCopybreak int
	Logger      *slog.Logger
}

// Driver is one e1000 bound to a netcore device.
type Driver struct {
	Dev  *netcore.Device
	cfg  Config
	r    regs
	hw   HW
	napi *netcore.NAPI
	log  *slog.Logger
	line *irq.Line

	rx, tx *descring.Ring
	txr    *e1000x.TxReport // where TX status is asked for; txMu guards it
	// txInPlace keeps the skbs sent from the TX arena until the device
	// has read them; txMu guards it.
	txInPlace *e1000x.TxInPlace
	// rxInPlace is the receive ring's arena areas; the NAPI poll (and up,
	// while NAPI cannot run) owns it.
	rxInPlace *e1000x.RxInPlace

	// txMu serializes StartXmit with a reset (the watchdog's TxTimeout).
	// The qdisc already lets one goroutine at a time transmit.
	txMu sync.Mutex
	// txPending counts descriptors filled since TDT was last written
	// (the doorbell batch); txMu guards it.
	txPending int
	// resetMu serializes Open, Stop and the watchdog's reset.
	resetMu sync.Mutex
	running atomic.Bool

	// Busy-poll thread.
	pollStop chan struct{}
	pollDone chan struct{}

	// faultTxStall, set only by tests, makes transmit fill descriptors without
	// writing TDT, so the hardware never sends them: the fault matrix's
	// stalled transmitter. A reset clears it.
	faultTxStall atomic.Bool

	// rxChain gathers a jumbo frame's descriptors (the NAPI poll's).
	rxChain e1000x.RxChain

	// filter is the VLAN ids and long packet reception, in RCTL, VFTA.
	filter e1000x.RxFilter

	// Adaptive interrupt rate (itr.go): the NAPI poll owns these; up
	// sets them while NAPI is disabled.
	itr    e1000x.ITR
	itrNow atomic.Int64

	Counters Counters
	hwStats  e1000x.Stats
}

// Counters are the driver's own event counts (ethtool -S style).
type Counters struct {
	Interrupts     atomic.Uint64 // claimed interrupts
	Spurious       atomic.Uint64 // ICR read 0
	RxDescErrors   atomic.Uint64 // descriptor reported a frame error
	RxBadLength    atomic.Uint64 // descriptor length 0, short, or past the buffer
	RxNoEOP        atomic.Uint64 // frame spanning descriptors (not configured; dropped)
	TxRestarts     atomic.Uint64 // queue woken after being full
	TxDoorbells    atomic.Uint64 // TDT writes: each is a VM exit under QEMU (frames/doorbell shows the batching)
	RxInPlace      atomic.Uint64 // frames handed up in their receive arena area, not copied
	RxArenaEmpty   atomic.Uint64 // frames at or above the copybreak copied: the stack held every area (alloc_rx_buff_failed)
	RxCsumGood     atomic.Uint64 // TCP/UDP checksums the part verified (the stack does not)
	RxCsumBad      atomic.Uint64 // TCP/UDP checksums the part found wrong (the stack checks and drops)
	TxTooBig       atomic.Uint64 // frame larger than a TX buffer, dropped
	TxTSO          atomic.Uint64 // packets the device segmented (TSO)
	TxCsumOffload  atomic.Uint64 // packets the device checksummed
	TxBadOffload   atomic.Uint64 // offload packets whose headers did not parse, dropped
	Resets         atomic.Uint64 // chip resets by the watchdog
	LinkChanges    atomic.Uint64
	BusyPollRounds atomic.Uint64
	ITRUpdates     atomic.Uint64 // ITR rewritten by the adaptive rate
}

// New registers a netcore device for the e1000 behind hw. The chip is reset
// and its address read here; rings are allocated once and live until the
// DMA allocator is closed. With an irq bridge the interrupt line is
// requested at Open.
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
	if !cfg.BusyPoll && (hw.IRQ == nil || bridge == nil) {
		return nil, errors.New("e1000: interrupt mode needs an interrupt source and an irq bridge")
	}
	d := &Driver{cfg: cfg, r: newRegs(hw.Regs), hw: hw, log: cfg.Logger}
	id, err := Probe(hw.Regs)
	if err != nil {
		return nil, err
	}
	if d.rx, err = descring.New(hw.DMA, descring.Config{Count: cfg.RxRing, DescSize: RxDescSize, DescAlign: 128, BufSize: bufSize}); err != nil {
		return nil, fmt.Errorf("e1000: rx ring: %w", err)
	}
	if d.tx, err = descring.New(hw.DMA, descring.Config{Count: cfg.TxRing, DescSize: e1000x.TxDescSize, DescAlign: 128, BufSize: bufSize}); err != nil {
		return nil, fmt.Errorf("e1000: tx ring: %w", err)
	}
	d.txr = e1000x.NewTxReport(d.tx.Count())
	arena, err := e1000x.NewTxArena(hw.DMA, cfg.TxArena)
	if err != nil {
		return nil, fmt.Errorf("e1000: %w", err)
	}
	d.txInPlace = e1000x.NewTxInPlace(arena, d.tx.Count())
	rxArena, err := e1000x.NewRxArena(hw.DMA, cfg.RxArena, bufSize)
	if err != nil {
		return nil, fmt.Errorf("e1000: %w", err)
	}
	d.rxInPlace = e1000x.NewRxInPlace(rxArena, d.rx.Count(), bufSize, cfg.RxCopybreak,
		e1000x.RxInPlaceCounters{InPlace: &d.Counters.RxInPlace, ArenaEmpty: &d.Counters.RxArenaEmpty})
	// The 82540EM checksums and segments TCP/UDP over IPv4 on transmit
	// (SDM 3.3.5-3.3.7); Linux's e1000 turns both on for it.
	features := netcore.FeatureIPCsum | netcore.FeatureTSO
	if cfg.TxRing < minTSORing {
		// A 64 KB TSO packet takes 34 descriptors (a context and 2 KB
		// pieces); xmit refuses one that needs over half the ring.
		features &^= netcore.FeatureTSO
	}
	if cfg.NoOffload {
		features = 0
	}
	if !cfg.NoRxCsum {
		features |= netcore.FeatureRxCsum // RXCSUM.TUOFL (SDM 3.2.9)
	}
	// 802.1Q tags stripped and inserted by the part (CTRL.VME, SDM 9.2),
	// ids filtered in the VFTA, as Linux's e1000 does.
	features |= netcore.FeatureVLANRx | netcore.FeatureVLANTx
	d.Dev, err = core.Register(netcore.DeviceConfig{
		Name: cfg.Name, HardwareAddr: id.MAC, CPU: cfg.CPU, Kind: "e1000", Features: features,
		TxQueueLen: netcore.DefaultTxQueueLen, Watchdog: cfg.TxTimeout,
		// Up to 9000 with RCTL.LPE (ChangeMTU), a frame then spanning
		// several 2 KB buffers.
		MaxMTU:  e1000x.MaxJumboMTU,
		TxArena: arena,
	}, d)
	if err != nil {
		return nil, err
	}
	d.napi = d.Dev.NetifNAPIAdd(d.poll, cfg.Weight)
	if !cfg.BusyPoll {
		if d.line, err = bridge.Request(d.Dev.Name, cfg.CPU, hw.IRQ, d.hardirq); err != nil {
			core.Unregister(d.Dev)
			return nil, err
		}
		core.SetIRQPoll(bridge.Poll)
	}
	return d, nil
}

// NAPI is the device's polling context.
func (d *Driver) NAPI() *netcore.NAPI { return d.napi }

// IRQLine is the interrupt line, nil in busy-poll mode.
func (d *Driver) IRQLine() *irq.Line { return d.line }

// Open implements netcore.DeviceOps: the init sequence of SDM 14.
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

// housekeeping folds the clear-on-read statistics registers into their
// 64-bit totals every 2 s, as e1000_watchdog does, so no 32-bit register
// wraps between reads.
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

// up resets the chip and programs it: general config (14.3), receive
// (14.4), transmit (14.5), interrupts (14.6).
func (d *Driver) up() error {
	r := d.r
	if err := r.reset(); err != nil {
		return err
	}
	// 14.3: link up, auto speed; no loss-of-signal inversion, no VLANs.
	ctrl := r.Read(regCTRL)
	ctrl |= ctrl_SLU | ctrl_ASDE | ctrl_VME
	ctrl &^= ctrl_LRST | ctrl_PHY_RST | ctrl_ILOS
	r.Write(regCTRL, ctrl)
	// Flow control off: FCAL/FCAH/FCT/FCTTV zero.
	for _, reg := range []uint32{regFCAL, regFCAH, regFCT, regFCTTV} {
		r.Write(reg, 0)
	}

	// 14.4 Receive: station address, MTA cleared, ring, then RCTL.EN.
	r.SetStationAddress(d.Dev.HardwareAddr)
	e1000x.WriteMTA(d.r.Regs, d.Dev.MulticastList())
	d.filter.WriteVLANs(r.Regs)
	d.rx.Reset()
	d.rxChain.Reset()
	if d.cfg.NoRxCsum {
		r.Write(regRXCSUM, 0)
	} else {
		r.Write(regRXCSUM, rxcsum_IPOFL|rxcsum_TUOFL)
	}
	for i := 0; i < d.rx.Count(); i++ {
		binary.LittleEndian.PutUint64(d.rx.Desc(i)[rxdAddr:], d.rxInPlace.Post(i, d.rx.Buf(i)))
	}
	r.Write(regRDBAL, uint32(d.rx.IOVA()))
	r.Write(regRDBAH, uint32(d.rx.IOVA()>>32))
	r.Write(regRDLEN, uint32(d.rx.Bytes()))
	r.Write(regRDH, 0)
	r.Write(regRDT, 0)
	r.Write(regRDTR, 0)
	r.Write(regRADV, 0)
	// Give the hardware every descriptor but one: RDT = count-1, so RDT
	// never equals RDH while buffers are posted.
	d.rx.SetNextToUse(d.rx.Count() - 1)
	r.Write(regRDT, uint32(d.rx.Count()-1))
	r.Write(regRCTL, d.rctl())

	// 14.5 Transmit.
	d.tx.Reset()
	d.txr.Reset()
	r.Write(regTDBAL, uint32(d.tx.IOVA()))
	r.Write(regTDBAH, uint32(d.tx.IOVA()>>32))
	r.Write(regTDLEN, uint32(d.tx.Bytes()))
	r.Write(regTDH, 0)
	r.Write(regTDT, 0)
	d.txPending = 0
	r.Write(regTIDV, 0)
	r.Write(regTADV, 0)
	r.Write(regTIPG, tipg_IPGT_COPPER|tipg_IPGR1<<tipg_IPGR1_SHIFT|tipg_IPGR2<<tipg_IPGR2_SHIFT)
	r.Write(regTCTL, tctl_EN|tctl_PSP|0x0f<<tctl_CT_SHIFT|0x40<<tctl_COLD_SHIFT|tctl_RTLC)

	// 14.6 Interrupts: throttle, clear, unmask (not in busy-poll mode).
	// ITR counts 256 ns units between interrupts.
	switch rate := d.cfg.InterruptRate; {
	case rate > 0:
		r.Write(regITR, e1000x.Register(rate))
		d.itrNow.Store(int64(rate))
	case rate == 0 && !d.cfg.BusyPoll:
		rate := d.itr.Reset()
		r.Write(regITR, e1000x.Register(rate))
		d.itrNow.Store(int64(rate))
	default:
		r.Write(regITR, 0)
		d.itrNow.Store(0)
	}
	r.Read(regICR)
	d.running.Store(true)
	d.faultTxStall.Store(false)
	if !d.cfg.BusyPoll {
		r.Write(regIMS, imsEnable)
	}
	d.updateCarrier()
	return nil
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

// SetRxMode implements netcore.RxModer (e1000_set_rx_mode): promiscuous
// mode in RCTL, and the multicast list hashed into the MTA.
func (d *Driver) SetRxMode() {
	if !d.running.Load() {
		return
	}
	e1000x.WriteMTA(d.r.Regs, d.Dev.MulticastList())
	d.r.Write(regRCTL, d.rctl())
}

// Stop implements netcore.DeviceOps: mask, stop the DMA engines, reset.
// The rings' memory stays for the next Open.
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
	d.txMu.Lock()
	d.r.reset()
	d.txInPlace.FreeAll() // the reset device reads no more
	d.txMu.Unlock()
	// Nor writes: the receive areas go back (NAPI is disabled on both
	// paths here) and up posts the ring afresh.
	d.rxInPlace.FreeAll()
}

// hardirq is the interrupt handler (e1000_intr): read ICR (which clears
// it), mask everything, schedule NAPI. Link changes update the carrier here.
func (d *Driver) hardirq() bool {
	icr := d.r.Read(regICR)
	if icr == 0 {
		d.Counters.Spurious.Add(1)
		return false
	}
	d.Counters.Interrupts.Add(1)
	if icr&(icr_LSC|icr_RXSEQ) != 0 {
		d.Counters.LinkChanges.Add(1)
		d.updateCarrier()
	}
	d.r.Write(regIMC, 0xffffffff)
	d.r.Read(regSTATUS) // flush the mask before NAPI runs
	d.napi.Schedule()
	return true
}

func (d *Driver) updateCarrier() {
	if d.r.linkUp() {
		d.Dev.NetifCarrierOn()
	} else {
		d.Dev.NetifCarrierOff()
	}
}

// poll is the NAPI poll (e1000_clean): TX completions first, then RX up to
// the budget. Less than the budget: complete and unmask.
func (d *Driver) poll(budget int) int {
	d.txMu.Lock()
	d.cleanTxLocked()
	d.txMu.Unlock()
	work := d.cleanRx(budget)
	if work < budget {
		d.adaptITR()
		if d.napi.Complete() && !d.cfg.BusyPoll && d.running.Load() {
			ims := uint32(imsEnable)
			if d.Dev.NetifQueueStopped() {
				ims |= icr_TXDW
			}
			d.r.Write(regIMS, ims)
		}
	}
	return work
}

// cleanRx takes received frames (e1000_clean_rx_irq). Every value the
// device wrote is checked: a length past the buffer or below a header, a
// frame without EOP, an error bit: each is dropped and counted, and the
// descriptor goes back to the hardware.
func (d *Driver) cleanRx(budget int) int {
	rx := d.rx
	i := rx.NextToClean()
	work := 0
	jumbo, rxErrs := d.filter.LPE(), d.rxErrors()
	for work < budget {
		desc := rx.Desc(i)
		sw := e1000x.LoadStatus(desc)
		status, errs := uint8(sw), uint8(sw>>8)
		if status&rxd_STAT_DD == 0 {
			break
		}
		work++
		length := int(binary.LittleEndian.Uint16(desc[rxdLength:]))
		special := binary.LittleEndian.Uint16(desc[rxdSpecial:])
		frame, gathered := d.rxChain.Take(d.rxInPlace.Buf(i, rx.Buf(i).Buf), length, status&rxd_STAT_EOP != 0,
			errs&rxd_ERR_FRAME != 0, errs&rxd_ERR_CE != 0, jumbo, &d.Dev.Stats, rxErrs)
		switch {
		case frame != nil:
			if b := d.rxInPlace.Take(i, len(frame)); b != nil {
				d.deliver(b, status, errs, special)
			} else {
				d.receive(frame, status, errs, special)
			}
			d.itr.Received(length)
		case gathered != nil:
			d.itr.Received(gathered.Len())
			d.deliver(gathered, status, errs, special)
		}
		// Hand the descriptor back, status cleared: the same buffer, or
		// a fresh area for one that went up in place.
		binary.LittleEndian.PutUint64(desc[rxdAddr:], d.rxInPlace.Post(i, rx.Buf(i)))
		e1000x.StoreStatus(desc, 0)
		i = rx.Next(i)
		if work%rxBufferWrite == 0 {
			d.returnRxLocked(i)
		}
	}
	if work%rxBufferWrite != 0 {
		d.returnRxLocked(i)
	}
	d.rxInPlace.Flush()
	return work
}

// rxBufferWrite is how many cleaned descriptors go back to the hardware
// per tail write (Linux's E1000_RX_BUFFER_WRITE): a long poll does not
// leave the ring empty until it ends, and the tail is still written once
// per batch, not per frame.
const rxBufferWrite = 16

// returnRxLocked gives the descriptors before next (the next one to read)
// back to the hardware: RDT one behind it, never equal to RDH.
func (d *Driver) returnRxLocked(next int) {
	rx := d.rx
	rx.SetNextToClean(next)
	tail := (next - 1) & (rx.Count() - 1)
	rx.SetNextToUse(tail)
	d.r.Write(regRDT, uint32(tail))
}

// rxErrors are the counters RxChain.Take adds to.
func (d *Driver) rxErrors() e1000x.RxErrors {
	return e1000x.RxErrors{NoEOP: &d.Counters.RxNoEOP, DescErrors: &d.Counters.RxDescErrors, BadLength: &d.Counters.RxBadLength}
}

// receive copies a frame out of its DMA buffer into an skb and hands it up.
// The copy keeps DMA memory out of the Go heap's reach and lets the
// descriptor go back at once.
func (d *Driver) receive(frame []byte, status, errs uint8, special uint16) {
	b := skb.Alloc(len(frame))
	if b == nil {
		d.Dev.Stats.RxDropped.Add(1)
		return
	}
	copy(b.Put(len(frame)), frame)
	d.deliver(b, status, errs, special)
}

// deliver hands a received frame up through GRO, with the tag the part
// took off.
func (d *Driver) deliver(b *skb.Buff, status, errs uint8, special uint16) {
	if !d.Dev.EthTypeTrans(b) {
		d.Dev.Stats.RxLengthErrors.Add(1)
		b.Free()
		return
	}
	if status&rxd_STAT_VP != 0 {
		// The part took the 802.1Q tag off (CTRL.VME): the TCI is in
		// the special field.
		b.VlanTCI, b.VlanPresent = special, true
	}
	// e1000_rx_checksum: IXSM says the part did not look (QEMU's model
	// always sets it); a bad sum is left to the stack to find and count.
	if !d.cfg.NoRxCsum && status&rxd_STAT_IXSM == 0 && status&rxd_STAT_TCPCS != 0 {
		if errs&rxd_ERR_TCPE != 0 {
			d.Counters.RxCsumBad.Add(1)
		} else {
			b.CsumValid = true
			d.Counters.RxCsumGood.Add(1)
		}
	}
	d.napi.GROReceive(b)
}

// TxTimeout implements netcore.TxTimeouter (e1000_tx_timeout): the
// transmitter stalled, so reset the chip and rebuild both rings on the same
// buffers. Frames in the TX ring are lost (counted as TX errors); nothing
// leaks, since the buffers belong to the ring.
func (d *Driver) TxTimeout() {
	d.resetMu.Lock()
	defer d.resetMu.Unlock()
	if !d.running.Load() {
		return
	}
	d.Counters.Resets.Add(1)
	lost := d.tx.InUse()
	d.log.Warn("e1000: transmit timed out; resetting", "dev", d.Dev.Name, "tdh", d.r.Read(regTDH), "tdt", d.r.Read(regTDT), "in_flight", lost)
	d.napi.Disable()
	d.down()
	d.Dev.Stats.TxErrors.Add(uint64(lost))
	d.txMu.Lock()
	err := d.up()
	d.txMu.Unlock()
	d.napi.Enable()
	if err != nil {
		d.log.Error("e1000: reset failed", "dev", d.Dev.Name, "err", err)
		return
	}
	d.Dev.NetifWakeQueue()
	d.napi.Schedule()
}

// busyPoll is the busy-poll mode: a thread that watches the rings instead
// of waiting for interrupts and schedules NAPI whenever there is work,
// yielding between looks. Link state is read every 100 ms.
func (d *Driver) busyPoll(stop, done chan struct{}) {
	lastLink := time.Now()
	netcore.BusyPollLoop(stop, done, busyPollIdle, d.Dev, func() bool {
		d.Counters.BusyPollRounds.Add(1)
		rxReady := e1000x.LoadStatus(d.rx.Desc(d.rx.NextToClean()))&rxd_STAT_DD != 0
		// Sent descriptors are reclaimed as the transmit path needs
		// them; NAPI is wanted for them only by a stopped queue.
		txPending := d.Dev.NetifQueueStopped() && d.tx.InUse() > 0
		if rxReady || txPending {
			d.napi.Schedule()
		}
		if time.Since(lastLink) > 100*time.Millisecond {
			lastLink = time.Now()
			d.updateCarrier()
			if d.Counters.BusyPollRounds.Load()%64 == 0 {
				d.HWStats()
			}
		}
		return rxReady || txPending
	})
}

// busyPollIdle is how long busy poll keeps looking after the last frame
// received or sent before it sleeps between looks.
const busyPollIdle = 2 * time.Millisecond
