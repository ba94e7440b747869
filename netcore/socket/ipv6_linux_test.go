package socket_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringonet/ringo/netcore/internal/nettest"
	"github.com/ringonet/ringo/netcore/internal/stacktest"
	"github.com/ringonet/ringo/netcore/socket"
	"github.com/ringonet/ringo/netcore/tcp"
)

// dualPeer joins s to Linux over a plain TAP with IPv4 (10.7.0.0/24) and
// IPv6 (2001:db8:7::/64) addresses on both ends; it returns the peer and
// Linux's link-local address.
func dualPeer(t *testing.T, s *socket.Stack) (*nettest.Peer, string) {
	p := stacktest.LinuxPeer(t, s, "10.7.0.1/24", "10.7.0.2/24", true)
	return p, stacktest.AddIPv6(t, s, p, "2001:db8:7::1/64", "2001:db8:7::2/64").String()
}

// TCP over IPv6 against the Linux kernel: a dual-stack ringo listener
// (":port") takes Linux's connections over IPv6 and IPv4, each seen with
// its own address family; ringo dials Linux at its global and its
// link-local address (with the zone); 10 MB each way over IPv6 arrive
// byte-exact; curl -6 fetches from net/http on ringo.
func TestLinuxTCP6(t *testing.T) {
	s := stacktest.Stack(t, tcp.Config{MSL: 100 * time.Millisecond})
	p, kll := dualPeer(t, s)

	l, err := s.Listen("tcp", ":5006")
	require.NoError(t, err)
	defer l.Close()
	assert.Equal(t, "[::]:5006", l.Addr().String())
	for _, dst := range []string{"[2001:db8:7::2]:5006", "10.7.0.2:5006"} {
		got := make(chan net.Conn, 1)
		go func() {
			c, err := l.Accept()
			if err != nil {
				got <- nil
				return
			}
			got <- c
		}()
		var kc net.Conn
		require.NoError(t, p.Do(func() (err error) { kc, err = net.Dial("tcp", dst); return }))
		c := <-got
		require.NotNil(t, c)
		local := kc.LocalAddr().(*net.TCPAddr)
		assert.Equal(t, local.String(), c.RemoteAddr().String(), "ringo sees the peer as Linux's socket names itself")
		kc.Close()
		c.Close()
	}

	// 10 MB each way over IPv6, SHA-256 at both ends.
	const n = 10 << 20
	data := make([]byte, n)
	rng := rand.New(rand.NewPCG(1, 6))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	want := sha256.Sum256(data)
	var kl net.Listener
	require.NoError(t, p.Do(func() (err error) { kl, err = net.Listen("tcp6", "[::]:5007"); return }))
	defer kl.Close()
	sums := make(chan [32]byte, 1)
	go func() {
		c, err := kl.Accept()
		if err != nil {
			sums <- [32]byte{}
			return
		}
		defer c.Close()
		h := sha256.New()
		io.Copy(h, c) // ringo -> Linux
		var sum [32]byte
		copy(sum[:], h.Sum(nil))
		sums <- sum
	}()
	c, err := s.Dial("tcp", "[2001:db8:7::1]:5007")
	require.NoError(t, err)
	assert.Equal(t, "[2001:db8:7::2]", strings.Split(c.LocalAddr().String(), "]")[0]+"]")
	c.SetDeadline(time.Now().Add(time.Minute))
	start := time.Now()
	_, err = io.Copy(c, bytes.NewReader(data))
	require.NoError(t, err)
	c.Close()
	assert.Equal(t, want, <-sums, "ringo -> Linux over IPv6")
	assert.Greater(t, s.IP6.MIB.SoftOffloads.Load(), uint64(0), "TCP built packets for GSO, cut in software on output")
	t.Logf("ringo -> Linux, 10 MB over IPv6: %v", time.Since(start))

	l2, err := s.Listen("tcp6", "[::]:5008")
	require.NoError(t, err)
	defer l2.Close()
	recv := make(chan [32]byte, 1)
	go func() {
		c, err := l2.Accept()
		if err != nil {
			recv <- [32]byte{}
			return
		}
		defer c.Close()
		h := sha256.New()
		io.Copy(h, c)
		var sum [32]byte
		copy(sum[:], h.Sum(nil))
		recv <- sum
	}()
	start = time.Now()
	require.NoError(t, p.Do(func() error {
		kc, err := net.Dial("tcp6", "[2001:db8:7::2]:5008")
		if err != nil {
			return err
		}
		defer kc.Close()
		_, err = io.Copy(kc, bytes.NewReader(data))
		return err
	}))
	assert.Equal(t, want, <-recv, "Linux -> ringo over IPv6")
	t.Logf("Linux -> ringo, 10 MB over IPv6: %v", time.Since(start))
	require.NoError(t, p.Do(func() error {
		_, err := net.Dial("tcp4", "10.7.0.2:5008")
		if err == nil {
			return fmt.Errorf("a tcp6 listener took IPv4")
		}
		return nil
	}))

	// Link-local, with the zone.
	go func() {
		c, err := kl.Accept()
		if err == nil {
			io.Copy(c, c)
			c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	lc, err := s.DialContext(ctx, "tcp", fmt.Sprintf("[%s%%%s]:5007", kll, p.TAP.Dev.Name))
	require.NoError(t, err)
	assert.Contains(t, lc.RemoteAddr().String(), "%"+p.TAP.Dev.Name)
	lc.Write([]byte("hello"))
	buf := make([]byte, 5)
	lc.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = io.ReadFull(lc, buf)
	require.NoError(t, err)
	assert.Equal(t, "hello", string(buf))
	lc.Close()

	// net/http on ringo, curl -6 from Linux.
	hl, err := s.Listen("tcp", ":8086")
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s", r.RemoteAddr)
	})}
	go srv.Serve(hl)
	defer srv.Close()
	out, err := p.Exec("curl", "-6", "-s", "-m", "10", "http://[2001:db8:7::2]:8086/")
	require.NoError(t, err, out)
	assert.Contains(t, out, "hello [2001:db8:7::1]:")

	// ringo's http.Client fetching from Python's server bound to ::.
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "index.txt"), []byte("from python over IPv6\n"), 0o644))
	py := exec.Command("ip", "netns", "exec", p.NS, "python3", "-m", "http.server", "--bind", "::", "--directory", dir, "8087")
	require.NoError(t, py.Start())
	t.Cleanup(func() { py.Process.Kill(); py.Wait() })
	client := &http.Client{Transport: &http.Transport{DialContext: s.DialContext}, Timeout: 10 * time.Second}
	var body []byte
	require.Eventually(t, func() bool { // until Python listens
		resp, err := client.Get("http://[2001:db8:7::1]:8087/index.txt")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		body, _ = io.ReadAll(resp.Body)
		return resp.StatusCode == 200
	}, 10*time.Second, 50*time.Millisecond)
	assert.Equal(t, "from python over IPv6\n", string(body))
}

// UDP over IPv6 against Linux: one ringo socket on ":7" echoes a Linux
// client over IPv6 (datagrams up to 3000 bytes: fragmented both ways)
// and over IPv4; a datagram to a closed port draws ICMPv6 port
// unreachable, which Linux's connected socket reads as ECONNREFUSED;
// ringo's udp6 socket talks to Linux's at its link-local address.
func TestLinuxUDP6(t *testing.T) {
	s := stacktest.Stack(t, tcp.Config{})
	p, kll := dualPeer(t, s)
	pc, err := s.ListenPacket("udp", ":7")
	require.NoError(t, err)
	defer pc.Close()
	assert.Equal(t, "[::]:7", pc.LocalAddr().String())
	go func() {
		buf := make([]byte, 65536)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(buf[:n], from)
		}
	}()
	for _, dst := range []string{"[2001:db8:7::2]:7", "10.7.0.2:7"} {
		require.NoError(t, p.Do(func() error {
			c, err := net.Dial("udp", dst)
			if err != nil {
				return err
			}
			defer c.Close()
			buf := make([]byte, 4096)
			for _, size := range []int{1, 100, 1400, 3000} {
				msg := bytes.Repeat([]byte{byte(size)}, size)
				c.Write(msg)
				c.SetReadDeadline(time.Now().Add(3 * time.Second))
				n, err := c.Read(buf)
				if err != nil {
					return fmt.Errorf("%s, %d bytes: %w", dst, size, err)
				}
				if !bytes.Equal(buf[:n], msg) {
					return fmt.Errorf("%s, %d bytes: echo differs", dst, size)
				}
			}
			return nil
		}))
	}
	assert.Greater(t, s.IP6.MIB.Ip6ReasmOKs.Load(), uint64(0), "Linux's 3000-byte datagram reassembled")
	assert.Greater(t, s.IP6.MIB.Ip6FragCreates.Load(), uint64(0), "ringo's echo of it fragmented")

	require.NoError(t, p.Do(func() error {
		c, err := net.Dial("udp6", "[2001:db8:7::2]:9999")
		if err != nil {
			return err
		}
		defer c.Close()
		c.Write([]byte("anyone?"))
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		_, err = c.Read(make([]byte, 16))
		if !errors.Is(err, syscall.ECONNREFUSED) {
			return fmt.Errorf("want ECONNREFUSED, got %v", err)
		}
		return nil
	}))
	assert.Greater(t, s.IP6.ICMP.Icmp6OutDestUnreachs.Load(), uint64(0))

	var kc net.PacketConn
	require.NoError(t, p.Do(func() (err error) { kc, err = net.ListenPacket("udp6", "[::]:7007"); return }))
	defer kc.Close()
	c, err := s.Dial("udp6", fmt.Sprintf("[%s%%%s]:7007", kll, p.TAP.Dev.Name))
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write([]byte("link-local"))
	require.NoError(t, err)
	kc.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 64)
	n, from, err := kc.ReadFrom(buf)
	require.NoError(t, err)
	assert.Equal(t, "link-local", string(buf[:n]))
	kc.WriteTo([]byte("back"), from)
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	n, err = c.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "back", string(buf[:n]))
}
