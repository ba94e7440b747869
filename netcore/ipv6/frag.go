package ipv6

import (
	"sync"
	"time"

	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/netcore/skb"
)

// Reassembly (ipv6_frag_rcv, RFC 8200 4.5). A datagram is (source,
// destination, identification); its fragments wait, bounded in memory
// (reasmHigh, oldest first out) and time (60 s, then ICMPv6 Time Exceeded
// if the first fragment came). RFC 5722: a fragment overlapping another
// kills the whole datagram, and what comes of it later is dropped until
// the timeout. RFC 7112: a first fragment without the whole header chain
// and 8 bytes of the upper-layer header is refused.

const (
	reasmTimeout = 60 * time.Second
	reasmHigh    = 4 << 20 // ip6frag_high_thresh
)

type datagramID struct {
	src, dst [16]byte
	id       uint32
}

type held struct {
	start, stop int // fragmentable-part bytes [start, stop)
	b           *skb.Buff
	data        []byte // the fragment's data within b
}

type datagram struct {
	frags   []held // by start, disjoint
	have    int    // bytes held
	length  int    // the fragmentable part's length; -1 until the last fragment
	cost    int
	dead    bool // overlap seen: drop the rest (RFC 5722)
	arrived time.Time
	first   *skb.Buff // a copy of the first fragment, for Time Exceeded
}

type reassembler struct {
	s     *Stack
	mu    sync.Mutex // guards dgs, total
	dgs   map[datagramID]*datagram
	total int
	stop  chan struct{}
	done  chan struct{}
}

func newReassembler(s *Stack) *reassembler {
	r := &reassembler{s: s, dgs: map[datagramID]*datagram{}, stop: make(chan struct{}), done: make(chan struct{})}
	go r.timer()
	return r
}

func (r *reassembler) close() {
	close(r.stop)
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	for k := range r.dgs {
		r.dropLocked(k)
	}
}

// add takes the fragment in b (data at its IPv6 header; the Fragment
// header at fragOff). It returns the reassembled datagram — the fixed
// header with the fragment's next header, then the fragmentable part —
// once complete, else nil (held, or dropped and counted).
func (r *reassembler) add(b *skb.Buff, fragOff int) *skb.Buff {
	m := &r.s.MIB
	pkt := header.IPv6(b.Data())
	f := header.IPv6Frag(pkt[fragOff:])
	data := pkt[fragOff+header.IPv6FragLen:]
	start, more := f.Offset(), f.MoreFragments()
	stop := start + len(data)
	switch {
	case more && (len(data) == 0 || len(data)%8 != 0):
		// Not the last, so a multiple of 8 bytes (RFC 8200 4.5):
		// Parameter Problem at the payload length.
		m.Ip6ReasmFails.Add(1)
		r.s.paramProblem(b, header.ICMPv6ErrHeaderField, 4)
		return nil
	case stop > 0xffff:
		m.Ip6ReasmFails.Add(1)
		r.s.paramProblem(b, header.ICMPv6ErrHeaderField, fragOff+2)
		return nil
	case start == 0 && !chainComplete(f.NextHeader(), data):
		m.Ip6ReasmFails.Add(1)
		r.s.paramProblem(b, header.ICMPv6FirstFragNoHdrs, 0)
		return nil
	}
	k := datagramID{pkt.Src(), pkt.Dst(), f.ID()}
	cost := b.Len() + b.Headroom() + b.Tailroom()
	r.mu.Lock()
	defer r.mu.Unlock()
	d := r.dgs[k]
	if d == nil {
		for r.total+cost > reasmHigh && r.evictLocked() {
		}
		if r.total+cost > reasmHigh {
			m.Ip6ReasmFails.Add(1)
			m.ReasmMemDrops.Add(1)
			b.Free()
			return nil
		}
		d = &datagram{length: -1, arrived: time.Now()}
		r.dgs[k] = d
	}
	if d.dead || !d.fits(start, stop, more) {
		if !d.dead {
			d.dead = true
			m.ReasmOverlaps.Add(1)
			m.Ip6ReasmFails.Add(1)
			r.releaseLocked(d)
		}
		b.Free()
		return nil
	}
	i := 0
	for i < len(d.frags) && d.frags[i].start < start {
		i++
	}
	if i < len(d.frags) && d.frags[i].start == start && d.frags[i].stop == stop {
		b.Free() // the same fragment again
		return nil
	}
	d.frags = append(d.frags, held{})
	copy(d.frags[i+1:], d.frags[i:])
	d.frags[i] = held{start: start, stop: stop, b: b, data: data}
	d.have += stop - start
	d.cost += cost
	r.total += cost
	if !more {
		d.length = stop
	}
	if start == 0 && d.first == nil {
		d.first = b.Clone()
	}
	if d.length < 0 || d.have != d.length {
		return nil
	}
	out := d.join(pkt, f.NextHeader())
	r.dropLocked(k)
	if out == nil {
		m.Ip6ReasmFails.Add(1)
		return nil
	}
	m.Ip6ReasmOKs.Add(1)
	return out
}

// fits reports whether [start, stop) can join the datagram: inside its
// known length, overlapping nothing held (an exact duplicate passes).
func (d *datagram) fits(start, stop int, more bool) bool {
	if d.length >= 0 && (stop > d.length || !more && stop != d.length) {
		return false
	}
	if !more && len(d.frags) > 0 && d.frags[len(d.frags)-1].stop > stop {
		return false
	}
	for _, h := range d.frags {
		if h.start == start && h.stop == stop {
			return true
		}
		if start < h.stop && h.start < stop {
			return false
		}
	}
	return true
}

// join builds the datagram: hdr's fixed header with next set to the
// fragment header's, then every fragment's data in order.
func (d *datagram) join(hdr header.IPv6, next uint8) *skb.Buff {
	out := skb.Alloc(header.IPv6Len + d.length)
	if out == nil {
		return nil
	}
	p := out.Put(header.IPv6Len + d.length)
	copy(p, hdr[:header.IPv6Len])
	p[6] = next
	p[4], p[5] = byte(d.length>>8), byte(d.length)
	for _, h := range d.frags {
		copy(p[header.IPv6Len+h.start:], h.data)
	}
	first := d.frags[0].b
	out.SetNetworkHeader()
	out.Dev, out.PktType, out.Protocol = first.Dev, first.PktType, first.Protocol
	return out
}

// chainComplete reports whether a first fragment's data holds every
// extension header after the Fragment header and 8 bytes of the upper
// layer's (RFC 7112 5).
func chainComplete(nh uint8, data []byte) bool {
	off := 0
	for n := 0; n <= maxExtHeaders; n++ {
		switch nh {
		case header.ProtoHopByHop, header.ProtoDstOpts, header.ProtoRouting:
			h, err := header.ParseExtHeader(data[off:])
			if err != nil {
				return false
			}
			nh, off = h.NextHeader(), off+h.Len()
		case header.ProtoNoNext:
			return true
		default:
			return len(data)-off >= 8
		}
	}
	return false
}

func (r *reassembler) releaseLocked(d *datagram) {
	for _, h := range d.frags {
		h.b.Free()
	}
	d.frags, d.have = nil, 0
	if d.first != nil {
		d.first.Free()
		d.first = nil
	}
	r.total -= d.cost
	d.cost = 0
}

func (r *reassembler) dropLocked(k datagramID) {
	if d := r.dgs[k]; d != nil {
		r.releaseLocked(d)
		delete(r.dgs, k)
	}
}

func (r *reassembler) evictLocked() bool {
	var oldest datagramID
	var at time.Time
	found := false
	for k, d := range r.dgs {
		if !found || d.arrived.Before(at) {
			oldest, at, found = k, d.arrived, true
		}
	}
	if found {
		r.s.MIB.Ip6ReasmFails.Add(1)
		r.s.MIB.ReasmMemDrops.Add(1)
		r.dropLocked(oldest)
	}
	return found
}

// timer expires datagrams reasmTimeout after their first fragment came
// (ip6_frag_expire): Time Exceeded, code 1, if the first fragment is held.
func (r *reassembler) timer() {
	defer close(r.done)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case now := <-t.C:
			var firsts []*skb.Buff
			r.mu.Lock()
			for k, d := range r.dgs {
				if now.Sub(d.arrived) < reasmTimeout {
					continue
				}
				if !d.dead {
					r.s.MIB.Ip6ReasmTimeout.Add(1)
					r.s.MIB.Ip6ReasmFails.Add(1)
					if d.first != nil {
						firsts = append(firsts, d.first)
						d.first = nil
					}
				}
				r.dropLocked(k)
			}
			r.mu.Unlock()
			for _, b := range firsts {
				r.s.SendError(b, header.ICMPv6TimeExceeded, header.ICMPv6ReasmTimeout, 0)
				b.Free()
			}
		}
	}
}
