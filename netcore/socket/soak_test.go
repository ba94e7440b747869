package socket_test

import (
	"context"
	"io"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/ringonet/ringo/netcore/internal/stacktest"
	"github.com/ringonet/ringo/netcore/ipv4"
	"github.com/ringonet/ringo/netcore/skb"
	"github.com/ringonet/ringo/netcore/tcp"
)

// TestSoak runs mixed traffic (TCP connections opened, filled and
// closed, a UDP echo stream, pings) between two hosts on a lossy wire for
// RINGO_SOAK (default 15 s) and checks that heap, goroutines and packet
// buffers end where they were once warm: every queue and table is
// bounded, nothing leaks per packet or per connection.
func TestSoak(t *testing.T) {
	d := 15 * time.Second
	if v, err := time.ParseDuration(os.Getenv("RINGO_SOAK")); err == nil {
		d = v
	}
	if testing.Short() {
		d = 3 * time.Second
	}
	// Fragments of pings the wire lost wait out the reassembly timeout:
	// a short one lets the end sample see every buffer home.
	tc, ic := tcp.Config{MSL: 50 * time.Millisecond}, ipv4.Config{FragTimeout: 200 * time.Millisecond}
	a, b := stacktest.Stack(t, tc, ic), stacktest.Stack(t, tc, ic)
	stacktest.Wire(t, a, b, 0.01)
	stacktest.EchoTCP(t, b, ":80")
	stacktest.EchoUDP(t, b, ":7")

	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var wg sync.WaitGroup
	var conns, datagrams, pings int
	wg.Add(3)
	go func() { // TCP: connect, 64 KiB each way, close; again.
		defer wg.Done()
		data := make([]byte, 64<<10)
		buf := make([]byte, len(data))
		for ctx.Err() == nil {
			c, err := a.DialContext(ctx, "tcp", "10.1.0.2:80")
			if err != nil {
				continue
			}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			go c.Write(data)
			io.ReadFull(c, buf)
			c.Close()
			conns++
		}
	}()
	go func() { // UDP echo stream.
		defer wg.Done()
		c, err := a.Dial("udp", "10.1.0.2:7")
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 2048)
		for ctx.Err() == nil {
			c.SetDeadline(time.Now().Add(50 * time.Millisecond))
			c.Write(buf[:512])
			if _, err := c.Read(buf); err == nil {
				datagrams++
			}
		}
	}()
	go func() { // pings, some fragmented.
		defer wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			pctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			if _, err := a.IP.Ping(pctx, [4]byte{10, 1, 0, 2}, 56+(i%2)*4000, uint16(i)); err == nil {
				pings++
			}
			cancel()
		}
	}()

	sample := func() (heap uint64, goroutines int, live int64) {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapInuse, runtime.NumGoroutine(), skb.Live()
	}
	time.Sleep(d / 4) // warm: pools and tables at their working size
	h0, g0, l0 := sample()
	wg.Wait()
	time.Sleep(time.Second) // TIME-WAIT, retransmissions and reassembly end
	h1, g1, l1 := sample()
	t.Logf("soak %v: %d TCP connections, %d UDP echoes, %d pings; heap %d -> %d KiB, goroutines %d -> %d, live skbs %d -> %d",
		d, conns, datagrams, pings, h0>>10, h1>>10, g0, g1, l0, l1)
	t.Logf("FAULT | soak: %v of mixed TCP/UDP/ICMP on a 1%%-loss wire | %d connections, %d datagrams, %d pings; heap %d -> %d KiB, goroutines %d -> %d",
		d, conns, datagrams, pings, h0>>10, h1>>10, g0, g1)
	assert.Greater(t, conns, 10)
	assert.Greater(t, datagrams, 100)
	assert.Less(t, h1, h0+h0/2+(4<<20), "heap flat")
	assert.LessOrEqual(t, g1, g0, "goroutines flat")
	assert.LessOrEqual(t, l1, l0+16, "packet buffers returned")
}
