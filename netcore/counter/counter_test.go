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
	assert.Equal(t, []Stat{{"RxBadLength", 3, false}, {"DMATimeouts", 2, true}, {"TxRestarts", 0, false}}, Fields(&c))
	assert.Equal(t, []Stat{{"rx_bad_length", 3, false}, {"dma_timeouts", 2, true}, {"tx_restarts", 0, false}}, Snake(Fields(&c)))
	assert.Equal(t, "delayed_acks", snake("DelayedACKs"))
	assert.Equal(t, "reasm_oks", snake("ReasmOKs"))
	assert.Equal(t, "in_mldv2_reports", snake("InMLDv2Reports"))
	assert.Equal(t, "tcp_sack_recovery", snake("TCPSackRecovery"))
	assert.Equal(t, "rx_crc_errors", snake("RxCRCErrors"))
}
