package main

import (
	"fmt"
	"strconv"

	"github.com/ringonet/ringo/appliance"
)

// HubReport is the result of the two-NIC exchange.
type HubReport struct {
	Mode       string
	Directions [2]DirectionReport
	SkbLive    int64
	Rings      int
}

// hub exchanges frames between the first two NICs, joined on one QEMU hub.
// ringo.frames=N (default 20000), ringo.mode=irq|poll, ringo.ring=64.
func hub(args map[string]string, nics []appliance.Opened) error {
	if len(nics) < 2 {
		return fmt.Errorf("hub needs two NICs, have %d", len(nics))
	}
	n := atoiDefault(args["ringo.frames"], 20000)
	ring := atoiDefault(args["ringo.ring"], 64)
	mode := args["ringo.mode"]
	if mode == "" {
		mode = "irq"
	}
	s, err := newStack(nics[:2], stackOpts{busyPoll: mode == "poll", ring: ring, ioWidth: atoiDefault(args["ringo.iowidth"], 4), vfioPIO: args["ringo.portio"] == "vfio"})
	if err != nil {
		return err
	}
	defer s.close()
	// Frames in flight per direction: fewer than the receiver can hold.
	// An e1000 holds a ring of buffers; an NE2000 only its 13 KiB page
	// ring, eight full-size frames. When that ring is full, QEMU's NE2000
	// model drops what arrives (no OVW, no count), so the sender must not
	// overrun it.
	var windows [2]int
	for dir, dst := range []int{1, 0} {
		windows[dir] = min(ring/2, 48)
		if nics[dst].Driver.Name == "ne2000" {
			windows[dir] = 6
		}
	}
	reps, err := exchange(s.devs[0], s.devs[1], s.core, n, windows, 60, 1514)
	if err != nil {
		return err
	}
	for i := range reps {
		src, dst := i, 1-i
		reps[i].DevTx = s.devs[src].Stats.TxPackets.Load()
		reps[i].DevRx = s.devs[dst].Stats.RxPackets.Load()
		if len(s.e1000) == 2 {
			reps[i].HWTx = s.e1000[src].HWStat("good_packets_tx")
			reps[i].HWRx = s.e1000[dst].HWStat("good_packets_rx")
		}
		reps[i].RxDropped = s.devs[dst].Stats.RxDropped.Load()
		reps[i].TxIRQs = s.irqCount(src)
		reps[i].RxIRQs = s.irqCount(dst)
	}
	report(HubReport{Mode: mode, Directions: reps, SkbLive: s.skbLive(), Rings: ring})
	return nil
}

func atoiDefault(s string, def int) int {
	if v, err := strconv.Atoi(s); err == nil && v > 0 {
		return v
	}
	return def
}
