//go:build race

package skb

const raceEnabled = true
