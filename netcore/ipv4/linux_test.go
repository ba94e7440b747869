package ipv4

import (
	"context"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringonet/ringo/netcore/internal/nettest"
	"github.com/ringonet/ringo/netcore/neigh"
)

// The Linux kernel in a network namespace pings ringo over a TAP: small,
// fragmented both ways (-s 8000), and a flood of 1,000 with no loss; ringo
// pings Linux; ARP entries resolve on both sides and expire.
func TestLinuxPeerPing(t *testing.T) {
	nettest.NeedRoot(t)
	h := newHost(t, Config{Neigh: neigh.Config{BaseReachable: 500 * time.Millisecond}})
	peer := nettest.NewPeer(t, h.core, "10.9.0.1/24",
		"net.ipv4.neigh.IFNAME.base_reachable_time_ms=500", "net.ipv4.neigh.IFNAME.gc_stale_time=1")
	dev := peer.TAP.Dev
	require.NoError(t, dev.Up())
	require.NoError(t, h.ip.AddAddress(dev, netip.MustParsePrefix("10.9.0.2/24")))

	out, err := peer.Exec("ping", "-c", "3", "-i", "0.2", "-W", "2", "10.9.0.2")
	require.NoError(t, err, out)
	assert.Contains(t, out, "3 received")

	out, err = peer.Exec("ping", "-c", "2", "-s", "8000", "-W", "2", "10.9.0.2")
	require.NoError(t, err, out)
	assert.Contains(t, out, "2 received")
	assert.Greater(t, h.ip.MIB.ReasmOKs.Load(), uint64(0), "ringo reassembled Linux's fragments")
	assert.Greater(t, h.ip.MIB.FragCreates.Load(), uint64(0), "ringo fragmented its replies")

	out, err = peer.Exec("ping", "-f", "-c", "1000", "-W", "2", "10.9.0.2")
	require.NoError(t, err, out)
	assert.Regexp(t, regexp.MustCompile(`1000 packets transmitted, 1000 received, 0% packet loss`), out)

	// ringo pings Linux, small and fragmented.
	for _, size := range []int{56, 8000} {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		rtt, err := h.ip.Ping(ctx, ip4("10.9.0.1"), size, 1)
		cancel()
		require.NoError(t, err, "ping -s %d", size)
		t.Logf("ringo -> linux ping -s %d: %v", size, rtt)
	}

	// Both sides resolved each other.
	st, mac := h.ip.Neigh.Lookup(dev, netip.MustParseAddr("10.9.0.1"))
	assert.Contains(t, []neigh.State{neigh.Reachable, neigh.Stale, neigh.Delay}, st)
	kmac := strings.Fields(nettest.Run(t, "ip", "-n", peer.NS, "link", "show", peer.IfName))
	assert.Contains(t, strings.Join(kmac, " "), mac.String())
	out, _ = peer.Exec("ip", "neigh", "show", "10.9.0.2")
	assert.Contains(t, out, dev.HardwareAddr.String())

	// And the entries expire: ringo's to STALE, the kernel's out of REACHABLE.
	require.Eventually(t, func() bool {
		st, _ := h.ip.Neigh.Lookup(dev, netip.MustParseAddr("10.9.0.1"))
		return st == neigh.Stale
	}, 5*time.Second, 20*time.Millisecond)
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, _ = peer.Exec("ip", "neigh", "show", "10.9.0.2")
		// Expired: no longer REACHABLE (STALE, or DELAY/PROBE once used).
		if !strings.Contains(out, "REACHABLE") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("kernel neighbour entry did not expire: %q", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
