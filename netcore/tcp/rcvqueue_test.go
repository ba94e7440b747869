package tcp

import (
	"math/rand/v2"
	"testing"

	"github.com/ringonet/ringo/internal/israce"
	"github.com/ringonet/ringo/netcore/skb"
	"github.com/stretchr/testify/require"
)

// packet returns an skb holding a 40-byte header and then payload, the
// payload view into it, as TCP input hands the receive queue.
func packet(t *testing.T, payload []byte) (*skb.Buff, []byte) {
	t.Helper()
	b := skb.Alloc(40 + len(payload))
	require.NotNil(t, b)
	p := b.Put(40 + len(payload))
	copy(p[40:], payload)
	return b, b.Data()[40:]
}

// TestRcvQueue adds payloads of every size, by reference and by copy, and
// reads them back in random pieces: the bytes come out in order, the
// queue charges what it holds, and everything goes back to the pool.
func TestRcvQueue(t *testing.T) {
	live := skb.Live()
	rng := rand.New(rand.NewPCG(3, 4))
	const limit = 256 << 10
	var q rcvQueue
	var model []byte
	var seq byteSeq
	clones := 0
	for range 5000 {
		if rng.IntN(2) == 0 && len(model) < limit {
			size := []int{1, 100, 600, 1448, 1900, 3000, 29000, 64000}[rng.IntN(8)]
			size = min(size, limit-len(model))
			p := seq.next(size)
			held := q.Held()
			if rng.IntN(4) == 0 {
				q.Add(p, nil, limit)
			} else {
				b, view := packet(t, p)
				n := q.n
				q.Add(view, b, limit)
				if q.n > n && !q.ring[(q.head+q.n-1)&(len(q.ring)-1)].private {
					clones++
				}
				b.Free() // the caller's: a queued clone outlives it
			}
			require.GreaterOrEqual(t, q.Held(), held)
			model = append(model, p...)
		} else {
			p := make([]byte, rng.IntN(70000))
			n := q.Read(p)
			require.Equal(t, min(len(p), len(model)), n)
			require.Equal(t, model[:n], p[:n])
			model = model[n:]
		}
		require.Equal(t, len(model), q.Len())
		require.LessOrEqual(t, q.Held(), 3*limit+skb.MaxDataSize, "bounded by the receive buffer")
	}
	require.Greater(t, clones, 500, "payloads queued by reference")
	q.Purge()
	require.Equal(t, 0, q.Len())
	require.Equal(t, 0, q.Held())
	require.Equal(t, live, skb.Live(), "every buffer back in the pool")
}

// TestRcvQueueTinySegments: a peer sending one byte per segment, each in
// a big buffer, makes the queue hold packed copies, not a buffer a byte.
func TestRcvQueueTinySegments(t *testing.T) {
	const limit = 64 << 10
	var q rcvQueue
	for i := range limit {
		b := skb.Alloc(skb.MaxDataSize - skb.Headroom) // a big buffer
		p := b.Put(41)
		p[40] = byte(i)
		q.Add(p[40:], b, limit)
		b.Free()
	}
	require.Equal(t, limit, q.Len())
	require.LessOrEqual(t, q.Held(), 2*limit, "packed: about a byte held per byte")
	got := make([]byte, limit)
	require.Equal(t, limit, q.Read(got))
	for i, c := range got {
		require.Equal(t, byte(i), c)
	}
}

// BenchmarkRcvQueueGRO: 20-segment GRO packets through the queue, read in
// 32 KB pieces: no copy in, no allocation.
func BenchmarkRcvQueueGRO(b *testing.B) {
	const limit = 4 << 20
	var q rcvQueue
	payload := make([]byte, 20*1448)
	out := make([]byte, 32<<10)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for range b.N {
		pkt := skb.Alloc(40 + len(payload))
		p := pkt.Put(40 + len(payload))
		q.Add(p[40:], pkt, limit)
		pkt.Free()
		for q.Len() > limit/2 {
			q.Read(out)
		}
	}
	q.Purge()
}

// TestOutOfOrderNoAlloc: segments beyond a hole are held without
// allocating (in the packets they came in, or pooled copies of small
// ones); the segment that fills the hole brings them onto the receive
// queue in order, and every buffer goes back to the pool.
func TestOutOfOrderNoAlloc(t *testing.T) {
	live := skb.Live()
	c := &Conn{t: &Table{}, rcvBufCap: 1 << 20, rcvNxt: 1000}
	const seg = 1448
	payload := make([]byte, seg)
	round := func() {
		// Eight segments arrive, the first last; each of the others is
		// out of order (one of them small, so copied).
		for i := 7; i >= 0; i-- {
			n := seg
			if i == 7 {
				n = 100
			}
			b, data := packet(t, payload[:n])
			c.dataLocked(c.rcvNxt+uint32(i*seg), data, b)
			b.Free()
		}
		if len(c.ooo) != 0 || c.rcvQ.Len() != 7*seg+100 {
			panic("the hole filled but the data is not all in order")
		}
		c.rcvQ.Purge()
	}
	round()
	allocs := testing.AllocsPerRun(50, round)
	if !israce.Enabled { // sync.Pool drops items at random under -race
		require.Zero(t, allocs)
	}
	require.EqualValues(t, 1000+52*(7*seg+100), c.rcvNxt) // AllocsPerRun runs once more to warm up
	require.Zero(t, c.oooBytes)
	require.Zero(t, c.oooHeld)
	require.Equal(t, live, skb.Live(), "every buffer back in the pool")
}
