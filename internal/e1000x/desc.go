package e1000x

import (
	"sync/atomic"
	"unsafe"
)

// The status bytes of a descriptor are where the device and the driver
// meet: the device writes the frame and the length, then sets DD; the
// driver reads DD, then the rest. The 32-bit word at offset 12 (legacy RX:
// status, errors, special; extended RX write-back: length, VLAN — see the
// e1000e driver; TX: status, CSS, special) is therefore read and written
// with atomic operations, which order the other accesses around them as
// dma_rmb()/wmb() do in Linux. Descriptors are 16-byte aligned, so every
// 32-bit word in them is aligned.

func word(desc []byte, off int) *uint32 {
	if len(desc) < 16 || off < 0 || off > 12 || off%4 != 0 {
		panic("e1000x: descriptor word out of range")
	}
	return (*uint32)(unsafe.Pointer(&desc[off]))
}

// LoadStatus reads the word at offset 12: byte 0 is the status, byte 1 the
// errors (legacy RX) or CSS (TX).
func LoadStatus(desc []byte) uint32 { return atomic.LoadUint32(word(desc, 12)) }

// StoreStatus writes the word at offset 12.
func StoreStatus(desc []byte, v uint32) { atomic.StoreUint32(word(desc, 12), v) }

// SetStatus writes the word at offset 12 with a plain store, for a
// transmit descriptor being filled: the device reads it only after the
// TDT write, a full barrier, publishes it (an atomic store is a locked
// instruction, and under QEMU's TCG a helper call, per frame).
func SetStatus(desc []byte, v uint32) { *word(desc, 12) = v }

// LoadWord and StoreWord read and write any aligned 32-bit word of a
// descriptor atomically (the 82574's extended RX write-back keeps DD at
// offset 8).
func LoadWord(desc []byte, off int) uint32     { return atomic.LoadUint32(word(desc, off)) }
func StoreWord(desc []byte, off int, v uint32) { atomic.StoreUint32(word(desc, off), v) }
