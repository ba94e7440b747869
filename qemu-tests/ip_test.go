package qemutests

import (
	"bytes"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringonet/ringo/qemu-tests/vm"
)

type pingResult struct {
	Sent, Received int
	RTTs           []float64
	Err            string
}

type ipServeReport struct {
	Pings          map[string]pingResult
	InEchos        uint64
	OutEchoReps    uint64
	ReasmOKs       uint64
	FragCreates    uint64
	In6Echos       uint64
	Reasm6OKs      uint64
	Frag6Creates   uint64
	In6Discards    uint64
	In6McastPkts   uint64
	WatchedFrames  int64
	Neighbours     []string
	TCPEchoed      int64
	TCPRetransSegs uint64
}

type tcpEchoResult struct {
	Bytes, Back int64
	Match       bool
	Seconds     float64
	Err         string
}

type linuxPeerReport struct {
	Driver         string
	Pings          map[int]pingResult
	TCP            *tcpEchoResult
	Pings6         map[int]pingResult
	TCP6           *tcpEchoResult
	Mcast6         *pingResult
	Mcast6Unjoined int
	LinkLocal6     *pingResult
	HTTP6          *struct {
		Status    int
		Body, Err string
	}
}

// freePort asks the kernel for an unused TCP port on loopback.
func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestPingLinuxPeer: ringo in one VM (on an e1000, then on an ne2k_pci)
// answers pings, small and fragmented, from a second VM that runs the
// Linux kernel's own e1000 driver and stack, the VMs joined by a
// -netdev socket link; ringo pings the Linux VM back and pings slirp's
// 10.0.2.2 on a second NIC. Then the Linux VM pushes 1 MiB through a TCP
// echo server on ringo's TCP and checks every byte coming back. All of it
// again over IPv6 (2001:db8:3::/64): neighbour discovery through each
// driver's multicast filter, ICMPv6 echo small and fragmented, and the
// TCP echo on the same dual-stack listener. And the NIC's multicast
// filter as the drivers program it from the groups ringo joined: pings to
// ff02::1 get their answers, pings to a group ringo never joined (one
// whose hash bucket, in the e1000's MTA and the NE2000's MAR, no joined
// group shares: ringo's addresses are EUI-64 here) never reach its stack.
func TestPingLinuxPeer(t *testing.T) {
	for _, model := range []string{"e1000", "ne2k_pci"} {
		t.Run(model, func(t *testing.T) {
			port := freePort(t)
			const count = 5
			const tcpBytes = 1 << 20
			ringo := boot(t, vm.Config{
				Name:    "ringo-" + model,
				Timeout: 4 * time.Minute,
				NICs: []vm.NIC{
					{Model: model, MAC: "52:54:00:00:03:02", Netdev: fmt.Sprintf("socket,listen=127.0.0.1:%d", port)},
					{Model: model, MAC: "52:54:00:00:02:0f", Netdev: "user"},
				},
			}, "ipserve", "ringo.ip=eth0:10.0.3.2/24,eth1:10.0.2.15/24,eth0:2001:db8:3::2/64", "ringo.ping=10.0.2.2,10.0.3.1",
				fmt.Sprintf("ringo.count=%d", count), "ringo.seconds=150", fmt.Sprintf("ringo.expect=%d", 6*count),
				"ringo.tcpecho=7", "ringo.tcpconns=2", "ringo.watchmac=33:33:ff:00:12:34")
			require.NoError(t, vm.WaitListening(port, time.Minute)) // the listening side first
			peer := boot(t, vm.Config{
				Name:    "linux-peer-" + model,
				Timeout: 4 * time.Minute,
				NICs:    []vm.NIC{{Model: "e1000", MAC: "52:54:00:00:03:01", Netdev: fmt.Sprintf("socket,connect=127.0.0.1:%d", port)}},
			}, "linuxpeer", "ringo.peerip=10.0.3.1/24", "ringo.target=10.0.3.2", "ringo.sizes=56,8000", fmt.Sprintf("ringo.count=%d", count),
				fmt.Sprintf("ringo.tcp=10.0.3.2:7/%d", tcpBytes),
				"ringo.peerip6=2001:db8:3::1/64", "ringo.target6=2001:db8:3::2", fmt.Sprintf("ringo.tcp6=[2001:db8:3::2]:7/%d", tcpBytes),
				"ringo.mcast6=ff02::1:ff00:1234", "ringo.linklocal6=fe80::5054:ff:fe00:302")

			var wg sync.WaitGroup
			var rraw, praw [][]byte
			var rerr, perr error
			wg.Add(2)
			go func() { defer wg.Done(); r, err := ringo.Wait(); rerr = err; rraw = raws(r) }()
			go func() { defer wg.Done(); r, err := peer.Wait(); perr = err; praw = raws(r) }()
			wg.Wait()
			require.NoError(t, perr)
			require.NoError(t, rerr)
			require.Len(t, praw, 2, "peer: ready + result")
			require.Len(t, rraw, 2, "ringo: ready + result")
			pr := decodeBytes[linuxPeerReport](t, praw[1])
			rr := decodeBytes[ipServeReport](t, rraw[1])
			assert.Equal(t, "e1000", pr.Driver, "the peer runs Linux's own driver")
			for _, size := range []int{56, 8000} {
				p := pr.Pings[size]
				assert.Equal(t, count, p.Received, "linux -> ringo ping -s %d: %+v", size, p)
				t.Logf("linux -> ringo (%s) -s %d: rtt ms %v", model, size, p.RTTs)
			}
			for _, target := range []string{"10.0.2.2", "10.0.3.1"} {
				p := rr.Pings[target]
				assert.Equal(t, count, p.Received, "ringo -> %s: %+v", target, p)
				t.Logf("ringo (%s) -> %s: rtt ms %v", model, target, p.RTTs)
			}
			if assert.NotNil(t, pr.TCP, "the peer ran the TCP transfer") {
				assert.True(t, pr.TCP.Match, "1 MiB through ringo's TCP echo, byte-exact: %+v", *pr.TCP)
				t.Logf("Linux -> ringo (%s) TCP echo of %d bytes in %.1f s (%.0f KB/s each way), ringo retransmitted %d segments",
					model, pr.TCP.Bytes, pr.TCP.Seconds, float64(pr.TCP.Bytes)/1e3/pr.TCP.Seconds, rr.TCPRetransSegs)
			}
			for _, size := range []int{56, 8000} {
				p := pr.Pings6[size]
				assert.Equal(t, count, p.Received, "linux -> ringo ping -6 -s %d: %+v", size, p)
				t.Logf("linux -> ringo (%s) IPv6 -s %d: rtt ms %v", model, size, p.RTTs)
			}
			if assert.NotNil(t, pr.TCP6, "the peer ran the TCP transfer over IPv6") {
				assert.True(t, pr.TCP6.Match, "1 MiB through ringo's TCP echo over IPv6, byte-exact: %+v", *pr.TCP6)
				t.Logf("Linux -> ringo (%s) TCP echo over IPv6 of %d bytes in %.1f s", model, pr.TCP6.Bytes, pr.TCP6.Seconds)
			}
			if assert.NotNil(t, pr.LinkLocal6, "pings to ringo's link-local address") {
				assert.Equal(t, count, pr.LinkLocal6.Received, "linux -> ringo's fe80::5054:ff:fe00:302 (EUI-64 of its MAC): %+v", *pr.LinkLocal6)
			}
			if assert.NotNil(t, pr.Mcast6) {
				assert.Equal(t, count, pr.Mcast6.Received, "pings to ff02::1, a group ringo joined: %+v", *pr.Mcast6)
			}
			assert.Equal(t, count, pr.Mcast6Unjoined, "pings sent to a group ringo did not join")
			assert.Zero(t, rr.WatchedFrames, "the NIC dropped the unjoined group's frames: none reached the stack")
			assert.GreaterOrEqual(t, rr.In6McastPkts, uint64(count))
			t.Logf("FAULT | %s: %d IPv6 pings to a multicast group ringo never joined, then %d to ff02::1 | the NIC's filter (programmed from the joined groups) kept the first from the stack (%d seen), ringo answered %d of the second; %d frames of other unjoined groups passed the hash filter and were dropped by the stack (Ip6InDiscards)",
				model, pr.Mcast6Unjoined, count, rr.WatchedFrames, pr.Mcast6.Received, rr.In6Discards)
			assert.Greater(t, rr.Reasm6OKs, uint64(0), "ringo reassembled the 8000-byte IPv6 echoes")
			assert.Greater(t, rr.Frag6Creates, uint64(0), "and fragmented its IPv6 replies")
			assert.EqualValues(t, 2*tcpBytes, rr.TCPEchoed, "ringo echoed every byte, both versions")
			assert.Greater(t, rr.ReasmOKs, uint64(0), "ringo reassembled the 8000-byte echoes")
			assert.Greater(t, rr.FragCreates, uint64(0), "and fragmented its replies")
		})
	}
}

// TestKillRestart: a driver process pinging through an e1000 is killed
// with SIGKILL mid-traffic; a new process opens the same device, resets
// it, and its pings get through.
func TestKillRestart(t *testing.T) {
	v := boot(t, vm.Config{
		Name:    "killrestart",
		Timeout: 3 * time.Minute,
		NICs:    []vm.NIC{{Model: "e1000", MAC: "52:54:00:00:04:01", Netdev: "user"}},
	}, "killrestart", "ringo.ip=eth0:10.0.2.15/24", "ringo.ping=10.0.2.2", "ringo.count=1000000", "ringo.killafter=4")
	r, err := v.Wait()
	require.NoError(t, err)
	rs := raws(r)
	require.GreaterOrEqual(t, len(rs), 4, "child ready, kill, ready, result")
	var kill struct {
		Killed   bool
		RanMS    int64
		ExitText string
	}
	var ip ipServeReport
	for i, raw := range rs {
		if bytes.Contains(raw, []byte(`"Killed"`)) {
			kill = decodeBytes[struct {
				Killed   bool
				RanMS    int64
				ExitText string
			}](t, raw)
			ip = decodeBytes[ipServeReport](t, rs[len(rs)-1])
			require.Greater(t, len(rs), i+1)
		}
	}
	assert.True(t, kill.Killed, "the child died of SIGKILL: %+v", kill)
	p := ip.Pings["10.0.2.2"]
	assert.Equal(t, 5, p.Received, "pings after the restart: %+v", p)
	t.Logf("FAULT | driver process SIGKILLed mid-traffic after %d ms (e1000, pinging) | a new process reopened the device through VFIO, reset it, %d/5 pings answered (rtt ms %v)",
		kill.RanMS, p.Received, p.RTTs)
}
