package e1000x

import (
	"fmt"
	"sync/atomic"

	"github.com/ringonet/ringo/netcore/skb"
	"github.com/ringonet/ringo/vfio"
)

// RxInPlace receives frames without copying them (Linux's e1000 above its
// copybreak, DPDK's receive into mbufs): each ring slot is posted with an
// skb's data area from the driver's receive arena, and a frame of at
// least Copybreak bytes in one descriptor goes up in that skb while the
// slot gets a fresh area. A short frame is copied into an ordinary skb
// and the slot keeps its area, so small packets (ACKs) do not hold DMA
// memory; when the arena is empty the frame is copied too. A slot with no
// area (no arena, or none left when it was posted) uses the ring's own
// buffer, as before; it takes an area when next posted.
//
// Each area is Headroom bytes and then a whole device buffer, so a device
// told the ring's buffer size cannot write past it. The owner's receive
// path (one NAPI poll at a time) guards it.
type RxInPlace struct {
	arena     *skb.Arena
	bufSize   int
	copybreak int
	held      []*skb.Buff // by descriptor: the skb whose area is posted, or nil
	spare     [32]*skb.Buff
	nspare    int
	// Counts since the last Flush: plain, as the poll owns them, and
	// added to the driver's counters once a poll.
	inPlace, empty uint64
	counters       RxInPlaceCounters
}

// RxInPlaceCounters are a driver's counters RxInPlace adds to (nil: not
// counted).
type RxInPlaceCounters struct {
	InPlace    *atomic.Uint64 // frames handed up in their receive area, not copied
	ArenaEmpty *atomic.Uint64 // frames copied because the arena had no area for the slot (the stack holds them all)
}

// DefaultRxCopybreak is the frame length below which a frame is copied:
// Linux's e1000 copybreak.
const DefaultRxCopybreak = 256

// DefaultRxArena is the data areas a driver's receive arena has unless
// told otherwise: a ring of 256 and the frames the stack holds meanwhile,
// in one 2 MB huge page.
const DefaultRxArena = 960

// NewRxArena allocates a receive arena of n areas of Headroom+bufSize
// bytes from dma (0: DefaultRxArena); n < 0 gives none (nil).
func NewRxArena(dma vfio.DMAAllocator, n, bufSize int) (*skb.Arena, error) {
	if n == 0 {
		n = DefaultRxArena
	}
	if n < 0 {
		return nil, nil
	}
	area := skb.Headroom + bufSize
	mem, err := dma.AllocDMA(n*area, 128)
	if err != nil {
		return nil, fmt.Errorf("rx arena of %d areas: %w", n, err)
	}
	return keepHost(dma, mem, skb.NewArenaSized(mem.Buf, mem.IOVA, area)), nil
}

// NewRxInPlace posts areas of arena (nil: none, every frame copied) on a
// ring of count descriptors of bufSize bytes; frames shorter than
// copybreak (0: DefaultRxCopybreak) are copied.
func NewRxInPlace(arena *skb.Arena, count, bufSize, copybreak int, c RxInPlaceCounters) *RxInPlace {
	if copybreak <= 0 {
		copybreak = DefaultRxCopybreak
	}
	return &RxInPlace{arena: arena, bufSize: bufSize, copybreak: copybreak, held: make([]*skb.Buff, count), counters: c}
}

// Post returns the device address for slot i's next frame: the held
// skb's area, one taken from the arena when the slot has none, or own,
// the ring's buffer, when the arena is empty. An area is a whole buffer,
// so a frame over several descriptors (long packet reception) is gathered
// from areas as from the ring's buffers.
func (p *RxInPlace) Post(i int, own vfio.DMABuf) uint64 {
	b := p.held[i]
	if b == nil {
		if b = p.take(); b == nil {
			return own.IOVA
		}
		p.held[i] = b
	}
	_, iova := b.DMA()
	return iova
}

// Buf is where slot i's frame was written: the held area or own.
func (p *RxInPlace) Buf(i int, own []byte) []byte {
	if b := p.held[i]; b != nil {
		return b.Room()[:p.bufSize]
	}
	return own
}

// Take hands up slot i's frame of length bytes in place when it can: the
// slot holds an area, the frame is not short, and a fresh area is there
// for the slot (then posted by the caller's Post). It returns nil when
// the caller is to copy the frame out of Buf(i) and post the slot as it
// is.
func (p *RxInPlace) Take(i, length int) *skb.Buff {
	if length < p.copybreak || length > p.bufSize {
		return nil
	}
	b := p.held[i]
	if b == nil {
		if p.arena != nil {
			p.empty++ // the slot got the ring's buffer: the arena was empty then
		}
		return nil
	}
	fresh := p.take()
	if fresh == nil {
		p.empty++
		return nil
	}
	p.held[i] = fresh
	b.Put(length)
	p.inPlace++
	return b
}

// Flush adds the counts since the last Flush to the driver's counters:
// once a poll, not an atomic operation a frame.
func (p *RxInPlace) Flush() {
	if p.inPlace > 0 && p.counters.InPlace != nil {
		p.counters.InPlace.Add(p.inPlace)
	}
	if p.empty > 0 && p.counters.ArenaEmpty != nil {
		p.counters.ArenaEmpty.Add(p.empty)
	}
	p.inPlace, p.empty = 0, 0
}

// take is an skb from the spares, refilled from the arena a burst at a
// time (one lock for 32 frames), or nil when the arena is empty.
func (p *RxInPlace) take() *skb.Buff {
	if p.arena == nil {
		return nil
	}
	if p.nspare == 0 {
		p.nspare = p.arena.AllocArenaBulk(p.spare[:])
		if p.nspare == 0 {
			return nil
		}
	}
	p.nspare--
	b := p.spare[p.nspare]
	p.spare[p.nspare] = nil
	return b
}

// FreeAll gives every posted area and spare back: the device was reset
// and writes no more.
func (p *RxInPlace) FreeAll() {
	skb.FreeBulk(p.held)
	skb.FreeBulk(p.spare[:p.nspare])
	p.nspare = 0
}
