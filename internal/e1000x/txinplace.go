package e1000x

import (
	"fmt"

	"github.com/ringonet/ringo/descring"
	"github.com/ringonet/ringo/netcore/skb"
	"github.com/ringonet/ringo/vfio"
)

// TxInPlace sends frames without copying them (DPDK's transmit from
// mbufs; Linux's e1000 maps each skb instead): a frame whose data lives
// in the driver's own skb.Arena, and fits one descriptor, gets a legacy
// descriptor pointing at it, and its skb is kept until the device has
// sent it. Other frames are copied into the ring's buffers as before.
//
// The owner's TX lock guards it.
type TxInPlace struct {
	arena *skb.Arena
	held  []*skb.Buff // by descriptor: skbs the device may still read
}

// NewTxInPlace keeps the skbs of a ring of count descriptors sent from
// arena (nil: every frame is copied).
func NewTxInPlace(arena *skb.Arena, count int) *TxInPlace {
	return &TxInPlace{arena: arena, held: make([]*skb.Buff, count)}
}

// Fill writes b's legacy descriptor at tx's next-to-use if b can go in
// place (bufSize bounds a descriptor's buffer), and keeps b; it reports
// false, writing nothing, if b is to be copied.
func (p *TxInPlace) Fill(tx *descring.Ring, b *skb.Buff, bufSize int) bool {
	iova, ok := p.takes(b, bufSize)
	if !ok {
		return false
	}
	i := tx.NextToUse()
	WriteLegacy(tx.Desc(i), iova, b.Len(), b.VlanTCI, b.VlanPresent, true)
	p.held[i] = b
	tx.SetNextToUse(tx.Next(i))
	return true
}

// FillRun is Fill for a run of frames (DPDK's simple transmit path): it
// fills descriptors for the frames at the front of bs that can go in
// place, at most limit and no more than the ring has room for, keeps their
// skbs (clearing them in bs) and publishes next-to-use once. It returns
// how many frames, and bytes, it took; the first frame it stops at is
// the caller's to fill.
func (p *TxInPlace) FillRun(tx *descring.Ring, bs []*skb.Buff, bufSize, limit int) (k, bytes int) {
	i := tx.NextToUse()
	n := min(len(bs), limit, tx.Unused())
	for ; k < n; k++ {
		b := bs[k]
		iova, ok := p.takes(b, bufSize)
		if !ok {
			break
		}
		l := b.Len()
		WriteLegacy(tx.Desc(i), iova, l, b.VlanTCI, b.VlanPresent, true)
		p.held[i] = b
		bs[k] = nil
		bytes += l
		i = tx.Next(i)
	}
	if k > 0 {
		tx.SetNextToUse(i)
	}
	return k, bytes
}

// takes reports whether b goes in place — its data in this ring's arena,
// one descriptor's worth, no offload asked — and the address it goes from.
func (p *TxInPlace) takes(b *skb.Buff, bufSize int) (uint64, bool) {
	arena, iova := b.DMA()
	if arena == nil || arena != p.arena || b.Len() > bufSize || b.CsumPartial || b.GSOSize > 0 {
		return 0, false
	}
	return iova, true
}

// Free frees the skbs kept for n descriptors from from (the ones a
// Reclaim just gave back), in bulk: at most two runs of the ring's slots,
// before and after it wraps, each freed where it lies (FreeBulk skips the
// copied frames' empty slots and clears the rest).
func (p *TxInPlace) Free(from, n int) {
	n = min(n, len(p.held))
	if n <= 0 || from < 0 || from >= len(p.held) {
		return
	}
	end := from + n
	if end <= len(p.held) {
		skb.FreeBulk(p.held[from:end])
		return
	}
	skb.FreeBulk(p.held[from:])
	skb.FreeBulk(p.held[:end-len(p.held)])
}

// FreeAll frees every kept skb: the device was reset and reads no more.
func (p *TxInPlace) FreeAll() { p.Free(0, len(p.held)) }

// DefaultTxArena is the data areas a driver's TX arena has unless told
// otherwise: a full ring, a qdisc's worth of frames and the bursts being
// built (2 MB).
const DefaultTxArena = 1024

// NewTxArena allocates a TX arena of n 2 KB data areas from dma (0:
// DefaultTxArena); n < 0 gives none (nil).
func NewTxArena(dma vfio.DMAAllocator, n int) (*skb.Arena, error) {
	if n == 0 {
		n = DefaultTxArena
	}
	if n < 0 {
		return nil, nil
	}
	mem, err := dma.AllocDMA(n*skb.DataSize, skb.DataSize)
	if err != nil {
		return nil, fmt.Errorf("tx arena of %d areas: %w", n, err)
	}
	return keepHost(dma, mem, skb.NewArena(mem.Buf, mem.IOVA)), nil
}

// keepHost tells an allocator that can (vfio.HostKeeper) that the arena's
// memory is in use while any area is out: a packet built or received in
// it may outlive the device.
func keepHost(dma vfio.DMAAllocator, mem vfio.DMABuf, a *skb.Arena) *skb.Arena {
	if k, ok := dma.(vfio.HostKeeper); ok {
		k.KeepHost(mem, func() bool { return a.InUse() > 0 })
	}
	return a
}
