// Package memcopy copies packet payloads without Go's slow path for
// large misaligned copies.
//
// On amd64 without AVX, Go's memmove copies a block of more than 2 KB
// whose source or destination is not 8-byte aligned with REP MOVSB, one
// byte per iteration; aligned blocks go 8 bytes per iteration (REP MOVSQ)
// and blocks up to 2 KB through SSE registers, 16 bytes at a time. A TCP
// payload is never aligned (it starts 2 bytes past an 8-byte boundary
// after Ethernet, IPv4 and TCP with timestamps), so every large copy of
// received or sent data took the byte loop. QEMU's default CPU model
// (qemu64) has no AVX, and under TCG a REP iteration is emulated one by
// one: in the e1000 TCP receive profile the copy out of GRO packets ran
// at ~0.3 GB/s, an aligned one of the same bytes at ~3 GB/s. Older and
// smaller real CPUs without AVX pay for it too.
package memcopy

import "golang.org/x/sys/cpu"

// chunk is the largest block Go's memmove copies through SSE registers.
const chunk = 2048

// split says Copy cuts misaligned copies into chunks: where memmove has
// no AVX path (amd64 only; elsewhere and with AVX memmove is fast).
var split = cpu.X86.HasSSE2 && !cpu.X86.HasAVX

// Copy is copy(dst, src) for non-overlapping slices, in blocks of at most
// 2 KB when one large block would take memmove's byte loop.
func Copy(dst, src []byte) int {
	n := min(len(dst), len(src))
	if !split || n <= chunk || aligned(dst, src) {
		return copy(dst, src)
	}
	for off := 0; off < n; off += chunk {
		end := min(off+chunk, n)
		copy(dst[off:end], src[off:end])
	}
	return n
}
