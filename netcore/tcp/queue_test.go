package tcp

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestByteQueue drives a queue with random appends, peeks, reads and
// consumes against a plain slice: the bytes come out in order whether
// they wrap the buffer end or not, and growing a wrapped queue keeps them.
func TestByteQueue(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const limit = 64 << 10
	var q byteQueue
	var model []byte
	var seq byteSeq
	wrapped := 0
	for range 20000 {
		switch rng.IntN(4) {
		case 0, 1: // append up to what the limit leaves
			p := seq.next(rng.IntN(min(limit-len(model), 9000) + 1))
			q.Append(p, limit)
			model = append(model, p...)
		case 2: // peek a range
			if len(model) == 0 {
				continue
			}
			off := rng.IntN(len(model))
			n := rng.IntN(len(model) - off + 1)
			a, b := q.Peek(off, n)
			if len(b) > 0 {
				wrapped++
			}
			require.Equal(t, model[off:off+n], append(append([]byte{}, a...), b...))
		case 3: // read or consume from the head
			n := rng.IntN(len(model) + 1)
			if rng.IntN(2) == 0 {
				p := make([]byte, n)
				require.Equal(t, n, q.Read(p))
				require.True(t, bytes.Equal(model[:n], p))
			} else {
				q.Consume(n)
			}
			model = model[n:]
		}
		require.Equal(t, len(model), q.Len())
		require.LessOrEqual(t, q.Cap(), limit)
	}
	require.Greater(t, wrapped, 100, "the test wraps the buffer")
	require.Panics(t, func() { q.Peek(q.Len(), 1) })
}

// TestByteQueueSmall: a connection that moves little holds 4 KB, and an
// emptied queue starts again at the front.
func TestByteQueueSmall(t *testing.T) {
	var q byteQueue
	for range 1000 {
		q.Append([]byte("hello"), 256<<10)
		q.Consume(5)
	}
	require.Equal(t, minQueue, q.Cap())
	require.Equal(t, 0, q.head)
}

// BenchmarkByteQueueLagging: a bulk receiver whose reader lags, the queue
// kept nearly full (the case that made the linear queue move everything
// on almost every append).
func BenchmarkByteQueueLagging(b *testing.B) {
	const limit = 4 << 20
	var q byteQueue
	seg := make([]byte, 1448)
	out := make([]byte, 32<<10)
	for q.Len()+len(seg) <= limit {
		q.Append(seg, limit)
	}
	b.SetBytes(int64(len(seg)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if q.Len()+len(seg) > limit {
			q.Read(out)
		}
		q.Append(seg, limit)
	}
}

// byteSeq hands out consecutive bytes (0, 1, ..., 255, 0, ...), so a
// queue's output shows any byte lost, doubled or out of place.
type byteSeq byte

func (s *byteSeq) next(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(*s)
		*s++
	}
	return p
}

// A lone segment's ACK waits two round trips, between 2 and 40 ms; with no
// round trip measured yet, 40 ms (TCP_DELACK_MIN).
func TestDelAckTimeout(t *testing.T) {
	for _, c := range []struct{ rcvRTT, srtt, want time.Duration }{
		{0, 0, 40 * time.Millisecond},
		{0, 300 * time.Microsecond, 2 * time.Millisecond},
		{500 * time.Microsecond, 0, 2 * time.Millisecond},
		{5 * time.Millisecond, time.Millisecond, 10 * time.Millisecond},
		{0, 8 * time.Millisecond, 16 * time.Millisecond},
		{30 * time.Millisecond, 0, 40 * time.Millisecond},
	} {
		conn := &Conn{rcvRTT: c.rcvRTT, srtt: c.srtt}
		if got := conn.delAckTimeoutLocked(); got != c.want {
			t.Errorf("rcvRTT %v srtt %v: %v, want %v", c.rcvRTT, c.srtt, got, c.want)
		}
	}
}
