package e1000x

import (
	"sync"
	"sync/atomic"

	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/counter"
)

// Statistics registers (8254x SDM 13.7, 82574 datasheet 10.2.5): the same
// offsets on both parts, all clear on read.
const (
	RegCRCERRS  = 0x04000 // CRC Error Count
	RegALGNERRC = 0x04004 // Alignment Error Count
	RegSYMERRS  = 0x04008 // Symbol Error Count
	RegRXERRC   = 0x0400c // RX Error Count
	RegMPC      = 0x04010 // Missed Packets Count (RX FIFO full)
	RegSCC      = 0x04014 // Single Collision Count
	RegECOL     = 0x04018 // Excessive Collisions Count
	RegMCC      = 0x0401c // Multiple Collision Count
	RegLATECOL  = 0x04020 // Late Collisions Count
	RegCOLC     = 0x04028 // Collision Count
	RegDC       = 0x04030 // Defer Count
	RegSEC      = 0x04038 // Sequence Error Count
	RegRLEC     = 0x04040 // Receive Length Error Count
	RegXONRXC   = 0x04048 // XON Received Count
	RegXONTXC   = 0x0404c // XON Transmitted Count
	RegXOFFRXC  = 0x04050 // XOFF Received Count
	RegXOFFTXC  = 0x04054 // XOFF Transmitted Count
	RegFCRUC    = 0x04058 // FC Received Unsupported Count
	RegPRC64    = 0x0405c // Packets Received (64 Bytes) Count
	RegGPRC     = 0x04074 // Good Packets Received Count
	RegBPRC     = 0x04078 // Broadcast Packets Received Count
	RegMPRC     = 0x0407c // Multicast Packets Received Count
	RegGPTC     = 0x04080 // Good Packets Transmitted Count
	RegGORCL    = 0x04088 // Good Octets Received Count (low, high)
	RegGORCH    = 0x0408c
	RegGOTCL    = 0x04090 // Good Octets Transmitted Count (low, high)
	RegGOTCH    = 0x04094
	RegRNBC     = 0x040a0 // Receive No Buffers Count
	RegRUC      = 0x040a4 // Receive Undersize Count
	RegRFC      = 0x040a8 // Receive Fragment Count
	RegROC      = 0x040ac // Receive Oversize Count
	RegRJC      = 0x040b0 // Receive Jabber Count
	RegTORL     = 0x040c0 // Total Octets Received (low, high)
	RegTORH     = 0x040c4
	RegTOTL     = 0x040c8 // Total Octets Transmitted (low, high)
	RegTOTH     = 0x040cc
	RegTPR      = 0x040d0 // Total Packets Received
	RegTPT      = 0x040d4 // Total Packets Transmitted
	RegMPTC     = 0x040f0 // Multicast Packets Transmitted Count
	RegBPTC     = 0x040f4 // Broadcast Packets Transmitted Count

	// RegStatsEnd bounds the block: [RegCRCERRS, RegStatsEnd).
	RegStatsEnd = 0x04100
)

// hwStat names a statistics register and how it reads: 32-bit counters, or
// a 64-bit count split in low and high halves (read low first).
type hwStat struct {
	name string
	reg  uint32
	high uint32 // 0 for a 32-bit counter
	// netdev is the interface counter the register also feeds, as
	// e1000_update_stats fills rtnl_link_stats64 (ip -s link).
	netdev func(*netcore.Stats) *atomic.Uint64
}

var hwStatRegs = [...]hwStat{
	{"crc_errors", RegCRCERRS, 0, func(s *netcore.Stats) *atomic.Uint64 { return &s.RxCRCErrors }},
	{"symbol_errors", RegSYMERRS, 0, nil},
	{"rx_errors", RegRXERRC, 0, nil},
	{"missed_packets", RegMPC, 0, func(s *netcore.Stats) *atomic.Uint64 { return &s.RxMissedErrors }},
	{"single_collisions", RegSCC, 0, nil},
	{"excessive_collisions", RegECOL, 0, nil},
	{"multiple_collisions", RegMCC, 0, nil},
	{"late_collisions", RegLATECOL, 0, nil},
	{"collisions", RegCOLC, 0, func(s *netcore.Stats) *atomic.Uint64 { return &s.Collisions }},
	{"defer_count", RegDC, 0, nil},
	{"rx_length_errors", RegRLEC, 0, func(s *netcore.Stats) *atomic.Uint64 { return &s.RxLengthErrors }},
	{"xon_rx", RegXONRXC, 0, nil},
	{"xon_tx", RegXONTXC, 0, nil},
	{"xoff_rx", RegXOFFRXC, 0, nil},
	{"xoff_tx", RegXOFFTXC, 0, nil},
	{"good_packets_rx", RegGPRC, 0, nil},
	{"broadcast_rx", RegBPRC, 0, nil},
	{"multicast_rx", RegMPRC, 0, nil},
	{"good_packets_tx", RegGPTC, 0, nil},
	{"good_octets_rx", RegGORCL, RegGORCH, nil},
	{"good_octets_tx", RegGOTCL, RegGOTCH, nil},
	{"rx_no_buffer", RegRNBC, 0, nil},
	{"rx_undersize", RegRUC, 0, nil},
	{"rx_fragments", RegRFC, 0, nil},
	{"rx_oversize", RegROC, 0, nil},
	{"rx_jabbers", RegRJC, 0, nil},
	{"total_octets_rx", RegTORL, RegTORH, nil},
	{"total_octets_tx", RegTOTL, RegTOTH, nil},
	{"total_packets_rx", RegTPR, 0, nil},
	{"total_packets_tx", RegTPT, 0, nil},
	{"multicast_tx", RegMPTC, 0, nil},
	{"broadcast_tx", RegBPTC, 0, nil},
}

// Stats accumulates the clear-on-read statistics registers into 64-bit
// counters (e1000_update_stats). The parts clear each register when it is
// read; QEMU's models clear most, but not MPC, RNBC and the collision and
// length-error counters, which keep their running total. Added again on
// every read, such a total grows while the link is idle (DPDK's e1000 PMD
// reports tens of millions of missed packets on QEMU this way). So the
// first time a 32-bit register reads non-zero it is read twice: a second
// value at least as large means it keeps its total, and from then on the
// driver adds differences.
type Stats struct {
	mu   sync.Mutex
	acc  [len(hwStatRegs)]uint64
	mode [len(hwStatRegs)]statMode
	last [len(hwStatRegs)]uint32 // a total-keeping register's last value
}

type statMode uint8

const (
	statUnknown statMode = iota // not yet seen non-zero
	statClears                  // clears on read, as the datasheet says
	statKeeps                   // keeps its running total (QEMU)
)

// sample is the count register i gained since it was last taken.
func (s *Stats) sample(r Regs, i int) uint64 {
	st := hwStatRegs[i]
	if st.high != 0 { // low then high: reading the high half clears both
		v := uint64(r.Read(st.reg))
		return v | uint64(r.Read(st.high))<<32
	}
	v := r.Read(st.reg)
	switch s.mode[i] {
	case statClears:
		return uint64(v)
	case statKeeps:
		d := v - s.last[i]
		if v < s.last[i] {
			d = v // a device reset zeroed it (a wrap past 2^32 is years away)
		}
		s.last[i] = v
		return uint64(d)
	}
	if v == 0 {
		return 0
	}
	again := r.Read(st.reg)
	if again >= v {
		s.mode[i], s.last[i] = statKeeps, again
		return uint64(again)
	}
	s.mode[i] = statClears
	return uint64(v) + uint64(again)
}

// Update reads the registers when the device is running (read is false
// otherwise: a stopped or resetting device is not touched), adds them to
// the totals and to the device's interface counters, and returns every
// total in the order ethtool -S prints them.
func (s *Stats) Update(r Regs, read bool, dev *netcore.Device) []counter.Stat {
	s.mu.Lock()
	defer s.mu.Unlock()
	if read {
		for i, st := range hwStatRegs {
			v := s.sample(r, i)
			s.acc[i] += v
			if v != 0 && st.netdev != nil && dev != nil {
				st.netdev(&dev.Stats).Add(v)
			}
		}
	}
	out := make([]counter.Stat, len(hwStatRegs))
	for i, st := range hwStatRegs {
		out[i] = counter.Stat{Name: st.name, Value: s.acc[i]}
	}
	return out
}
