package counter

import (
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestFields(t *testing.T) {
	var c struct {
		RxBadLength atomic.Uint64
		skipped     int
		DMATimeouts atomic.Int64
		TxRestarts  atomic.Uint64
	}
	c.RxBadLength.Add(3)
	c.DMATimeouts.Add(2)
	assert.Equal(t, []Stat{{"RxBadLength", 3}, {"DMATimeouts", 2}, {"TxRestarts", 0}}, Fields(&c))
	assert.Equal(t, []Stat{{"rx_bad_length", 3}, {"dma_timeouts", 2}, {"tx_restarts", 0}}, Snake(Fields(&c)))
}
