package link

import (
	crand "crypto/rand"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"

	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/gso"
	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/netcore/skb"
)

// DefaultRing is the receive ring of a pipe end, in frames.
const DefaultRing = 256

// PipeEnd is one end of an in-memory Ethernet link.
type PipeEnd struct {
	Dev  *netcore.Device
	napi *netcore.NAPI
	peer *PipeEnd

	mu   sync.Mutex // guards ring
	ring *skb.Queue

	// Frames the peer sent while this end was down, or that the wire lost.
	Lost atomic.Uint64
	// TSOPackets are packets this end was given to cut into segments.
	TSOPackets atomic.Uint64

	loss    float64
	rng     *rand.Rand // guarded by mu
	offload bool
	scratch []byte // segment scratch of the offload, guarded by mu of the peer
}

// PipeConfig sets up a pipe. Zero values give defaults.
type PipeConfig struct {
	Names [2]string
	CPUs  [2]int // softnet of each end
	Ring  int    // receive ring per end
	MTU   int
	// PeerCore, if set, is the core of the second end: a link between two
	// stacks (two hosts) rather than two devices of one.
	PeerCore *netcore.Core
	// Loss drops this fraction of frames in each direction, chosen by a
	// generator seeded with Seed: a reproducible bad wire.
	Loss float64
	Seed uint64
	// Offload makes both ends offer checksum offload and TSO and do them
	// on the wire, as a NIC does: what arrives is ordinary segments.
	Offload bool
	// GRO turns generic receive offload on at both ends; off otherwise,
	// as on a Linux veth.
	GRO bool
}

// NewPipe registers two devices joined back to back: what one sends, the
// other receives through its NAPI poll. A full receive ring stops the
// sender's queue until the receiver drains it, as a NIC's ring does.
func NewPipe(c *netcore.Core, cfg PipeConfig) (a, b *PipeEnd, err error) {
	if cfg.Ring <= 0 {
		cfg.Ring = DefaultRing
	}
	ends := [2]*PipeEnd{{ring: skb.NewQueue(cfg.Ring)}, {ring: skb.NewQueue(cfg.Ring)}}
	for i, e := range ends {
		e.loss = cfg.Loss
		e.rng = rand.New(rand.NewPCG(cfg.Seed, uint64(i)))
		e.offload = cfg.Offload
	}
	ends[0].peer, ends[1].peer = ends[1], ends[0]
	cores := [2]*netcore.Core{c, c}
	if cfg.PeerCore != nil {
		cores[1] = cfg.PeerCore
	}
	var features netcore.Features
	if cfg.Offload {
		features = netcore.FeatureIPCsum | netcore.FeatureTSO
	}
	for i, e := range ends {
		e.Dev, err = cores[i].Register(netcore.DeviceConfig{
			Name: cfg.Names[i], HardwareAddr: RandomMAC(), MTU: cfg.MTU, CPU: cfg.CPUs[i], Kind: "pipe", Features: features,
		}, e)
		if err != nil {
			return nil, nil, err
		}
		e.napi = e.Dev.NetifNAPIAdd(e.poll, 0)
		e.Dev.SetGRO(cfg.GRO)
	}
	return ends[0], ends[1], nil
}

// RandomMAC returns a locally administered unicast address.
func RandomMAC() net.HardwareAddr {
	m := make(net.HardwareAddr, 6)
	crand.Read(m)
	m[0] = m[0]&^1 | 2
	return m
}

// NAPI is the end's polling context.
func (e *PipeEnd) NAPI() *netcore.NAPI { return e.napi }

// Open implements netcore.DeviceOps.
func (e *PipeEnd) Open() error {
	e.Dev.NetifCarrierOn()
	e.peer.Dev.NetifWakeQueue()
	return nil
}

// Stop implements netcore.DeviceOps.
func (e *PipeEnd) Stop() error {
	e.Dev.NetifCarrierOff()
	e.mu.Lock()
	e.ring.Purge()
	e.mu.Unlock()
	return nil
}

// StartXmit implements netcore.DeviceOps: the frame moves to the peer's
// receive ring (no copy) and the peer's NAPI is scheduled, as a NIC's
// interrupt would.
func (e *PipeEnd) StartXmit(b *skb.Buff) netcore.TxStatus {
	p := e.peer
	if !p.Dev.IsUp() {
		p.Lost.Add(1)
		b.Free()
		return netcore.TxOK // the wire takes it; nobody listens
	}
	p.mu.Lock()
	if e.offload && (b.GSOSize > 0 || b.CsumPartial) {
		return e.xmitOffloadLocked(b)
	}
	if p.loss > 0 && p.rng.Float64() < p.loss {
		p.mu.Unlock()
		p.Lost.Add(1)
		b.Free()
		return netcore.TxOK
	}
	if !p.ring.Push(b) {
		p.mu.Unlock()
		e.Dev.NetifStopQueue()
		return netcore.TxBusy
	}
	full := p.ring.Len() == p.ring.Cap()
	if full {
		// Stop before the peer can drain and wake, under the ring lock.
		e.Dev.NetifStopQueue()
	}
	p.mu.Unlock()
	p.napi.Schedule()
	return netcore.TxOK
}

// xmitOffloadLocked is the wire side of the offloads, with the peer's
// lock held (it unlocks): the checksum filled in, a TSO packet cut into
// segments, each then lost or delivered as an ordinary frame. A ring
// without room for every segment stops the queue, as a NIC without the
// descriptors would.
func (e *PipeEnd) xmitOffloadLocked(b *skb.Buff) netcore.TxStatus {
	p := e.peer
	frame := b.Data()
	const ethLen = 14
	segs := 1
	if b.GSOSize > 0 && len(frame) > ethLen+header.IPv4MinLen {
		segs = (len(frame) - ethLen + int(b.GSOSize) - 1) / int(b.GSOSize) // at least as many as needed
	}
	if p.ring.Cap()-p.ring.Len() < min(segs, p.ring.Cap()) {
		p.mu.Unlock()
		e.Dev.NetifStopQueue()
		return netcore.TxBusy
	}
	out := func(pkt []byte) error {
		f := skb.Alloc(ethLen + len(pkt))
		if f == nil {
			return gso.ErrMalformed
		}
		d := f.Put(ethLen + len(pkt))
		copy(d, frame[:ethLen])
		copy(d[ethLen:], pkt)
		f.Dev, f.Priority = b.Dev, b.Priority
		if p.loss > 0 && p.rng.Float64() < p.loss || !p.ring.Push(f) {
			p.Lost.Add(1)
			f.Free()
		}
		return nil
	}
	var err error
	if len(frame) < ethLen {
		err = gso.ErrMalformed
	} else if b.GSOSize == 0 {
		if err = gso.Checksum(frame[ethLen:]); err == nil {
			err = out(frame[ethLen:])
		}
	} else {
		if e.scratch == nil {
			e.scratch = make([]byte, 64<<10)
		}
		e.TSOPackets.Add(1)
		err = gso.Segment(frame[ethLen:], int(b.GSOSize), e.scratch, out)
	}
	if p.ring.Len() == p.ring.Cap() {
		e.Dev.NetifStopQueue()
	}
	p.mu.Unlock()
	b.Free()
	if err != nil {
		e.Dev.Stats.TxErrors.Add(1)
	}
	p.napi.Schedule()
	return netcore.TxOK
}

// poll receives up to budget frames from the ring.
func (e *PipeEnd) poll(budget int) int {
	work := 0
	for work < budget {
		e.mu.Lock()
		b := e.ring.Pop()
		e.mu.Unlock()
		if b == nil {
			break
		}
		work++
		b.Priority, b.Hash = 0, 0
		if !e.Dev.EthTypeTrans(b) {
			e.Dev.Stats.RxLengthErrors.Add(1)
			b.Free()
			continue
		}
		e.napi.GROReceive(b)
	}
	if work > 0 && e.peer.Dev.NetifQueueStopped() {
		e.peer.Dev.NetifWakeQueue()
	}
	if work < budget {
		e.napi.Complete()
	}
	return work
}
