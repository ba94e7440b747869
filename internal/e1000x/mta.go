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
