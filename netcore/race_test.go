//go:build race

package netcore

const raceEnabled = true
