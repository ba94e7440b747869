// Package descring is a descriptor ring in DMA memory, generic over the
// descriptor layout: the descriptors, one DMA buffer per slot, and the
// producer (next to use) and consumer (next to clean) indices with their
// wrap-around arithmetic. The driver gives the layout meaning; the ring
// keeps the counting right.
//
// Ownership: one goroutine produces (advances NextToUse) and one consumes
// (advances NextToClean); the indices are atomics so each side may read the
// other's.
package descring

import (
	"fmt"
	"sync/atomic"

	"github.com/ringonet/ringo/vfio"
)

// Ring is count descriptors of descSize bytes, each with a buffer.
type Ring struct {
	desc     vfio.DMABuf
	bufs     []vfio.DMABuf
	count    int
	mask     int
	descSize int
	bufSize  int

	ntu atomic.Int32 // next to use: the producer's next slot
	ntc atomic.Int32 // next to clean: the consumer's next slot
}

// Config describes a ring.
type Config struct {
	Count     int // descriptors: a power of two, a multiple of 8
	DescSize  int // bytes per descriptor
	DescAlign int // alignment of the descriptor base (128 for e1000)
	BufSize   int // bytes per slot buffer; 0 for none
}

// New allocates the descriptors and buffers from alloc and zeroes them.
func New(alloc vfio.DMAAllocator, cfg Config) (*Ring, error) {
	if cfg.Count < 8 || cfg.Count&(cfg.Count-1) != 0 || cfg.Count%8 != 0 {
		return nil, fmt.Errorf("descring: count %d: want a power of two >= 8", cfg.Count)
	}
	if cfg.DescSize <= 0 || cfg.DescAlign <= 0 {
		return nil, fmt.Errorf("descring: descriptor size %d align %d", cfg.DescSize, cfg.DescAlign)
	}
	r := &Ring{count: cfg.Count, mask: cfg.Count - 1, descSize: cfg.DescSize, bufSize: cfg.BufSize}
	var err error
	if r.desc, err = alloc.AllocDMA(cfg.Count*cfg.DescSize, cfg.DescAlign); err != nil {
		return nil, fmt.Errorf("descring: descriptors: %w", err)
	}
	clear(r.desc.Buf)
	if cfg.BufSize > 0 {
		r.bufs = make([]vfio.DMABuf, cfg.Count)
		for i := range r.bufs {
			if r.bufs[i], err = alloc.AllocDMA(cfg.BufSize, 128); err != nil {
				return nil, fmt.Errorf("descring: buffer %d: %w", i, err)
			}
		}
	}
	return r, nil
}

// Count is the number of descriptors.
func (r *Ring) Count() int { return r.count }

// Bytes is the size of the descriptor area (what RDLEN/TDLEN take).
func (r *Ring) Bytes() int { return len(r.desc.Buf) }

// IOVA is the device address of descriptor 0.
func (r *Ring) IOVA() uint64 { return r.desc.IOVA }

// Desc returns descriptor i's bytes. i is masked into the ring, so an index
// the device reported cannot reach outside it.
func (r *Ring) Desc(i int) []byte {
	off := (i & r.mask) * r.descSize
	return r.desc.Buf[off : off+r.descSize : off+r.descSize]
}

// Buf returns slot i's buffer.
func (r *Ring) Buf(i int) vfio.DMABuf { return r.bufs[i&r.mask] }

// BufSize is the size of each slot buffer.
func (r *Ring) BufSize() int { return r.bufSize }

// Next is the slot after i.
func (r *Ring) Next(i int) int { return (i + 1) & r.mask }

// Valid reports whether i (say, a head register the device returned) is a
// slot of this ring.
func (r *Ring) Valid(i uint32) bool { return i < uint32(r.count) }

// NextToUse and NextToClean are the producer's and consumer's slots.
func (r *Ring) NextToUse() int   { return int(r.ntu.Load()) }
func (r *Ring) NextToClean() int { return int(r.ntc.Load()) }

// SetNextToUse and SetNextToClean publish a side's progress.
func (r *Ring) SetNextToUse(i int)   { r.ntu.Store(int32(i & r.mask)) }
func (r *Ring) SetNextToClean(i int) { r.ntc.Store(int32(i & r.mask)) }

// Unused is the number of slots the producer may still fill
// (e1000_desc_unused): one slot always stays empty, so that a full ring
// (tail one behind head) is told apart from an empty one (tail = head).
func (r *Ring) Unused() int {
	return (r.NextToClean() - r.NextToUse() - 1) & r.mask
}

// InUse is the number of slots filled and not yet cleaned.
func (r *Ring) InUse() int {
	return (r.NextToUse() - r.NextToClean()) & r.mask
}

// Reset empties the ring: indices to 0, descriptors zeroed. The buffers
// are kept (a reset after a TX timeout reuses them: nothing leaks).
func (r *Ring) Reset() {
	clear(r.desc.Buf)
	r.ntu.Store(0)
	r.ntc.Store(0)
}
