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
// counters (e1000_update_stats).
type hwStats struct {
	mu  sync.Mutex
	acc [len(hwStatRegs)]uint64
}

// HWStats reads the statistics registers, adds them to the running totals
// and returns every total, in the order ethtool -S would print them.
func (d *Driver) HWStats() []counter.Stat {
	s := &d.hwStats
	s.mu.Lock()
	defer s.mu.Unlock()
	if d.running.Load() {
		for i, st := range hwStatRegs {
			v := uint64(d.r.read(st.reg))
			if st.high != 0 {
				v |= uint64(d.r.read(st.high)) << 32
			}
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
