package e1000e

import (
	"encoding/binary"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ringonet/ringo/internal/e1000x"
	"github.com/ringonet/ringo/internal/e1000x/e1000xtest"
	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/vfio"
)

// fake82574 models the parts of an 82574L the driver uses, after the
// datasheet and QEMU's e1000e: ICR/IMS/IMC with IAME and IAM for one
// vector, and for MSI-X the IVAR routing of each cause to its vector with
// EIAC clearing and masking it as it fires; two RX queues with extended
// descriptors, RSS (Toeplitz under RSSRK, RETA, MRQC) and receive
// checksums; two TX queues; the statistics block.
type fake82574 struct {
	t    testing.TB
	dma  *e1000xtest.DMA
	mac  [6]byte
	msix bool

	mu           sync.Mutex
	regs         map[uint32]uint32
	link         bool
	efds         []int // eventfds by vector
	fired        []int // interrupts raised, by vector
	txe          [MaxQueues]e1000xtest.TxEngine
	sent         [MaxQueues][][]byte
	rxq          [MaxQueues]int // frames written to each RX queue
	vlanFiltered int            // tagged frames the VFTA dropped
	holdTx       bool           // TDT writes send nothing: a wedged transmitter
}

func newFake(t testing.TB, msix bool) *fake82574 {
	n := 1
	if msix {
		n = NumVectors
	}
	f := &fake82574{t: t, dma: e1000xtest.NewDMA(), mac: [6]byte{0x52, 0x54, 0, 0xab, 0xcd, 0xef}, msix: msix, regs: map[uint32]uint32{}, link: true, fired: make([]int, n)}
	for range n {
		efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Close(efd) })
		f.efds = append(f.efds, efd)
	}
	f.loadNVM()
	return f
}

func (f *fake82574) loadNVM() {
	f.regs[regRAL0] = binary.LittleEndian.Uint32(f.mac[0:4])
	f.regs[regRAH0] = uint32(binary.LittleEndian.Uint16(f.mac[4:6])) | rah_AV
}

type vector struct{ fd int }

func (v vector) Fd() int       { return v.fd }
func (v vector) Unmask() error { return nil }

func (f *fake82574) hw() HW {
	hw := HW{Regs: f, DMA: f.dma, MSIX: f.msix}
	for _, fd := range f.efds {
		hw.IRQs = append(hw.IRQs, vfio.InterruptSource(vector{fd}))
	}
	return hw
}

func (f *fake82574) Read32(off uint32) uint32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch off {
	case regICR:
		v := f.regs[regICR]
		if f.regs[regIMS] == 0 {
			f.regs[regICR] = 0
		}
		if v&icr_ASSERTED != 0 && f.regs[regCTRL_EXT]&ctrlExt_IAME != 0 {
			f.regs[regICR] = 0
			f.regs[regIMS] &^= f.regs[regIAM]
		}
		return v
	case regSTATUS:
		if f.link {
			return status_FD | status_LU
		}
		return status_FD
	}
	if off >= e1000x.RegCRCERRS && off < e1000x.RegStatsEnd {
		v := f.regs[off]
		f.regs[off] = 0
		return v
	}
	return f.regs[off]
}

func (f *fake82574) Write32(off uint32, v uint32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch off {
	case regCTRL:
		if v&ctrl_RST != 0 { // as QEMU: the address reloads, the rest stays
			f.loadNVM()
			v &^= ctrl_RST
		}
		f.regs[off] = v
	case regIMS:
		f.regs[regIMS] |= v
		f.updateLocked()
	case regIMC:
		f.regs[regIMS] &^= v
	case regICS:
		f.raiseLocked(v)
	case regICR:
		f.regs[regICR] &^= v
		if v&icr_OTHER != 0 {
			f.regs[regICR] &^= icr_LSC | icr_RXO
		}
	case regTDT, qreg(regTDT, 1):
		f.regs[off] = v
		f.transmitLocked(int(off-regTDT) / queueStride)
	default:
		f.regs[off] = v
	}
}

// raiseLocked sets interrupt causes and delivers what IMS lets through.
func (f *fake82574) raiseLocked(causes uint32) {
	f.regs[regICR] |= causes
	f.updateLocked()
}

func (f *fake82574) updateLocked() {
	icr, ims := f.regs[regICR], f.regs[regIMS]
	if !f.msix {
		if icr&ims&^icr_ASSERTED != 0 {
			f.regs[regICR] |= icr_ASSERTED
			f.fireLocked(0)
		}
		return
	}
	if icr&(icr_LSC|icr_RXO) != 0 {
		icr |= icr_OTHER
		f.regs[regICR] = icr
	}
	ivar := f.regs[regIVAR]
	for i, cause := range []uint32{icr_RXQ0, icr_RXQ1, icr_TXQ0, icr_TXQ1, icr_OTHER} {
		if icr&ims&cause == 0 {
			continue
		}
		entry := ivar >> (4 * i) & 0xf
		if entry&ivarValid == 0 {
			f.t.Errorf("fake 82574: cause %#x fires with no valid IVAR entry (IVAR %#x)", cause, ivar)
			continue
		}
		f.fireLocked(int(entry & 7))
		if eiac := f.regs[regEIAC] & cause; eiac != 0 {
			f.regs[regICR] &^= eiac
			if f.regs[regCTRL_EXT]&ctrlExt_IAME == 0 {
				f.regs[regIMS] &^= eiac
			}
		}
	}
}

func (f *fake82574) fireLocked(vec int) {
	if vec >= len(f.efds) {
		f.t.Errorf("fake 82574: vector %d of %d", vec, len(f.efds))
		return
	}
	f.fired[vec]++
	one := [8]byte{1}
	unix.Write(f.efds[vec], one[:])
}

func (f *fake82574) desc(q int, baseLo, baseHi uint32, i uint32) []byte {
	base := uint64(f.regs[qreg(baseLo, q)]) | uint64(f.regs[qreg(baseHi, q)])<<32
	return f.dma.At(base+uint64(i)*16, 16)
}

// transmitLocked sends every descriptor from TDH to TDT of queue q.
func (f *fake82574) transmitLocked(q int) {
	if f.regs[regTCTL]&tctl_EN == 0 || f.regs[qreg(regTARC, q)]&tarc_ENABLE == 0 || f.holdTx {
		return
	}
	n := f.regs[qreg(regTDLEN, q)] / 16
	head, tail := qreg(regTDH, q), qreg(regTDT, q)
	for f.regs[head] != f.regs[tail] && n > 0 {
		d := f.desc(q, regTDBAL, regTDBAH, f.regs[head])
		frames, ok := f.txe[q].Take(d, f.dma)
		if !ok {
			f.t.Errorf("fake 82574: TX queue %d: DMA fault", q)
		}
		f.sent[q] = append(f.sent[q], frames...)
		f.regs[e1000x.RegGPTC] += uint32(len(frames))
		f.regs[head] = (f.regs[head] + 1) % n
	}
	if f.msix {
		f.raiseLocked(icrTXQ(q))
	} else {
		f.raiseLocked(icr_TXDW)
	}
}

// rss is what the part computes for a frame: hash type, hash, queue.
func (f *fake82574) rssLocked(frame []byte) (typ, hash uint32, q int) {
	mrqc := f.regs[regMRQC]
	if mrqc&3 != mrqc_RSS || f.regs[regRXCSUM]&rxcsum_PCSD == 0 || f.regs[regRFCTL]&rfctl_EXSTEN == 0 {
		return 0, 0, 0
	}
	var key [RSSKeyLen]byte
	for i := 0; i < rssKeyRegisters; i++ {
		binary.LittleEndian.PutUint32(key[4*i:], f.regs[regRSSRK+uint32(4*i)])
	}
	var in []byte
	switch binary.BigEndian.Uint16(frame[12:]) {
	case header.EtherTypeIPv4:
		ip := frame[14:]
		ihl := int(ip[0]&0xf) * 4
		frag := binary.BigEndian.Uint16(ip[6:])&0x3fff != 0
		switch {
		case ip[9] == header.ProtoTCP && !frag && mrqc&mrqc_TCPIPV4 != 0:
			typ, in = 1, append(append([]byte(nil), ip[12:20]...), ip[ihl:ihl+4]...)
		case mrqc&mrqc_IPV4 != 0:
			typ, in = 2, ip[12:20]
		}
	case header.EtherTypeIPv6:
		ip := frame[14:]
		switch {
		case ip[6] == header.ProtoTCP && mrqc&mrqc_TCPIPV6 != 0:
			typ, in = 3, append(append([]byte(nil), ip[8:40]...), ip[40:44]...)
		case mrqc&mrqc_IPV6 != 0:
			typ, in = 5, ip[8:40]
		}
	}
	if typ == 0 {
		return 0, 0, 0
	}
	hash = toeplitz(key[:], in)
	entry := f.regs[regRETA+uint32(hash&0x7f)/4*4] >> (8 * (hash & 3))
	if entry&retaQueueBit != 0 {
		q = 1
	}
	return typ, hash, q
}

// csumLocked is the receive checksum status of a frame (IPv4 TCP and UDP).
func (f *fake82574) csumLocked(frame []byte) uint32 {
	if binary.BigEndian.Uint16(frame[12:]) != header.EtherTypeIPv4 {
		return 0
	}
	ip := frame[14:]
	ihl := int(ip[0]&0xf) * 4
	var st uint32
	if f.regs[regRXCSUM]&rxcsum_IPOFL != 0 {
		st |= rxdStat_IPCS
		if header.Fold(header.Checksum(ip[:ihl], 0)) != 0 {
			st |= rxdErr_IPE
		}
	}
	proto := ip[9]
	if f.regs[regRXCSUM]&rxcsum_TUOFL == 0 || (proto != header.ProtoTCP && proto != header.ProtoUDP) {
		return st
	}
	l4 := ip[ihl:binary.BigEndian.Uint16(ip[2:])]
	sum := header.PseudoHeaderSum([4]byte(ip[12:16]), [4]byte(ip[16:20]), proto, len(l4))
	st |= rxdStat_TCPCS
	if proto == header.ProtoUDP {
		st |= rxdStat_UDPCS
	}
	if header.Fold(header.Checksum(l4, sum)) != 0 {
		st |= rxdErr_TCPE
	}
	return st
}

// receive writes a frame into the next posted buffer of the queue RSS
// picks, as the part does; false when that queue has no buffer or the
// VLAN filter drops it. With CTRL.VME a tagged frame loses its tag to the
// descriptor.
func (f *fake82574) receive(frame []byte) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	var vlan uint16
	var vp uint32
	if len(frame) >= 18 && uint32(binary.BigEndian.Uint16(frame[12:])) == f.regs[regVET] && f.regs[regVET] != 0 {
		tci := binary.BigEndian.Uint16(frame[14:])
		vid := tci & 0xfff
		if f.regs[regRCTL]&rctl_VFE != 0 && f.regs[e1000x.RegVFTA(int(vid>>5))]&(1<<(vid&31)) == 0 {
			f.vlanFiltered++
			return false
		}
		if f.regs[regCTRL]&ctrl_VME != 0 {
			frame = append(append([]byte(nil), frame[:12]...), frame[16:]...)
			vlan, vp = tci, rxdStat_VP
		}
	}
	typ, hash, q := f.rssLocked(frame)
	se := uint32(rxdStat_DD|rxdStat_EOP) | vp | f.csumLocked(frame)
	return f.writeRxLocked(q, frame, se, typ|uint32(q)<<8, hash, len(frame), vlan)
}

// receiveRaw writes whatever a hostile device would into queue q.
func (f *fake82574) receiveRaw(q int, frame []byte, se uint32, length int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.writeRxLocked(q, frame, se, 0, 0, length, 0)
}

func (f *fake82574) writeRxLocked(q int, frame []byte, se, mrq, hash uint32, length int, vlan uint16) bool {
	head, tail := qreg(regRDH, q), qreg(regRDT, q)
	if f.regs[regRCTL]&rctl_EN == 0 || f.regs[head] == f.regs[tail] {
		f.regs[e1000x.RegMPC]++
		return false
	}
	d := f.desc(q, regRDBAL, regRDBAH, f.regs[head])
	buf := f.dma.At(binary.LittleEndian.Uint64(d[0:]), len(frame))
	if buf == nil {
		f.t.Errorf("fake 82574: RX queue %d: DMA fault", q)
		return false
	}
	copy(buf, frame)
	binary.LittleEndian.PutUint32(d[rxdMRQ:], mrq)
	binary.LittleEndian.PutUint32(d[rxdRSSHash:], hash)
	binary.LittleEndian.PutUint32(d[rxdLenVlan:], uint32(uint16(length))|uint32(vlan)<<16)
	e1000x.StoreWord(d, rxdStatusErr, se)
	f.regs[head] = (f.regs[head] + 1) % (f.regs[qreg(regRDLEN, q)] / 16)
	f.regs[e1000x.RegGPRC]++
	f.rxq[q]++
	if f.msix {
		f.raiseLocked(icrRXQ(q))
	} else {
		f.raiseLocked(icr_RXT0)
	}
	return true
}

func (f *fake82574) setLink(up bool) {
	f.mu.Lock()
	f.link = up
	f.raiseLocked(icr_LSC)
	f.mu.Unlock()
}

func (f *fake82574) firedBy(vec int) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fired[vec]
}

func (f *fake82574) sentOn(q int) [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]byte(nil), f.sent[q]...)
}

func (f *fake82574) rxOn(q int) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rxq[q]
}

func (f *fake82574) reg(off uint32) uint32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.regs[off]
}

// csumOf is the receive checksum status the part would report for frame.
func (f *fake82574) csumOf(frame []byte) uint32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.csumLocked(frame)
}
