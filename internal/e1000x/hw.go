package e1000x

import (
	"encoding/binary"
	"fmt"
	"net"
	"time"

	"github.com/ringonet/ringo/netcore/counter"
)

// Registers and bits at the same offsets on the 8254x and the 82574 (SDM
// 13, datasheet 10.2): what the shared bring-up and shutdown below touch.
const (
	regCTRL   = 0x00000 // Device Control
	regSTATUS = 0x00008 // Device Status
	regEERD   = 0x00014 // EEPROM Read
	regICR    = 0x000c0 // Interrupt Cause Read
	regIMC    = 0x000d8 // Interrupt Mask Clear
	regRCTL   = 0x00100 // Receive Control
	regTCTL   = 0x00400 // Transmit Control
	regRAL0   = 0x05400 // Receive Address Low (entry 0)
	regRAH0   = 0x05404 // Receive Address High (entry 0)

	ctrlRST = 1 << 26 // Device Reset (self-clearing)
	tctlPSP = 1 << 3  // Pad Short Packets
	rahAV   = 1 << 31 // Address Valid

	rctlEN        = 1 << 1  // Receiver Enable
	rctlUPE       = 1 << 3  // Unicast Promiscuous Enable
	rctlMPE       = 1 << 4  // Multicast Promiscuous Enable
	rctlRDMTSHalf = 0 << 8  // Receive Descriptor Minimum Threshold: 1/2 RDLEN
	rctlBAM       = 1 << 15 // Broadcast Accept Mode
	rctlBSIZE2048 = 0 << 16 // Receive Buffer Size 2048, with BSEX = 0
	rctlSECRC     = 1 << 26 // Strip Ethernet CRC
)

// ResetTimeout bounds the wait for CTRL.RST to self-clear; the manuals ask
// for a microsecond, QEMU clears it at once, real parts within
// milliseconds.
const ResetTimeout = 100 * time.Millisecond

// Quiesce masks every interrupt and stops both DMA engines, then flushes
// the posted writes: what comes before a reset, and all a stop needs.
func (r Regs) Quiesce() {
	r.Write(regIMC, 0xffffffff)
	r.Write(regRCTL, 0)
	r.Write(regTCTL, tctlPSP)
	r.Read(regSTATUS)
}

// Reset quiesces the part and issues a software reset (CTRL.RST: SDM
// 14.5, e1000_reset_hw_82571), leaving every interrupt masked and ICR
// read. QEMU's 8254x rejects VFIO's function reset, and its 82574 reloads
// only the station address on CTRL.RST: a driver programs every register
// it relies on after this.
func (r Regs) Reset() error {
	r.Quiesce()
	time.Sleep(10 * time.Millisecond)
	r.Set(regCTRL, ctrlRST)
	time.Sleep(time.Millisecond) // before the registers are touched again
	if err := r.WaitClear(regCTRL, ctrlRST, ResetTimeout); err != nil {
		return fmt.Errorf("reset: %w", err)
	}
	r.Write(regIMC, 0xffffffff)
	r.Read(regICR)
	return nil
}

// EERD is a part's EEPROM Read register layout: the 8254x and the 82574
// put the done bit and the address at different places.
type EERD struct {
	Done      uint32
	AddrShift uint
}

// eerdStart and eerdDataShift are the same on both parts.
const (
	eerdStart     = 1 << 0
	eerdDataShift = 16
)

// NVMRead reads one 16-bit EEPROM word through EERD.
func (r Regs) NVMRead(l EERD, word int) (uint16, error) {
	r.Write(regEERD, uint32(word)<<l.AddrShift|eerdStart)
	if err := r.WaitSet(regEERD, l.Done, 10*time.Millisecond); err != nil {
		return 0, fmt.Errorf("EERD word %d: %w", word, err)
	}
	return uint16(r.Read(regEERD) >> eerdDataShift), nil
}

// StationAddress reads the MAC address from RAL0/RAH0, where the EEPROM
// load after reset puts it; with RAH.AV clear, from EEPROM words 0-2.
func (r Regs) StationAddress(l EERD) (net.HardwareAddr, error) {
	if rah := r.Read(regRAH0); rah&rahAV != 0 {
		ral := r.Read(regRAL0)
		return net.HardwareAddr{byte(ral), byte(ral >> 8), byte(ral >> 16), byte(ral >> 24), byte(rah), byte(rah >> 8)}, nil
	}
	mac := make(net.HardwareAddr, 6)
	for i := 0; i < 3; i++ {
		w, err := r.NVMRead(l, i)
		if err != nil {
			return nil, err
		}
		mac[2*i], mac[2*i+1] = byte(w), byte(w>>8)
	}
	return mac, nil
}

// SetStationAddress writes the MAC address to RAL0/RAH0, valid.
func (r Regs) SetStationAddress(mac net.HardwareAddr) {
	r.Write(regRAL0, binary.LittleEndian.Uint32(mac[0:4]))
	r.Write(regRAH0, uint32(binary.LittleEndian.Uint16(mac[4:6]))|rahAV)
}

// RxControl is the receive control word both drivers run with: receiver
// on, broadcasts in, CRC stripped, 2 KB buffers, the descriptor threshold
// interrupt at half the ring; promiscuous takes every unicast and
// multicast frame.
func RxControl(promisc bool) uint32 {
	v := uint32(rctlEN | rctlBAM | rctlSECRC | rctlBSIZE2048 | rctlRDMTSHalf)
	if promisc {
		v |= rctlUPE | rctlMPE
	}
	return v
}

// Lookup is the value of the statistic named name, 0 if there is none.
func Lookup(stats []counter.Stat, name string) uint64 {
	for _, s := range stats {
		if s.Name == name {
			return s.Value
		}
	}
	return 0
}
