package wait

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/ringonet/ringo/internal/israce"
	"github.com/stretchr/testify/require"
)

// A wake-up before the deadline returns nil, a deadline that passes
// returns os.ErrDeadlineExceeded, and neither leaves the next wait a
// stale expiry; waiting with a deadline allocates nothing once a timer is
// pooled.
func TestUntil(t *testing.T) {
	ready := make(chan struct{}, 1)
	ready <- struct{}{}
	require.NoError(t, Until(ready, time.Now().Add(time.Hour)))

	never := make(chan struct{})
	err := Until(never, time.Now().Add(time.Millisecond))
	require.True(t, errors.Is(err, os.ErrDeadlineExceeded))

	// The timer that fired goes back to the pool; the next wait with a
	// long deadline must see the wake-up, not that old expiry.
	ready <- struct{}{}
	require.NoError(t, Until(ready, time.Now().Add(time.Hour)))
	require.ErrorIs(t, Until(never, time.Now().Add(-time.Second)), os.ErrDeadlineExceeded)

	allocs := testing.AllocsPerRun(100, func() {
		ready <- struct{}{}
		if Until(ready, time.Now().Add(time.Hour)) != nil {
			panic("woken, not timed out")
		}
	})
	if !israce.Enabled { // sync.Pool drops items at random under -race
		require.Zero(t, allocs)
	}
}
