//go:build !race

// Package israce says whether the binary was built with the race
// detector, for tests that count allocations (pools drop items under it).
package israce

// Enabled: the race detector is on.
const Enabled = false
