package ne2000

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringonet/ringo/irq"
	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/vfio"
)

// Frame limits the receive path accepts (DP8390 header length minus the
// 4-byte header, CRC excluded by the card).
const (
	minFrame = 60
	maxFrame = 1518
	// maxService bounds the work one interrupt does (Linux's MAX_SERVICE).
	maxService = 12
	// busyPollIdle is how long busy poll spins without work before it
	// sleeps between looks.
	busyPollIdle = 2 * time.Millisecond
	// imrAll are the interrupts the driver services (Linux's ENISR_ALL).
	imrAll = isr_PRX | isr_PTX | isr_RXE | isr_TXE | isr_OVW | isr_CNT
	// rxFirstRead is what the first remote read of a received frame
	// takes: the 4-byte header and the frame's first 124 bytes, all in
	// the header's page (a page never straddles PSTOP). A frame of up to
	// 124 bytes (an ACK, ARP, a ping, a small datagram) is then one
	// remote DMA, not two; a larger one reads no more than before.
	rxFirstRead = 128
	// imrRx is what the card may interrupt for while the transmit queue
	// runs: transmit completions are reclaimed in the transmit path, and
	// PTX/TXE are unmasked only while the queue waits for a buffer (as
	// virtio-net enables its TX callback only when the ring is full).
	imrRx = imrAll &^ (isr_PTX | isr_TXE)
)

// HW is the hardware seam.
type HW struct {
	Ports vfio.Ports
	IRQ   vfio.InterruptSource
}

// Config sets the driver up.
type Config struct {
	Name string
	CPU  int
	// IOWidth is the data port access width for frame data: 2 (word mode,
	// as the datasheet and Linux's ne2k-pci use) or 4 (32-bit, which
	// QEMU's ne2k_pci and the RTL8029 accept; half the port accesses).
	IOWidth   int
	TxTimeout time.Duration
	Logger    *slog.Logger
	// BusyPoll services the card from a polling thread that never
	// sleeps while there is work. With an interrupt source the card's
	// interrupts stay on and the thread polls the line's eventfd (memory)
	// rather than ISR (a port access, a VM exit); without one, IMR is 0
	// and it reads ISR.
	BusyPoll bool
}

// Driver is one NE2000 bound to a netcore device.
type Driver struct {
	Dev  *netcore.Device
	cfg  Config
	p    ports
	log  *slog.Logger
	line *irq.Line

	// mu serializes every access to the card: the interrupt handler,
	// transmit and resets all drive multi-step register sequences (page
	// select, remote DMA) that must not interleave (Linux's page_lock).
	mu sync.Mutex
	// Transmit buffers, ping-pong as in Linux's 8390 driver: one sends
	// while the other is filled.
	tx      [2]txBuf
	txing   int  // index of the buffer the card is sending, -1 if idle
	rxStop  int  // PSTOP: RxStopPage, or StopPage32K on a card with 32 KB
	txIRQ   bool // PTX/TXE unmasked: the queue is stopped, waiting for a buffer
	running atomic.Bool
	// Register state the driver keeps so as not to write or read again
	// (each port access is a VM exit on an emulated card):
	//   - tbcr: TBCR0/1 are write-only and the chip never changes them,
	//     so tbcr is what they hold (-1: unknown).
	//   - crDirty: CR may not be page 0 with no remote DMA under way (a
	//     DMA started and not seen to its end, a failed access). Every
	//     sequence that selects page 1 selects page 0 again, so while
	//     crDirty is clear a remote DMA, a trigger or the interrupt
	//     service need not select page 0 and abort first (Linux's 8390
	//     code does, every time).
	//   - rdcSet: ISR.RDC may be set. A remote read does not wait for
	//     RDC (with all its bytes read it is done; Linux's block_input
	//     does not look either) and a remote write leaves the RDC it
	//     waited for: the next acknowledgement written to ISR clears it
	//     with its own bits (ackLocked), and a remote write clears it
	//     before it starts if none came.
	tbcr    int
	crDirty bool
	rdcSet  bool
	// bnry is what the driver last wrote to BNRY (the chip only reads
	// it): the page before the next frame to take.
	bnry uint8
	// Buffers for the receive header and the transmit copy, used under
	// mu (on the stack they would escape through the Ports interface:
	// an allocation per frame).
	rxHead  [rxFirstRead]byte
	txFrame [1516]byte
	tail    [4]byte

	// Busy-poll thread.
	pollStop chan struct{}
	pollDone chan struct{}

	Counters Counters
}

type txBuf struct {
	page  uint8
	len   int // 0: free
	ready bool
}

// Counters are the driver's own event counts (ethtool -S style).
type Counters struct {
	Interrupts     atomic.Uint64
	Spurious       atomic.Uint64
	Overruns       atomic.Uint64 // OVW ring overflow recoveries
	BadHeaders     atomic.Uint64 // receive headers rejected (ring reset)
	RingResets     atomic.Uint64
	RxErrStatus    atomic.Uint64 // frames the card marked bad
	TxErrors       atomic.Uint64 // TXE: aborted, underrun...
	TxResends      atomic.Uint64 // transmit restarted after an overrun
	TxReclaimed    atomic.Uint64 // completions taken in the transmit path, before their interrupt
	DMATimeouts    atomic.Uint64 // remote DMA that never completed
	ServiceLimit   atomic.Uint64 // interrupts that hit maxService
	BusyPollRounds atomic.Uint64
}

// New resets the card, reads its address and registers a netcore device.
func New(core *netcore.Core, bridge *irq.Bridge, hw HW, cfg Config) (*Driver, error) {
	if cfg.IOWidth == 0 {
		cfg.IOWidth = 2
	}
	if cfg.IOWidth != 2 && cfg.IOWidth != 4 {
		return nil, fmt.Errorf("ne2000: I/O width %d: want 2 or 4", cfg.IOWidth)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if !cfg.BusyPoll && (hw.IRQ == nil || bridge == nil) {
		return nil, errors.New("ne2000: interrupt mode needs an interrupt source and an irq bridge")
	}
	d := &Driver{cfg: cfg, p: ports{hw.Ports}, log: cfg.Logger, txing: -1, crDirty: true}
	d.tx[0].page = TxStartPage
	d.tx[1].page = TxStartPage + TxPages
	mac, err := Probe(hw.Ports)
	if err != nil {
		return nil, err
	}
	d.Dev, err = core.Register(netcore.DeviceConfig{
		Name: cfg.Name, HardwareAddr: mac, CPU: cfg.CPU, Kind: "ne2000", Watchdog: cfg.TxTimeout,
		MaxMTU: 1500, // the DP8390 takes Ethernet frames up to 1518 bytes
	}, d)
	if err != nil {
		return nil, err
	}
	if hw.IRQ != nil && bridge != nil {
		if d.line, err = bridge.Request(d.Dev.Name, cfg.CPU, hw.IRQ, d.hardirq); err != nil {
			core.Unregister(d.Dev)
			return nil, err
		}
		core.SetIRQPoll(bridge.Poll)
	}
	return d, nil
}

// IRQLine is the interrupt line, nil without an interrupt source.
func (d *Driver) IRQLine() *irq.Line { return d.line }

// Open implements netcore.DeviceOps.
func (d *Driver) Open() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.initLocked(true); err != nil {
		return err
	}
	// The NE2000 has no link status: the carrier is always on.
	d.Dev.NetifCarrierOn()
	if d.cfg.BusyPoll {
		d.pollStop, d.pollDone = make(chan struct{}), make(chan struct{})
		go d.busyPoll(d.pollStop, d.pollDone)
	}
	return nil
}

// busyPoll is the busy-poll mode: a thread that services the card
// (ei_interrupt's work, frames up through netif_rx) whenever it has
// something, yielding between looks. With an interrupt line it watches
// the line's eventfd, not ISR: a port access is a VM exit on an emulated
// card, taking the lock QEMU's main loop needs to put frames in the ring,
// and an idle card then costs none. Without a line, IMR stays 0 and every
// look reads ISR.
func (d *Driver) busyPoll(stop, done chan struct{}) {
	netcore.BusyPollLoop(stop, done, busyPollIdle, d.Dev, func() bool {
		d.Counters.BusyPollRounds.Add(1)
		if d.line != nil {
			return d.line.Poll()
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		if isr, err := d.p.in(regISR); err == nil && isr&imrAll != 0 && d.running.Load() {
			return d.serviceLocked()
		}
		return false
	})
}

// initLocked is NS8390_init: program the chip stopped, in loopback, then
// start it.
func (d *Driver) initLocked(startp bool) error {
	p := d.p
	mac := d.Dev.HardwareAddr
	if d.rxStop == 0 {
		// Once, stopped, in loopback and monitor mode: how much buffer
		// memory the receive ring can have.
		if err := p.outs(
			regCR, cr_PAGE0|cr_RD_ABORT|cr_STP,
			regDCR, DCRWord,
			regRCR, rcr_MON,
			regTCR, tcr_LOOPBACK,
			regIMR, 0,
		); err != nil {
			return fmt.Errorf("ne2000: init: %w", err)
		}
		d.rxStop = d.probeMemoryLocked()
		d.log.Info("ne2000: buffer memory", "dev", d.Dev.Name, "kb", (d.rxStop-StartPage)/4, "rx_pages", d.rxStop-RxStartPage)
	}
	d.bnry = uint8(d.rxStop - 1)
	if err := p.outs(
		regCR, cr_PAGE0|cr_RD_ABORT|cr_STP,
		regDCR, DCRWord,
		regRBCR0, 0, regRBCR1, 0,
		regRCR, rcr_MON,
		regTCR, tcr_LOOPBACK,
		regTPSR, TxStartPage,
		regPSTART, RxStartPage,
		regBNRY, uint32(d.bnry),
		regPSTOP, uint32(d.rxStop),
		regISR, 0xff,
		regIMR, 0,
		regCR, cr_PAGE1|cr_RD_ABORT|cr_STP,
		regPAR0+0, uint32(mac[0]), regPAR0+1, uint32(mac[1]), regPAR0+2, uint32(mac[2]),
		regPAR0+3, uint32(mac[3]), regPAR0+4, uint32(mac[4]), regPAR0+5, uint32(mac[5]),
		regCURR, RxStartPage,
		regCR, cr_PAGE0|cr_RD_ABORT|cr_STP,
	); err != nil {
		return fmt.Errorf("ne2000: init: %w", err)
	}
	mar := marBits(d.Dev.MulticastList())
	p.out(regCR, cr_PAGE1|cr_RD_ABORT|cr_STP)
	for i, v := range mar {
		p.out(regMAR0+uint32(i), v)
	}
	p.out(regCR, cr_PAGE0|cr_RD_ABORT|cr_STP)
	d.tx[0].len, d.tx[0].ready = 0, false
	d.tx[1].len, d.tx[1].ready = 0, false
	d.txing = -1
	d.txIRQ = false
	d.tbcr = -1
	d.crDirty = false // page 0 selected, remote DMA aborted
	d.rdcSet = false  // ISR was cleared whole above
	if !startp {
		return nil
	}
	rcr := uint32(d.rcrLocked(len(d.Dev.MulticastList()) > 0))
	if err := p.outs(
		regISR, 0xff,
		regIMR, d.imr(),
		regCR, cr_PAGE0|cr_RD_ABORT|cr_STA,
		regTCR, tcr_NORMAL,
		regRCR, rcr,
	); err != nil {
		return fmt.Errorf("ne2000: start: %w", err)
	}
	d.running.Store(true)
	return nil
}

// imr is the interrupt mask the running card gets: none without an
// interrupt line (busy polling reads ISR then).
func (d *Driver) imr() uint32 {
	if d.line == nil {
		return 0
	}
	return imrRx
}

// setTxIRQLocked unmasks (or masks again) the transmit-completion
// interrupts. A completion already pending raises the line as soon as it
// is unmasked.
func (d *Driver) setTxIRQLocked(on bool) {
	if d.line == nil || d.txIRQ == on {
		return
	}
	d.txIRQ = on
	if on {
		d.p.out(regIMR, imrAll)
	} else {
		d.p.out(regIMR, imrRx)
	}
}

// probeMemoryLocked finds how much buffer memory the card has, as the
// classic NE2000 probes did: distinct patterns written by remote DMA at
// pages 0x40, 0x80 and 0xbf read back intact only where memory exists (a
// 16 KB card reads 0xff above 0x7fff, or aliases 0x80 onto 0x40).
func (d *Driver) probeMemoryLocked() int {
	pattern := func(seed byte) []byte {
		b := make([]byte, 16)
		for i := range b {
			b[i] = seed + byte(i)*37
		}
		return b
	}
	probes := []struct {
		addr uint16
		want []byte
	}{{StartPage << 8, pattern(0x11)}, {RxStopPage << 8, pattern(0x5a)}, {(StopPage32K - 1) << 8, pattern(0xa3)}}
	for _, pr := range probes {
		if _, err := d.writeMemLocked(pr.addr, pr.want); err != nil {
			return RxStopPage
		}
	}
	got := make([]byte, 16)
	for _, pr := range probes {
		if d.readMemLocked(pr.addr, got) != nil || !bytes.Equal(got, pr.want) {
			return RxStopPage
		}
	}
	return StopPage32K
}

// RxRingPages is the size of the receive ring in 256-byte pages.
func (d *Driver) RxRingPages() int { return d.rxStop - RxStartPage }

// Stop implements netcore.DeviceOps.
func (d *Driver) Stop() error {
	if d.pollStop != nil {
		close(d.pollStop)
		<-d.pollDone
		d.pollStop = nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.running.Store(false)
	err := d.p.outs(regIMR, 0, regCR, cr_PAGE0|cr_RD_ABORT|cr_STP)
	d.Dev.NetifCarrierOff()
	return err
}

// hardirq is ei_interrupt: service the card until ISR is clear or the
// service limit is reached. Frames go up through netif_rx.
func (d *Driver) hardirq() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	claimed := d.serviceLocked()
	if claimed {
		d.Counters.Interrupts.Add(1)
	} else {
		d.Counters.Spurious.Add(1)
	}
	return claimed
}

// serviceLocked is the body of ei_interrupt: service the card until ISR is
// clear or the service limit is reached. It reports whether there was
// anything to do.
func (d *Driver) serviceLocked() bool {
	p := d.p
	if err := d.cleanCRLocked(); err != nil {
		return false
	}
	claimed := false
	for n := 0; ; n++ {
		isr, err := p.in(regISR)
		if err != nil || isr&imrAll == 0 {
			break
		}
		if n == maxService {
			d.Counters.ServiceLimit.Add(1)
			p.out(regISR, 0xff) // as Linux: clear all, the next frames raise it again
			d.rdcSet = false
			break
		}
		claimed = true
		if isr&isr_OVW != 0 {
			d.overrunLocked()
		} else if isr&(isr_PRX|isr_RXE) != 0 {
			d.receiveLocked()
		}
		if isr&isr_PTX != 0 {
			d.txDoneLocked(false)
		} else if isr&isr_TXE != 0 {
			d.txDoneLocked(true)
		}
		if isr&isr_CNT != 0 {
			d.readCountersLocked()
		}
	}
	return claimed
}

// cleanCRLocked selects page 0 and aborts any remote DMA, if CR may hold
// anything else.
func (d *Driver) cleanCRLocked() error {
	if !d.crDirty {
		return nil
	}
	err := d.p.out(regCR, cr_PAGE0|cr_RD_ABORT|cr_STA)
	d.crDirty = err != nil
	return err
}

// ackLocked acknowledges bits in ISR, and with them an RDC the driver
// left set.
func (d *Driver) ackLocked(bits uint8) error {
	if d.rdcSet {
		bits |= isr_RDC
	}
	err := d.p.out(regISR, bits)
	if err == nil {
		d.rdcSet = false
	}
	return err
}

// readMemLocked reads card memory by remote DMA through the data port in
// IOWidth accesses. Odd tails are read whole into a scratch word. With
// every byte read the DMA is done: its RDC is left for the next
// acknowledgement.
func (d *Driver) readMemLocked(addr uint16, buf []byte) error {
	w := d.cfg.IOWidth
	if len(buf) < w {
		w = 2
	}
	n := len(buf) &^ (w - 1)
	rest := len(buf) - n
	total := n
	if rest > 0 {
		total += w
	}
	if err := d.startDMALocked(cr_RD_READ, addr, total); err != nil {
		return err
	}
	p := d.p
	if n > 0 {
		if err := p.p.ReadBuf(DataPort, w, buf[:n]); err != nil {
			return err
		}
	}
	if rest > 0 {
		if err := p.p.ReadBuf(DataPort, w, d.tail[:w]); err != nil {
			return err
		}
		copy(buf[n:], d.tail[:rest])
	}
	d.crDirty, d.rdcSet = false, true
	return nil
}

// writeMemLocked writes card memory by remote DMA (ne2k_block_output) and
// waits for its RDC, which it leaves set for the next acknowledgement. It
// returns the ISR value that had RDC: a transmit path reads the card's
// transmit status from it without reading ISR again.
func (d *Driver) writeMemLocked(addr uint16, buf []byte) (uint8, error) {
	w := d.cfg.IOWidth
	if len(buf)%w != 0 {
		return 0, fmt.Errorf("ne2000: remote write of %d bytes by %d", len(buf), w)
	}
	// The RDC this DMA waits for must be its own.
	if d.rdcSet {
		if err := d.ackLocked(0); err != nil {
			return 0, err
		}
	}
	if err := d.startDMALocked(cr_RD_WRITE, addr, len(buf)); err != nil {
		return 0, err
	}
	if err := d.p.p.WriteBuf(DataPort, w, buf); err != nil {
		return 0, err
	}
	isr, err := d.p.waitISR(isr_RDC, 20*time.Millisecond)
	d.rdcSet = true // set, or may come late
	if err != nil {
		d.Counters.DMATimeouts.Add(1)
		d.p.out(regCR, cr_PAGE0|cr_RD_ABORT|cr_STA)
		return 0, fmt.Errorf("ne2000: remote DMA: %w", err)
	}
	d.crDirty = false
	return isr, nil
}

// startDMALocked programs a remote DMA of count bytes at addr and starts
// it (rd: CR_RD_READ or CR_RD_WRITE): page 0 with any DMA aborted (only
// if CR may hold anything else), byte count, start address, go. CR is
// dirty until the DMA is seen to its end.
func (d *Driver) startDMALocked(rd uint8, addr uint16, count int) error {
	if err := d.cleanCRLocked(); err != nil {
		return err
	}
	d.crDirty = true
	return d.p.outs(
		regRBCR0, uint32(count&0xff), regRBCR1, uint32(count>>8),
		regRSAR0, uint32(addr&0xff), regRSAR1, uint32(addr>>8),
		regCR, uint32(cr_PAGE0|rd|cr_STA),
	)
}

// readCountersLocked folds the tally counters (which clear on read) into
// the device statistics.
func (d *Driver) readCountersLocked() {
	p := d.p
	fae, _ := p.in(regCNTR0)
	crc, _ := p.in(regCNTR1)
	missed, _ := p.in(regCNTR2)
	d.Dev.Stats.RxFrameErrors.Add(uint64(fae))
	d.Dev.Stats.RxCRCErrors.Add(uint64(crc))
	d.Dev.Stats.RxMissedErrors.Add(uint64(missed))
	p.out(regISR, isr_CNT)
}

// TxTimeout implements netcore.TxTimeouter: reinitialize the chip.
func (d *Driver) TxTimeout() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.log.Warn("ne2000: transmit timed out; reinitializing", "dev", d.Dev.Name)
	if err := d.initLocked(true); err != nil {
		d.log.Error("ne2000: reinit failed", "dev", d.Dev.Name, "err", err)
		return
	}
	d.Dev.NetifWakeQueue()
}

// SetRxMode implements netcore.RxModer (ei_set_multicast_list): the
// multicast list hashed into MAR0-7, RCR's AM and PRO bits.
func (d *Driver) SetRxMode() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.running.Load() {
		return
	}
	mar := marBits(d.Dev.MulticastList())
	p := d.p
	d.crDirty = true
	p.out(regCR, cr_PAGE1|cr_RD_ABORT|cr_STA)
	for i, v := range mar {
		p.out(regMAR0+uint32(i), v)
	}
	d.crDirty = p.out(regCR, cr_PAGE0|cr_RD_ABORT|cr_STA) != nil
	p.out(regRCR, d.rcrLocked(len(d.Dev.MulticastList()) > 0))
}

func (d *Driver) rcrLocked(multicast bool) uint8 {
	rcr := uint8(rcr_AB)
	if multicast {
		rcr |= rcr_AM
	}
	if d.Dev.Promisc() {
		rcr |= rcr_PRO | rcr_AM
	}
	return rcr
}

// marBits is the DP8390 multicast filter: the top six bits of the
// big-endian CRC-32 of each address select one of 64 bits (make_mc_bits).
func marBits(addrs []net.HardwareAddr) [8]uint8 {
	var mar [8]uint8
	for _, a := range addrs {
		crc := etherCRC(a)
		mar[crc>>29] |= 1 << ((crc >> 26) & 7)
	}
	return mar
}

// etherCRC is the CRC-32 of the Ethernet FCS computed MSB-first, as
// Linux's ether_crc.
func etherCRC(data []byte) uint32 {
	crc := uint32(0xffffffff)
	for _, b := range data {
		for i := 0; i < 8; i++ {
			if (crc>>31)^uint32(b&1) != 0 {
				crc = crc<<1 ^ 0x04c11db7
			} else {
				crc <<= 1
			}
			b >>= 1
		}
	}
	return crc
}
