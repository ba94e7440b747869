package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/skb"
)

// The frame exchange: frames of seeded random length and payload, each
// carrying a direction tag and a sequence number, so the receiver can
// rebuild the exact bytes it should get.
const exchangeEthertype = 0x88b5

// exchangeFrame is the frame number seq from src to dst.
func exchangeFrame(buf []byte, src, dst []byte, dir uint8, seq uint32, minLen, maxLen int) []byte {
	rng := rand.New(rand.NewSource(int64(seq)<<8 | int64(dir)))
	n := minLen + rng.Intn(maxLen-minLen+1)
	f := buf[:n]
	copy(f[0:6], dst)
	copy(f[6:12], src)
	binary.BigEndian.PutUint16(f[12:], exchangeEthertype)
	f[14] = dir
	binary.BigEndian.PutUint32(f[15:], seq)
	rng.Read(f[19:])
	return f
}

// DirectionReport is one direction of an exchange.
type DirectionReport struct {
	From, To   string
	Sent       int
	Received   int
	InOrder    bool
	Inversions int    // arrivals below the previous arrival
	FirstInv   string `json:",omitempty"` // the first: "N after M"
	Duplicates int    // frames seen twice
	Mismatches int
	Elapsed    float64 // seconds
	FPS        float64
	HWTx       uint64 `json:",omitempty"` // sender's good packets transmitted (hardware)
	HWRx       uint64 `json:",omitempty"` // receiver's good packets received (hardware)
	DevTx      uint64
	DevRx      uint64
	TxIRQs     uint64
	RxIRQs     uint64
	RxDropped  uint64
}

// receiver checks frames of one direction as they arrive.
type receiver struct {
	dir      uint8
	src, dst []byte
	minLen   int
	maxLen   int
	next     uint32
	received atomic.Int64
	bad      atomic.Int64
	outOrder atomic.Bool
	inv, dup atomic.Int64
	last     uint32 // the previous arrival
	any      bool
	firstInv atomic.Value // string
	seen     []bool
	buf      []byte
}

func (r *receiver) check(frame []byte) {
	seq := binary.BigEndian.Uint32(frame[15:])
	if seq != r.next {
		r.outOrder.Store(true)
	}
	// An inversion is an arrival below the one before it: one frame
	// delivered ahead of 29 queued ones counts once, not 29 times.
	if r.any && seq < r.last {
		if r.inv.Add(1) == 1 {
			r.firstInv.Store(fmt.Sprintf("%d after %d", seq, r.last))
		}
	}
	r.last, r.any = seq, true
	if int(seq) < len(r.seen) {
		if r.seen[seq] {
			r.dup.Add(1)
		}
		r.seen[seq] = true
	}
	if seq >= r.next {
		r.next = seq + 1
	}
	want := exchangeFrame(r.buf, r.src, r.dst, r.dir, seq, r.minLen, r.maxLen)
	if !bytes.Equal(want, frame) {
		r.bad.Add(1)
	}
	r.received.Add(1)
}

// exchangeOneWay sends n frames from a to b with the same checks.
func exchangeOneWay(a, b *netcore.Device, core *netcore.Core, n, window, minLen, maxLen int) (DirectionReport, error) {
	reps, err := exchangeDirs(a, b, core, n, [2]int{window, window}, minLen, maxLen, 1)
	return reps[0], err
}

// exchange sends n frames each way between devs a and b at once;
// windows[0] bounds a->b, windows[1] b->a.
func exchange(a, b *netcore.Device, core *netcore.Core, n int, windows [2]int, minLen, maxLen int) ([2]DirectionReport, error) {
	return exchangeDirs(a, b, core, n, windows, minLen, maxLen, 2)
}

// exchangeDirs runs the first dirs directions of a->b, b->a. Each
// sender keeps at most window frames in flight (sent, not yet received), so
// a correct driver loses nothing however slow the receiver is.
func exchangeDirs(a, b *netcore.Device, core *netcore.Core, n int, windows [2]int, minLen, maxLen, dirs int) ([2]DirectionReport, error) {
	rx := [2]*receiver{
		{dir: 0, src: a.HardwareAddr, dst: b.HardwareAddr, minLen: minLen, maxLen: maxLen, buf: make([]byte, 1514), seen: make([]bool, n)},
		{dir: 1, src: b.HardwareAddr, dst: a.HardwareAddr, minLen: minLen, maxLen: maxLen, buf: make([]byte, 1514), seen: make([]bool, n)},
	}
	core.AddPacketType(exchangeEthertype, func(s *skb.Buff) {
		s.PushToMAC()
		f := s.Data()
		if len(f) >= 19 && f[14] < 2 {
			rx[f[14]].check(f)
		}
		s.Free()
	})
	var wg sync.WaitGroup
	var reps [2]DirectionReport
	errs := make([]error, 2)
	pairs := [2][2]*netcore.Device{{a, b}, {b, a}}
	for dir, pair := range pairs[:dirs] {
		wg.Add(1)
		go func(dir int, src, dst *netcore.Device) {
			defer wg.Done()
			start := time.Now()
			buf := make([]byte, 1514)
			for seq := 0; seq < n; seq++ {
				deadline := time.Now().Add(10 * time.Second)
				for int64(seq)-rx[dir].received.Load() >= int64(windows[dir]) {
					if time.Now().After(deadline) {
						errs[dir] = fmt.Errorf("%s->%s: stuck at %d sent, %d received", src.Name, dst.Name, seq, rx[dir].received.Load())
						return
					}
					time.Sleep(50 * time.Microsecond)
				}
				f := exchangeFrame(buf, src.HardwareAddr, dst.HardwareAddr, uint8(dir), uint32(seq), minLen, maxLen)
				for {
					s := skb.Alloc(len(f))
					copy(s.Put(len(f)), f)
					s.Dev = src
					err := netcore.DevQueueXmit(s)
					if err == nil {
						break
					}
					if !errors.Is(err, netcore.ErrQueueFull) {
						errs[dir] = err
						return
					}
					time.Sleep(100 * time.Microsecond)
				}
			}
			deadline := time.Now().Add(10 * time.Second)
			for rx[dir].received.Load() < int64(n) && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			el := time.Since(start).Seconds()
			first, _ := rx[dir].firstInv.Load().(string)
			reps[dir] = DirectionReport{
				From: src.Name, To: dst.Name, Sent: n, Received: int(rx[dir].received.Load()),
				InOrder: !rx[dir].outOrder.Load(), Mismatches: int(rx[dir].bad.Load()),
				Inversions: int(rx[dir].inv.Load()), Duplicates: int(rx[dir].dup.Load()),
				Elapsed: el, FPS: float64(rx[dir].received.Load()) / el, FirstInv: first,
			}
		}(dir, pair[0], pair[1])
	}
	wg.Wait()
	return reps, errors.Join(errs...)
}
