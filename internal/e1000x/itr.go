package e1000x

// Adaptive interrupt throttling, after Linux's e1000 in its default
// "dynamic conservative" mode (InterruptThrottleRate=3, e1000_set_itr and
// e1000_update_itr): at the end of the work each interrupt started, the
// packets and bytes it received put the traffic in a latency class, and
// the class sets the least gap between interrupts (ITR). Small, sparse
// frames keep 20,000 interrupts/s (a 50 µs gap: a ping waits at most
// that); full-sized or many frames an interrupt go to 4,000/s (250 µs),
// each interrupt then taking a ring's worth. Fewer interrupts matter more
// here than to the kernel: through VFIO each is an eventfd, a wake-up and
// an unmask ioctl.
//
// Only received traffic counts: the driver takes no transmit interrupts
// in steady state (it reclaims sent descriptors itself).

// itrClass is a latency class (Linux's latency_range).
type itrClass uint8

const (
	itrLowest itrClass = iota // lowest_latency: 70,000/s, 20,000 in conservative mode
	itrLow                    // low_latency: 20,000/s, 50 µs
	itrBulk                   // bulk_latency: 4,000/s, 250 µs
)

// Interrupt rates of the classes, interrupts/s.
const (
	ITRRateLow  = 20000
	ITRRateBulk = 4000
)

// nextITRClass is e1000_update_itr: the class after an interrupt that
// received packets frames of bytes in all, from class c.
func nextITRClass(c itrClass, packets, bytes int) itrClass {
	if packets == 0 {
		return c
	}
	per := bytes / packets
	switch c {
	case itrLowest:
		switch {
		case per > 8000: // jumbo frames
			return itrBulk
		case packets < 5 && bytes > 512:
			return itrLow
		}
	case itrLow:
		switch {
		case bytes > 10000:
			switch {
			case per > 8000, packets < 10 || per > 1200:
				return itrBulk
			case packets > 35:
				return itrLowest
			}
		case per > 2000:
			return itrBulk
		case packets <= 2 && bytes < 512:
			return itrLowest
		}
	case itrBulk:
		switch {
		case bytes > 25000:
			if packets > 35 {
				return itrLow
			}
		case bytes < 6000:
			return itrLow
		}
	}
	return c
}

// nextITRRate is e1000_set_itr in conservative mode: the class's rate,
// approached from below in quarter steps (a rate that rises does so
// gradually, biased towards bulk), dropped to at once.
func nextITRRate(cur int, c itrClass) int {
	want := ITRRateLow // lowest_latency is low_latency in conservative mode
	if c == itrBulk {
		want = ITRRateBulk
	}
	if want > cur {
		return min(cur+want>>2, want)
	}
	return want
}

// ITR is one interrupt vector's adaptive rate: the NAPI poll that the
// vector's interrupt started owns it.
type ITR struct {
	class          itrClass
	rate           int // interrupts/s the register is set to
	packets, bytes int // received since the last adaptation
}

// Reset starts the vector at 20,000 interrupts/s (low latency) and returns
// that rate.
func (t *ITR) Reset() int {
	*t = ITR{class: itrLow, rate: ITRRateLow}
	return t.rate
}

// Received counts a frame of n bytes.
func (t *ITR) Received(n int) {
	t.packets++
	t.bytes += n
}

// Adapt runs where a NAPI poll completes, before interrupts are unmasked:
// it classes what the interrupt's polls received and returns the new rate
// and whether it changed (the caller writes ITR or EITR).
func (t *ITR) Adapt() (rate int, changed bool) {
	packets, bytes := t.packets, t.bytes
	t.packets, t.bytes = 0, 0
	t.class = nextITRClass(t.class, packets, bytes)
	rate = nextITRRate(t.rate, t.class)
	changed = rate != t.rate
	t.rate = rate
	return rate, changed
}

// Register is ITR (or EITR) for rate interrupts/s: the gap in 256 ns units.
func Register(rate int) uint32 { return uint32(1e9 / 256 / rate) }
