package ne2000

import (
	"encoding/binary"
	"testing"
)

// FuzzReceiveRing: the card is hostile. Whatever the receive ring holds
// (headers with any status, next page and length, chains that loop or run
// off the ring) and wherever CURR points, a service pass ends, reads no
// card memory outside the ring, takes no more frames than the ring has
// pages, and leaves BNRY inside the ring.
func FuzzReceiveRing(f *testing.F) {
	// Seeds: a good 60-byte frame, a full frame, a next-page loop, a
	// runt, a giant, a next page outside the ring, no status.
	hdr := func(status, next uint8, count uint16) []byte {
		b := make([]byte, 256)
		b[0], b[1] = status, next
		binary.LittleEndian.PutUint16(b[2:], count)
		return b
	}
	f.Add(hdr(rsr_PRX, RxStartPage+1, 64), uint8(1))
	f.Add(append(hdr(rsr_PRX, RxStartPage+6, 1518), make([]byte, 5*256)...), uint8(6))
	f.Add(hdr(rsr_PRX, RxStartPage, 64), uint8(3))
	f.Add(hdr(rsr_PRX, RxStartPage+1, 10), uint8(1))
	f.Add(hdr(rsr_PRX, RxStartPage+1, 0xffff), uint8(1))
	f.Add(hdr(rsr_PRX, 0xff, 100), uint8(1))
	f.Add(hdr(0, RxStartPage+1, 100), uint8(1))

	r := newRig(f, 4, 0)
	r.f.hold(true) // the pass runs here, not on the interrupt's goroutine
	d := r.drv
	pages := d.RxRingPages()
	f.Fuzz(func(t *testing.T, ring []byte, curr uint8) {
		if len(ring) > pages*256 {
			ring = ring[:pages*256]
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		d.resetRingLocked() // BNRY at the ring's end, CURR at its start
		r.f.mu.Lock()
		lo, hi := RxStartPage<<8, d.rxStop<<8
		clear(r.f.mem[lo:hi])
		copy(r.f.mem[lo:], ring)
		r.f.curr = uint8(RxStartPage + int(curr)%pages)
		r.f.isr |= isr_PRX
		r.f.readLo, r.f.readHi = len(r.f.mem), -1
		r.f.mu.Unlock()

		rx := d.Dev.Stats.RxPackets.Load()
		d.serviceLocked()
		if d.bnry < RxStartPage || int(d.bnry) >= d.rxStop {
			t.Fatalf("BNRY %#x outside the ring %#x-%#x", d.bnry, RxStartPage, d.rxStop)
		}
		if n := d.Dev.Stats.RxPackets.Load() - rx; n > uint64(pages) {
			t.Fatalf("%d frames from a ring of %d pages", n, pages)
		}
		r.f.mu.Lock()
		readLo, readHi := r.f.readLo, r.f.readHi
		r.f.mu.Unlock()
		if readHi >= 0 && (readLo < lo || readHi >= hi) {
			t.Fatalf("remote reads %#x-%#x outside the ring %#x-%#x", readLo, readHi, lo, hi-1)
		}
	})
}
