package tcp

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// The transmit log stays sorted and contiguous through appends, splits
// and trims that wrap its ring and cross the sequence-number wrap, and
// find locates every sequence in it.
func TestTxLogInvariants(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var l txLog
	base := uint32(0xffff_f000) // wraps within the test
	next := base
	check := func() {
		t.Helper()
		for i := 0; i < l.len(); i++ {
			r := l.at(i)
			require.True(t, seqLT(r.seq, r.end), "record %d empty", i)
			if i > 0 {
				require.Equal(t, l.at(i-1).end, r.seq, "record %d not contiguous", i)
			}
		}
		if l.len() > 0 {
			require.Equal(t, next, l.last().end)
			for k := 0; k < 20; k++ {
				seq := l.at(0).seq + uint32(rng.IntN(int(next-l.at(0).seq)))
				i := l.find(seq)
				require.Less(t, i, l.len())
				require.True(t, seqLEQ(l.at(i).seq, seq) && seqLT(seq, l.at(i).end))
			}
			require.Equal(t, l.len(), l.find(next))
		}
	}
	for round := 0; round < 2000; round++ {
		switch rng.IntN(3) {
		case 0:
			n := uint32(1 + rng.IntN(3000))
			require.True(t, l.push(txRec{seq: next, end: next + n}))
			next += n
		case 1:
			if l.len() > 0 {
				seq := l.at(0).seq + uint32(rng.IntN(int(next-l.at(0).seq)))
				l.split(l.find(seq), seq)
			}
		case 2:
			for k := rng.IntN(3); k > 0 && l.len() > 0; k-- {
				l.popFront()
			}
		}
		check()
	}
}

// Past maxTxRecs the log refuses to grow: a split leaves the record whole.
func TestTxLogBounded(t *testing.T) {
	var l txLog
	for i := 0; i < maxTxRecs; i++ {
		require.True(t, l.push(txRec{seq: uint32(2 * i), end: uint32(2*i + 2)}))
	}
	require.False(t, l.push(txRec{seq: 2 * maxTxRecs, end: 2*maxTxRecs + 2}))
	require.Equal(t, 5, l.split(5, 11), "a full log does not split")
	require.Equal(t, maxTxRecs, l.len())
}
