package e1000

import (
	"fmt"
	"time"

	"github.com/ringonet/ringo/vfio"
)

// regs is the driver's MMIO vocabulary over a register window: read, write,
// set and clear bits, and wait for bits with a deadline (ixy's waits have
// none; a wedged device must not hang the driver).
type regs struct {
	w vfio.Registers
}

func (r regs) read(off uint32) uint32     { return r.w.Read32(off) }
func (r regs) write(off uint32, v uint32) { r.w.Write32(off, v) }
func (r regs) set(off uint32, bits uint32) {
	r.w.Write32(off, r.w.Read32(off)|bits)
}
func (r regs) clear(off uint32, bits uint32) {
	r.w.Write32(off, r.w.Read32(off)&^bits)
}

// waitClear waits until every bit in mask reads 0.
func (r regs) waitClear(off, mask uint32, timeout time.Duration) error {
	return r.wait(off, mask, 0, timeout)
}

// waitSet waits until every bit in mask reads 1.
func (r regs) waitSet(off, mask uint32, timeout time.Duration) error {
	return r.wait(off, mask, mask, timeout)
}

func (r regs) wait(off, mask, want uint32, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		v := r.w.Read32(off)
		if v&mask == want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("register %#05x = %#08x: bits %#08x not %#08x after %v", off, v, mask, want, timeout)
		}
		time.Sleep(10 * time.Microsecond)
	}
}
