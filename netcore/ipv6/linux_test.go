package ipv6_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/internal/nettest"
	"github.com/ringonet/ringo/netcore/ipv6"
	"github.com/ringonet/ringo/netcore/neigh"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func newStack(t *testing.T, cfg ipv6.Config) (*netcore.Core, *ipv6.Stack) {
	c := netcore.New(netcore.Config{Logger: quiet})
	cfg.Logger = quiet
	if cfg.RetransTimer == 0 {
		cfg.RetransTimer = 100 * time.Millisecond
	}
	if cfg.Neigh.RetransTime == 0 {
		cfg.Neigh.RetransTime = 100 * time.Millisecond
	}
	s := ipv6.New(c, cfg)
	t.Cleanup(func() {
		s.Close()
		c.Close()
	})
	return c, s
}

// waitState waits for address a on dev to leave Tentative, on the
// stack's change notifications.
func waitState(t *testing.T, s *ipv6.Stack, dev *netcore.Device, a netip.Addr) ipv6.AddrState {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		ch := s.Changed()
		st, ok := s.AddrState(dev, a)
		require.True(t, ok, "%v not on %s", a, dev.Name)
		if st != ipv6.Tentative {
			return st
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("%v still tentative", a)
		}
	}
}

func linkLocal(t *testing.T, s *ipv6.Stack, dev *netcore.Device) netip.Addr {
	for _, a := range s.Addrs() {
		if a.Dev == dev && a.Prefix.Addr().IsLinkLocalUnicast() {
			return a.Prefix.Addr()
		}
	}
	t.Fatal("no link-local address")
	return netip.Addr{}
}

// The Linux kernel in a network namespace and ringo over a TAP: each
// resolves the other by neighbour discovery and pings it at its global
// and its link-local address, small and fragmented both ways (-s 4000).
func TestLinuxPing6(t *testing.T) {
	nettest.NeedRoot(t)
	core, s := newStack(t, ipv6.Config{})
	peer := nettest.NewPeer(t, core, "2001:db8:6::1/64", "net.ipv6.conf.IFNAME.accept_dad=0")
	dev := peer.TAP.Dev
	require.NoError(t, dev.Up())
	require.NoError(t, s.AddAddress(dev, netip.MustParsePrefix("2001:db8:6::2/64")))
	ll := linkLocal(t, s, dev)
	require.Equal(t, ipv6.Preferred, waitState(t, s, dev, ll), "link-local after DAD")
	require.Equal(t, ipv6.Preferred, waitState(t, s, dev, netip.MustParseAddr("2001:db8:6::2")))

	for _, dst := range []string{"2001:db8:6::2", ll.String() + "%" + peer.IfName} {
		out, err := peer.Exec("ping", "-6", "-c", "3", "-i", "0.2", "-W", "2", dst)
		require.NoError(t, err, out)
		assert.Contains(t, out, "3 received", dst)
	}
	out, err := peer.Exec("ping", "-6", "-c", "2", "-s", "4000", "-W", "2", "2001:db8:6::2")
	require.NoError(t, err, out)
	assert.Contains(t, out, "2 received")
	assert.Greater(t, s.MIB.Ip6ReasmOKs.Load(), uint64(0), "ringo reassembled Linux's fragments")
	assert.Greater(t, s.MIB.Ip6FragCreates.Load(), uint64(0), "ringo fragmented its replies")
	out, err = peer.Exec("ping", "-6", "-f", "-c", "500", "-W", "2", "2001:db8:6::2")
	require.NoError(t, err, out)
	assert.Regexp(t, regexp.MustCompile(`500 packets transmitted, 500 received, 0% packet loss`), out)

	// ringo pings Linux: global small and fragmented, then link-local.
	kll := ""
	for _, f := range strings.Fields(nettest.Run(t, "ip", "-n", peer.NS, "-6", "addr", "show", "dev", peer.IfName, "scope", "link")) {
		if strings.HasPrefix(f, "fe80::") {
			kll = strings.Split(f, "/")[0]
		}
	}
	require.NotEmpty(t, kll)
	for _, tc := range []struct {
		dst  string
		size int
	}{{"2001:db8:6::1", 56}, {"2001:db8:6::1", 4000}, {kll, 56}} {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		rtt, err := s.Ping(ctx, netip.MustParseAddr(tc.dst), dev, tc.size, 1)
		cancel()
		require.NoError(t, err, "ping %s -s %d", tc.dst, tc.size)
		t.Logf("ringo -> linux ping %s -s %d: %v", tc.dst, tc.size, rtt)
	}

	// Both sides hold the other in their neighbour tables.
	st, mac := s.Neigh.Lookup(dev, netip.MustParseAddr("2001:db8:6::1"))
	assert.Contains(t, []neigh.State{neigh.Reachable, neigh.Stale, neigh.Delay}, st)
	assert.Contains(t, nettest.Run(t, "ip", "-n", peer.NS, "link", "show", peer.IfName), mac.String())
	out, _ = peer.Exec("ip", "-6", "neigh", "show", "2001:db8:6::2")
	assert.Contains(t, out, dev.HardwareAddr.String())
	assert.Zero(t, s.MIB.Ip6InHdrErrors.Load())
	assert.Zero(t, s.ICMP.Icmp6InErrors.Load())
}

// Linux holds an address first; ringo's DAD for the same address draws
// Linux's defence, and ringo marks it dadfailed and never uses it
// (RFC 4862 5.4.5).
func TestLinuxDADConflict(t *testing.T) {
	nettest.NeedRoot(t)
	core, s := newStack(t, ipv6.Config{})
	peer := nettest.NewPeer(t, core, "2001:db8:7::5/64", "net.ipv6.conf.IFNAME.accept_dad=0")
	dev := peer.TAP.Dev
	require.NoError(t, dev.Up())
	require.NoError(t, s.Enable(dev))
	require.Equal(t, ipv6.Preferred, waitState(t, s, dev, linkLocal(t, s, dev)))
	dup := netip.MustParseAddr("2001:db8:7::5")
	require.NoError(t, s.AddAddress(dev, netip.PrefixFrom(dup, 64)))
	assert.Equal(t, ipv6.DADFailed, waitState(t, s, dev, dup))
	assert.Equal(t, uint64(1), s.ICMP.DADConflicts.Load())
	_, src, err := s.Route(netip.MustParseAddr("2001:db8:7::9"), nil)
	require.NoError(t, err)
	assert.NotEqual(t, dup, src, "a failed address is never a source")
	out, err := peer.Exec("ping", "-6", "-c", "1", "-W", "2", fmt.Sprint(dup))
	require.NoError(t, err, "Linux keeps its address: %s", out)
}

// SLAAC from a real router advertisement daemon: radvd in the Linux
// namespace advertises 2001:db8:5::/64; ringo, asking with a Router
// Solicitation once its link-local address is ready, forms an address in
// the prefix, takes Linux as its default router, and reaches an address
// behind it.
func TestLinuxSLAAC(t *testing.T) {
	nettest.NeedRoot(t)
	if _, err := exec.LookPath("radvd"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("radvd not installed: scripts/setup.sh installs it")
		}
		t.Skip("radvd not installed (scripts/setup.sh installs it)")
	}
	core, s := newStack(t, ipv6.Config{})
	peer := nettest.NewPeer(t, core, "2001:db8:5::1/64", "net.ipv6.conf.IFNAME.accept_dad=0", "net.ipv6.conf.all.forwarding=1")
	nettest.Run(t, "ip", "-n", peer.NS, "addr", "add", "2001:db8:99::1/128", "dev", "lo")
	conf := filepath.Join(t.TempDir(), "radvd.conf")
	require.NoError(t, os.WriteFile(conf, []byte(fmt.Sprintf(`interface %s {
	AdvSendAdvert on;
	MinRtrAdvInterval 3;
	MaxRtrAdvInterval 4;
	AdvDefaultLifetime 1800;
	prefix 2001:db8:5::/64 { AdvOnLink on; AdvAutonomous on; };
};
`, peer.IfName)), 0o644))
	cmd := exec.Command("ip", "netns", "exec", peer.NS, "radvd", "-n", "-C", conf, "-p", filepath.Join(t.TempDir(), "radvd.pid"), "-m", "stderr")
	var logs strings.Builder
	cmd.Stderr = &logs
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("radvd: %s", logs.String())
		}
	})
	dev := peer.TAP.Dev
	require.NoError(t, dev.Up())
	require.NoError(t, s.Enable(dev))

	prefix := netip.MustParsePrefix("2001:db8:5::/64")
	var global netip.Addr
	deadline := time.After(20 * time.Second)
	for !global.IsValid() {
		ch := s.Changed()
		for _, a := range s.Addrs() {
			if a.Dev == dev && prefix.Contains(a.Prefix.Addr()) && a.State == ipv6.Preferred {
				global = a.Prefix.Addr()
			}
		}
		if global.IsValid() {
			break
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("no SLAAC address; addresses %v, routes %v", s.Addrs(), s.Routes())
		}
	}
	assert.True(t, s.ICMP.Icmp6OutRouterSolicits.Load() >= 1)
	assert.True(t, s.Addrs()[0].Autoconf)
	rt, ok := s.Lookup(netip.MustParseAddr("2001:db8:99::1"), nil)
	require.True(t, ok, "a default route")
	assert.True(t, rt.Gateway.IsLinkLocalUnicast(), "via the router's link-local address")

	for _, dst := range []string{"2001:db8:5::1", "2001:db8:99::1"} {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		_, err := s.Ping(ctx, netip.MustParseAddr(dst), nil, 56, 1)
		cancel()
		require.NoError(t, err, "ping %s", dst)
	}
	out, err := peer.Exec("ping", "-6", "-c", "2", "-W", "2", global.String())
	require.NoError(t, err, out)
}
