package appliance

import (
	"io"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringonet/ringo/irq"
	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/ipv4"
	"github.com/ringonet/ringo/netcore/link"
	"github.com/ringonet/ringo/netcore/socket"
)

// servicesHost runs the appliance's services on a stack joined by a pipe
// to a client stack; it returns the system and the client.
func servicesHost(t *testing.T) (*System, *socket.Stack) {
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
	require.NoError(t, sys.StartServices())
	t.Cleanup(func() {
		for _, stop := range sys.services {
			stop()
		}
	})
	return sys, cli
}

// The status service is no amplifier: a burst of requests, from any
// source, gets one 60 KB answer per statusEvery, the rest counted.
func TestStatusRateLimited(t *testing.T) {
	sys, cli := servicesHost(t)
	c, err := cli.Dial("udp", "10.4.0.2:7070")
	require.NoError(t, err)
	defer c.Close()
	const burst = 20
	for i := 0; i < burst; i++ {
		_, err := c.Write([]byte("x"))
		require.NoError(t, err)
	}
	buf := make([]byte, 65536)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Read(buf)
	require.NoError(t, err, "the first is answered")
	assert.Contains(t, string(buf[:n]), "ringo appliance")
	require.Eventually(t, func() bool { return sys.ServiceStats.StatusRateLimited.Load() >= burst-2 }, 5*time.Second, time.Millisecond)
	assert.LessOrEqual(t, burst-int(sys.ServiceStats.StatusRateLimited.Load()), 2, "at most a reply or two for the burst")
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
