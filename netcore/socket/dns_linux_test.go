package socket_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringonet/ringo/netcore/internal/stacktest"
	"github.com/ringonet/ringo/netcore/socket"
	"github.com/ringonet/ringo/netcore/tcp"
)

// Names through ringo: dnsmasq in the peer namespace serves
// web.ringo.test (A and AAAA); Go's resolver asks it through ringo's UDP;
// Dial, DialContext and an http.Client take the name; an unknown name is
// a DNS "not found", and without servers the error says so.
func TestLinuxDNS(t *testing.T) {
	dnsmasq, err := exec.LookPath("dnsmasq")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("dnsmasq not found: run scripts/setup.sh")
		}
		t.Skip("dnsmasq not found: run scripts/setup.sh (dnsmasq-base)")
	}
	s := stacktest.Stack(t, tcp.Config{MSL: 100 * time.Millisecond})
	p, _ := dualPeer(t, s)

	_, err = s.Dial("tcp", "web.ringo.test:8081")
	require.ErrorIs(t, err, socket.ErrNoNameservers)

	dir := t.TempDir()
	srv := exec.Command("ip", "netns", "exec", p.NS, dnsmasq, "--no-daemon", "--port=53", "--listen-address=10.7.0.1",
		"--bind-interfaces", "--no-resolv", "--no-hosts", "--local=/ringo.test/", "--host-record=web.ringo.test,10.7.0.1,2001:db8:7::1",
		"--mx-host=ringo.test,web.ringo.test,10", "--pid-file="+filepath.Join(dir, "pid"), "--log-queries", "--log-facility=-")
	srv.Stdout, srv.Stderr = os.Stderr, os.Stderr
	require.NoError(t, srv.Start())
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })

	var kl net.Listener
	require.NoError(t, p.Do(func() (err error) { kl, err = net.Listen("tcp", ":8081"); return }))
	go http.Serve(kl, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.RemoteAddr) }))
	t.Cleanup(func() { kl.Close() })

	s.SetNameservers(netip.MustParseAddr("10.7.0.1"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var addrs []netip.Addr
	require.Eventually(t, func() bool { // dnsmasq takes a moment to listen
		addrs, err = s.Resolver().LookupNetIP(ctx, "ip", "web.ringo.test")
		return err == nil
	}, 20*time.Second, 200*time.Millisecond, "resolve: %v", err)
	slices.SortFunc(addrs, func(a, b netip.Addr) int { return a.Compare(b) })
	assert.Equal(t, []netip.Addr{netip.MustParseAddr("10.7.0.1"), netip.MustParseAddr("2001:db8:7::1")}, addrs)
	mx, err := s.Resolver().LookupMX(ctx, "ringo.test")
	require.NoError(t, err)
	require.Len(t, mx, 1)
	assert.Equal(t, "web.ringo.test.", mx[0].Host)

	_, err = s.Resolver().LookupNetIP(ctx, "ip", "nothere.ringo.test")
	var dnsErr *net.DNSError
	require.ErrorAs(t, err, &dnsErr)
	assert.True(t, dnsErr.IsNotFound, "NXDOMAIN: %v", err)

	client := &http.Client{Transport: &http.Transport{DialContext: s.DialContext}, Timeout: 10 * time.Second}
	resp, err := client.Get("http://web.ringo.test:8081/")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)
	assert.Contains(t, []string{"10.7.0.2", "2001:db8:7::2"}, hostOf(t, string(body)), "Linux saw ringo's address")

	for network, want := range map[string]string{"tcp4": "10.7.0.1:8081", "tcp6": "[2001:db8:7::1]:8081"} {
		c, err := s.DialContext(ctx, network, "web.ringo.test:8081")
		require.NoError(t, err, network)
		assert.Equal(t, want, c.RemoteAddr().String(), network)
		c.Close()
	}
	_, err = s.Dial("tcp", "nothere.ringo.test:8081")
	require.ErrorAs(t, err, &dnsErr)
	assert.False(t, errors.Is(err, socket.ErrNoNameservers))
}

func hostOf(t *testing.T, hostport string) string {
	host, _, err := net.SplitHostPort(hostport)
	require.NoError(t, err)
	return host
}
