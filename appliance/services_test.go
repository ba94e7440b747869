package appliance

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringonet/ringo/irq"
	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/netcore/ipv4"
	"github.com/ringonet/ringo/netcore/link"
	"github.com/ringonet/ringo/netcore/skb"
	"github.com/ringonet/ringo/netcore/socket"
)

// servicesHost runs the appliance's services on a stack joined by a pipe
// to a client stack; it returns the system and the client.
func servicesHost(t *testing.T, opts ...func(*System)) (*System, *socket.Stack) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	stack := func() *socket.Stack {
		c := netcore.New(netcore.Config{Logger: log})
		s, err := socket.New(c, socket.Config{IP: ipv4.Config{Logger: log}})
		require.NoError(t, err)
		t.Cleanup(func() { s.Close(); c.Close() })
		return s
	}
	srv, cli := stack(), stack()
	ea, eb, err := link.NewPipe(srv.Core, link.PipeConfig{PeerCore: cli.Core})
	require.NoError(t, err)
	require.NoError(t, ea.Dev.Up())
	require.NoError(t, eb.Dev.Up())
	require.NoError(t, srv.IP.AddAddress(ea.Dev, netip.MustParsePrefix("10.4.0.2/24")))
	require.NoError(t, cli.IP.AddAddress(eb.Dev, netip.MustParsePrefix("10.4.0.1/24")))
	bridge, err := irq.New(log)
	require.NoError(t, err)
	t.Cleanup(func() { bridge.Close() })
	sys := &System{Cfg: Defaults(), Log: log, Core: srv.Core, Bridge: bridge, Stack: srv, Start: time.Now(), Leases: map[string]string{}}
	for _, o := range opts {
		o(sys)
	}
	require.NoError(t, sys.StartServices())
	t.Cleanup(func() {
		for _, stop := range sys.services {
			stop()
		}
	})
	return sys, cli
}

// The status service is no amplifier: a datagram without a cookie gets
// at most as many bytes as it carried (1 for 1: what a spoofed request
// reflects), one padded to 64 KB gets the whole report, and the cookie
// /cookie hands out over TCP opens the whole report to its address only.
func TestStatusNoAmplifier(t *testing.T) {
	sys, cli := servicesHost(t)
	c, err := cli.Dial("udp", "10.4.0.2:7070")
	require.NoError(t, err)
	defer c.Close()
	buf := make([]byte, 65536)
	ask := func(req []byte) []byte {
		t.Helper()
		for try := 0; try < 20; try++ { // a reply per statusEvery
			_, err := c.Write(req)
			require.NoError(t, err)
			c.SetReadDeadline(time.Now().Add(statusEvery + 100*time.Millisecond))
			if n, err := c.Read(buf); err == nil {
				return append([]byte(nil), buf[:n]...)
			}
		}
		t.Fatal("no reply")
		return nil
	}
	for _, size := range []int{1, 100, 1400} {
		got := ask(bytes.Repeat([]byte("x"), size))
		assert.Len(t, got, size, "a %d-byte request", size)
		assert.Equal(t, "ringo appliance"[:min(size, 15)], string(got[:min(size, 15)]))
	}
	assert.GreaterOrEqual(t, sys.ServiceStats.StatusTruncated.Load(), uint64(3))
	whole := ask(make([]byte, 60000+len("\n[truncated]\n")))
	assert.Contains(t, string(whole), "# ss -tu", "a padded request reads the whole report")

	client := &http.Client{Transport: &http.Transport{DialContext: cli.DialContext}, Timeout: 10 * time.Second}
	resp, err := client.Get("http://10.4.0.2/cookie")
	require.NoError(t, err)
	cookie, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Regexp(t, `^cookie [0-9a-f]{32}\n$`, string(cookie))
	got := ask(cookie)
	assert.Greater(t, len(got), 2000, "the cookie's address reads the whole report")
	assert.Contains(t, string(got), "# ss -tu")
	assert.Positive(t, sys.ServiceStats.StatusCookies.Load())

	other := sys.statusCookie(netip.MustParseAddr("10.4.0.9"))
	assert.NotEqual(t, strings.TrimSpace(strings.TrimPrefix(string(cookie), "cookie ")), other, "a cookie is its address's")
	forged := []byte("cookie " + other)
	assert.Len(t, ask(forged), len(forged), "another address's cookie opens nothing")
}

// Building the report costs CPU: a burst without cookies gets one reply
// per statusEvery, the rest counted, while a cookie's address is served
// on its own budget through the flood.
func TestStatusRateLimited(t *testing.T) {
	sys, cli := servicesHost(t)
	c, err := cli.Dial("udp", "10.4.0.2:7070")
	require.NoError(t, err)
	defer c.Close()
	const burst = 20
	for i := 0; i < burst; i++ {
		_, err := c.Write([]byte("xxxxxxxxxxxxxxxxxxxx"))
		require.NoError(t, err)
	}
	buf := make([]byte, 65536)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Read(buf)
	require.NoError(t, err, "the first is answered")
	assert.Contains(t, string(buf[:n]), "ringo appliance")
	require.Eventually(t, func() bool { return sys.ServiceStats.StatusRateLimited.Load() >= burst-2 }, 5*time.Second, time.Millisecond)
	assert.LessOrEqual(t, burst-int(sys.ServiceStats.StatusRateLimited.Load()), 2, "at most a reply or two for the burst")

	// The flood goes on; the cookie's address still gets its report.
	_, err = c.Write([]byte("x"))
	require.NoError(t, err)
	cookie := "cookie " + sys.statusCookie(netip.MustParseAddr("10.4.0.1"))
	_, err = c.Write([]byte(cookie))
	require.NoError(t, err)
	for {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := c.Read(buf)
		require.NoError(t, err, "the cookie's reply")
		if n > 2000 { // not a burst request's 20 bytes
			assert.Contains(t, string(buf[:n]), "# ss -tu")
			break
		}
	}
}

// The TCP echo service holds maxServiceConns connections; one more is
// closed at once and counted, and a slot freed takes the next.
func TestServiceConnsBounded(t *testing.T) {
	sys, cli := servicesHost(t)
	var conns []net.Conn
	for i := 0; i < maxServiceConns; i++ {
		c, err := cli.Dial("tcp", "10.4.0.2:7")
		require.NoError(t, err)
		conns = append(conns, c)
	}
	// Each is served: an echo on the last proves the accept loop got to it.
	last := conns[len(conns)-1]
	_, err := last.Write([]byte("ping"))
	require.NoError(t, err)
	buf := make([]byte, 4)
	last.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = io.ReadFull(last, buf)
	require.NoError(t, err)
	over, err := cli.Dial("tcp", "10.4.0.2:7")
	require.NoError(t, err)
	over.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = over.Read(buf)
	assert.ErrorIs(t, err, io.EOF, "the one past the bound is closed at once")
	assert.EqualValues(t, 1, sys.ServiceStats.ConnsRefused.Load())
	over.Close()
	conns[0].Close()
	require.Eventually(t, func() bool {
		c, err := cli.Dial("tcp", "10.4.0.2:7")
		if err != nil {
			return false
		}
		defer c.Close()
		c.Write([]byte("pong"))
		c.SetReadDeadline(time.Now().Add(time.Second))
		_, err = io.ReadFull(c, buf)
		return err == nil
	}, 5*time.Second, 10*time.Millisecond, "a freed slot takes a new connection")
	for _, c := range conns[1:] {
		c.Close()
	}
}

// Slowloris against the status page: clients that trickle a request
// header a line at a time are cut off by the header timeout, others are
// served meanwhile, and the server's goroutines come back to where they
// were.
func TestSlowloris(t *testing.T) {
	const header = 500 * time.Millisecond
	sys, cli := servicesHost(t, func(s *System) {
		s.httpTimeouts = httpTimeouts{header: header, read: 2 * time.Second, write: 2 * time.Second, idle: 2 * time.Second}
	})
	base := runtime.NumGoroutine()
	const slow = 100
	cut := make(chan time.Duration, slow)
	var conns []net.Conn
	for i := 0; i < slow; i++ {
		c, err := cli.Dial("tcp", "10.4.0.2:80")
		require.NoError(t, err)
		conns = append(conns, c)
		_, err = c.Write([]byte("GET / HTTP/1.1\r\nHost: ringo\r\n"))
		require.NoError(t, err)
		go func() { // a header line every 100 ms, until the server hangs up
			start := time.Now()
			done := make(chan struct{})
			go func() {
				io.Copy(io.Discard, c)
				close(done)
			}()
			for {
				select {
				case <-done:
					cut <- time.Since(start)
					return
				case <-time.After(100 * time.Millisecond):
					c.Write([]byte("X-Slow: 1\r\n"))
				}
			}
		}()
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	client := &http.Client{Transport: &http.Transport{DialContext: cli.DialContext}, Timeout: 5 * time.Second}
	resp, err := client.Get("http://10.4.0.2/status.txt")
	require.NoError(t, err, "served during the attack")
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)
	for i := 0; i < slow; i++ {
		select {
		case d := <-cut:
			assert.Less(t, d, header+2*time.Second, "cut off by the header timeout")
		case <-time.After(10 * time.Second):
			t.Fatalf("%d of %d slow clients still connected", slow-i, slow)
		}
	}
	client.CloseIdleConnections()
	for _, c := range conns {
		c.Close()
	}
	require.Eventually(t, func() bool { return runtime.NumGoroutine() <= base+5 }, 10*time.Second, 10*time.Millisecond,
		"goroutines back near %d: %d", base, runtime.NumGoroutine())
	assert.Zero(t, sys.ServiceStats.ConnsRefused.Load(), "100 is under the HTTP bound")
}

// 2,000 idle connections to the HTTP port: maxHTTPConns are held, the
// rest closed at once and counted, memory bounded; a slot freed serves
// the next client.
func TestIdleConnFlood(t *testing.T) {
	sys, cli := servicesHost(t)
	var before, during runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const n = 2000
	held := 0
	var conns []net.Conn
	buf := make([]byte, 1)
	for i := 0; i < n; i++ {
		c, err := cli.Dial("tcp", "10.4.0.2:80")
		require.NoError(t, err, "connection %d", i)
		conns = append(conns, c)
	}
	for _, c := range conns { // a refused one reads EOF at once; a held one times out
		c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		if _, err := c.Read(buf); errors.Is(err, os.ErrDeadlineExceeded) {
			held++
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&during)
	grew := int64(during.HeapInuse) - int64(before.HeapInuse)
	t.Logf("held %d, refused %d, heap in use grew %d KB with both stacks' %d connections", held, sys.ServiceStats.ConnsRefused.Load(), grew>>10, n)
	assert.Equal(t, maxHTTPConns, held)
	assert.EqualValues(t, n-maxHTTPConns, sys.ServiceStats.ConnsRefused.Load())
	assert.Less(t, grew, int64(64<<20), "bounded memory")
	for _, c := range conns {
		c.Close()
	}
	client := &http.Client{Transport: &http.Transport{DialContext: cli.DialContext}, Timeout: 5 * time.Second}
	require.Eventually(t, func() bool {
		resp, err := client.Get("http://10.4.0.2/status.txt")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}, 10*time.Second, 50*time.Millisecond, "served once the flood closed")
}

// ringo.connrate: a source opening connections faster than the rate has
// the excess closed at once and counted; the bucket refills with time.
func TestConnRatePerSource(t *testing.T) {
	sys, cli := servicesHost(t, func(s *System) { s.Cfg.ConnRate = 5 })
	buf := make([]byte, 4)
	echoes := 0
	start := time.Now()
	for i := 0; i < 20; i++ {
		c, err := cli.Dial("tcp", "10.4.0.2:7")
		require.NoError(t, err)
		c.Write([]byte("ping"))
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := io.ReadFull(c, buf); err == nil {
			echoes++
		}
		c.Close()
	}
	elapsed := time.Since(start)
	assert.GreaterOrEqual(t, echoes, 5, "the burst")
	assert.LessOrEqual(t, echoes, 5+int(5*elapsed.Seconds())+1, "the burst and the refill over %v", elapsed)
	assert.EqualValues(t, 20-echoes, sys.ServiceStats.ConnsRateLimited.Load())
	r := newSourceRate(5)
	a := netip.MustParseAddr("10.4.0.1")
	now := time.Now()
	for i := 0; i < 5; i++ {
		require.True(t, r.allow(a, now))
	}
	assert.False(t, r.allow(a, now))
	assert.True(t, r.allow(a, now.Add(200*time.Millisecond)), "a token a fifth of a second later")
	assert.True(t, r.allow(netip.MustParseAddr("10.4.0.9"), now), "another source has its own")
}

// A datagram to the status port with a forged source (an address nobody
// on the link has) gets a reply no larger than itself: the reflection a
// spoofer can aim at a victim is one byte for one byte.
func TestStatusSpoofedSource(t *testing.T) {
	sys, cli := servicesHost(t)
	devOf := func(s *socket.Stack, a string) *netcore.Device {
		for _, x := range s.IP.Addresses() {
			if x.Prefix.Addr() == netip.MustParseAddr(a) {
				return x.Dev
			}
		}
		t.Fatalf("no device with %s", a)
		return nil
	}
	srvDev, cliDev := devOf(sys.Stack, "10.4.0.2"), devOf(cli, "10.4.0.1")
	victim := netip.MustParseAddr("10.4.0.99")
	// The victim's frames reach the client's wire, where the tap sees them.
	sys.Stack.IP.Neigh.AddStatic(srvDev, victim, cliDev.HardwareAddr)
	replies := make(chan int, 4)
	cli.Core.AddTap(&netcore.Tap{Func: func(d *netcore.Device, f []byte, dir skb.PktType, _ time.Time) {
		if d != cliDev || dir == skb.PacketOutgoing || len(f) < 42 || f[23] != header.ProtoUDP || netip.AddrFrom4([4]byte(f[30:34])) != victim {
			return
		}
		replies <- int(binary.BigEndian.Uint16(f[38:40])) - header.UDPLen
	}})
	b := skb.Alloc(header.UDPLen + 1)
	p := b.Put(header.UDPLen + 1)
	p[header.UDPLen] = 'x'
	header.EncodeUDP(p, 5555, 7070, victim.As4(), [4]byte{10, 4, 0, 2})
	require.NoError(t, cli.IP.Output(b, victim.As4(), [4]byte{10, 4, 0, 2}, header.ProtoUDP, ipv4.OutputOpts{}))
	select {
	case n := <-replies:
		assert.LessOrEqual(t, n, 1, "the reply to a 1-byte datagram")
	case <-time.After(5 * time.Second):
		t.Fatal("no reply reached the victim")
	}
	assert.EqualValues(t, 1, sys.ServiceStats.StatusTruncated.Load())
}
