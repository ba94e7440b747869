package vfio

import (
	"encoding/binary"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

type containerMapper struct{ f *os.File }

func (c containerMapper) mapDMA(mem []byte, iova uint64) error {
	m := dmaMap{
		Argsz: uint32(unsafe.Sizeof(dmaMap{})),
		Flags: dmaMapFlagRead | dmaMapFlagWrite,
		Vaddr: uint64(uintptr(unsafe.Pointer(&mem[0]))),
		IOVA:  iova,
		Size:  uint64(len(mem)),
	}
	return ioctlPtr(c.f, ioctlIOMMUMapDMA, unsafe.Pointer(&m))
}

func (c containerMapper) unmapDMA(iova, size uint64) error {
	u := dmaUnmap{Argsz: uint32(unsafe.Sizeof(dmaUnmap{})), IOVA: iova, Size: size}
	return ioctlPtr(c.f, ioctlIOMMUUnmapDMA, unsafe.Pointer(&u))
}

// alloc maps anonymous shared memory outside the Go heap: the garbage
// collector never moves or frees it, and MAP_LOCKED keeps it resident. A 2
// MiB huge page is tried first (fewer IOTLB entries), then small pages.
func (containerMapper) alloc(size int) ([]byte, bool, error) {
	const mapHuge2MB = 21 << unix.MAP_HUGE_SHIFT
	flags := unix.MAP_SHARED | unix.MAP_ANONYMOUS | unix.MAP_LOCKED | unix.MAP_POPULATE
	if size%chunkSize == 0 {
		if mem, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, flags|unix.MAP_HUGETLB|mapHuge2MB); err == nil {
			return mem, true, nil
		}
	}
	mem, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, flags)
	if err != nil {
		return nil, false, fmt.Errorf("mmap %d bytes: %w", size, err)
	}
	return mem, false, nil
}

func (containerMapper) free(mem []byte) error { return unix.Munmap(mem) }

// iovaRanges asks the type1 IOMMU which IOVAs it can map. Kernels without
// the IOVA range capability get the whole 48-bit space less the x86 MSI
// window, which is what such kernels allowed.
func iovaRanges(container *os.File) ([]IOVARange, error) {
	buf := make([]byte, 4096)
	hdr := (*iommuType1Info)(unsafe.Pointer(&buf[0]))
	hdr.Argsz = uint32(len(buf))
	if err := ioctlPtr(container, ioctlIOMMUGetInfo, unsafe.Pointer(&buf[0])); err != nil {
		return nil, fmt.Errorf("vfio: iommu info: %w", err)
	}
	if hdr.Argsz > uint32(len(buf)) {
		return nil, fmt.Errorf("vfio: iommu info needs %d bytes", hdr.Argsz)
	}
	if hdr.Flags&iommuInfoCaps != 0 {
		r, err := parseIOVARanges(buf[:hdr.Argsz], hdr.CapOffset)
		if err != nil || len(r) > 0 {
			return r, err
		}
	}
	return []IOVARange{{0, 0xfedfffff}, {0xfef00000, 1<<48 - 1}}, nil
}

// parseIOVARanges walks the vfio_info_cap_header chain of a type1 info
// buffer for VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE. The offsets come from the
// kernel but are checked like any other input.
func parseIOVARanges(buf []byte, off uint32) ([]IOVARange, error) {
	le := binary.LittleEndian
	for n := 0; off != 0; n++ {
		if n > 64 || uint64(off)+8 > uint64(len(buf)) {
			return nil, fmt.Errorf("vfio: iommu info capability chain broken at %d", off)
		}
		id, next := le.Uint16(buf[off:]), le.Uint32(buf[off+4:])
		if id == iommuCapIOVARange {
			if uint64(off)+16 > uint64(len(buf)) {
				return nil, fmt.Errorf("vfio: iova range capability truncated")
			}
			nr := le.Uint32(buf[off+8:])
			p := uint64(off) + 16
			if p+uint64(nr)*16 > uint64(len(buf)) {
				return nil, fmt.Errorf("vfio: iova range capability: %d ranges do not fit", nr)
			}
			out := make([]IOVARange, nr)
			for i := range out {
				out[i] = IOVARange{le.Uint64(buf[p:]), le.Uint64(buf[p+8:])}
				p += 16
			}
			return out, nil
		}
		off = next
	}
	return nil, nil
}
