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
	{"crc_errors", CRCERRS, 0, func(s *netcore.Stats) *atomic.Uint64 { return &s.RxCRCErrors }},
	{"symbol_errors", SYMERRS, 0, nil},
	{"rx_errors", RXERRC, 0, nil},
	{"missed_packets", MPC, 0, func(s *netcore.Stats) *atomic.Uint64 { return &s.RxMissedErrors }},
	{"single_collisions", SCC, 0, nil},
	{"excessive_collisions", ECOL, 0, nil},
	{"multiple_collisions", MCC, 0, nil},
	{"late_collisions", LATECOL, 0, nil},
	{"collisions", COLC, 0, func(s *netcore.Stats) *atomic.Uint64 { return &s.Collisions }},
	{"defer_count", DC, 0, nil},
	{"rx_length_errors", RLEC, 0, func(s *netcore.Stats) *atomic.Uint64 { return &s.RxLengthErrors }},
	{"xon_rx", XONRXC, 0, nil},
	{"xon_tx", XONTXC, 0, nil},
	{"xoff_rx", XOFFRXC, 0, nil},
	{"xoff_tx", XOFFTXC, 0, nil},
	{"good_packets_rx", GPRC, 0, nil},
	{"broadcast_rx", BPRC, 0, nil},
	{"multicast_rx", MPRC, 0, nil},
	{"good_packets_tx", GPTC, 0, nil},
	{"good_octets_rx", GORCL, GORCH, nil},
	{"good_octets_tx", GOTCL, GOTCH, nil},
	{"rx_no_buffer", RNBC, 0, nil},
	{"rx_undersize", RUC, 0, nil},
	{"rx_fragments", RFC, 0, nil},
	{"rx_oversize", ROC, 0, nil},
	{"rx_jabbers", RJC, 0, nil},
	{"total_octets_rx", TORL, TORH, nil},
	{"total_octets_tx", TOTL, TOTH, nil},
	{"total_packets_rx", TPR, 0, nil},
	{"total_packets_tx", TPT, 0, nil},
	{"multicast_tx", MPTC, 0, nil},
	{"broadcast_tx", BPTC, 0, nil},
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
