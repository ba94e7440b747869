package skb

import (
	"testing"

	"github.com/ringonet/ringo/internal/israce"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPutPushPull(t *testing.T) {
	before := Live()
	b := Alloc(100)
	require.NotNil(t, b)
	assert.Equal(t, Headroom, b.Headroom())
	assert.Equal(t, 0, b.Len())

	copy(b.Put(4), "data")
	eth := b.Push(2)
	require.NotNil(t, eth)
	copy(eth, "hd")
	b.SetMACHeader()
	assert.Equal(t, "hddata", string(b.Data()))
	assert.Equal(t, "hd", string(b.Pull(2)))
	b.SetNetworkHeader()
	assert.Equal(t, "data", string(b.Data()))
	assert.Equal(t, "hddata", string(b.MACHeader()))
	assert.Equal(t, "data", string(b.NetworkHeader()))
	assert.Nil(t, b.TransportHeader())

	// Bounds: nothing panics, nothing moves.
	assert.Nil(t, b.Pull(5))
	assert.Nil(t, b.Push(Headroom+10))
	assert.Nil(t, b.Put(DataSize))
	assert.Nil(t, b.Put(-1))
	assert.Equal(t, 4, b.Len())
	b.Trim(2)
	assert.Equal(t, "da", string(b.Data()))
	b.Trim(10)
	assert.Equal(t, 2, b.Len())
	require.True(t, b.PushToMAC())
	assert.Equal(t, "hdda", string(b.Data()))

	b.Free()
	assert.Equal(t, before, Live())
	assert.Panics(t, func() { b.Free() })
}

func TestAllocClasses(t *testing.T) {
	s := Alloc(1514)
	require.NotNil(t, s)
	assert.GreaterOrEqual(t, s.Tailroom(), 1514)
	l := Alloc(65535)
	require.NotNil(t, l)
	assert.GreaterOrEqual(t, l.Tailroom(), 65535)
	assert.Nil(t, Alloc(MaxDataSize))
	assert.Nil(t, Alloc(-1))
	s.Free()
	l.Free()
}

func TestCloneSharesData(t *testing.T) {
	before := Live()
	b := Alloc(10)
	copy(b.Put(3), "abc")
	c := b.Clone()
	assert.True(t, b.Cloned())
	assert.Equal(t, "abc", string(c.Data()))
	c.Pull(1)
	assert.Equal(t, "abc", string(b.Data()), "clone has its own window")
	b.Free()
	assert.Equal(t, "bc", string(c.Data()), "data lives while a clone holds it")
	c.Free()
	assert.Equal(t, before, Live())

	d := Alloc(10)
	copy(d.Put(3), "xyz")
	e := d.Copy()
	e.Data()[0] = 'X'
	assert.Equal(t, "xyz", string(d.Data()))
	assert.Equal(t, "Xyz", string(e.Data()))
	d.Free()
	e.Free()
}

func TestQueue(t *testing.T) {
	q := NewQueue(3)
	bs := []*Buff{Alloc(1), Alloc(1), Alloc(1), Alloc(1)}
	for _, b := range bs[:3] {
		require.True(t, q.Push(b))
	}
	assert.False(t, q.Push(bs[3]), "full")
	assert.Same(t, bs[0], q.Pop())
	require.True(t, q.PushFront(bs[0]))
	assert.False(t, q.PushFront(bs[3]))
	for _, want := range bs[:3] {
		assert.Same(t, want, q.Pop())
	}
	assert.Nil(t, q.Pop())
	// wrap many times
	for i := 0; i < 10; i++ {
		require.True(t, q.Push(bs[i%4]))
		assert.Same(t, bs[i%4], q.Pop())
	}
	q.Push(bs[0])
	q.Push(bs[1])
	q.Purge()
	bs[2].Free()
	bs[3].Free()
	assert.Equal(t, 0, q.Len())
}

func TestSteadyStateNoAlloc(t *testing.T) {
	if israce.Enabled {
		t.Skip("sync.Pool drops items at random under -race")
	}
	// Warm the pools.
	for i := 0; i < 4; i++ {
		Alloc(1500).Free()
	}
	allocs := testing.AllocsPerRun(1000, func() {
		b := Alloc(1500)
		b.Put(1500)
		b.Push(14)
		b.Free()
	})
	assert.Zero(t, allocs)
}

func BenchmarkAllocFree(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		s := Alloc(1500)
		s.Put(1500)
		s.Free()
	}
}

func TestBulk(t *testing.T) {
	before := Live()
	bs := make([]*Buff, 40) // more than a magazine
	require.True(t, AllocBulk(bs, 60))
	for i, b := range bs {
		require.NotNil(t, b)
		assert.Equal(t, Headroom, b.Headroom())
		assert.Zero(t, b.Len())
		b.Put(1)[0] = byte(i)
	}
	assert.Equal(t, before+40, Live())
	c := bs[3].Clone() // its data outlives FreeBulk
	bs[5] = nil        // skipped
	FreeBulk(bs)
	assert.Nil(t, bs[0], "FreeBulk clears the slice")
	assert.Equal(t, []byte{3}, c.Data())
	// What FreeBulk gave back comes out again, each area once.
	again := make([]*Buff, 40)
	require.True(t, AllocBulk(again, 100))
	seen := map[*shared]bool{c.sh: true}
	for _, b := range again {
		assert.False(t, seen[b.sh], "a data area handed out twice")
		seen[b.sh] = true
		assert.Equal(t, -1, b.mac)
	}
	c.Free()
	FreeBulk(again)
	assert.Equal(t, before+1, Live(), "bs[5] was never freed")

	big := make([]*Buff, 2)
	require.True(t, AllocBulk(big, 9000))
	assert.GreaterOrEqual(t, big[0].Tailroom(), 9000)
	FreeBulk(big)
	assert.False(t, AllocBulk(big, MaxDataSize))
	assert.Panics(t, func() {
		b := Alloc(1)
		b.Free()
		FreeBulk([]*Buff{b})
	})
}

func TestBulkSteadyStateNoAlloc(t *testing.T) {
	if israce.Enabled {
		t.Skip("sync.Pool drops items at random under -race")
	}
	bs := make([]*Buff, 32)
	for i := 0; i < 4; i++ {
		AllocBulk(bs, 60)
		FreeBulk(bs)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		AllocBulk(bs, 60)
		FreeBulk(bs)
	})
	assert.Zero(t, allocs)
}

func BenchmarkAllocFreeBulk(b *testing.B) {
	b.ReportAllocs()
	bs := make([]*Buff, 32)
	for i := 0; i < b.N; i += len(bs) {
		AllocBulk(bs, 60)
		for _, s := range bs {
			s.Put(60)
		}
		FreeBulk(bs)
	}
}

// An Arena's Buffs carry the device address of their data; the arena
// lends what it has and the ordinary pool the rest; freed areas (one by
// one, in bulk, after a clone) come back once each.
func TestArena(t *testing.T) {
	before := Live()
	mem := make([]byte, 4*DataSize+100) // the tail is no whole area
	a := NewArena(mem, 0x40000)
	require.Equal(t, 4, a.Size())
	bs := make([]*Buff, 6)
	require.True(t, a.AllocBulk(bs, 60))
	assert.EqualValues(t, 4, a.InUse())
	seen := map[uint64]bool{}
	for i, b := range bs {
		ar, iova := b.DMA()
		if i >= 4 {
			assert.Nil(t, ar, "the arena is empty: the pool lends the rest")
			continue
		}
		require.Same(t, a, ar)
		off := iova - 0x40000 - Headroom
		require.Zero(t, off%DataSize)
		require.Less(t, off, uint64(4*DataSize))
		assert.False(t, seen[iova])
		seen[iova] = true
		// The bytes the device reads are the Buff's.
		b.Put(2)[1] = byte(i + 1)
		assert.Equal(t, byte(i+1), mem[off+Headroom+1])
		b.Push(14)
		_, iova2 := b.DMA()
		assert.Equal(t, iova-14, iova2, "the address follows the data's start")
	}
	c := bs[0].Clone()
	bs[1].Free()
	bs[1] = nil
	assert.EqualValues(t, 3, a.InUse())
	FreeBulk(bs)
	assert.EqualValues(t, 1, a.InUse(), "the clone holds its area")
	c.Free()
	assert.Zero(t, a.InUse())
	assert.Equal(t, before, Live())
	var nilArena *Arena
	require.True(t, nilArena.AllocBulk(bs[:2], 60))
	ar, _ := bs[0].DMA()
	assert.Nil(t, ar)
	FreeBulk(bs[:2])

	if !israce.Enabled {
		allocs := testing.AllocsPerRun(100, func() {
			a.AllocBulk(bs[:4], 60)
			bs[0].Free()
			FreeBulk(bs[1:4])
		})
		assert.Zero(t, allocs)
	}
}

// A path that frees in bulk what another allocates one by one (a
// forwarder: the receive path's Alloc, the driver's FreeBulk) makes no
// garbage: Alloc empties FreeBulk's magazines.
func TestBulkFreeSingleAllocNoAlloc(t *testing.T) {
	if israce.Enabled {
		t.Skip("sync.Pool drops items at random under -race")
	}
	bs := make([]*Buff, 32)
	cycle := func() {
		for i := range bs {
			bs[i] = Alloc(60)
		}
		FreeBulk(bs)
	}
	for range 4 {
		cycle()
	}
	assert.Zero(t, testing.AllocsPerRun(200, cycle))
}
