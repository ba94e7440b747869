package e1000x

import (
	"fmt"
	"time"

	"github.com/ringonet/ringo/vfio"
)

// Regs is a driver's MMIO vocabulary over a register window: read, write,
// set and clear bits, and wait for bits with a deadline (ixy's waits have
// none; a wedged device must not hang the driver).
type Regs struct {
	W vfio.Registers
}

func (r Regs) Read(off uint32) uint32     { return r.W.Read32(off) }
func (r Regs) Write(off uint32, v uint32) { r.W.Write32(off, v) }

// Set ors bits into a register (read, modify, write).
func (r Regs) Set(off uint32, bits uint32) { r.W.Write32(off, r.W.Read32(off)|bits) }

// Clear clears bits in a register (read, modify, write).
func (r Regs) Clear(off uint32, bits uint32) { r.W.Write32(off, r.W.Read32(off)&^bits) }

// WaitClear waits until every bit in mask reads 0.
func (r Regs) WaitClear(off, mask uint32, timeout time.Duration) error {
	return r.wait(off, mask, 0, timeout)
}

// WaitSet waits until every bit in mask reads 1.
func (r Regs) WaitSet(off, mask uint32, timeout time.Duration) error {
	return r.wait(off, mask, mask, timeout)
}

func (r Regs) wait(off, mask, want uint32, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		v := r.W.Read32(off)
		if v&mask == want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("register %#05x = %#08x: bits %#08x not %#08x after %v", off, v, mask, want, timeout)
		}
		time.Sleep(10 * time.Microsecond)
	}
}
