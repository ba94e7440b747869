package e1000

import (
	"sync"
)

// hwStat names a statistics register and how it reads: 32-bit counters, or
// a 64-bit count split in low and high halves (read low first).
type hwStat struct {
	name string
	reg  uint32
	high uint32 // 0 for a 32-bit counter
}

var hwStatRegs = [...]hwStat{
	{"crc_errors", CRCERRS, 0},
	{"symbol_errors", SYMERRS, 0},
	{"rx_errors", RXERRC, 0},
	{"missed_packets", MPC, 0},
	{"single_collisions", SCC, 0},
	{"excessive_collisions", ECOL, 0},
	{"multiple_collisions", MCC, 0},
	{"late_collisions", LATECOL, 0},
	{"collisions", COLC, 0},
	{"defer_count", DC, 0},
	{"rx_length_errors", RLEC, 0},
	{"xon_rx", XONRXC, 0},
	{"xon_tx", XONTXC, 0},
	{"xoff_rx", XOFFRXC, 0},
	{"xoff_tx", XOFFTXC, 0},
	{"good_packets_rx", GPRC, 0},
	{"broadcast_rx", BPRC, 0},
	{"multicast_rx", MPRC, 0},
	{"good_packets_tx", GPTC, 0},
	{"good_octets_rx", GORCL, GORCH},
	{"good_octets_tx", GOTCL, GOTCH},
	{"rx_no_buffer", RNBC, 0},
	{"rx_undersize", RUC, 0},
	{"rx_fragments", RFC, 0},
	{"rx_oversize", ROC, 0},
	{"rx_jabbers", RJC, 0},
	{"total_octets_rx", TORL, TORH},
	{"total_octets_tx", TOTL, TOTH},
	{"total_packets_rx", TPR, 0},
	{"total_packets_tx", TPT, 0},
	{"multicast_tx", MPTC, 0},
	{"broadcast_tx", BPTC, 0},
}

// hwStats accumulates the clear-on-read statistics registers into 64-bit
// counters (e1000_update_stats).
type hwStats struct {
	mu  sync.Mutex
	acc [len(hwStatRegs)]uint64
}

// Stat is one named counter.
type Stat struct {
	Name  string
	Value uint64
}

// HWStats reads the statistics registers, adds them to the running totals
// and returns every total, in the order ethtool -S would print them.
func (d *Driver) HWStats() []Stat {
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
		}
	}
	out := make([]Stat, len(hwStatRegs))
	for i, st := range hwStatRegs {
		out[i] = Stat{st.name, s.acc[i]}
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
