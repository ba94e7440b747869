package vfio

// The hardware seam: what a driver needs from its device, as small
// interfaces that VFIO implements here and tests implement with fakes.

// Registers is a memory-mapped register window (a BAR). Offsets are in
// bytes; every access is a single 32-bit load or store that the compiler can
// neither elide nor reorder with another register access.
type Registers interface {
	Read32(off uint32) uint32
	Write32(off uint32, v uint32)
}

// Ports is an I/O-port window (a BAR in I/O space). Offsets are relative to
// the BAR. ReadBuf and WriteBuf move a string of accesses to one port (the
// NE2000 data port) in as few system calls as possible; width is 1, 2 or 4.
type Ports interface {
	Read8(off uint32) (uint8, error)
	Write8(off uint32, v uint8) error
	ReadBuf(off uint32, width int, buf []byte) error
	WriteBuf(off uint32, width int, buf []byte) error
}

// DMAAllocator hands out memory the device can address.
type DMAAllocator interface {
	// AllocDMA returns size bytes aligned to align (a power of two), zeroed.
	// The memory lives until the allocator is closed.
	AllocDMA(size, align int) (DMABuf, error)
}

// DMABuf is memory seen both by the CPU (Buf) and by the device (IOVA).
type DMABuf struct {
	Buf  []byte
	IOVA uint64
}

// InterruptSource is one interrupt delivered as an eventfd.
type InterruptSource interface {
	// Fd is the eventfd that becomes readable when the interrupt fires.
	Fd() int
	// Unmask re-enables a level-triggered interrupt that VFIO masked when
	// it fired (INTx). It is a no-op for edge (MSI) sources.
	Unmask() error
}
