package skb

import "sync"

// Bulk allocation, for a driver or sender that handles frames in bursts
// (DPDK's rte_pktmbuf_alloc_bulk and its mempool's per-lcore cache, the
// magazines of a slab allocator): small data areas move between the pool
// and the caller 32 at a time, one sync.Pool operation per magazine
// instead of one per packet. Under QEMU's TCG a pool operation is most of
// what a frame costs a sender.

// magSize is the frames a magazine holds: a burst, as DPDK's default.
const magSize = 32

// magazine is a stack of small data areas, each with its count at 1.
type magazine struct {
	n  int
	sh [magSize]*shared
}

var (
	fullMags  sync.Pool // *magazine holding at least one area
	emptyMags = sync.Pool{New: func() any { return new(magazine) }}
)

// AllocBulk fills bs with Buffs as Alloc(size) returns them and reports
// whether it could (false only for a size beyond MaxDataSize-Headroom,
// with bs untouched).
func AllocBulk(bs []*Buff, size int) bool {
	if size < 0 || size > MaxDataSize-Headroom {
		return false
	}
	if size > DataSize-Headroom {
		for i := range bs {
			bs[i] = Alloc(size)
		}
		return true
	}
	i := 0
	for i < len(bs) {
		m, _ := fullMags.Get().(*magazine)
		if m == nil {
			break
		}
		for m.n > 0 && i < len(bs) {
			m.n--
			sh := m.sh[m.n]
			m.sh[m.n] = nil
			bs[i] = sh.fresh()
			i++
		}
		if m.n > 0 {
			fullMags.Put(m)
		} else {
			emptyMags.Put(m)
		}
	}
	for ; i < len(bs); i++ {
		bs[i] = getSmall().fresh()
	}
	live.Add(int64(len(bs)))
	return true
}

// getSmall takes a small data area from the pool. When the pool is empty
// and FreeBulk has left areas in magazines — a path that frees in bulk
// what another allocates one by one, as a forwarder's driver frees what
// the receive path allocated — a magazine is emptied into the pool, so
// neither side makes garbage in steady state.
func getSmall() *shared {
	if sh, ok := smallPool.Get().(*shared); ok {
		return sh
	}
	m, _ := fullMags.Get().(*magazine)
	if m == nil {
		return newShared(DataSize, false)
	}
	m.n--
	sh := m.sh[m.n]
	m.sh[m.n] = nil
	for m.n > 0 {
		m.n--
		smallPool.Put(m.sh[m.n])
		m.sh[m.n] = nil
	}
	emptyMags.Put(m)
	return sh
}

// fresh is the data area's first Buff, reset for a new packet.
func (sh *shared) fresh() *Buff {
	b := &sh.first
	b.init(sh)
	return b
}

// init makes b an empty packet over sh with Headroom reserved. Zeroing in
// place and then setting the few fields that are not zero is a quarter of
// the memory operations of assigning a composite literal, which the
// compiler builds in a temporary and copies: under QEMU's TCG, where
// each is a software TLB lookup, that was a quarter of a sender's time.
func (b *Buff) init(sh *shared) {
	*b = Buff{}
	b.sh = sh
	b.head, b.tail = Headroom, Headroom
	b.mac, b.network, b.transport = -1, -1, -1
}

// FreeBulk frees every Buff of bs as Free does, and clears bs. A nil
// entry is skipped.
func FreeBulk(bs []*Buff) {
	var m *magazine
	// Arena areas go back to their arena a batch at a time.
	var arena *Arena
	var back [magSize]*shared
	nback := 0
	n := 0
	for i, b := range bs {
		if b == nil {
			continue
		}
		if b.sh == nil {
			panic("skb: double free")
		}
		bs[i] = nil
		n++
		sh := b.release()
		switch {
		case sh == nil:
		case sh.arena != nil:
			if sh.arena != arena || nback == len(back) {
				if nback > 0 {
					arena.put(back[:nback])
				}
				arena, nback = sh.arena, 0
			}
			back[nback] = sh
			nback++
		case sh.big:
			bigPool.Put(sh)
		default:
			if m == nil {
				m = emptyMags.Get().(*magazine)
			}
			m.sh[m.n] = sh
			m.n++
			if m.n == magSize {
				fullMags.Put(m)
				m = nil
			}
		}
	}
	if m != nil {
		fullMags.Put(m)
	}
	if nback > 0 {
		arena.put(back[:nback])
	}
	live.Add(-int64(n))
}
