package e1000x

import (
	"sync"
	"sync/atomic"
)

// RCTL bits the receive filter state adds to the shared control word.
const (
	rctlLPE = 1 << 5  // Long Packet Reception Enable
	rctlVFE = 1 << 18 // VLAN Filter Enable
)

// RxFilter is the receive-side state both drivers keep in software and
// write to the part: the VLAN ids of the VLAN devices over the NIC (the
// filter table) and long packet reception (jumbo frames).
type RxFilter struct {
	mu   sync.Mutex
	vids map[uint16]bool
	lpe  atomic.Bool
}

// SetVID adds or removes a VLAN id (ndo_vlan_rx_add_vid, _kill_vid).
func (f *RxFilter) SetVID(vid uint16, on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.vids == nil {
		f.vids = map[uint16]bool{}
	}
	if on {
		f.vids[vid] = true
	} else {
		delete(f.vids, vid)
	}
}

// SetLPE turns long packet reception on or off (for an MTU over 1500).
func (f *RxFilter) SetLPE(on bool) { f.lpe.Store(on) }

// LPE reports whether long packet reception is on.
func (f *RxFilter) LPE() bool { return f.lpe.Load() }

// WriteVLANs programs VET and the filter table (WriteVLANFilter).
func (f *RxFilter) WriteVLANs(r Regs) {
	f.mu.Lock()
	defer f.mu.Unlock()
	WriteVLANFilter(r, f.vids)
}

// RCTL is the receive control word (RxControl) with LPE for jumbo frames
// and the VLAN filter on while VLAN devices use ids and the device is not
// promiscuous (e1000_vlan_filter_on_off).
func (f *RxFilter) RCTL(promisc bool) uint32 {
	v := RxControl(promisc)
	if f.lpe.Load() {
		v |= rctlLPE
	}
	f.mu.Lock()
	if len(f.vids) > 0 && !promisc {
		v |= rctlVFE
	}
	f.mu.Unlock()
	return v
}
