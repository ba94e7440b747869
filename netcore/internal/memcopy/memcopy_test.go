package memcopy

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCopy: every size and alignment, chunked or not, copies exactly the
// bytes copy would and reports the same count.
func TestCopy(t *testing.T) {
	src := make([]byte, 70000)
	rand.NewChaCha8([32]byte{1}).Read(src)
	saved := split
	defer func() { split = saved }()
	for _, s := range []bool{false, true} {
		split = s
		for _, n := range []int{0, 1, 7, 2047, 2048, 2049, 4096, 4099, 65536, 69990} {
			for so := range 8 {
				for do := range 8 {
					dst := make([]byte, n+do+8)
					got := Copy(dst[do:do+n+3], src[so:so+n])
					require.Equal(t, n, got)
					require.True(t, bytes.Equal(src[so:so+n], dst[do:do+n]), "split=%v n=%d src+%d dst+%d", s, n, so, do)
					require.Zero(t, dst[do+n], "nothing past the copy")
				}
			}
		}
	}
}

// BenchmarkCopyMisaligned: a 29 KB payload 2 bytes off alignment, as a
// GRO packet's; split is what a CPU without AVX (QEMU's qemu64) gets.
func BenchmarkCopyMisaligned(b *testing.B) {
	src := make([]byte, 29000+2)
	dst := make([]byte, 32<<10)
	for _, s := range []bool{false, true} {
		name := map[bool]string{false: "memmove", true: "split"}[s]
		b.Run(name, func(b *testing.B) {
			saved := split
			defer func() { split = saved }()
			split = s
			b.SetBytes(29000)
			for range b.N {
				Copy(dst, src[2:])
			}
		})
	}
}
