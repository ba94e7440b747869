package tcp_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringonet/ringo/netcore/internal/nettest"
)

// Linux's curl, in a network namespace behind a TAP, fetches a 10 MB
// object from Go's net/http server running on ringo; then a Go net/http
// client on ringo fetches a file from a Linux HTTP server (python3's).
func TestLinuxHTTP(t *testing.T) {
	nettest.NeedRoot(t)
	for _, tool := range []string{"curl", "python3"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s not found: run scripts/setup.sh", tool)
			}
			t.Skipf("%s not found: run scripts/setup.sh", tool)
		}
	}
	s := newStack(t)
	p := nettest.NewPeer(t, s.Core, "10.6.0.1/24")
	require.NoError(t, p.TAP.Dev.Up())
	require.NoError(t, s.IP.AddAddress(p.TAP.Dev, netip.MustParsePrefix("10.6.0.2/24")))

	body := make([]byte, 10<<20)
	rand.New(rand.NewSource(1)).Read(body)
	want := sha256.Sum256(body)
	l, err := s.Listen("tcp", ":8080")
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "object", time.Time{}, bytes.NewReader(body))
	})}
	go srv.Serve(l)
	defer srv.Close()

	start := time.Now()
	out, err := p.Exec("sh", "-c", "curl -sS --max-time 60 http://10.6.0.2:8080/object | sha256sum")
	require.NoError(t, err, out)
	t.Logf("curl fetched 10 MB from ringo in %v", time.Since(start))
	if t.Failed() || !strings.HasPrefix(out, fmt.Sprintf("%x", want)) {
		var sb strings.Builder
		s.WriteSNMP(&sb)
		t.Logf("snmp:\n%s\nsockets: %+v\ntap: %+v\nsoftnet: %+v", sb.String(), s.TCP.Sockets(), p.TAP.Dev.Stats.Snapshot(), s.Core.SoftnetStats())
		o, _ := p.Exec("ss", "-tmi")
		t.Logf("kernel ss:\n%s", o)
	}
	assert.True(t, strings.HasPrefix(out, fmt.Sprintf("%x", want)), "sha256 %s", out)

	// The other way: ringo's client, Linux's server.
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "file"), body[:4<<20], 0o644))
	py := exec.Command("ip", "netns", "exec", p.NS, "python3", "-m", "http.server", "--bind", "10.6.0.1", "--directory", dir, "8000")
	require.NoError(t, py.Start())
	defer func() { py.Process.Kill(); py.Wait() }()
	client := &http.Client{Transport: &http.Transport{DialContext: s.DialContext}, Timeout: 60 * time.Second}
	var resp *http.Response
	require.Eventually(t, func() bool {
		resp, err = client.Get("http://10.6.0.1:8000/file")
		return err == nil
	}, 10*time.Second, 200*time.Millisecond, "python's server comes up")
	defer resp.Body.Close()
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	require.NoError(t, err)
	assert.EqualValues(t, 4<<20, n)
	assert.Equal(t, sha256.Sum256(body[:4<<20]), [32]byte(h.Sum(nil)))
}
