package e1000e

import (
	"crypto/rand"
	"encoding/binary"
)

// Receive-side scaling (datasheet 7.1.9): the device hashes a received
// frame's addresses (and TCP ports) with the Toeplitz function under a
// 40-byte key, takes the low seven bits of the hash as an index into the
// 128-entry redirection table, and the entry's bit 7 names the queue. The
// hash goes to the descriptor, and from there to the skb (Linux's
// skb->hash, which RPS and the flow tables reuse). The 82574 hashes TCP
// over IPv4 and IPv6 on addresses and ports and everything else IP on the
// addresses alone (no UDP ports: QEMU's model and the part agree).

// RSSKeyLen is the key length (RSSRK, 10 registers).
const RSSKeyLen = 4 * rssKeyRegisters

// newRSSKey is a random key, as Linux's netdev_rss_key_fill gives every
// device: flows cannot be aimed at one queue from outside.
func newRSSKey() [RSSKeyLen]byte {
	var k [RSSKeyLen]byte
	rand.Read(k[:])
	return k
}

// toeplitz is the Toeplitz hash of input under key (7.1.9.1): for every
// set bit of the input, from the most significant, the 32 key bits that
// start at that bit position are xored in.
func toeplitz(key []byte, input []byte) uint32 {
	var h uint32
	window := binary.BigEndian.Uint32(key) // key bits [i, i+32)
	next := 4                              // next key byte to shift in
	for _, b := range input {
		for bit := 7; bit >= 0; bit-- {
			if b&(1<<bit) != 0 {
				h ^= window
			}
			window <<= 1
			if next < len(key) && key[next]&(1<<bit) != 0 {
				window |= 1
			}
		}
		next++
	}
	return h
}

// retaQueue is the queue the redirection table entry for hash names.
func retaQueue(reta *[retaEntries]byte, hash uint32) int {
	if reta[hash&(retaEntries-1)]&retaQueueBit != 0 {
		return 1
	}
	return 0
}

// writeRSS programs the key, a redirection table that alternates between
// the queues, and MRQC (e1000e_setup_rss_hash, with two queues).
func (d *Driver) writeRSS() {
	for i := 0; i < rssKeyRegisters; i++ {
		d.r.Write(regRSSRK+uint32(4*i), binary.LittleEndian.Uint32(d.rssKey[4*i:]))
	}
	for i := 0; i < retaEntries/4; i++ {
		var v uint32
		for j := 0; j < 4; j++ {
			if (4*i+j)%2 == 1 {
				v |= retaQueueBit << (8 * j)
			}
		}
		d.r.Write(regRETA+uint32(4*i), v)
	}
	d.r.Write(regMRQC, mrqc_RSS|mrqcHashTypes)
}
