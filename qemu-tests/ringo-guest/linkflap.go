package main

import (
	"sync"
	"time"

	"github.com/ringonet/ringo/appliance"
	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/skb"
)

// LinkReport is what the linkflap scenario reports at the end.
type LinkReport struct {
	Events        []string // "down"/"up" in order
	RepliesBefore int      // ARP replies before the first carrier loss
	RepliesAfter  int      // after the carrier came back
	Sent          int
	SkbLive       int64
	DMABefore     int
	DMAAfter      int
	TxInFlight    int
	QdiscLen      int
}

// linkflap keeps asking slirp's gateway for its MAC every 20 ms for
// ringo.seconds (default 8) while the host takes the link down and up
// through the QEMU monitor. It reports carrier events and whether traffic
// resumed, then brings the device down and counts skbs and DMA memory.
func linkflap(args map[string]string, nics []appliance.Opened) error {
	secs := atoiDefault(args["ringo.seconds"], 8)
	s, err := newStack(nics[:1], stackOpts{})
	if err != nil {
		return err
	}
	dmaBefore := nics[0].VFIO.DMA().Mapped()
	defer s.close()
	d := s.devs[0]
	replies := listenARP(s.core)
	var mu sync.Mutex
	var rep LinkReport
	var downAt, upAt time.Time
	d.OnCarrier(func(_ *netcore.Device, up bool) {
		mu.Lock()
		defer mu.Unlock()
		if up {
			rep.Events = append(rep.Events, "up")
			upAt = time.Now()
		} else {
			rep.Events = append(rep.Events, "down")
			if downAt.IsZero() {
				downAt = time.Now()
			}
		}
	})
	report(map[string]string{"phase": "ready"})
	end := time.Now().Add(time.Duration(secs) * time.Second)
	for time.Now().Before(end) {
		b := arpRequest(d.HardwareAddr, guestIP, gatewayIP)
		b.Dev = d
		if netcore.DevQueueXmit(b) == nil {
			rep.Sent++
		}
		time.Sleep(20 * time.Millisecond)
	}
	replies.mu.Lock()
	mu.Lock()
	for _, r := range replies.got[d.Name] {
		if !downAt.IsZero() && r.At.Before(downAt) {
			rep.RepliesBefore++
		}
		if !upAt.IsZero() && r.At.After(upAt) {
			rep.RepliesAfter++
		}
	}
	events := append([]string(nil), rep.Events...) // before Down adds its own
	mu.Unlock()
	replies.mu.Unlock()
	rep.QdiscLen = d.Qdisc().Len()
	if err := d.Down(); err != nil {
		return err
	}
	mu.Lock()
	rep.Events = events
	mu.Unlock()
	rep.SkbLive = skb.Live()
	rep.DMABefore = dmaBefore
	rep.DMAAfter = nics[0].VFIO.DMA().Mapped()
	report(rep)
	return nil
}
