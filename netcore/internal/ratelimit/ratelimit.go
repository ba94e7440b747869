// Package ratelimit is the token bucket ICMP output is limited with in
// both IP versions (icmp_global_allow).
package ratelimit

import (
	"sync"
	"time"
)

// Bucket allows rate events a second with bursts of burst.
type Bucket struct {
	mu     sync.Mutex
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

// New is a full bucket.
func New(rate, burst int) *Bucket {
	return &Bucket{rate: float64(rate), burst: float64(burst), tokens: float64(burst), last: time.Now()}
}

// Allow takes a token if there is one.
func (t *Bucket) Allow() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	t.tokens = min(t.burst, t.tokens+now.Sub(t.last).Seconds()*t.rate)
	t.last = now
	if t.tokens < 1 {
		return false
	}
	t.tokens--
	return true
}
