package e1000x

import (
	"sync/atomic"

	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/skb"
)

// Jumbo frames: with RCTL.LPE (long packet reception) and 2 KB buffers the
// part writes a frame longer than a buffer over several descriptors, EOP
// on the last (SDM 3.2.3, datasheet 7.1.4).
const (
	// MaxJumboMTU is the largest MTU the drivers take: 9000, the
	// customary jumbo frame (a 9018-byte frame with a VLAN tag).
	MaxJumboMTU = 9000
	// MaxJumboFrame bounds a frame gathered from descriptors: the MTU,
	// the Ethernet header and a VLAN tag the part left in.
	MaxJumboFrame = MaxJumboMTU + 14 + 4
	// StandardMTU is the MTU up to which long packet reception stays off.
	StandardMTU = 1500
)

// RxChain gathers a frame written over several descriptors into one skb,
// as Linux's jumbo receive keeps rx_skb_top. A piece that says an error,
// or a frame that grows past MaxJumboFrame, spoils the frame: it is
// dropped at its EOP.
type RxChain struct {
	b   *skb.Buff
	bad bool
}

// Active reports whether a frame is being gathered.
func (c *RxChain) Active() bool { return c.b != nil || c.bad }

// Add takes the next piece (nil with bad: a descriptor that said an
// error). At eop it returns the whole frame, or nil when the frame was
// spoilt; overlong says the frame grew past MaxJumboFrame.
func (c *RxChain) Add(piece []byte, eop, bad bool) (frame *skb.Buff, overlong bool) {
	if bad {
		c.bad = true
	}
	if !c.bad {
		if c.b == nil {
			c.b = skb.Alloc(MaxJumboFrame)
		}
		switch {
		case c.b == nil:
			c.bad = true
		case c.b.Len()+len(piece) > MaxJumboFrame:
			c.bad, overlong = true, true
		default:
			copy(c.b.Put(len(piece)), piece)
		}
	}
	if !eop {
		return nil, overlong
	}
	frame = c.b
	if c.bad && frame != nil {
		frame.Free()
		frame = nil
	}
	c.b, c.bad = nil, false
	return frame, overlong
}

// Reset drops a frame being gathered (a ring reset).
func (c *RxChain) Reset() {
	c.b.Free()
	c.b, c.bad = nil, false
}

// RxErrors are a driver's receive error counters that Take adds to.
type RxErrors struct {
	NoEOP      *atomic.Uint64 // a frame over several descriptors without long packet reception
	DescErrors *atomic.Uint64 // the descriptor said a frame error
	BadLength  *atomic.Uint64 // a length of 0, short of a header, past the buffer, or a frame past MaxJumboFrame
}

// Take is one written-back receive descriptor, checked (e1000_clean_rx_irq
// and its jumbo variant): the length against the buffer and a header, the
// frame errors, EOP. A bad descriptor is counted in st and n and its
// frame dropped. A frame in one descriptor comes back as a slice of buf;
// with jumbo (RCTL.LPE) a frame over several is gathered and comes back
// at its EOP as an skb.
func (c *RxChain) Take(buf []byte, length int, eop, frameErr, crcErr, jumbo bool, st *netcore.Stats, n RxErrors) ([]byte, *skb.Buff) {
	first := !c.Active()
	if !eop && first && !jumbo {
		n.NoEOP.Add(1)
		st.RxLengthErrors.Add(1)
		st.RxErrors.Add(1)
		return nil, nil
	}
	bad := false
	if frameErr {
		n.DescErrors.Add(1)
		st.RxErrors.Add(1)
		if crcErr {
			st.RxCRCErrors.Add(1)
		} else {
			st.RxFrameErrors.Add(1)
		}
		bad = true
	}
	if length == 0 || length > len(buf) || (first && eop && length < 14) {
		n.BadLength.Add(1)
		st.RxLengthErrors.Add(1)
		st.RxErrors.Add(1)
		bad = true
	}
	if first && eop {
		if bad {
			return nil, nil
		}
		return buf[:length], nil
	}
	var piece []byte
	if !bad {
		piece = buf[:length]
	}
	b, overlong := c.Add(piece, eop, bad)
	if overlong {
		n.BadLength.Add(1)
		st.RxLengthErrors.Add(1)
		st.RxErrors.Add(1)
	}
	return nil, b
}
