package main

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/ringonet/ringo/appliance"
	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/skb"
)

// FloodReport is the result of the overflow scenario.
type FloodReport struct {
	FloodSent      int
	FloodReceived  int
	Paced          DirectionReport
	RxDropped      uint64 // backlog drops (netdev_max_backlog)
	RxOverErrors   uint64 // ring overflows the card reported (OVW)
	RxMissed       uint64 // frames the card missed (CNTR2)
	Overruns       uint64
	RingResets     uint64
	BacklogDropped uint64 // softnet_stat dropped column
	SkbLive        int64
}

// flood: NIC 0 (e1000) sends ringo.frames full-size frames to NIC 1
// (ne2k_pci) as fast as it can; then a windowed stream of ringo.paced
// frames must arrive complete: the NE2000 recovered without wedging.
func flood(args map[string]string, nics []appliance.Opened) error {
	if len(nics) < 2 || nics[0].Driver.Name != "e1000" || nics[1].Driver.Name != "ne2000" {
		return fmt.Errorf("flood wants an e1000 then an ne2k_pci")
	}
	n := atoiDefault(args["ringo.frames"], 5000)
	paced := atoiDefault(args["ringo.paced"], 1000)
	s, err := newStack(nics[:2], stackOpts{ring: 256, ioWidth: 4})
	if err != nil {
		return err
	}
	defer s.close()
	src, dst := s.devs[0], s.devs[1]
	var got atomic.Int64
	s.core.AddPacketType(0x88b6, func(b *skb.Buff) { got.Add(1); b.Free() })
	buf := make([]byte, 1514)
	for i := 0; i < n; i++ {
		f := exchangeFrame(buf, src.HardwareAddr, dst.HardwareAddr, 0, uint32(i), 1514, 1514)
		f[12], f[13] = 0x88, 0xb6
		b := skb.Alloc(len(f))
		copy(b.Put(len(f)), f)
		b.Dev = src
		for netcore.DevQueueXmit(b) == netcore.ErrQueueFull {
			// The qdisc is full: only the e1000's own ring limits the
			// flood, never the receiver.
			time.Sleep(50 * time.Microsecond)
			b = skb.Alloc(len(f))
			copy(b.Put(len(f)), f)
			b.Dev = src
		}
	}
	time.Sleep(2 * time.Second) // let what got through drain
	rep := FloodReport{FloodSent: n}
	s.core.AddPacketType(0x88b6, func(b *skb.Buff) { b.Free() })
	rep.FloodReceived = int(got.Load())
	reps, err := exchangeOneWay(src, dst, s.core, paced, 8, 60, 1514)
	if err != nil {
		return err
	}
	rep.Paced = reps
	st := dst.Stats.Snapshot()
	rep.RxDropped, rep.RxOverErrors, rep.RxMissed = st.RxDropped, st.RxOverErrors, st.RxMissedErrors
	rep.Overruns = s.ne2000[0].Counters.Overruns.Load()
	rep.RingResets = s.ne2000[0].Counters.RingResets.Load()
	for _, sn := range s.core.SoftnetStats() {
		rep.BacklogDropped += sn.Dropped
	}
	rep.SkbLive = s.skbLive()
	report(rep)
	return nil
}
