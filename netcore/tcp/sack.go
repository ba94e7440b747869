package tcp

import "github.com/ringonet/ringo/netcore/header"

// takeSACKLocked merges the peer's SACK blocks into the scoreboard and
// the transmit log; it reports whether they told something new. A first
// block below the ACK or inside the second is a D-SACK (RFC 2883): a
// segment arrived twice, which RACK reads as reordering. Other blocks
// outside (sndUna, sndMax] are bogus and ignored; both are counted.
func (c *Conn) takeSACKLocked(ack uint32, o *header.TCPOptions) bool {
	grew := false
	for i := 0; i < o.NSACK; i++ {
		b := o.SACK[i]
		if i == 0 && (seqLEQ(b.Right, ack) || o.NSACK > 1 && seqLEQ(o.SACK[1].Left, b.Left) && seqLEQ(b.Right, o.SACK[1].Right)) {
			c.t.Ext.TCPDSACKRecv.Add(1)
			c.rack.dsack = true
			c.dsackUndoLocked(b.Left, b.Right)
			continue
		}
		if seqLT(b.Left, c.sndUna) && seqLT(c.sndUna, b.Right) {
			b.Left = c.sndUna // an old ACK overtaken by a newer one
		}
		if !seqLT(b.Left, b.Right) || !seqLT(c.sndUna, b.Right) || seqLT(c.sndMax, b.Right) || seqLT(b.Left, c.sndUna) {
			c.t.Ext.TCPSACKDiscard.Add(1)
			continue
		}
		before := c.sackedBytes
		c.rackSackedLocked(b, o)
		c.sacked = mergeBlock(c.sacked, b)
		if len(c.sacked) > maxSACKed {
			c.sacked = c.sacked[:maxSACKed] // forget the highest
		}
		c.sackedBytes = 0
		for _, r := range c.sacked {
			c.sackedBytes += int(r.Right - r.Left)
		}
		grew = grew || c.sackedBytes > before
	}
	return grew
}

// mergeBlock inserts b into sorted, disjoint ranges.
func mergeBlock(rs []header.SACKBlock, b header.SACKBlock) []header.SACKBlock {
	i := 0
	for i < len(rs) && seqLT(rs[i].Right, b.Left) {
		i++
	}
	j := i
	for j < len(rs) && seqLEQ(rs[j].Left, b.Right) {
		if seqLT(rs[j].Left, b.Left) {
			b.Left = rs[j].Left
		}
		if seqLT(b.Right, rs[j].Right) {
			b.Right = rs[j].Right
		}
		j++
	}
	if i == j {
		rs = append(rs, header.SACKBlock{})
		copy(rs[i+1:], rs[i:])
		rs[i] = b
		return rs
	}
	rs[i] = b
	return append(rs[:i+1], rs[j:]...)
}

// trimSACKLocked drops what sndUna has passed from the scoreboard.
func (c *Conn) trimSACKLocked() {
	k := 0
	c.sackedBytes = 0
	for _, r := range c.sacked {
		if seqLEQ(r.Right, c.sndUna) {
			continue
		}
		if seqLT(r.Left, c.sndUna) {
			r.Left = c.sndUna
		}
		c.sacked[k] = r
		c.sackedBytes += int(r.Right - r.Left)
		k++
	}
	c.sacked = c.sacked[:k]
	if seqLT(c.highRxt, c.sndUna) {
		c.highRxt = c.sndUna
	}
}

// repairLocked retransmits in recovery: without SACK the first
// unacknowledged segment (NewReno); with SACK what RACK marked lost
// (repairLostLocked).
func (c *Conn) repairLocked() {
	if c.sackOK {
		c.repairLostLocked()
		return
	}
	if c.highRxt == c.sndUna {
		c.retransmitLocked()
		c.highRxt = c.sndUna + uint32(min(c.mss, c.sndQ.Len()))
	}
}
