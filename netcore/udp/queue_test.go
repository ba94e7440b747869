package udp

import (
	"log/slog"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringonet/ringo/internal/israce"
	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/internal/ip46"
	"github.com/ringonet/ringo/netcore/ipv4"
	"github.com/ringonet/ringo/netcore/skb"
)

// TestRxQueueOrder: FIFO order across the ring's wrap and its growth.
func TestRxQueueOrder(t *testing.T) {
	var q rxQueue
	next, want := 0, 0
	push := func(k int) {
		for range k {
			q.push(rxEntry{sport: uint16(next)})
			next++
		}
	}
	pop := func(k int) {
		for range k {
			require.Positive(t, q.len())
			assert.EqualValues(t, want, q.pop().sport)
			want++
		}
	}
	push(5)
	pop(3)
	push(7) // wraps the 8-entry ring, then grows it with head at 3
	assert.Equal(t, 9, q.len())
	pop(9)
	assert.Zero(t, q.len())
	for range 100 { // steady state: one in, one out
		push(1)
		pop(1)
	}
	assert.Len(t, q.ring, 16)
}

// TestReceiveNoAlloc: a datagram queued on a socket and read from it
// allocates nothing once the queue and the skb pool are warm, with the
// reader keeping up (queue length 0 and 1) and falling behind.
func TestReceiveNoAlloc(t *testing.T) {
	if israce.Enabled {
		t.Skip("sync.Pool drops items at random under -race")
	}
	quiet := slog.New(slog.DiscardHandler)
	ip, err := ipv4.New(netcore.New(netcore.Config{Logger: quiet}), ipv4.Config{Logger: quiet})
	require.NoError(t, err)
	sock, err := New(ip).Listen(&net.UDPAddr{Port: 7})
	require.NoError(t, err)
	defer sock.Close()
	buf := make([]byte, 2048)
	cycle := func(burst int) {
		for range burst {
			b := skb.Alloc(18)
			b.Put(18)
			if !sock.enqueue(b, ip46.Mapped([4]byte{10, 0, 0, 1}), 9, nil) {
				b.Free()
				t.Fatal("enqueue refused")
			}
		}
		for range burst {
			if _, _, err := sock.ReadFromUDPAddrPort(buf); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, burst := range []int{1, 32} {
		cycle(burst)
		assert.Zero(t, testing.AllocsPerRun(200, func() { cycle(burst) }), "burst of %d", burst)
	}
}

// TestReadFromOneAlloc: ReadFrom's address is one allocation, and the
// same address net.IPv4 gives.
func TestReadFromOneAlloc(t *testing.T) {
	a := newUDPAddr(ip46.Mapped([4]byte{10, 1, 2, 3}), 4000, "")
	assert.Equal(t, &net.UDPAddr{IP: net.IPv4(10, 1, 2, 3), Port: 4000}, a)
	assert.Equal(t, "10.1.2.3:4000", a.String())
	var sink *net.UDPAddr
	assert.EqualValues(t, 1, testing.AllocsPerRun(100, func() { sink = newUDPAddr(ip46.Mapped([4]byte{10, 1, 2, 3}), 4000, "") }))
	_ = sink
}
