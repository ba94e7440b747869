package memcopy

import "unsafe"

// aligned reports whether both slices start on an 8-byte boundary (the
// test memmove makes before choosing REP MOVSQ).
func aligned(dst, src []byte) bool {
	return (uintptr(unsafe.Pointer(unsafe.SliceData(dst)))|uintptr(unsafe.Pointer(unsafe.SliceData(src))))&7 == 0
}
