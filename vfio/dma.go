package vfio

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
)

// IOVARange is an inclusive range of addresses the IOMMU can translate.
type IOVARange struct {
	Start, End uint64
}

// mapper maps host memory into the IOMMU at an IOVA. containerMapper does it
// through VFIO; tests use a fake.
type mapper interface {
	mapDMA(mem []byte, iova uint64) error
	unmapDMA(iova, size uint64) error
	// alloc returns size bytes of host memory outside the Go heap,
	// locked, and whether 2 MiB huge pages back it.
	alloc(size int) (mem []byte, huge bool, err error)
	free(mem []byte) error
}

// chunkSize is the unit the pool maps: one 2 MiB huge page where the system
// has them, else 512 small pages.
const chunkSize = 2 << 20

// minIOVA keeps buffers away from IOVA 0, where a zeroed descriptor points.
const minIOVA = chunkSize

type chunk struct {
	mem  []byte
	iova uint64
	used int
	huge bool // on 2 MiB huge pages
	// busy, when set, says whether the process still holds buffers of
	// the chunk (KeepHost): Close leaves such a chunk's memory mapped.
	busy []func() bool
}

// DMAPool carves DMA buffers out of 2 MiB chunks, each mapped once through
// the IOMMU. Buffers are never freed one by one: a driver allocates its rings
// and packet buffers when it starts and reuses them; Close unmaps everything.
// It implements DMAAllocator and is safe for concurrent use.
type DMAPool struct {
	mu       sync.Mutex
	ranges   []IOVARange
	nextIOVA uint64
	chunks   []*chunk
	m        mapper
	closed   bool
	kept     int // bytes Close left mapped in the process (KeepHost)
	// loggedSmall: the fall back to small pages has been logged.
	loggedSmall bool
}

func newDMAPool(ranges []IOVARange, m mapper) *DMAPool {
	return &DMAPool{ranges: ranges, m: m, nextIOVA: minIOVA}
}

// ErrIOVASpace says the IOMMU's valid ranges are used up.
var ErrIOVASpace = errors.New("vfio: out of IOVA space")

// AllocDMA implements DMAAllocator.
func (p *DMAPool) AllocDMA(size, align int) (DMABuf, error) {
	if size <= 0 || align <= 0 || align&(align-1) != 0 || align > chunkSize {
		return DMABuf{}, fmt.Errorf("vfio: alloc dma size %d align %d: bad arguments", size, align)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return DMABuf{}, errors.New("vfio: alloc dma: pool closed")
	}
	for _, c := range p.chunks {
		off := (c.used + align - 1) &^ (align - 1)
		if off+size <= len(c.mem) {
			c.used = off + size
			return DMABuf{Buf: c.mem[off : off+size : off+size], IOVA: c.iova + uint64(off)}, nil
		}
	}
	n := (size + chunkSize - 1) &^ (chunkSize - 1)
	iova, err := p.takeIOVA(uint64(n))
	if err != nil {
		return DMABuf{}, fmt.Errorf("vfio: alloc dma %d bytes: %w", size, err)
	}
	mem, huge, err := p.m.alloc(n)
	if err != nil {
		return DMABuf{}, fmt.Errorf("vfio: alloc dma %d bytes: %w", n, err)
	}
	if !huge && !p.loggedSmall {
		p.loggedSmall = true
		// Said once a pool: 512 IOTLB entries a chunk instead of one.
		slog.Info("vfio: no free 2 MiB huge page; DMA memory on 4 KiB pages (reserve some: hugepages=N on the kernel command line, or /proc/sys/vm/nr_hugepages)", "bytes", n)
	}
	if err := p.m.mapDMA(mem, iova); err != nil {
		p.m.free(mem)
		return DMABuf{}, fmt.Errorf("vfio: map dma %#x (%d bytes): %w", iova, n, err)
	}
	c := &chunk{mem: mem, iova: iova, used: size, huge: huge}
	p.chunks = append(p.chunks, c)
	return DMABuf{Buf: mem[:size:size], IOVA: iova}, nil
}

// takeIOVA returns the next chunk-aligned IOVA inside a valid range.
func (p *DMAPool) takeIOVA(n uint64) (uint64, error) {
	for _, r := range p.ranges {
		start := max(p.nextIOVA, r.Start)
		start = (start + chunkSize - 1) &^ (chunkSize - 1)
		if start < r.Start || start+n-1 > r.End || start+n-1 < start {
			continue
		}
		p.nextIOVA = start + n
		return start, nil
	}
	return 0, ErrIOVASpace
}

// Mapped is the number of bytes mapped for the device.
func (p *DMAPool) Mapped() int {
	n, _ := p.MappedHuge()
	return n
}

// MappedHuge is the number of bytes mapped for the device, and how many of
// them are on 2 MiB huge pages: the IOMMU translates a huge page with one
// IOTLB entry where it takes 512 for small ones (QEMU's virtual VT-d
// walks the guest's page table on each miss, inside the doorbell's exit).
func (p *DMAPool) MappedHuge() (mapped, huge int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.chunks {
		mapped += len(c.mem)
		if c.huge {
			huge += len(c.mem)
		}
	}
	return mapped, huge
}

// HostKeeper is a DMAAllocator whose buffers the process may go on
// holding after the device is closed: packet data areas (skb.Arena) that
// a socket still queues when the NIC goes away.
type HostKeeper interface {
	// KeepHost says buf's memory is in use while busy reports true:
	// Close then takes it from the device (the IOMMU mapping goes) but
	// leaves it mapped in the process, so the holders read what the
	// device wrote, never a fault.
	KeepHost(buf DMABuf, busy func() bool)
}

// KeepHost implements HostKeeper.
func (p *DMAPool) KeepHost(buf DMABuf, busy func() bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.chunks {
		if buf.IOVA+uint64(len(buf.Buf)) > c.iova && buf.IOVA < c.iova+uint64(len(c.mem)) {
			c.busy = append(c.busy, busy)
		}
	}
}

// Close unmaps and frees every chunk. The device must be stopped first: it
// must not DMA into memory that is about to be freed. A chunk whose
// KeepHost holders are still busy is unmapped from the device but left in
// the process (its memory leaks, and Kept counts it), so a packet that
// outlives the device stays readable.
func (p *DMAPool) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	for _, c := range p.chunks {
		if err := p.m.unmapDMA(c.iova, uint64(len(c.mem))); err != nil {
			errs = append(errs, fmt.Errorf("vfio: unmap dma %#x: %w", c.iova, err))
		}
		if c.held() {
			p.kept += len(c.mem)
			continue
		}
		errs = append(errs, p.m.free(c.mem))
	}
	p.chunks = nil
	p.closed = true
	return errors.Join(errs...)
}

func (c *chunk) held() bool {
	for _, busy := range c.busy {
		if busy() {
			return true
		}
	}
	return false
}

// Kept is the bytes Close left in the process for holders still busy.
func (p *DMAPool) Kept() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.kept
}
