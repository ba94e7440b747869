package tcp

import (
	"github.com/ringonet/ringo/netcore/internal/memcopy"
	"github.com/ringonet/ringo/netcore/skb"
)

// rcvQueue is a connection's receive queue (Linux's sk_receive_queue):
// in-order payload the reader has not taken, kept in the packets it came
// in. A packet whose payload fills a fair part of its buffer is queued
// as it is (a clone of the skb, its data narrowed to the payload), so the
// bytes are copied once, into the reader's buffer: a GRO packet of 20
// segments costs no copy on the way in. Small payloads, and any payload
// once the buffers held would pass twice the receive buffer, are copied
// into a buffer of the queue's own, packed one after another (Linux's
// tcp_try_coalesce): a peer sending one-byte segments cannot make the
// queue hold a buffer per byte. So what the queue holds is bounded by
// about twice the receive buffer, whatever arrives.
//
// The connection's lock serialises access.
type rcvQueue struct {
	ring  []rcvChunk // circular, len a power of two (or 0)
	head  int        // index of the first chunk
	n     int        // chunks queued
	bytes int        // payload queued
	held  int        // truesize of the buffers queued
}

type rcvChunk struct {
	b       *skb.Buff // Data() is the unread payload
	private bool      // the queue's own buffer: copies may go on its tailroom
}

const (
	// minCloneBytes is the least payload queued by reference: below it
	// a packet's payload is copied, being cheaper to copy than to hold.
	minCloneBytes = 512
	// cloneDensity: a packet's payload is queued by reference only if it
	// fills at least 1/cloneDensity of its buffer.
	cloneDensity = 8
)

// Len is the payload queued.
func (q *rcvQueue) Len() int { return q.bytes }

// Held is the memory of the buffers queued (their truesize).
func (q *rcvQueue) Held() int { return q.held }

// Add queues data, the next in-order payload. If b is not nil, data lies
// in b's data and b may be queued by reference (a clone; b stays the
// caller's). limit is the receive buffer: the buffers held stay within
// twice it. It reports whether data was copied.
func (q *rcvQueue) Add(data []byte, b *skb.Buff, limit int) (copied bool) {
	if len(data) == 0 {
		return false
	}
	if b != nil && q.held+b.Truesize() <= 2*limit {
		if c := cloneFor(data, b); c != nil {
			q.push(rcvChunk{b: c})
			q.bytes += len(data)
			return false
		}
	}
	q.copyIn(data)
	return true
}

// cloneFor returns a clone of b narrowed to data, which lies in b's
// data, if data is worth holding by reference (at least minCloneBytes,
// filling 1/cloneDensity of b's buffer); else nil, and the caller copies.
// The receive queue and the out-of-order queue both take payloads so.
func cloneFor(data []byte, b *skb.Buff) *skb.Buff {
	if len(data) < minCloneBytes || len(data)*cloneDensity < b.Truesize() {
		return nil
	}
	off, ok := offsetIn(b.Data(), data)
	if !ok {
		return nil
	}
	c := b.Clone()
	c.Pull(off)
	c.Trim(len(data))
	return c
}

// copyIn appends data to the queue's own buffers: the tail one while it
// has room, then new ones.
func (q *rcvQueue) copyIn(data []byte) {
	q.bytes += len(data)
	if q.n > 0 {
		if t := &q.ring[(q.head+q.n-1)&(len(q.ring)-1)]; t.private {
			k := min(len(data), t.b.Tailroom())
			memcopy.Copy(t.b.Put(k), data)
			data = data[k:]
		}
	}
	for len(data) > 0 {
		// The size picks the buffer class: what does not fit a small
		// buffer gets a big one, with room for what follows.
		b := skb.Alloc(min(len(data), skb.MaxDataSize-skb.Headroom))
		k := min(len(data), b.Tailroom())
		memcopy.Copy(b.Put(k), data)
		data = data[k:]
		q.push(rcvChunk{b: b, private: true})
	}
}

// offsetIn is where sub starts in buf, if it lies in buf.
func offsetIn(buf, sub []byte) (int, bool) {
	off := len(buf) - cap(sub)
	if off < 0 || off+len(sub) > len(buf) || &buf[off] != &sub[0] {
		return 0, false
	}
	return off, true
}

func (q *rcvQueue) push(c rcvChunk) {
	if q.n == len(q.ring) {
		grown := make([]rcvChunk, max(2*len(q.ring), 8))
		for i := range q.n {
			grown[i] = q.ring[(q.head+i)&(len(q.ring)-1)]
		}
		q.ring, q.head = grown, 0
	}
	q.ring[(q.head+q.n)&(len(q.ring)-1)] = c
	q.n++
	q.held += c.b.Truesize()
}

// Read copies queued payload into p, freeing the buffers it empties.
func (q *rcvQueue) Read(p []byte) int {
	done := 0
	for done < len(p) && q.n > 0 {
		c := &q.ring[q.head]
		k := memcopy.Copy(p[done:], c.b.Data())
		c.b.Pull(k)
		done += k
		if c.b.Len() == 0 {
			q.popHead()
		}
	}
	q.bytes -= done
	return done
}

func (q *rcvQueue) popHead() {
	c := &q.ring[q.head]
	q.held -= c.b.Truesize()
	c.b.Free()
	*c = rcvChunk{}
	q.head = (q.head + 1) & (len(q.ring) - 1)
	q.n--
}

// Purge frees everything queued.
func (q *rcvQueue) Purge() {
	for q.n > 0 {
		q.popHead()
	}
	q.bytes = 0
}
