package e1000

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
	itrRateLow  = 20000
	itrRateBulk = 4000
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
	want := itrRateLow // lowest_latency is low_latency in conservative mode
	if c == itrBulk {
		want = itrRateBulk
	}
	if want > cur {
		return min(cur+want>>2, want)
	}
	return want
}

// itrRegister is ITR for rate interrupts/s: the gap in 256 ns units.
func itrRegister(rate int) uint32 { return uint32(1e9 / 256 / rate) }

// adaptITR runs where a NAPI poll completes, before interrupts are
// unmasked: it classes what the interrupt's polls received and writes a
// new ITR when the rate changes. The NAPI poll owns the state.
func (d *Driver) adaptITR() {
	packets, bytes := d.itrPackets, d.itrBytes
	d.itrPackets, d.itrBytes = 0, 0
	if d.cfg.InterruptRate != 0 || d.cfg.BusyPoll {
		return
	}
	d.itrClass = nextITRClass(d.itrClass, packets, bytes)
	if rate := nextITRRate(d.itrRate, d.itrClass); rate != d.itrRate {
		d.itrRate = rate
		d.r.write(regITR, itrRegister(rate))
		d.itrNow.Store(int64(rate))
		d.Counters.ITRUpdates.Add(1)
	}
}

// InterruptRate is the device's interrupt rate limit now, interrupts/s
// (what ethtool -c shows as rx-usecs, inverted); 0 when unthrottled.
func (d *Driver) InterruptRate() int { return int(d.itrNow.Load()) }
