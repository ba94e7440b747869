package vfio

import (
	"encoding/binary"
	"errors"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The structs must match include/uapi/linux/vfio.h byte for byte.
func TestUAPILayout(t *testing.T) {
	assert.Equal(t, uintptr(8), unsafe.Sizeof(groupStatus{}))
	assert.Equal(t, uintptr(24), unsafe.Sizeof(deviceInfo{}))
	assert.Equal(t, uintptr(32), unsafe.Sizeof(regionInfo{}))
	assert.Equal(t, uintptr(16), unsafe.Offsetof(regionInfo{}.Size))
	assert.Equal(t, uintptr(16), unsafe.Sizeof(irqInfo{}))
	assert.Equal(t, uintptr(20), unsafe.Sizeof(irqSet{}))
	assert.Equal(t, uintptr(24), unsafe.Sizeof(iommuType1Info{}))
	assert.Equal(t, uintptr(32), unsafe.Sizeof(dmaMap{}))
	assert.Equal(t, uintptr(24), unsafe.Sizeof(dmaUnmap{}))

	// _IO(';', 100 + n)
	assert.Equal(t, uintptr(0x3b64), ioctlGetAPIVersion)
	assert.Equal(t, uintptr(0x3b6a), ioctlGroupGetDeviceFD)
	assert.Equal(t, uintptr(0x3b6e), ioctlDeviceSetIRQs)
	assert.Equal(t, uintptr(0x3b71), ioctlIOMMUMapDMA)
	assert.Equal(t, uintptr(0x3b72), ioctlIOMMUUnmapDMA)
}

// typeInfo builds a VFIO_IOMMU_GET_INFO answer with a capability chain.
func typeInfo(ranges ...IOVARange) []byte {
	le := binary.LittleEndian
	buf := make([]byte, 24+8+16+16*len(ranges)+8)
	le.PutUint32(buf[0:], uint32(len(buf)))
	le.PutUint32(buf[4:], iommuInfoPgsizes|iommuInfoCaps)
	le.PutUint32(buf[16:], 24)
	// an unrelated capability first (migration, id 2), then the ranges.
	le.PutUint16(buf[24:], 2)
	le.PutUint32(buf[28:], 32)
	le.PutUint16(buf[32:], iommuCapIOVARange)
	le.PutUint32(buf[40:], uint32(len(ranges)))
	for i, r := range ranges {
		le.PutUint64(buf[48+16*i:], r.Start)
		le.PutUint64(buf[56+16*i:], r.End)
	}
	return buf
}

func TestParseIOVARanges(t *testing.T) {
	want := []IOVARange{{0, 0xfedfffff}, {0xfef00000, 0xffffffffffff}}
	buf := typeInfo(want...)
	got, err := parseIOVARanges(buf, 24)
	require.NoError(t, err)
	assert.Equal(t, want, got)

	// Truncated range array, a loop, an offset past the end: errors, no panic.
	_, err = parseIOVARanges(buf[:60], 24)
	assert.Error(t, err)
	loop := typeInfo(want...)
	binary.LittleEndian.PutUint32(loop[28:], 24)
	binary.LittleEndian.PutUint16(loop[24:], 7)
	_, err = parseIOVARanges(loop, 24)
	assert.Error(t, err)
	_, err = parseIOVARanges(buf, 1<<31)
	assert.Error(t, err)
}

type fakeMapper struct {
	mapped   map[uint64]int
	failMap  bool
	unmapped int
	freed    int
	huge     bool // alloc says huge pages back its memory
}

func (f *fakeMapper) mapDMA(mem []byte, iova uint64) error {
	if f.failMap {
		return errors.New("EFAULT")
	}
	f.mapped[iova] = len(mem)
	return nil
}
func (f *fakeMapper) unmapDMA(iova, size uint64) error {
	if f.mapped[iova] != int(size) {
		return errors.New("unmap of unmapped range")
	}
	delete(f.mapped, iova)
	f.unmapped++
	return nil
}
func (f *fakeMapper) alloc(size int) ([]byte, bool, error) { return make([]byte, size), f.huge, nil }
func (f *fakeMapper) free([]byte) error                    { f.freed++; return nil }

// Close takes every chunk from the device; a chunk whose KeepHost holder
// is busy (a packet area a socket still queues) stays in the process,
// the others are freed.
func TestDMAPoolKeepHost(t *testing.T) {
	m := &fakeMapper{mapped: map[uint64]int{}}
	p := newDMAPool([]IOVARange{{0, 1<<48 - 1}}, m)
	ring, err := p.AllocDMA(4096, 128)
	require.NoError(t, err)
	areas, err := p.AllocDMA(chunkSize, 4096) // a chunk of its own
	require.NoError(t, err)
	idle, err := p.AllocDMA(chunkSize, 4096)
	require.NoError(t, err)
	p.KeepHost(areas, func() bool { return true })
	p.KeepHost(idle, func() bool { return false })
	_ = ring
	require.NoError(t, p.Close())
	assert.Empty(t, m.mapped, "the device reaches nothing")
	assert.Equal(t, 2, m.freed, "the ring's chunk and the idle one freed")
	assert.Equal(t, chunkSize, p.Kept())
}

func TestDMAPool(t *testing.T) {
	m := &fakeMapper{mapped: map[uint64]int{}}
	p := newDMAPool([]IOVARange{{0, 0xfedfffff}, {0xfef00000, 1<<48 - 1}}, m)

	ring, err := p.AllocDMA(64*16, 128)
	require.NoError(t, err)
	assert.Equal(t, uint64(minIOVA), ring.IOVA)
	assert.Len(t, ring.Buf, 1024)
	assert.Equal(t, 1024, cap(ring.Buf), "a buffer must not reach into its neighbour")

	buf, err := p.AllocDMA(100, 2048)
	require.NoError(t, err)
	assert.Equal(t, uint64(minIOVA+2048), buf.IOVA)
	// Memory is shared between the CPU view and the device view.
	buf.Buf[0] = 0xaa
	assert.Len(t, m.mapped, 1)

	// A buffer larger than what is left starts a new chunk.
	big, err := p.AllocDMA(3<<20, 4096)
	require.NoError(t, err)
	assert.Equal(t, uint64(minIOVA+chunkSize), big.IOVA)
	assert.Equal(t, chunkSize+4<<20, p.Mapped())
	mapped, huge := p.MappedHuge()
	assert.Equal(t, chunkSize+4<<20, mapped)
	assert.Zero(t, huge, "small pages back the fake's first chunks")
	m.huge = true
	_, err = p.AllocDMA(chunkSize, 4096)
	require.NoError(t, err)
	mapped, huge = p.MappedHuge()
	assert.Equal(t, chunkSize+6<<20, mapped)
	assert.Equal(t, chunkSize, huge, "a chunk on huge pages counts as huge")

	_, err = p.AllocDMA(10, 3)
	assert.Error(t, err)

	require.NoError(t, p.Close())
	assert.Empty(t, m.mapped)
	_, err = p.AllocDMA(10, 8)
	assert.Error(t, err)
}

func TestDMAPoolIOVAExhaustedAndHole(t *testing.T) {
	m := &fakeMapper{mapped: map[uint64]int{}}
	// The first range is too small for a chunk; the second takes one.
	p := newDMAPool([]IOVARange{{0x100000, 0x2fffff}, {0x400000, 0x5fffff}}, m)
	b, err := p.AllocDMA(chunkSize, 4096)
	require.NoError(t, err)
	assert.Equal(t, uint64(0x400000), b.IOVA)
	_, err = p.AllocDMA(chunkSize, 4096)
	assert.ErrorIs(t, err, ErrIOVASpace)

	m.failMap = true
	q := newDMAPool([]IOVARange{{0, 1<<48 - 1}}, m)
	_, err = q.AllocDMA(64, 64)
	assert.ErrorContains(t, err, "map dma")
}
