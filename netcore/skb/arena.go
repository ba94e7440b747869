package skb

import (
	"sync"
	"sync/atomic"
)

// Arena is a store of small data areas in memory one device reaches by
// DMA (DPDK's per-port mempool in IOMMU-mapped hugepages): a packet built
// in an arena's Buff is sent by pointing a descriptor at it instead of
// copying it into the ring's own buffer, and a receive ring posted with
// arena areas hands a frame up in the area the device wrote. Each VFIO
// device here has an IOMMU domain of its own, so an arena belongs to one
// device; a Buff from it goes to any other device as an ordinary one
// (copied).
//
// The memory must outlive every Buff taken from it: a driver makes its
// arena from its DMA allocator, which unmaps nothing while the device is
// open and, told so (vfio.HostKeeper), leaves the memory in the process
// at close while any area is out. When the arena is empty, allocations
// fall back to the ordinary pool. Safe for concurrent use.
type Arena struct {
	mu       sync.Mutex
	free     []*shared // guarded by mu
	size     int       // areas in all
	areaSize int
	inUse    atomic.Int64
}

// NewArena carves mem, which the device sees at iova, into DataSize-byte
// data areas.
func NewArena(mem []byte, iova uint64) *Arena { return NewArenaSized(mem, iova, DataSize) }

// NewArenaSized carves mem into areaSize-byte data areas (at least
// DataSize): a receive arena's area holds Headroom and a whole device
// buffer after it, so a device told the buffer's size cannot write past
// the area.
func NewArenaSized(mem []byte, iova uint64, areaSize int) *Arena {
	a := &Arena{areaSize: max(areaSize, DataSize)}
	for off := 0; off+a.areaSize <= len(mem); off += a.areaSize {
		sh := &shared{buf: mem[off : off+a.areaSize : off+a.areaSize], arena: a, iova: iova + uint64(off)}
		sh.refs.Store(1)
		a.free = append(a.free, sh)
	}
	a.size = len(a.free)
	return a
}

// Size is the number of data areas; InUse how many are out.
func (a *Arena) Size() int    { return a.size }
func (a *Arena) InUse() int64 { return a.inUse.Load() }

// AllocBulk fills bs with empty Buffs as skb.AllocBulk does, from the
// arena while it has areas (the rest from the ordinary pool). A nil
// arena is the ordinary pool. It reports false only for a size beyond
// MaxDataSize-Headroom.
func (a *Arena) AllocBulk(bs []*Buff, size int) bool {
	if a == nil || size < 0 || size > a.areaSize-Headroom {
		return AllocBulk(bs, size)
	}
	n := a.AllocArenaBulk(bs)
	return AllocBulk(bs[n:], size)
}

// AllocArenaBulk fills the front of bs with empty Buffs from the arena
// alone, as many as it has areas for, and returns how many (a receive
// ring's refill, which copies when there are none).
func (a *Arena) AllocArenaBulk(bs []*Buff) int {
	a.mu.Lock()
	n := min(len(a.free), len(bs))
	rest := a.free[len(a.free)-n:]
	for i, sh := range rest {
		bs[i] = sh.fresh()
		rest[i] = nil
	}
	a.free = a.free[:len(a.free)-n]
	a.mu.Unlock()
	a.inUse.Add(int64(n))
	live.Add(int64(n))
	return n
}

// put takes back areas whose last reference went.
func (a *Arena) put(shs []*shared) {
	a.mu.Lock()
	a.free = append(a.free, shs...) // never past its capacity: each area once
	a.mu.Unlock()
	a.inUse.Add(-int64(len(shs)))
}

// DMA returns the arena b's data lives in and the device address of its
// first byte, or nil when b is not an arena's.
func (b *Buff) DMA() (*Arena, uint64) {
	if b.sh.arena == nil {
		return nil, 0
	}
	return b.sh.arena, b.sh.iova + uint64(b.head)
}
