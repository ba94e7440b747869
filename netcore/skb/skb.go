// Package skb is ringo's packet buffer, after Linux's struct sk_buff: a
// pooled byte buffer with headroom and tailroom, the current data window,
// header offsets, and metadata (device, protocol, packet type, priority).
//
// Ownership: a *Buff has exactly one owner. Functions that take a *Buff
// take ownership unless their doc says otherwise; the owner calls Free when
// done. Clone makes a second Buff that shares the data (read-only for both)
// and must be freed too.
package skb

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringonet/ringo/netcore/internal/memcopy"
)

// Sizes. A buffer holds one Ethernet frame of up to 1514 bytes plus a VLAN
// tag, with Headroom in front for headers pushed on transmit. Larger
// (reassembled) packets use a larger data class.
const (
	Headroom    = 128
	DataSize    = 2048      // the small class: a full frame with headroom
	MaxDataSize = 128 << 10 // the large class: an IPv4 datagram (65535) and its headers
)

// PktType classifies a received frame by destination (Linux's pkt_type).
type PktType uint8

const (
	PacketHost      PktType = iota // to us
	PacketBroadcast                // to everyone
	PacketMulticast                // to a group
	PacketOtherHost                // to someone else (promiscuous)
	PacketOutgoing                 // our own transmit, as taps see it
)

func (p PktType) String() string {
	switch p {
	case PacketHost:
		return "host"
	case PacketBroadcast:
		return "broadcast"
	case PacketMulticast:
		return "multicast"
	case PacketOtherHost:
		return "otherhost"
	case PacketOutgoing:
		return "outgoing"
	}
	return fmt.Sprintf("pkttype(%d)", p)
}

// shared is the data area, reference counted so clones can share it.
type shared struct {
	buf []byte
	// refs counts the Buffs that point here. It is 1 while the data
	// sits in a pool, so Alloc need not write it, and Free of a buffer
	// nobody cloned only reads it: no locked instruction on the common
	// path (under QEMU's TCG each is a helper call).
	refs atomic.Int32
	big  bool
	// arena, when set, is the Arena the area came from and goes back
	// to, and iova the device address of buf[0].
	arena *Arena
	iova  uint64
	// first is the Buff Alloc hands out with the data, as Linux
	// allocates an skb's head with its data: one pool operation per
	// packet instead of two. It is reused only with the data, when the
	// last reference goes; clones come from buffPool.
	first Buff
}

// Buff is one packet. The zero value is not usable: get one from Alloc.
type Buff struct {
	sh   *shared
	head int // data starts at sh.buf[head]
	tail int // data ends before sh.buf[tail]

	// Header offsets into the data area (absolute, from the buffer start);
	// -1 when unset.
	mac, network, transport int

	Dev      any       // the net device that received it or will send it
	Protocol uint16    // ethertype, host order
	PktType  PktType   // set by eth_type_trans
	Priority uint32    // selects the qdisc band on transmit
	Hash     uint32    // flow hash, 0 if not computed
	Stamp    time.Time // receive time, if the device sets it
	// CsumValid says the device verified the transport checksum (RX offload).
	CsumValid bool
	// CsumPartial says the transport checksum is left to the device (or
	// to software before a device without the offload): the field holds
	// 0 (Linux's CHECKSUM_PARTIAL).
	CsumPartial bool
	// GSOSize is the segment size of a TCP packet larger than one
	// segment, cut into GSOSize-byte segments by the device (TSO) or by
	// software (Linux's gso_size); 0 for an ordinary packet.
	GSOSize uint16
	// Hooked says the device's ingress or egress hook has seen the packet
	// already: it is being reinjected (after an impairment's delay) and
	// goes on without the hook.
	Hooked bool
	// VlanTCI is the 802.1Q tag a received frame carried (priority, DEI,
	// VLAN id), taken off by the core; VlanPresent says there was one
	// (Linux's vlan_tci and vlan_present).
	VlanTCI     uint16
	VlanPresent bool
	// Cb is scratch space for the layer that owns the skb (Linux's cb[]).
	Cb [48]byte

	cloned bool
}

var (
	buffPool  = sync.Pool{New: func() any { return new(Buff) }}
	smallPool sync.Pool // *shared of DataSize, count 1; see getSmall
	bigPool   = sync.Pool{New: func() any { return newShared(MaxDataSize, true) }}
	live      atomic.Int64 // buffers allocated and not yet freed
)

func newShared(size int, big bool) *shared {
	sh := &shared{buf: make([]byte, size), big: big}
	sh.refs.Store(1)
	return sh
}

// Alloc returns a Buff with Headroom reserved and room for size bytes after
// it, or nil if size exceeds MaxDataSize-Headroom. Steady-state allocation
// comes from pools and does not touch the Go heap.
func Alloc(size int) *Buff {
	var sh *shared
	switch {
	case size < 0 || size > MaxDataSize-Headroom:
		return nil
	case size <= DataSize-Headroom:
		sh = getSmall()
	default:
		sh = bigPool.Get().(*shared)
	}
	live.Add(1)
	return sh.fresh()
}

// Live is the number of Buffs allocated and not freed: a leak detector for
// tests and for the pool counters a user reads.
func Live() int64 { return live.Load() }

// Free releases the Buff; its data returns to the pool when no clone holds
// it. Free(nil) is a no-op.
func (b *Buff) Free() {
	if b == nil {
		return
	}
	if b.sh == nil {
		panic("skb: double free")
	}
	live.Add(-1)
	if sh := b.release(); sh != nil {
		switch {
		case sh.arena != nil:
			sh.arena.put([]*shared{sh})
		case sh.big:
			bigPool.Put(sh)
		default:
			smallPool.Put(sh)
		}
	}
}

// release drops b's reference to its data and returns the data when it
// was the last one, its count back at 1 for the pool.
func (b *Buff) release() *shared {
	sh := b.sh
	b.sh = nil
	b.Dev = nil
	if b != &sh.first {
		buffPool.Put(b)
	}
	// A count of 1 is this Buff alone: nobody else can clone it while
	// its owner frees it, so a plain read decides.
	if sh.refs.Load() == 1 {
		return sh
	}
	if sh.refs.Add(-1) == 0 {
		sh.refs.Store(1)
		return sh
	}
	return nil
}

// Clone returns a new Buff sharing b's data (skb_clone): taps use it to keep
// a packet that continues up the stack. Neither may write the data after.
func (b *Buff) Clone() *Buff {
	b.sh.refs.Add(1)
	c := buffPool.Get().(*Buff)
	*c = *b
	c.cloned, b.cloned = true, true
	live.Add(1)
	return c
}

// Cloned reports whether the data is shared with a clone.
func (b *Buff) Cloned() bool { return b.cloned && b.sh.refs.Load() > 1 }

// Copy returns an independent copy of b (skb_copy), data and metadata.
func (b *Buff) Copy() *Buff {
	c := Alloc(b.Len() + b.Headroom() - Headroom)
	if c == nil {
		return nil
	}
	sh := c.sh
	*c = *b
	c.sh, c.cloned = sh, false
	memcopy.Copy(sh.buf[b.head:b.tail], b.sh.buf[b.head:b.tail])
	return c
}

// Truesize is the memory the buffer's data area takes (Linux's truesize,
// less the struct): what a queue holding it is charged.
func (b *Buff) Truesize() int { return len(b.sh.buf) }

// Data is the packet from the current position to the tail.
func (b *Buff) Data() []byte { return b.sh.buf[b.head:b.tail:b.tail] }

// Len is the number of data bytes.
func (b *Buff) Len() int { return b.tail - b.head }

// Headroom is the free space before the data.
func (b *Buff) Headroom() int { return b.head }

// Tailroom is the free space after the data.
func (b *Buff) Tailroom() int { return len(b.sh.buf) - b.tail }

// Room is the tailroom as a slice, for a device to write a frame into
// before Put claims it (a receive buffer in place).
func (b *Buff) Room() []byte { return b.sh.buf[b.tail:] }

// Reserve moves the (empty) data window n bytes further from the start.
func (b *Buff) Reserve(n int) bool {
	if b.tail != b.head || n < 0 || n > b.Tailroom() {
		return false
	}
	b.head += n
	b.tail += n
	return true
}

// Put extends the data by n bytes at the tail and returns them (skb_put),
// or nil if there is not enough tailroom.
func (b *Buff) Put(n int) []byte {
	if n < 0 || n > b.Tailroom() {
		return nil
	}
	p := b.sh.buf[b.tail : b.tail+n : b.tail+n]
	b.tail += n
	return p
}

// Push prepends n bytes (skb_push) and returns them, or nil if there is not
// enough headroom.
func (b *Buff) Push(n int) []byte {
	if n < 0 || n > b.head {
		return nil
	}
	b.head -= n
	return b.sh.buf[b.head : b.head+n : b.head+n]
}

// Pull removes n bytes from the front (skb_pull) and returns them, or nil if
// the packet is shorter than n.
func (b *Buff) Pull(n int) []byte {
	if n < 0 || n > b.Len() {
		return nil
	}
	p := b.sh.buf[b.head : b.head+n : b.head+n]
	b.head += n
	return p
}

// Trim cuts the data to n bytes (skb_trim); it never grows it.
func (b *Buff) Trim(n int) {
	if n >= 0 && n < b.Len() {
		b.tail = b.head + n
	}
}

// Reset empties the buffer and reserves Headroom again, keeping nothing of
// the old packet but the data area: for a driver recycling an RX buffer.
func (b *Buff) Reset() { b.init(b.sh) }

// SetMACHeader, SetNetworkHeader and SetTransportHeader mark the current
// data position as the start of that header.
func (b *Buff) SetMACHeader()       { b.mac = b.head }
func (b *Buff) SetNetworkHeader()   { b.network = b.head }
func (b *Buff) SetTransportHeader() { b.transport = b.head }

// MACHeader, NetworkHeader and TransportHeader return the bytes from that
// header to the tail, or nil if it was never set.
func (b *Buff) MACHeader() []byte       { return b.from(b.mac) }
func (b *Buff) NetworkHeader() []byte   { return b.from(b.network) }
func (b *Buff) TransportHeader() []byte { return b.from(b.transport) }

func (b *Buff) from(off int) []byte {
	if off < 0 || off > b.tail {
		return nil
	}
	return b.sh.buf[off:b.tail:b.tail]
}

// PushTo moves the data start back to the MAC header (after a pull), for a
// tap that wants the whole frame. It reports false if no MAC header is set.
func (b *Buff) PushToMAC() bool {
	if b.mac < 0 || b.mac > b.head {
		return false
	}
	b.head = b.mac
	return true
}

// Queue is a FIFO of Buffs with a fixed capacity, as a ring: it never
// allocates after New. Not safe for concurrent use; the owner locks.
type Queue struct {
	ring       []*Buff
	head, size int
}

// NewQueue makes a queue that holds up to n Buffs.
func NewQueue(n int) *Queue { return &Queue{ring: make([]*Buff, n)} }

// Len is the number of queued Buffs; Cap the most it holds.
func (q *Queue) Len() int { return q.size }
func (q *Queue) Cap() int { return len(q.ring) }

// Push appends b; it reports false (and keeps nothing) when full.
func (q *Queue) Push(b *Buff) bool {
	if q.size == len(q.ring) {
		return false
	}
	q.ring[(q.head+q.size)%len(q.ring)] = b
	q.size++
	return true
}

// PushFront puts b back at the head (a requeue); false when full.
func (q *Queue) PushFront(b *Buff) bool {
	if q.size == len(q.ring) {
		return false
	}
	q.head = (q.head - 1 + len(q.ring)) % len(q.ring)
	q.ring[q.head] = b
	q.size++
	return true
}

// Pop removes the head, or returns nil when empty.
func (q *Queue) Pop() *Buff {
	if q.size == 0 {
		return nil
	}
	b := q.ring[q.head]
	q.ring[q.head] = nil
	q.head = (q.head + 1) % len(q.ring)
	q.size--
	return b
}

// Purge frees every queued Buff.
func (q *Queue) Purge() {
	for b := q.Pop(); b != nil; b = q.Pop() {
		b.Free()
	}
}
