package link

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/gso"
	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/netcore/skb"
)

// TAP is a Linux TAP interface used as a ringo net device: frames the
// kernel sends into the TAP arrive at ringo, and ringo's frames come out of
// the kernel's side. The kernel side (IfName) is configured with ip(8) like
// any interface, typically moved into a network namespace as the peer.
//
// Unless NoOffload, every frame crossing the TAP carries a virtio-net
// header (IFF_VNET_HDR), as QEMU's TAP backend and other virtual switches
// do, and the TAP is an offloading NIC: ringo leaves TCP and UDP checksums
// to the kernel and hands it TCP packets of up to 64 KB with a segment
// size (TSO), and the kernel does the same the other way (TUN_F_CSUM,
// TUN_F_TSO4), so a bulk transfer costs one read or write per 64 KB
// rather than per frame. With NoOffload every frame is a read or a write
// of its own, checksummed by its sender.
//
// A frame to send goes onto a ring of tapTxRing entries that a goroutine
// of the TAP's own drains with write(2) — the TAP's DMA engine. A write
// carries the kernel's receive of the frame (its stack runs inside the
// system call), which the stack would otherwise wait out on every frame
// it sends and every ACK; with the ring it goes on with the next. When
// the ring is full the transmit queue stops, and it wakes when the ring
// is half empty, as a NIC's does on TX completion.
type TAP struct {
	Dev    *netcore.Device
	IfName string // kernel-side interface name

	fd      int
	offload bool
	napi    *netcore.NAPI
	irqFile *os.File       // while open: a duplicate of fd in Go's poller, the "interrupt line"
	rxBig   *skb.Buff      // the poll's large read buffer (offload), owned by the poll
	txMu    sync.Mutex     // guards txOpen and sends on txRing (StartXmit against Stop)
	txOpen  bool           // the writer runs: StartXmit may queue
	txRing  chan *skb.Buff // frames for the writer, in order
	txStop  chan struct{}  // closed by Stop: the writer returns
	wg      sync.WaitGroup

	// Counters (ethtool -S).
	RxGSO       atomic.Uint64 // packets the kernel handed over larger than one segment
	RxCsumLeft  atomic.Uint64 // packets whose checksum the kernel left undone (NEEDS_CSUM)
	RxBadVnet   atomic.Uint64 // frames dropped for a virtio-net header that does not fit them
	TxGSO       atomic.Uint64 // packets handed to the kernel to segment
	TxCsumLeft  atomic.Uint64 // packets whose checksum was left to the kernel
	TxWriteErrs atomic.Uint64 // writes the kernel took short or refused
}

// TAPConfig sets up a TAP device.
type TAPConfig struct {
	IfName string // kernel interface name; "" lets the kernel choose
	Name   string // ringo device name
	CPU    int
	MTU    int
	// NoOffload leaves out the virtio-net header and with it the
	// checksum and segmentation offloads (as ethtool -K tx off tso off
	// on a NIC): one system call per frame each way.
	NoOffload bool
}

// The virtio-net header (struct virtio_net_hdr, legacy layout, in the
// host's byte order as the TAP's default).
const (
	vnetHdrLen = 10

	vnetFlagNeedsCsum = 1 // VIRTIO_NET_HDR_F_NEEDS_CSUM: checksum from CsumStart, stored at CsumStart+CsumOffset
	vnetFlagDataValid = 2 // VIRTIO_NET_HDR_F_DATA_VALID: the checksum was verified

	vnetGSONone  = 0    // VIRTIO_NET_HDR_GSO_NONE
	vnetGSOTCPv4 = 1    // VIRTIO_NET_HDR_GSO_TCPV4
	vnetGSOECN   = 0x80 // VIRTIO_NET_HDR_GSO_ECN: CWR on the first segment only

	// TUNSETOFFLOAD flags: what the reader can take from the kernel.
	tunFCsum = 0x01 // TUN_F_CSUM
	tunFTSO4 = 0x02 // TUN_F_TSO4

	// tapTxRing is the writer's ring, in frames (or 64 KB packets).
	tapTxRing = 256
)

// vnetHdr is a typed view of the 10-byte virtio-net header.
type vnetHdr []byte

func (h vnetHdr) flags() uint8       { return h[0] }
func (h vnetHdr) gsoType() uint8     { return h[1] }
func (h vnetHdr) gsoSize() uint16    { return binary.NativeEndian.Uint16(h[4:]) }
func (h vnetHdr) csumStart() uint16  { return binary.NativeEndian.Uint16(h[6:]) }
func (h vnetHdr) csumOffset() uint16 { return binary.NativeEndian.Uint16(h[8:]) }
func (h vnetHdr) set(flags, gsoType uint8, hdrLen, gsoSize, csumStart, csumOffset uint16) {
	h[0], h[1] = flags, gsoType
	binary.NativeEndian.PutUint16(h[2:], hdrLen)
	binary.NativeEndian.PutUint16(h[4:], gsoSize)
	binary.NativeEndian.PutUint16(h[6:], csumStart)
	binary.NativeEndian.PutUint16(h[8:], csumOffset)
}

// NewTAP creates (or attaches to) a TAP interface and registers it.
func NewTAP(c *netcore.Core, cfg TAPConfig) (*TAP, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("link: open /dev/net/tun: %w", err)
	}
	ifr, err := unix.NewIfreq(cfg.IfName)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("link: tap name %q: %w", cfg.IfName, err)
	}
	flags := uint16(unix.IFF_TAP | unix.IFF_NO_PI)
	if !cfg.NoOffload {
		flags |= unix.IFF_VNET_HDR
	}
	ifr.SetUint16(flags)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("link: TUNSETIFF %q: %w", cfg.IfName, err)
	}
	var features netcore.Features
	if !cfg.NoOffload {
		if err := unix.IoctlSetPointerInt(fd, unix.TUNSETVNETHDRSZ, vnetHdrLen); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("link: TUNSETVNETHDRSZ %q: %w", cfg.IfName, err)
		}
		if err := unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, tunFCsum|tunFTSO4); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("link: TUNSETOFFLOAD %q: %w", cfg.IfName, err)
		}
		features = netcore.FeatureRxCsum | netcore.FeatureIPCsum | netcore.FeatureTSO
	}
	t := &TAP{fd: fd, IfName: ifr.Name(), offload: !cfg.NoOffload}
	if cfg.Name == "" {
		cfg.Name = "r" + t.IfName
	}
	t.Dev, err = c.Register(netcore.DeviceConfig{
		Name: cfg.Name, HardwareAddr: RandomMAC(), MTU: cfg.MTU, CPU: cfg.CPU, Kind: "tap",
		Features: features,
	}, t)
	if err != nil {
		t.close()
		return nil, err
	}
	t.napi = t.Dev.NetifNAPIAdd(t.poll, 0)
	return t, nil
}

// Open implements netcore.DeviceOps: starts the goroutine that plays the
// interrupt line (irq).
func (t *TAP) Open() error {
	fd, err := unix.FcntlInt(uintptr(t.fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("link: %s: dup: %w", t.IfName, err)
	}
	f := os.NewFile(uintptr(fd), "tap-"+t.IfName) // non-blocking: Go's poller takes it
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return fmt.Errorf("link: %s: %w", t.IfName, err)
	}
	t.irqFile = f
	t.txMu.Lock()
	t.txRing, t.txStop, t.txOpen = make(chan *skb.Buff, tapTxRing), make(chan struct{}), true
	t.txMu.Unlock()
	t.wg.Add(2)
	go t.irq(rc)
	go t.writer(t.txRing, t.txStop)
	t.Dev.NetifCarrierOn()
	return nil
}

// Stop implements netcore.DeviceOps.
func (t *TAP) Stop() error {
	t.irqFile.Close() // ends irq's wait
	t.txMu.Lock()
	t.txOpen = false
	close(t.txStop)
	t.txMu.Unlock()
	t.wg.Wait()
	for len(t.txRing) > 0 { // what the writer left is dropped, as a NIC's ring at reset
		(<-t.txRing).Free()
		t.Dev.Stats.TxDropped.Add(1)
	}
	if t.rxBig != nil { // NAPI is disabled: the poll is not running
		t.rxBig.Free()
		t.rxBig = nil
	}
	t.irqFile = nil
	t.Dev.NetifCarrierOff()
	return nil
}

// Close stops the device if needed and closes the TAP.
func (t *TAP) Close() error {
	err := t.Dev.Core().Unregister(t.Dev)
	t.close()
	return err
}

func (t *TAP) close() {
	if t.rxBig != nil {
		t.rxBig.Free()
		t.rxBig = nil
	}
	unix.Close(t.fd)
}

// irq plays the interrupt line: each time the TAP becomes readable it
// schedules NAPI, whose poll reads until the TAP is empty. It waits in
// Go's poller (edge-triggered), as the irq package's lines do, inside one
// RawConn.Read for the device's life, so a readiness that comes while the
// poll runs is kept for the next wait, not lost. The line is never
// masked: a frame that arrives while NAPI polls schedules it again, which
// NAPI keeps as missed (NAPI_STATE_MISSED) and polls once more, at the
// cost of at most one empty read. (It was a goroutine in poll(2) that
// the poll unmasked through an eventfd: four system calls and two thread
// wake-ups a NAPI cycle more, which one 64 KB packet each round trip of
// a TCP transfer over the TAP paid in full.)
func (t *TAP) irq(rc syscall.RawConn) {
	defer t.wg.Done()
	rc.Read(func(uintptr) bool {
		t.napi.Schedule()
		return false
	})
}

// poll reads up to budget frames.
func (t *TAP) poll(budget int) int {
	work := 0
	for work < budget {
		var b *skb.Buff
		var ok bool
		if t.offload {
			b, ok = t.readVnet()
		} else {
			b, ok = t.read()
		}
		if !ok {
			break
		}
		work++
		if b == nil {
			continue // dropped and counted
		}
		if !t.Dev.EthTypeTrans(b) {
			t.Dev.Stats.RxLengthErrors.Add(1)
			b.Free()
			continue
		}
		t.napi.GROReceive(b) // Linux's tun does GRO too
	}
	if work < budget {
		t.napi.Complete()
	}
	return work
}

// read reads one plain frame; ok is false when the TAP is empty.
func (t *TAP) read() (b *skb.Buff, ok bool) {
	b = skb.Alloc(skb.DataSize - skb.Headroom)
	n, err := unix.Read(t.fd, b.Put(b.Tailroom()))
	if err != nil || n <= 0 {
		b.Free()
		t.readFailed(err)
		return nil, false
	}
	b.Trim(n)
	return b, true
}

func (t *TAP) readFailed(err error) {
	if err != nil && !errors.Is(err, unix.EAGAIN) {
		t.Dev.Stats.RxErrors.Add(1)
	}
}

// readVnet reads one frame with its virtio-net header into the large
// buffer. A frame that fits a small buffer is copied into one (the large
// buffer stays for the next read, as a driver's copybreak); a larger one
// goes up in the large buffer. ok is false when the TAP is empty; b is
// nil, with ok true, for a frame dropped and counted.
func (t *TAP) readVnet() (b *skb.Buff, ok bool) {
	if t.rxBig == nil {
		t.rxBig = skb.Alloc(skb.MaxDataSize - skb.Headroom)
	}
	big := t.rxBig
	big.Reset()
	n, err := unix.Read(t.fd, big.Put(big.Tailroom()))
	if err != nil || n <= 0 {
		t.readFailed(err)
		return nil, false
	}
	if n < vnetHdrLen+header.EthernetLen {
		t.RxBadVnet.Add(1)
		t.Dev.Stats.RxLengthErrors.Add(1)
		return nil, true
	}
	big.Trim(n)
	h := vnetHdr(big.Pull(vnetHdrLen)) // stays in big's headroom, untouched below
	if big.Len() <= skb.DataSize-skb.Headroom {
		b = skb.Alloc(big.Len())
		copy(b.Put(big.Len()), big.Data())
	} else {
		b, t.rxBig = big, nil
	}
	if !t.applyVnet(b, h) {
		t.RxBadVnet.Add(1)
		t.Dev.Stats.RxErrors.Add(1)
		b.Free()
		return nil, true
	}
	return b, true
}

// applyVnet carries the header's offload state onto the frame b: a
// checksum the kernel left (NEEDS_CSUM, locally built so not to be
// verified) becomes CsumValid and CsumPartial with the field zeroed, the
// stack's CHECKSUM_PARTIAL; a TCP packet of several segments gets its
// GSOSize. It reports false for a header that does not fit the frame.
func (t *TAP) applyVnet(b *skb.Buff, h vnetHdr) bool {
	frame := b.Data()
	if h.flags()&vnetFlagNeedsCsum != 0 {
		off := int(h.csumStart()) + int(h.csumOffset())
		if int(h.csumStart()) < header.EthernetLen || off+2 > len(frame) {
			return false
		}
		frame[off], frame[off+1] = 0, 0
		b.CsumPartial, b.CsumValid = true, true
		t.RxCsumLeft.Add(1)
	} else if h.flags()&vnetFlagDataValid != 0 {
		b.CsumValid = true
	}
	switch h.gsoType() &^ vnetGSOECN {
	case vnetGSONone:
	case vnetGSOTCPv4:
		if h.gsoSize() == 0 || h.flags()&vnetFlagNeedsCsum == 0 {
			return false
		}
		b.GSOSize = h.gsoSize()
		t.RxGSO.Add(1)
	default:
		return false // never offered (no TUN_F_TSO6, TUN_F_UFO)
	}
	return true
}

// StartXmit implements netcore.DeviceOps: the frame (or TCP packet of up
// to 64 KB, with offloads) goes onto the writer's ring, one write(2)
// each.
func (t *TAP) StartXmit(b *skb.Buff) netcore.TxStatus {
	if t.offload {
		if b = t.pushVnet(b); b == nil {
			t.Dev.Stats.TxErrors.Add(1)
			return netcore.TxOK
		}
	}
	t.txMu.Lock()
	defer t.txMu.Unlock()
	if !t.txOpen { // racing Stop
		b.Free()
		t.Dev.Stats.TxDropped.Add(1)
		return netcore.TxOK
	}
	select {
	case t.txRing <- b:
		return netcore.TxOK
	default:
	}
	t.Dev.NetifStopQueue()
	select {
	case t.txRing <- b: // the writer made room meanwhile
		t.Dev.NetifWakeQueue()
		return netcore.TxOK
	default:
		return netcore.TxBusy // the core requeues b
	}
}

// writer writes the ring's frames to the TAP in order and wakes the
// transmit queue once the ring is half empty (the device's TX completion).
func (t *TAP) writer(ring chan *skb.Buff, stop chan struct{}) {
	defer t.wg.Done()
	for {
		var b *skb.Buff
		select {
		case b = <-ring:
		case <-stop:
			return
		}
		n, err := unix.Write(t.fd, b.Data())
		if err != nil || n != b.Len() {
			t.TxWriteErrs.Add(1)
			t.Dev.Stats.TxErrors.Add(1)
		}
		b.Free()
		if len(ring) <= cap(ring)/2 && t.Dev.NetifQueueStopped() && t.Dev.IsUp() {
			t.Dev.NetifWakeQueue()
		}
	}
}

// pushVnet puts the virtio-net header in front of the frame in b: a
// partial checksum becomes NEEDS_CSUM with the pseudo-header sum in the
// field (the kernel sums from csum_start over it, as Linux's
// CHECKSUM_PARTIAL contract has it), a GSO packet GSO_TCPV4 with its
// segment size and header length. It returns the buffer to write (a copy
// when b's data is shared with a clone or has no headroom for the
// header), or nil for a frame the offloads cannot describe.
func (t *TAP) pushVnet(b *skb.Buff) *skb.Buff {
	if b.Cloned() || b.Headroom() < vnetHdrLen {
		c := b.Copy()
		b.Free()
		if c == nil {
			return nil
		}
		b = c
	}
	var flags, gsoType uint8
	var hdrLen, gsoSize, csumStart, csumOff uint16
	if b.CsumPartial || b.GSOSize > 0 {
		frame := b.Data()
		if len(frame) < header.EthernetLen || binary.BigEndian.Uint16(frame[12:]) != netcore.EthPIPv4 {
			b.Free()
			return nil
		}
		pkt := frame[header.EthernetLen:]
		ihl, proto, off, err := gso.Transport(pkt)
		if err != nil || b.GSOSize > 0 && (proto != header.ProtoTCP || ihl+header.TCPMinLen > len(pkt)) {
			b.Free()
			return nil
		}
		var src, dst [4]byte
		copy(src[:], pkt[12:16])
		copy(dst[:], pkt[16:20])
		binary.BigEndian.PutUint16(pkt[off:], ^header.Fold(header.PseudoHeaderSum(src, dst, proto, len(pkt)-ihl)))
		flags = vnetFlagNeedsCsum
		csumStart, csumOff = uint16(header.EthernetLen+ihl), uint16(off-ihl)
		t.TxCsumLeft.Add(1)
		if b.GSOSize > 0 {
			gsoType, gsoSize = vnetGSOTCPv4, b.GSOSize
			hdrLen = csumStart + uint16(pkt[ihl+12]>>4)*4
			t.TxGSO.Add(1)
		}
	}
	vnetHdr(b.Push(vnetHdrLen)).set(flags, gsoType, hdrLen, gsoSize, csumStart, csumOff)
	return b
}

// NAPI is the device's polling context.
func (t *TAP) NAPI() *netcore.NAPI { return t.napi }
