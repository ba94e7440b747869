package netcore

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ringonet/ringo/netcore/skb"
)

// benchRx measures the receive path from a driver's NAPI poll to a
// protocol handler: skb from the pool, eth_type_trans, netif_receive_skb,
// ptype dispatch, free. With cpus > 1 two devices are polled on two
// softnets at once.
func benchRx(b *testing.B, cpus int) {
	c := New(Config{CPUs: cpus, Logger: slog.New(slog.DiscardHandler)})
	defer c.Close()
	done := make(chan struct{})
	var got int64
	want := int64(b.N)
	c.AddPacketType(testEthertype, func(s *skb.Buff) {
		s.Free()
		// Handlers of different softnets run concurrently: count atomically.
		if atomic.AddInt64(&got, 1) == want {
			close(done)
		}
	})
	nics := make([]*fakeNIC, cpus)
	for i := range nics {
		nics[i] = newFakeNIC(b, c, string(rune('a'+i)), i, 64)
	}
	for i := 0; i < 256; i++ { // warm the pools
		skb.Alloc(60).Free()
	}
	b.ReportAllocs()
	b.ResetTimer()
	per := b.N / cpus
	for i, f := range nics {
		n := per
		if i == 0 {
			n += b.N % cpus
		}
		f.arrive(n)
	}
	<-done
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/pkt")
}

func BenchmarkRxPath(b *testing.B)       { benchRx(b, 1) }
func BenchmarkRxPathTwoCPU(b *testing.B) { benchRx(b, 2) }

// BenchmarkBacklogRx measures the non-NAPI path: netif_rx from the caller
// into the backlog, process_backlog in the softnet.
func BenchmarkBacklogRx(b *testing.B) {
	c := New(Config{MaxBacklog: 1 << 16, Logger: slog.New(slog.DiscardHandler)})
	defer c.Close()
	done := make(chan struct{})
	finish := sync.OnceFunc(func() { close(done) })
	var got, want atomic.Int64
	want.Store(int64(b.N))
	c.AddPacketType(testEthertype, func(s *skb.Buff) {
		s.Free()
		if got.Add(1) == want.Load() {
			finish()
		}
	})
	f := newFakeNIC(b, c, "ne0", 0, 64)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if !f.dev.NetifRx(testFrame(f.dev, uint32(i))) {
			// Dropped at the backlog bound: counted, never delivered.
			if want.Add(-1) == got.Load() {
				finish()
			}
		}
	}
	<-done
	b.ReportMetric(float64(f.dev.Stats.RxDropped.Load())/float64(b.N), "drops/op")
}

// BenchmarkXmitPath measures dev_queue_xmit through pfifo_fast to a driver.
func BenchmarkXmitPath(b *testing.B) {
	c := New(Config{Logger: slog.New(slog.DiscardHandler)})
	defer c.Close()
	d := &nullDriver{}
	dev, err := c.Register(DeviceConfig{Name: "null0"}, d)
	if err != nil {
		b.Fatal(err)
	}
	dev.Up()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s := skb.Alloc(60)
		s.Put(60)
		s.Dev = dev
		if err := DevQueueXmit(s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkXmitBurst measures the burst path a txonly sender takes:
// skb.AllocBulk, DevQueueXmitBurst past the empty qdisc to a
// BurstXmitter, skb.FreeBulk in the driver. ns/op is per frame.
func BenchmarkXmitBurst(b *testing.B) {
	c := New(Config{Logger: slog.New(slog.DiscardHandler)})
	defer c.Close()
	dev, err := c.Register(DeviceConfig{Name: "null0"}, &nullBurstDriver{})
	if err != nil {
		b.Fatal(err)
	}
	dev.Up()
	bs := make([]*skb.Buff, 32)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += len(bs) {
		skb.AllocBulk(bs, 60)
		for _, s := range bs {
			s.Put(60)
			s.Dev = dev
		}
		if n, err := DevQueueXmitBurst(bs); err != nil || n != len(bs) {
			b.Fatal(n, err)
		}
	}
}

type nullBurstDriver struct{ nullDriver }

func (nullBurstDriver) StartXmitBurst(bs []*skb.Buff) int {
	skb.FreeBulk(bs)
	return len(bs)
}

type nullDriver struct{}

func (nullDriver) Open() error                    { return nil }
func (nullDriver) Stop() error                    { return nil }
func (nullDriver) StartXmit(b *skb.Buff) TxStatus { b.Free(); return TxOK }
