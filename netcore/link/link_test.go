package link

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/skb"
)

const testEthertype = 0x88b5

func newCore(t *testing.T) *netcore.Core {
	c := netcore.New(netcore.Config{CPUs: 2, Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() { c.Close() })
	return c
}

func frame(src, dst *netcore.Device, seq uint32, size int) *skb.Buff {
	b := skb.Alloc(size)
	p := b.Put(size)
	copy(p[0:6], dst.HardwareAddr)
	copy(p[6:12], src.HardwareAddr)
	binary.BigEndian.PutUint16(p[12:], testEthertype)
	binary.BigEndian.PutUint32(p[14:], seq)
	b.Dev = src
	return b
}

// A pipe carries frames both ways in order; a small ring makes the sender
// stop and wake many times, and nothing is lost.
func TestPipeOrderAndBackpressure(t *testing.T) {
	c := newCore(t)
	a, b, err := NewPipe(c, PipeConfig{Names: [2]string{"a", "b"}, CPUs: [2]int{0, 1}, Ring: 8})
	require.NoError(t, err)
	require.NoError(t, a.Dev.Up())
	require.NoError(t, b.Dev.Up())

	var mu sync.Mutex
	got := map[string][]uint32{}
	c.AddPacketType(testEthertype, func(s *skb.Buff) {
		mu.Lock()
		got[s.Dev.(*netcore.Device).Name] = append(got[s.Dev.(*netcore.Device).Name], binary.BigEndian.Uint32(s.Data()))
		mu.Unlock()
		s.Free()
	})
	const n = 5000
	var wg sync.WaitGroup
	for _, dir := range [][2]*PipeEnd{{a, b}, {b, a}} {
		wg.Add(1)
		go func(src, dst *PipeEnd) {
			defer wg.Done()
			for i := 0; i < n; i++ {
				for netcore.DevQueueXmit(frame(src.Dev, dst.Dev, uint32(i), 60)) == netcore.ErrQueueFull {
					time.Sleep(10 * time.Microsecond)
				}
			}
		}(dir[0], dir[1])
	}
	wg.Wait()
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got["a"]) == n && len(got["b"]) == n
	}, 20*time.Second, time.Millisecond)
	for _, name := range []string{"a", "b"} {
		for i, s := range got[name] {
			require.EqualValues(t, i, s, "%s: frame %d out of order", name, i)
		}
	}
	assert.EqualValues(t, n, a.Dev.Stats.TxPackets.Load())
	assert.EqualValues(t, n, b.Dev.Stats.RxPackets.Load())
	assert.Zero(t, a.Lost.Load()+b.Lost.Load())
}

// A frame to a peer that is down is lost on the wire and counted.
func TestPipePeerDown(t *testing.T) {
	c := newCore(t)
	a, b, err := NewPipe(c, PipeConfig{})
	require.NoError(t, err)
	require.NoError(t, a.Dev.Up())
	require.NoError(t, netcore.DevQueueXmit(frame(a.Dev, b.Dev, 1, 60)))
	assert.EqualValues(t, 1, b.Lost.Load())
}

func needRootNet(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/dev/net/tun"); err != nil || os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("TAP tests need root and /dev/net/tun")
		}
		t.Skip("TAP tests need root and /dev/net/tun")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("ip(8) not found: run scripts/setup.sh (iproute2)")
	}
}

func run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	require.NoError(t, err, "%s: %s", strings.Join(args, " "), out)
	return string(out)
}

// The Linux kernel is the peer: it sends ARP requests into the TAP when it
// pings an address behind it, which ringo receives through its NAPI poll,
// and it counts the frames ringo sends.
func TestTAPAgainstKernel(t *testing.T) {
	c := newCore(t)
	tap, ns, ifname := kernelTAP(t, c, "a")

	arps := make(chan []byte, 16)
	c.AddPacketType(netcore.EthPARP, func(s *skb.Buff) {
		select {
		case arps <- append([]byte(nil), s.Data()...):
		default:
		}
		s.Free()
	})
	require.NoError(t, tap.Dev.Up())

	// The kernel pings 10.99.0.2, which nobody answers: it ARPs for it.
	exec.Command("ip", "netns", "exec", ns, "ping", "-c", "2", "-W", "1", "10.99.0.2").Run()
	select {
	case arp := <-arps:
		require.GreaterOrEqual(t, len(arp), 28)
		assert.Equal(t, []byte{0, 1, 8, 0, 6, 4, 0, 1}, arp[:8], "ARP request for IPv4 over Ethernet")
		assert.Equal(t, []byte{10, 99, 0, 2}, arp[24:28], "target 10.99.0.2")
	case <-time.After(5 * time.Second):
		t.Fatal("no ARP request from the kernel reached ringo")
	}
	assert.Greater(t, tap.NAPI().Polls(), uint64(0))

	rxBefore := kernelCounter(t, ns, ifname, "rx_packets")
	bcast := &netcore.Device{HardwareAddr: []byte{255, 255, 255, 255, 255, 255}}
	for i := 0; i < 10; i++ {
		require.NoError(t, netcore.DevQueueXmit(frame(tap.Dev, bcast, uint32(i), 60)))
	}
	require.Eventually(t, func() bool {
		return kernelCounter(t, ns, ifname, "rx_packets")-rxBefore >= 10
	}, 5*time.Second, 10*time.Millisecond)
	assert.EqualValues(t, 10, tap.Dev.Stats.TxPackets.Load())
}

// kernelTAP makes a TAP whose kernel side is 10.99.0.1/24 in a fresh
// namespace (tag keeps tests' names apart).
func kernelTAP(t *testing.T, c *netcore.Core, tag string) (tap *TAP, ns, ifname string) {
	t.Helper()
	needRootNet(t)
	ns = fmt.Sprintf("ringo-link-%s-%d", tag, os.Getpid())
	ifname = fmt.Sprintf("rl%s%d", tag, os.Getpid()%100000)
	tap, err := NewTAP(c, TAPConfig{IfName: ifname, Name: "tap-" + tag})
	require.NoError(t, err)
	t.Cleanup(func() { tap.Close() })
	run(t, "ip", "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	run(t, "ip", "link", "set", ifname, "netns", ns)
	run(t, "ip", "-n", ns, "addr", "add", "10.99.0.1/24", "dev", ifname)
	run(t, "ip", "-n", ns, "link", "set", ifname, "up")
	return tap, ns, ifname
}

// TestTAPWakeups: every frame the kernel sends into an idle TAP reaches
// ringo — each one a wake-up from the poller after NAPI completed, none
// lost between the poll's last empty read and the next wait — and so
// again after the device goes down and up (its interrupt goroutine
// stopped and started).
func TestTAPWakeups(t *testing.T) {
	c := newCore(t)
	tap, ns, ifname := kernelTAP(t, c, "w")
	got := make(chan struct{}, 64)
	c.AddPacketType(netcore.EthPIPv4, func(s *skb.Buff) {
		got <- struct{}{}
		s.Free()
	})
	require.NoError(t, tap.Dev.Up())
	mac := tap.Dev.HardwareAddr.String()
	run(t, "ip", "-n", ns, "neigh", "replace", "10.99.0.2", "lladdr", mac, "dev", ifname)
	// One datagram at a time from the kernel to 10.99.0.2 (ringo's MAC),
	// each sent only once the one before has arrived.
	send := func(n int) {
		t.Helper()
		for i := range n {
			run(t, "ip", "netns", "exec", ns, "bash", "-c", "echo x >/dev/udp/10.99.0.2/9")
			select {
			case <-got:
			case <-time.After(5 * time.Second):
				t.Fatalf("datagram %d of %d never reached ringo (NAPI polls %d)", i+1, n, tap.NAPI().Polls())
			}
		}
	}
	send(20)
	require.NoError(t, tap.Dev.Down())
	require.NoError(t, tap.Dev.Up())
	send(20)
}

// TestTAPTransmitRing: a burst far longer than the writer's ring reaches
// the kernel whole — the queue stops on a full ring and wakes as it
// drains — and a device taken down mid-burst frees every frame it held
// (and its receive buffer).
func TestTAPTransmitRing(t *testing.T) {
	c := newCore(t)
	tap, ns, ifname := kernelTAP(t, c, "t")
	live := skb.Live()
	require.NoError(t, tap.Dev.Up())
	bcast := &netcore.Device{HardwareAddr: []byte{255, 255, 255, 255, 255, 255}}
	burst := func(n int) (sent int) {
		for i := 0; i < n; {
			err := netcore.DevQueueXmit(frame(tap.Dev, bcast, uint32(i), 1514))
			switch {
			case errors.Is(err, netcore.ErrQueueFull):
				time.Sleep(20 * time.Microsecond) // the qdisc is full: let the writer drain
				continue
			case err != nil:
				return sent
			}
			i++
			sent++
		}
		return sent
	}
	rxBefore := kernelCounter(t, ns, ifname, "rx_packets")
	const n = 20 * tapTxRing
	require.Equal(t, n, burst(n))
	require.Eventually(t, func() bool {
		return kernelCounter(t, ns, ifname, "rx_packets")-rxBefore == n
	}, 10*time.Second, 10*time.Millisecond, "frames the kernel received of %d", n)
	assert.EqualValues(t, n, tap.Dev.Stats.TxPackets.Load())
	assert.Zero(t, tap.Dev.Stats.TxErrors.Load())

	done := make(chan int)
	sentBefore := tap.Dev.Stats.TxPackets.Load()
	go func() { done <- burst(n) }()
	// Down while the burst is under way: some frames out, the ring busy.
	require.Eventually(t, func() bool { return tap.Dev.Stats.TxPackets.Load() > sentBefore }, 10*time.Second, 100*time.Microsecond)
	require.NoError(t, tap.Dev.Down())
	t.Logf("sent %d of %d before the device went down", <-done, n)
	assert.Eventually(t, func() bool { return skb.Live() == live }, 5*time.Second, time.Millisecond,
		"buffers still held: %d", skb.Live()-live)
	require.NoError(t, tap.Dev.Up())
	require.Equal(t, 10, burst(10), "sending again after up")
}

func kernelCounter(t *testing.T, ns, ifname, name string) uint64 {
	out := run(t, "ip", "netns", "exec", ns, "cat", "/sys/class/net/"+ifname+"/statistics/"+name)
	v, err := strconv.ParseUint(strings.TrimSpace(out), 10, 64)
	require.NoError(t, err)
	return v
}
