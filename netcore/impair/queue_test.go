package impair

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The delay queue gives frames back by due time, then in arrival order,
// and holding and releasing them allocates nothing.
func TestDelayQueueOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Now()
	var q delayQueue
	for i := range 500 {
		q.push(delayed{due: base.Add(time.Duration(rng.IntN(50)) * time.Microsecond), seq: uint64(i)})
	}
	prev := q.pop()
	for q.Len() > 0 {
		x := q.pop()
		require.True(t, prev.due.Before(x.due) || prev.due.Equal(x.due) && prev.seq < x.seq, "%v/%d after %v/%d", x.due, x.seq, prev.due, prev.seq)
		prev = x
	}
	allocs := testing.AllocsPerRun(100, func() {
		for i := range 64 {
			q.push(delayed{due: base.Add(time.Duration(i%7) * time.Microsecond), seq: uint64(i)})
		}
		for q.Len() > 0 {
			q.pop()
		}
	})
	require.Zero(t, allocs)
}
