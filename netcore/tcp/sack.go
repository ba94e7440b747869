package tcp

import "github.com/ringonet/ringo/netcore/header"

// takeSACKLocked merges the peer's SACK blocks into the scoreboard; it
// reports whether they told something new. Blocks outside (sndUna,
// sndMax] are D-SACKs or bogus and are ignored (counted).
func (c *Conn) takeSACKLocked(o *header.TCPOptions) bool {
	grew := false
	for i := 0; i < o.NSACK; i++ {
		b := o.SACK[i]
		if seqLT(b.Left, c.sndUna) && seqLT(c.sndUna, b.Right) {
			b.Left = c.sndUna // an old ACK overtaken by a newer one
		}
		if !seqLT(b.Left, b.Right) || !seqLT(c.sndUna, b.Right) || seqLT(c.sndMax, b.Right) || seqLT(b.Left, c.sndUna) {
			c.t.Ext.TCPSACKDiscard.Add(1)
			continue
		}
		before := c.sackedBytes
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
// unacknowledged segment (NewReno); with SACK the next holes below the
// highest SACKed byte that this recovery has not resent yet (RFC 6675's
// NextSeg, rule 1), as many as the congestion window lets through.
func (c *Conn) repairLocked() {
	if !c.sackOK || len(c.sacked) == 0 {
		if c.highRxt == c.sndUna || !c.sackOK {
			c.retransmitLocked()
			c.highRxt = c.sndUna + uint32(min(c.mss, c.sndQ.Len()))
		}
		return
	}
	top := c.sacked[len(c.sacked)-1].Right
	for sent := 0; sent < 4; sent++ {
		pipe := c.dataInflightLocked() - c.sackedBytes
		if sent > 0 && pipe >= c.cwnd {
			return
		}
		start := c.highRxt
		if seqLT(start, c.sndUna) {
			start = c.sndUna
		}
		end := top
		for _, r := range c.sacked {
			if seqLEQ(r.Right, start) {
				continue
			}
			if seqLEQ(r.Left, start) {
				start = r.Right
				continue
			}
			end = r.Left
			break
		}
		if !seqLT(start, top) {
			return
		}
		if seqLT(start+uint32(c.mss), end) {
			end = start + uint32(c.mss)
		}
		off, n := int(start-c.sndUna), int(end-start)
		if off+n > c.sndQ.Len() {
			return
		}
		c.t.Stats.RetransSegs.Add(1)
		c.timing = false // Karn
		c.sendDataLocked(start, n, false)
		c.highRxt = end
	}
}
