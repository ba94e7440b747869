package ipv4

import (
	"sort"
	"sync"
	"time"

	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/netcore/skb"
)

// Reassembly (ip_defrag). Fragments of one datagram (source, destination,
// ID, protocol) are held until they cover it from 0 to the end the last
// fragment gives. Hostile input is bounded: overlapping fragments (RFC
// 5722's rule, which Linux also applies to IPv4) and fragments past 65535
// bytes kill the datagram; memory held is bounded by FragHighBytes (oldest
// datagrams go first); a datagram incomplete after FragTimeout is dropped
// with ICMP time exceeded if its first fragment came.

type fragKey struct {
	src, dst [4]byte
	id       uint16
	proto    uint8
}

type fragPiece struct {
	off, end int // payload bytes [off, end)
	b        *skb.Buff
}

type fragQueue struct {
	key     fragKey
	pieces  []fragPiece // sorted by off, never overlapping
	covered int         // payload bytes held
	total   int         // payload length, -1 until the last fragment came
	mem     int
	created time.Time
}

type reassembler struct {
	s       *Stack
	timeout time.Duration
	high    int

	mu     sync.Mutex // guards queues, mem
	queues map[fragKey]*fragQueue
	mem    int

	stop chan struct{}
	done chan struct{}
}

func newReassembler(s *Stack, timeout time.Duration, high int) *reassembler {
	r := &reassembler{s: s, timeout: timeout, high: high, queues: map[fragKey]*fragQueue{}, stop: make(chan struct{}), done: make(chan struct{})}
	go r.expire()
	return r
}

func (r *reassembler) close() {
	close(r.stop)
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	for k := range r.queues {
		r.killLocked(k)
	}
}

// truesize is what a held fragment costs.
func truesize(b *skb.Buff) int { return b.Len() + b.Headroom() + b.Tailroom() }

// Mem is the memory held by incomplete datagrams.
func (r *reassembler) Mem() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mem
}

// add takes a fragment (data at its IP header). It returns the whole
// datagram when this fragment completes it, else nil (held or dropped).
func (r *reassembler) add(b *skb.Buff) *skb.Buff {
	m := &r.s.MIB
	ip := header.IPv4(b.Data())
	hl := ip.HeaderLen()
	off := ip.FragOffset()
	end := off + len(ip) - hl
	more := ip.MoreFragments()
	fail := func(counter interface{ Add(uint64) uint64 }) *skb.Buff {
		if counter != nil {
			counter.Add(1)
		}
		m.ReasmFails.Add(1)
		b.Free()
		return nil
	}
	switch {
	case end+hl > header.IPv4MaxTotal:
		return fail(&m.ReasmOversize)
	case more && (end-off)%8 != 0, more && end == off:
		return fail(&m.InHdrErrors) // middle fragments are multiples of 8, never empty
	}
	k := fragKey{ip.Src(), ip.Dst(), ip.ID(), ip.Protocol()}
	r.mu.Lock()
	defer r.mu.Unlock()
	q := r.queues[k]
	if q == nil {
		for r.mem+truesize(b) > r.high && r.evictOldestLocked() {
		}
		if r.mem+truesize(b) > r.high {
			return fail(&m.ReasmMemDrops)
		}
		q = &fragQueue{key: k, total: -1, created: time.Now()}
		r.queues[k] = q
	}
	if !more {
		if (q.total >= 0 && q.total != end) || (len(q.pieces) > 0 && q.pieces[len(q.pieces)-1].end > end) {
			r.killLocked(k)
			return fail(&m.ReasmOverlaps)
		}
		q.total = end
	} else if q.total >= 0 && end > q.total {
		r.killLocked(k)
		return fail(&m.ReasmOverlaps)
	}
	i := sort.Search(len(q.pieces), func(i int) bool { return q.pieces[i].off >= off })
	for _, j := range []int{i - 1, i} {
		if j < 0 || j >= len(q.pieces) {
			continue
		}
		p := q.pieces[j]
		if p.off == off && p.end == end {
			b.Free() // an exact duplicate: keep the first
			return nil
		}
		if off < p.end && end > p.off {
			r.killLocked(k)
			return fail(&m.ReasmOverlaps)
		}
	}
	if r.mem+truesize(b) > r.high {
		r.killLocked(k)
		return fail(&m.ReasmMemDrops)
	}
	q.pieces = append(q.pieces, fragPiece{})
	copy(q.pieces[i+1:], q.pieces[i:])
	q.pieces[i] = fragPiece{off: off, end: end, b: b}
	q.covered += end - off
	q.mem += truesize(b)
	r.mem += truesize(b)
	if q.total < 0 || q.covered != q.total {
		return nil
	}
	out := r.assembleLocked(q)
	delete(r.queues, k)
	r.mem -= q.mem
	if out == nil {
		m.ReasmFails.Add(1)
		return nil
	}
	m.ReasmOKs.Add(1)
	return out
}

// assembleLocked joins the pieces behind the first fragment's header and
// frees them.
func (r *reassembler) assembleLocked(q *fragQueue) *skb.Buff {
	first := q.pieces[0].b
	defer func() {
		for _, p := range q.pieces {
			p.b.Free()
		}
	}()
	fip := header.IPv4(first.Data())
	hl := fip.HeaderLen()
	out := skb.Alloc(hl + q.total)
	if out == nil {
		return nil
	}
	p := out.Put(hl + q.total)
	copy(p, fip[:hl])
	for _, pc := range q.pieces {
		copy(p[hl+pc.off:hl+pc.end], header.IPv4(pc.b.Data()).Payload())
	}
	header.IPv4(p).SetFragment(header.IPv4(p).Flags()&^header.IPv4FlagMF, 0, hl+q.total)
	out.SetNetworkHeader()
	out.Dev, out.PktType, out.Protocol = first.Dev, first.PktType, first.Protocol
	return out
}

func (r *reassembler) killLocked(k fragKey) {
	q := r.queues[k]
	if q == nil {
		return
	}
	for _, p := range q.pieces {
		p.b.Free()
	}
	r.mem -= q.mem
	delete(r.queues, k)
}

func (r *reassembler) evictOldestLocked() bool {
	var oldest *fragQueue
	for _, q := range r.queues {
		if oldest == nil || q.created.Before(oldest.created) {
			oldest = q
		}
	}
	if oldest == nil {
		return false
	}
	r.s.MIB.ReasmFails.Add(1)
	r.s.MIB.ReasmMemDrops.Add(1)
	r.killLocked(oldest.key)
	return true
}

// expire drops datagrams older than the timeout (ip_expire), answering
// with ICMP time exceeded when the first fragment is there.
func (r *reassembler) expire() {
	defer close(r.done)
	t := time.NewTicker(min(r.timeout/4, time.Second))
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case now := <-t.C:
			var firsts []*skb.Buff
			r.mu.Lock()
			for k, q := range r.queues {
				if now.Sub(q.created) < r.timeout {
					continue
				}
				r.s.MIB.ReasmTimeout.Add(1)
				r.s.MIB.ReasmFails.Add(1)
				if len(q.pieces) > 0 && q.pieces[0].off == 0 {
					firsts = append(firsts, q.pieces[0].b.Clone())
				}
				r.killLocked(k)
			}
			r.mu.Unlock()
			for _, b := range firsts {
				r.s.SendError(b, header.ICMPTimeExceeded, header.ICMPExcFragTime, 0)
				b.Free()
			}
		}
	}
}
