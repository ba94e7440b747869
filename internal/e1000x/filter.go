package e1000x

import "net"

// regMTA is the Multicast Table Array, 128 registers (8254x SDM 13.5.1,
// 82574 datasheet 10.2.6): a bit per hash of a group address.
const regMTA = 0x05200

// RegMTA is the nth Multicast Table Array register.
func RegMTA(n int) uint32 { return regMTA + uint32(n)*4 }

// MTAHash is the Multicast Table Array index of an address with RCTL.MO =
// 0: bits 47:36 of the address.
func MTAHash(mac []byte) (reg int, bit uint) {
	h := (uint16(mac[4]) >> 4) | uint16(mac[5])<<4
	h &= 0xfff
	return int(h >> 5), uint(h & 0x1f)
}

// WriteMTA sets the table for the multicast list (e1000_set_rx_mode).
func WriteMTA(r Regs, list []net.HardwareAddr) {
	var mta [128]uint32
	for _, a := range list {
		if len(a) == 6 {
			reg, bit := MTAHash(a)
			mta[reg] |= 1 << bit
		}
	}
	for i, v := range mta {
		r.Write(RegMTA(i), v)
	}
}

// VLAN registers, at the same offsets on both parts (SDM 13.4.x, 13.5.3;
// datasheet 10.2.x).
const (
	regVET  = 0x00038 // VLAN Ether Type
	regVFTA = 0x05600 // VLAN Filter Table Array, 128 registers
	// EtherType8021Q is what VET holds: the TPID of a tagged frame.
	EtherType8021Q = 0x8100
)

// RegVFTA is the nth VLAN Filter Table Array register.
func RegVFTA(n int) uint32 { return regVFTA + uint32(n)*4 }

// WriteVLANFilter programs VET and the filter table for the ids in use
// (e1000_vlan_rx_add_vid): a bit per id, 32 ids a register. Id 0 is
// always in, so priority-tagged frames pass, as Linux's 8021q adds it.
func WriteVLANFilter(r Regs, vids map[uint16]bool) {
	r.Write(regVET, EtherType8021Q)
	var vfta [128]uint32
	vfta[0] = 1
	for vid := range vids {
		vid &= 0x0fff
		vfta[vid>>5] |= 1 << (vid & 0x1f)
	}
	for i, v := range vfta {
		r.Write(RegVFTA(i), v)
	}
}
