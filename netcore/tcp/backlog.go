package tcp

import (
	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/netcore/skb"
)

// backlogSeg is a segment the softirq left for the connection's holder:
// a clone of its packet keeps the bytes the view points into.
type backlogSeg struct {
	seg  header.TCP
	segs int
	b    *skb.Buff
}

// addBacklog queues a segment for whoever holds the connection
// (sk_add_backlog), within the receive and send buffers' worth of
// packet memory; past that it is dropped and counted (TCPBacklogDrop),
// and the peer retransmits.
func (c *Conn) addBacklog(seg header.TCP, segs int, b *skb.Buff) {
	c.blMu.Lock()
	if int64(c.blBytes+b.Truesize()) > c.blLimit.Load() && len(c.backlog) > 0 {
		c.blMu.Unlock()
		c.t.Ext.TCPBacklogDrop.Add(1)
		return
	}
	c.backlog = append(c.backlog, backlogSeg{seg: seg, segs: segs, b: b.Clone()})
	c.blBytes += b.Truesize()
	c.blLen.Store(int32(len(c.backlog)))
	c.blMu.Unlock()
	c.t.Ext.TCPBacklogQueued.Add(1)
	c.release()
}

// release does what a holder does as it lets go, if nobody holds the
// connection now: work left for a holder (a backlogged segment, a batch
// ACK) is never stranded by a holder that let go just before it came.
func (c *Conn) release() {
	if c.mu.TryLock() {
		c.unlock()
	}
}

// unlock releases the connection (release_sock): first it processes the
// segments the softirq left in the backlog meanwhile, and sends a batch
// ACK the softirq could not. A segment queued after the last look is
// taken by its producer (addBacklog) or by this loop's second look.
func (c *Conn) unlock() {
	for {
		c.blMu.Lock()
		bl := c.backlog
		c.backlog, c.blSpare = c.blSpare[:0], bl
		c.blBytes = 0
		c.blLen.Store(0)
		c.blMu.Unlock()
		for i := range bl {
			c.inputLocked(bl[i].seg, bl[i].segs, bl[i].b)
			bl[i].b.Free()
			bl[i] = backlogSeg{}
		}
		// The receive batch these segments came in has ended: its ACK
		// goes now (a lone segment's stays with the delayed-ACK timer).
		if c.flushACK.Swap(false) || len(bl) > 0 {
			c.flushACKLocked()
		}
		if len(bl) > 0 {
			continue
		}
		c.mu.Unlock()
		if c.blLen.Load() == 0 && !c.flushACK.Load() || !c.mu.TryLock() {
			return
		}
	}
}

// flushACKLocked sends the ACK held to the end of a receive batch, if one
// is still queued.
func (c *Conn) flushACKLocked() {
	if !c.ackQueued {
		return
	}
	c.ackQueued = false
	if c.ackPending > 0 && c.state != Closed && c.state != TimeWait {
		c.t.Ext.TCPACKBatched.Add(1)
		c.sendAckLocked()
	}
}
