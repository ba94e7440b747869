package tcp

import "github.com/ringonet/ringo/netcore/internal/memcopy"

// byteQueue is a connection's send or receive queue: its bytes in sequence
// order in one circular buffer, so that appending at the tail and
// consuming at the head never move what is queued. (The linear queue it
// replaced moved everything queued to the front each time its tail
// reached the end: with a reader that lags a bulk sender, nearly every
// append moved the whole buffer, a fifth of the CPU of an e1000 receiving
// TCP in QEMU.) It grows by doubling, from 4 KB up to the limit the caller
// gives, and moves its bytes once per growth: a connection moving little
// data holds little, a bulk one reuses one allocation however much passes
// through it. Its owner serialises access (the connection's lock).
type byteQueue struct {
	buf  []byte
	head int // index in buf of the first queued byte
	n    int // bytes queued
}

// minQueue is the first allocation of a queue.
const minQueue = 4 << 10

// Len is the number of bytes queued.
func (q *byteQueue) Len() int { return q.n }

// Cap is the memory the queue holds.
func (q *byteQueue) Cap() int { return len(q.buf) }

// Append queues p at the tail. The caller keeps Len()+len(p) within limit;
// the buffer grows to at least what p needs regardless.
func (q *byteQueue) Append(p []byte, limit int) {
	if need := q.n + len(p); need > len(q.buf) {
		q.grow(max(need, min(max(2*len(q.buf), minQueue), limit)))
	}
	tail := q.head + q.n
	if tail >= len(q.buf) {
		tail -= len(q.buf)
	}
	c := memcopy.Copy(q.buf[tail:], p)
	memcopy.Copy(q.buf, p[c:])
	q.n += len(p)
}

// grow moves the queued bytes to the front of a new buffer of size bytes.
func (q *byteQueue) grow(size int) {
	b := make([]byte, size)
	a, c := q.Peek(0, q.n)
	memcopy.Copy(b[memcopy.Copy(b, a):], c)
	q.buf, q.head = b, 0
}

// Peek returns the queued bytes [off, off+n) as one or two pieces (the
// second empty unless the range wraps). It panics if the range is not
// queued: callers take their ranges from Len.
func (q *byteQueue) Peek(off, n int) (a, b []byte) {
	if off < 0 || n < 0 || off+n > q.n {
		panic("tcp: byteQueue.Peek out of range")
	}
	start := q.head + off
	if start >= len(q.buf) {
		start -= len(q.buf)
	}
	if end := start + n; end <= len(q.buf) {
		return q.buf[start:end], nil
	}
	return q.buf[start:], q.buf[:n-(len(q.buf)-start)]
}

// Consume drops n bytes from the head. An emptied queue starts again at
// the front of its buffer, so a queue that drains between uses never wraps.
func (q *byteQueue) Consume(n int) {
	n = min(n, q.n)
	q.n -= n
	q.head += n
	if q.head >= len(q.buf) {
		q.head -= len(q.buf)
	}
	if q.n == 0 {
		q.head = 0
	}
}

// Read copies queued bytes into p and consumes them.
func (q *byteQueue) Read(p []byte) int {
	a, b := q.Peek(0, min(len(p), q.n))
	n := memcopy.Copy(p, a)
	n += memcopy.Copy(p[n:], b)
	q.Consume(n)
	return n
}
