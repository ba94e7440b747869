package e1000

import "github.com/ringonet/ringo/internal/e1000x"

// adaptITR runs where a NAPI poll completes, before interrupts are
// unmasked: the adaptive rate (e1000x.ITR, Linux's dynamic conservative
// mode) classes what the interrupt's polls received, and ITR is rewritten
// when the rate changes. The NAPI poll owns the state.
func (d *Driver) adaptITR() {
	if d.cfg.InterruptRate != 0 || d.cfg.BusyPoll {
		d.itr.Adapt()
		return
	}
	if rate, changed := d.itr.Adapt(); changed {
		d.r.Write(regITR, e1000x.Register(rate))
		d.itrNow.Store(int64(rate))
		d.Counters.ITRUpdates.Add(1)
	}
}

// InterruptRate is the device's interrupt rate limit now, interrupts/s
// (what ethtool -c shows as rx-usecs, inverted); 0 when unthrottled.
func (d *Driver) InterruptRate() int { return int(d.itrNow.Load()) }
