package tcp

import "time"

// txRec is one transmission the sender remembers (Linux keeps the same in
// each skb of its retransmission queue: skb_mstamp, TCPCB_SACKED_ACKED,
// TCPCB_LOST, TCPCB_EVER_RETRANS): a range of sequence space, when it
// last went out, and what became of it. RACK (rack.go) reads the times.
type txRec struct {
	seq, end uint32
	sent     time.Duration // since the Table's tsBase
	flags    uint8
}

const (
	recRetrans uint8 = 1 << iota // sent more than once
	recSacked                    // the peer holds it (SACK)
	recLost                      // marked lost, not yet sent again
)

// maxTxRecs bounds a connection's log. Past it, new data joins the last
// record and SACK edges stop splitting records: RACK then sees coarser
// times, never unbounded memory.
const maxTxRecs = 4096

// txLog is the log of transmissions from sndUna to sndMax, sorted by
// sequence and contiguous: a ring, so that trimming the acknowledged head
// and appending new data allocate nothing once it has grown.
type txLog struct {
	recs    []txRec // len is a power of two, or 0
	head, n int
}

func (l *txLog) len() int { return l.n }

func (l *txLog) at(i int) *txRec { return &l.recs[(l.head+i)&(len(l.recs)-1)] }

func (l *txLog) last() *txRec { return l.at(l.n - 1) }

func (l *txLog) reset() { l.head, l.n = 0, 0 }

// grow makes room for one more record; it refuses past maxTxRecs.
func (l *txLog) grow() bool {
	if l.n < len(l.recs) {
		return true
	}
	if l.n >= maxTxRecs {
		return false
	}
	bigger := make([]txRec, max(16, 2*len(l.recs)))
	for i := 0; i < l.n; i++ {
		bigger[i] = *l.at(i)
	}
	l.recs, l.head = bigger, 0
	return true
}

func (l *txLog) push(r txRec) bool {
	if !l.grow() {
		return false
	}
	l.n++
	*l.last() = r
	return true
}

func (l *txLog) popFront() {
	l.head = (l.head + 1) & (len(l.recs) - 1)
	l.n--
}

// find is the index of the record holding seq, or l.len() if none does.
func (l *txLog) find(seq uint32) int {
	lo, hi := 0, l.n
	for lo < hi {
		m := (lo + hi) / 2
		if seqLEQ(l.at(m).end, seq) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < l.n && seqLEQ(l.at(lo).seq, seq) {
		return lo
	}
	return l.n
}

// split makes seq the start of a record if it falls inside record i, and
// returns the index of the record that starts at seq; it leaves record i
// whole when the log is full.
func (l *txLog) split(i int, seq uint32) int {
	r := l.at(i)
	if !seqLT(r.seq, seq) || !seqLT(seq, r.end) || !l.grow() {
		return i
	}
	l.n++
	for j := l.n - 1; j > i+1; j-- {
		*l.at(j) = *l.at(j - 1)
	}
	tail := *l.at(i)
	l.at(i).end = seq
	tail.seq = seq
	*l.at(i + 1) = tail
	return i + 1
}
