package e1000

import (
	"sync/atomic"
	"unsafe"
)

// The status bytes of a descriptor are where the device and the driver
// meet: the device writes the frame and the length, then sets DD; the
// driver reads DD, then the rest. The 32-bit word at offset 12 (RX: status,
// errors, special; TX: status, CSS, special) is therefore read and written
// with atomic operations, which order the other accesses around them as
// dma_rmb()/wmb() do in Linux. Descriptors are 16-byte aligned, so the word
// is aligned.

func statusWord(desc []byte) *uint32 {
	if len(desc) < 16 {
		panic("e1000: descriptor shorter than 16 bytes")
	}
	return (*uint32)(unsafe.Pointer(&desc[12]))
}

// loadStatus reads the status word: byte 0 is the status, byte 1 the
// errors (RX) or CSS (TX).
func loadStatus(desc []byte) uint32 { return atomic.LoadUint32(statusWord(desc)) }

// storeStatus writes the status word.
func storeStatus(desc []byte, v uint32) { atomic.StoreUint32(statusWord(desc), v) }
