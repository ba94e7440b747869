package e1000x_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringonet/ringo/descring"
	"github.com/ringonet/ringo/internal/e1000x"
	"github.com/ringonet/ringo/internal/e1000x/e1000xtest"
)

// TxReport: RS only on each batch's last descriptor, and the cleaner
// frees a batch when the device wrote that one back — not before, however
// far the device got inside it — across the ring's wrap.
func TestTxReport(t *testing.T) {
	dma := e1000xtest.NewDMA()
	tx, err := descring.New(dma, descring.Config{Count: 8, DescSize: e1000x.TxDescSize, DescAlign: 128, BufSize: 2048})
	require.NoError(t, err)
	r := e1000x.NewTxReport(tx.Count())
	var dev e1000xtest.TxEngine
	head := 0 // the device's TDH
	send := func(n int) {
		for ; n > 0; n-- {
			_, ok := dev.Take(tx.Desc(head), dma)
			require.True(t, ok)
			head = tx.Next(head)
		}
	}
	fill := func(frames int) {
		for ; frames > 0; frames-- {
			tx.SetNextToUse(e1000x.FillLegacy(tx, make([]byte, 60), 2048, 0, false))
		}
		r.Mark(tx)
	}
	rs := func(i int) bool { return tx.Desc(i)[11]&e1000x.TxdCmdRS != 0 }

	fill(3) // 0..2
	fill(2) // 3..4
	assert.Equal(t, []bool{false, false, true, false, true}, []bool{rs(0), rs(1), rs(2), rs(3), rs(4)})
	r.Mark(tx) // nothing new: no second mark
	send(2)
	assert.Zero(t, r.Reclaim(tx), "the batch's last not sent yet")
	send(2)
	assert.Equal(t, 3, r.Reclaim(tx))
	assert.Equal(t, 3, tx.NextToClean())
	send(1)
	assert.Equal(t, 2, r.Reclaim(tx))
	fill(4) // 5, 6, 7, 0: wraps
	assert.True(t, rs(0))
	send(4)
	assert.Equal(t, 4, r.Reclaim(tx))
	assert.Equal(t, 1, tx.NextToClean())
	assert.Zero(t, r.Reclaim(tx))
	r.Reset()
	assert.Zero(t, r.Reclaim(tx))
}
