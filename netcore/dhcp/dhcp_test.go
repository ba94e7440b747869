package dhcp

import (
	"context"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/internal/nettest"
	"github.com/ringonet/ringo/netcore/ipv4"
)

// dnsmasq on the kernel side of a TAP serves ringo's client: the lease
// gives address, netmask, router and DNS; a renewal extends it; the
// address works (the kernel pings it).
func TestDnsmasq(t *testing.T) {
	nettest.NeedRoot(t)
	dnsmasq, err := exec.LookPath("dnsmasq")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("dnsmasq not found: run scripts/setup.sh")
		}
		t.Skip("dnsmasq not found: run scripts/setup.sh (dnsmasq-base)")
	}
	quiet := slog.New(slog.DiscardHandler)
	c := netcore.New(netcore.Config{Logger: quiet})
	ip, err := ipv4.New(c, ipv4.Config{Logger: quiet})
	require.NoError(t, err)
	t.Cleanup(func() { ip.Close(); c.Close() })
	peer := nettest.NewPeer(t, c, "10.7.0.1/24")
	require.NoError(t, peer.TAP.Dev.Up())

	dir := t.TempDir()
	srv := exec.Command("ip", "netns", "exec", peer.NS, dnsmasq, "--no-daemon", "--port=0",
		"--interface="+peer.IfName, "--bind-interfaces", "--dhcp-range=10.7.0.100,10.7.0.150,255.255.255.0,2m",
		"--dhcp-option=3,10.7.0.1", "--dhcp-option=6,10.7.0.53", "--dhcp-leasefile="+filepath.Join(dir, "leases"),
		"--pid-file="+filepath.Join(dir, "pid"), "--log-dhcp")
	srv.Stdout, srv.Stderr = os.Stderr, os.Stderr
	require.NoError(t, srv.Start())
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })

	cl := New(ip, peer.TAP.Dev, quiet)
	cl.Retry = 500 * time.Millisecond
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	l, err := cl.Acquire(ctx)
	require.NoError(t, err)
	t.Logf("lease: %v", l)
	assert.True(t, netip.MustParsePrefix("10.7.0.100/24").Contains(l.Addr.Addr()))
	assert.Equal(t, 24, l.Addr.Bits())
	assert.Equal(t, netip.MustParseAddr("10.7.0.1"), l.Router)
	assert.Equal(t, []netip.Addr{netip.MustParseAddr("10.7.0.53")}, l.DNS)
	assert.Equal(t, 2*time.Minute, l.Lease)
	rt, ok := ip.Lookup([4]byte{8, 8, 8, 8})
	require.True(t, ok)
	assert.Equal(t, l.Router, rt.Gateway)

	out, err := peer.Exec("ping", "-c", "2", "-W", "2", l.Addr.Addr().String())
	require.NoError(t, err, out)

	before := l.Obtained
	l2, err := cl.Renew(ctx)
	require.NoError(t, err)
	assert.Equal(t, l.Addr, l2.Addr)
	assert.True(t, l2.Obtained.After(before))
}
