package e1000x

import "github.com/ringonet/ringo/descring"

// TxVerdict is what a driver's fill did with a frame.
type TxVerdict uint8

const (
	TxFilled  TxVerdict = iota // in the ring, behind TDT
	TxDropped                  // counted and dropped: too big, a bad offload
	TxBusy                     // no room: the caller keeps the frame
	TxKept                     // in the ring, sent from its own memory (TxInPlace): the driver keeps the skb
)

// TxReport places Report Status. A descriptor with CMD.RS gets its DD bit
// written back when sent — under QEMU a DMA write through the IOMMU
// inside the TDT exit — so the drivers ask for it once per doorbell, on
// the batch's last descriptor, as DPDK's tx_rs_thresh does, not on every
// frame as Linux's e1000 does. The device sends in ring order, so DD on
// that descriptor means the whole batch is done: the cleaner reads one
// status per batch. Every batch the device is told of ends in a marked
// descriptor, so TXDW still follows whatever the device sends.
//
// The owner's TX lock guards it.
type TxReport struct {
	pos  []int32 // ring indices marked RS, oldest first
	head int
	n    int
}

// NewTxReport is a TxReport for a ring of count descriptors.
func NewTxReport(count int) *TxReport { return &TxReport{pos: make([]int32, count)} }

// Mark sets RS on the descriptor before tx's next-to-use (the last filled,
// which the device has not been told of yet) and remembers it.
func (r *TxReport) Mark(tx *descring.Ring) {
	last := (tx.NextToUse() - 1 + tx.Count()) % tx.Count()
	if r.n > 0 && int(r.pos[(r.head+r.n-1)%len(r.pos)]) == last {
		return // marked already: a flush with nothing new
	}
	tx.Desc(last)[txdCmd] |= TxdCmdRS
	if r.n == len(r.pos) { // cannot happen: a mark per batch, each in the ring
		r.head = (r.head + 1) % len(r.pos)
		r.n--
	}
	r.pos[(r.head+r.n)%len(r.pos)] = int32(last)
	r.n++
}

// Reclaim moves tx's next-to-clean past every marked descriptor the device
// has written back and returns the descriptors it freed. A descriptor
// index beyond the ring in pos cannot come from the device: pos is ours.
func (r *TxReport) Reclaim(tx *descring.Ring) int {
	freed := 0
	for r.n > 0 {
		i := int(r.pos[r.head])
		desc := tx.Desc(i)
		if LoadStatus(desc)&TxdStatDD == 0 {
			break
		}
		StoreStatus(desc, 0)
		freed += (i - tx.NextToClean() + tx.Count()) % tx.Count()
		freed++
		tx.SetNextToClean(tx.Next(i))
		r.head = (r.head + 1) % len(r.pos)
		r.n--
	}
	return freed
}

// Reset forgets every mark, with the ring's own Reset.
func (r *TxReport) Reset() { r.head, r.n = 0, 0 }
