package e1000

import (
	"sync"
	"sync/atomic"

	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/counter"
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
	{"crc_errors", regCRCERRS, 0, func(s *netcore.Stats) *atomic.Uint64 { return &s.RxCRCErrors }},
	{"symbol_errors", regSYMERRS, 0, nil},
	{"rx_errors", regRXERRC, 0, nil},
	{"missed_packets", regMPC, 0, func(s *netcore.Stats) *atomic.Uint64 { return &s.RxMissedErrors }},
	{"single_collisions", regSCC, 0, nil},
	{"excessive_collisions", regECOL, 0, nil},
	{"multiple_collisions", regMCC, 0, nil},
	{"late_collisions", regLATECOL, 0, nil},
	{"collisions", regCOLC, 0, func(s *netcore.Stats) *atomic.Uint64 { return &s.Collisions }},
	{"defer_count", regDC, 0, nil},
	{"rx_length_errors", regRLEC, 0, func(s *netcore.Stats) *atomic.Uint64 { return &s.RxLengthErrors }},
	{"xon_rx", regXONRXC, 0, nil},
	{"xon_tx", regXONTXC, 0, nil},
	{"xoff_rx", regXOFFRXC, 0, nil},
	{"xoff_tx", regXOFFTXC, 0, nil},
	{"good_packets_rx", regGPRC, 0, nil},
	{"broadcast_rx", regBPRC, 0, nil},
	{"multicast_rx", regMPRC, 0, nil},
	{"good_packets_tx", regGPTC, 0, nil},
	{"good_octets_rx", regGORCL, regGORCH, nil},
	{"good_octets_tx", regGOTCL, regGOTCH, nil},
	{"rx_no_buffer", regRNBC, 0, nil},
	{"rx_undersize", regRUC, 0, nil},
	{"rx_fragments", regRFC, 0, nil},
	{"rx_oversize", regROC, 0, nil},
	{"rx_jabbers", regRJC, 0, nil},
	{"total_octets_rx", regTORL, regTORH, nil},
	{"total_octets_tx", regTOTL, regTOTH, nil},
	{"total_packets_rx", regTPR, 0, nil},
	{"total_packets_tx", regTPT, 0, nil},
	{"multicast_tx", regMPTC, 0, nil},
	{"broadcast_tx", regBPTC, 0, nil},
}

// hwStats accumulates the clear-on-read statistics registers into 64-bit
// counters (e1000_update_stats). The 82540EM clears each register when it
// is read; QEMU's model clears most, but not MPC, RNBC and the
// collision and length-error counters, which keep their running total.
// Added again on every read, such a total grows while the link is idle
// (DPDK's e1000 PMD reports tens of millions of missed packets on QEMU
// this way). So the first time a 32-bit register reads non-zero it is
// read twice: a second value at least as large means it keeps its
// total, and from then on the driver adds differences.
type hwStats struct {
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
func (s *hwStats) sample(r regs, i int) uint64 {
	st := hwStatRegs[i]
	if st.high != 0 { // low then high: reading the high half clears both
		v := uint64(r.read(st.reg))
		return v | uint64(r.read(st.high))<<32
	}
	v := r.read(st.reg)
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
	again := r.read(st.reg)
	if again >= v {
		s.mode[i], s.last[i] = statKeeps, again
		return uint64(again)
	}
	s.mode[i] = statClears
	return uint64(v) + uint64(again)
}

// HWStats reads the statistics registers, adds them to the running totals
// and returns every total, in the order ethtool -S would print them.
func (d *Driver) HWStats() []counter.Stat {
	s := &d.hwStats
	s.mu.Lock()
	defer s.mu.Unlock()
	if d.running.Load() {
		for i, st := range hwStatRegs {
			v := s.sample(d.r, i)
			s.acc[i] += v
			if v != 0 && st.netdev != nil {
				st.netdev(&d.Dev.Stats).Add(v)
			}
		}
	}
	out := make([]counter.Stat, len(hwStatRegs))
	for i, st := range hwStatRegs {
		out[i] = counter.Stat{Name: st.name, Value: s.acc[i]}
	}
	return out
}

// HWStat returns one accumulated counter by name after a fresh read.
func (d *Driver) HWStat(name string) uint64 {
	for _, s := range d.HWStats() {
		if s.Name == name {
			return s.Value
		}
	}
	return 0
}
