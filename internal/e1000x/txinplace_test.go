package e1000x_test

import (
	"encoding/binary"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringonet/ringo/descring"
	"github.com/ringonet/ringo/internal/e1000x"
	"github.com/ringonet/ringo/internal/e1000x/e1000xtest"
	"github.com/ringonet/ringo/netcore/skb"
	"github.com/ringonet/ringo/vfio"
)

// TxInPlace: arena frames get descriptors pointing at their data and are
// kept until reclaimed; Free gives back exactly the slots it is told of,
// across the ring's wrap, and leaves the others held; a frame from the
// ordinary pool is not taken.
func TestTxInPlace(t *testing.T) {
	dma := e1000xtest.NewDMA()
	tx, err := descring.New(dma, descring.Config{Count: 8, DescSize: e1000x.TxDescSize, DescAlign: 128, BufSize: 2048})
	require.NoError(t, err)
	const iova = 0x10_0000
	arena := skb.NewArena(make([]byte, 16*skb.DataSize), iova)
	p := e1000x.NewTxInPlace(arena, tx.Count())
	live := skb.Live()

	bs := make([]*skb.Buff, 6)
	run := func(n int) {
		require.True(t, arena.AllocBulk(bs[:n], 60))
		for _, b := range bs[:n] {
			b.Put(60)
		}
		k, bytes := p.FillRun(tx, bs[:n], 2048, n)
		require.Equal(t, n, k)
		assert.Equal(t, 60*n, bytes)
		for _, b := range bs[:n] {
			assert.Nil(t, b, "kept by the ring, not the caller's")
		}
	}
	run(6) // slots 0..5
	assert.EqualValues(t, 6, arena.InUse())
	addr := binary.LittleEndian.Uint64(tx.Desc(0))
	assert.GreaterOrEqual(t, addr, uint64(iova), "descriptor points into the arena")
	assert.Less(t, addr, uint64(iova+16*skb.DataSize))

	p.Free(0, 5) // slots 0..4 sent (a Reclaim moves next-to-clean)
	tx.SetNextToClean(5)
	assert.EqualValues(t, 1, arena.InUse())
	run(4) // slots 6, 7, 0, 1: wraps
	assert.EqualValues(t, 5, arena.InUse())
	p.Free(5, 4) // slots 5, 6, 7, 0 across the wrap
	tx.SetNextToClean(1)
	assert.EqualValues(t, 1, arena.InUse(), "slot 1 still held")
	p.Free(1, 0)
	assert.EqualValues(t, 1, arena.InUse())

	// An ordinary skb is copied by the caller, not kept.
	b := skb.Alloc(60)
	b.Put(60)
	assert.False(t, p.Fill(tx, b, 2048))
	b.Free()

	p.FreeAll()
	assert.Zero(t, arena.InUse())
	assert.Equal(t, live, skb.Live())
}

// keeper is a DMA allocator that records what it is asked to keep.
type keeper struct {
	*e1000xtest.DMA
	busy []func() bool
}

func (k *keeper) KeepHost(_ vfio.DMABuf, busy func() bool) { k.busy = append(k.busy, busy) }

// Both arenas tell an allocator that can keep memory past the device's
// close (vfio.HostKeeper) that they are busy exactly while an area is
// out: a frame a socket still queues stays readable after the NIC goes.
func TestArenasKeepHost(t *testing.T) {
	k := &keeper{DMA: e1000xtest.NewDMA()}
	tx, err := e1000x.NewTxArena(k, 8)
	require.NoError(t, err)
	rx, err := e1000x.NewRxArena(k, 8, 2048)
	require.NoError(t, err)
	require.Len(t, k.busy, 2)
	for i, a := range []*skb.Arena{tx, rx} {
		assert.False(t, k.busy[i](), "arena %d idle", i)
		bs := make([]*skb.Buff, 3)
		require.Equal(t, 3, a.AllocArenaBulk(bs))
		assert.True(t, k.busy[i](), "arena %d with areas out", i)
		skb.FreeBulk(bs)
		assert.False(t, k.busy[i](), "arena %d idle again", i)
	}
	bs := make([]*skb.Buff, 1)
	require.Equal(t, 1, rx.AllocArenaBulk(bs))
	assert.GreaterOrEqual(t, len(bs[0].Room()), 2048, "a receive area holds a whole device buffer after the headroom")
	bs[0].Free()
}

// RxInPlace with fewer areas than slots: the slot left without one gets
// the ring's own buffer, and a long frame there is copied and counted as
// the arena's shortfall, as is one in a slot with an area when no fresh
// area is left for it; a short frame is copied and not counted.
func TestRxInPlaceShortArena(t *testing.T) {
	const area = skb.Headroom + 2048
	arena := skb.NewArenaSized(make([]byte, area), 0x10_0000, area)
	var inPlace, empty atomic.Uint64
	p := e1000x.NewRxInPlace(arena, 2, 2048, 0, e1000x.RxInPlaceCounters{InPlace: &inPlace, ArenaEmpty: &empty})
	own := vfio.DMABuf{Buf: make([]byte, 2048), IOVA: 0x20_0000}
	assert.Equal(t, uint64(0x10_0000+skb.Headroom), p.Post(0, own), "slot 0 in the area")
	assert.Equal(t, own.IOVA, p.Post(1, own), "slot 1 in the ring's buffer")
	assert.Nil(t, p.Take(1, 1514))
	assert.Nil(t, p.Take(1, 100))
	assert.Nil(t, p.Take(0, 1514), "no fresh area for slot 0")
	p.Flush()
	assert.EqualValues(t, 2, empty.Load())
	assert.Zero(t, inPlace.Load())
	p.FreeAll()
	assert.Zero(t, arena.InUse())
}
