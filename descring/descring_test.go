package descring

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringonet/ringo/vfio"
)

// heapDMA hands out Go memory with made-up IOVAs.
type heapDMA struct{ next uint64 }

func (h *heapDMA) AllocDMA(size, align int) (vfio.DMABuf, error) {
	h.next = (h.next + uint64(align) - 1) &^ (uint64(align) - 1)
	b := vfio.DMABuf{Buf: make([]byte, size), IOVA: 0x100000 + h.next}
	h.next += uint64(size)
	return b, nil
}

func TestConfigChecks(t *testing.T) {
	for _, n := range []int{0, 4, 12, 100, 7} {
		_, err := New(&heapDMA{}, Config{Count: n, DescSize: 16, DescAlign: 128})
		assert.Error(t, err, "count %d", n)
	}
	r, err := New(&heapDMA{}, Config{Count: 64, DescSize: 16, DescAlign: 128, BufSize: 2048})
	require.NoError(t, err)
	assert.Equal(t, 1024, r.Bytes())
	assert.Zero(t, r.IOVA()%128)
	assert.Len(t, r.Buf(3).Buf, 2048)
}

func TestIndexArithmetic(t *testing.T) {
	r, err := New(&heapDMA{}, Config{Count: 8, DescSize: 16, DescAlign: 128})
	require.NoError(t, err)
	// Empty: all but one slot usable.
	assert.Equal(t, 7, r.Unused())
	assert.Equal(t, 0, r.InUse())

	// Fill to full: tail one behind head.
	r.SetNextToUse(7)
	assert.Equal(t, 0, r.Unused())
	assert.Equal(t, 7, r.InUse())

	// Clean 3, then wrap the producer past the end.
	r.SetNextToClean(3)
	assert.Equal(t, 3, r.Unused())
	r.SetNextToUse(r.NextToUse() + 3) // 7+3 = 10 -> 2
	assert.Equal(t, 2, r.NextToUse())
	assert.Equal(t, 0, r.Unused())
	assert.Equal(t, 7, r.InUse())

	// Consumer wraps too.
	r.SetNextToClean(2)
	assert.Equal(t, 7, r.Unused())
	assert.Equal(t, 0, r.InUse())

	assert.Equal(t, 0, r.Next(7))
	assert.Equal(t, 5, r.Next(4))
	assert.True(t, r.Valid(7))
	assert.False(t, r.Valid(8))
	assert.False(t, r.Valid(0xffffffff))
}

func TestDescMasksIndex(t *testing.T) {
	r, err := New(&heapDMA{}, Config{Count: 8, DescSize: 16, DescAlign: 128})
	require.NoError(t, err)
	r.Desc(9)[0] = 0xaa // slot 1
	assert.Equal(t, byte(0xaa), r.Desc(1)[0])
	assert.Len(t, r.Desc(-1), 16)
	r.SetNextToUse(5)
	r.Reset()
	assert.Equal(t, byte(0), r.Desc(1)[0])
	assert.Equal(t, 0, r.NextToUse())
}
