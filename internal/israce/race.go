//go:build race

package israce

// Enabled: the race detector is on. sync.Pool then drops a share of what
// it is given on purpose, so tests that count allocations skip the count.
const Enabled = true
