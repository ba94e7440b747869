package udp_test

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/internal/nettest"
	"github.com/ringonet/ringo/netcore/socket"
)

// The Linux side of these tests is this test binary itself, run again
// inside the peer's network namespace with RINGO_UDP_CLIENT set: it is a
// client of the kernel's own UDP stack.

type clientResult struct {
	Sent, Received, Lost, Corrupt int
	Seconds                       float64
}

func TestMain(m *testing.M) {
	if spec := os.Getenv("RINGO_UDP_CLIENT"); spec != "" {
		os.Exit(udpClient(spec))
	}
	os.Exit(m.Run())
}

// udpClient: "MODE,SERVER:PORT,N,WINDOW". paced: keep WINDOW datagrams in
// flight, each checked byte for byte; flood: send N as fast as possible,
// then count echoes for a second.
func udpClient(spec string) int {
	f := strings.Split(spec, ",")
	n, _ := strconv.Atoi(f[2])
	window, _ := strconv.Atoi(f[3])
	c, err := net.Dial("udp", f[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	c.(*net.UDPConn).SetReadBuffer(8 << 20)
	var r clientResult
	start := time.Now()
	rng := rand.New(rand.NewSource(1))
	sizes := []int{8, 64, 512, 1000, 1472}
	msg := func(seq int) []byte {
		size := sizes[seq%len(sizes)]
		if f[0] == "paced" && seq%1000 == 999 {
			size = 4000 // larger than the MTU: fragmented both ways
		}
		b := make([]byte, size)
		rng.Read(b)
		binary.BigEndian.PutUint32(b, uint32(seq))
		return b
	}
	buf := make([]byte, 65536)
	if f[0] == "flood" {
		for i := 0; i < n; i++ {
			if _, err := c.Write(msg(i)); err == nil {
				r.Sent++
			}
		}
		for {
			c.SetReadDeadline(time.Now().Add(time.Second))
			if _, err := c.Read(buf); err != nil {
				break
			}
			r.Received++
		}
	} else {
		inflight := map[uint32][]byte{}
		next := 0
		for next < n || len(inflight) > 0 {
			for next < n && len(inflight) < window {
				m := msg(next)
				inflight[uint32(next)] = m
				c.Write(m)
				r.Sent++
				next++
			}
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			k, err := c.Read(buf)
			if err != nil {
				r.Lost += len(inflight)
				break
			}
			seq := binary.BigEndian.Uint32(buf)
			want, ok := inflight[seq]
			if !ok {
				continue
			}
			delete(inflight, seq)
			if string(want) != string(buf[:k]) {
				r.Corrupt++
			}
			r.Received++
		}
	}
	r.Seconds = time.Since(start).Seconds()
	json.NewEncoder(os.Stdout).Encode(r)
	return 0
}

func runClient(t *testing.T, p *nettest.Peer, spec string) clientResult {
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command("ip", "netns", "exec", p.NS, exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), "RINGO_UDP_CLIENT="+spec)
	out, err := cmd.Output()
	require.NoError(t, err, "%s", out)
	var r clientResult
	require.NoError(t, json.Unmarshal(out, &r), "%s", out)
	return r
}

// echoBehindPeer is a ringo stack at 10.8.0.2 with a UDP echo server on
// port 7 (4 MiB receive buffer), the kernel peer at 10.8.0.1 made by
// newPeer.
func echoBehindPeer(t *testing.T, newPeer func(testing.TB, *netcore.Core, string, ...string) *nettest.Peer) (*socket.Stack, *nettest.Peer) {
	t.Helper()
	nettest.NeedRoot(t)
	s := newStack(t)
	p := newPeer(t, s.Core, "10.8.0.1/24")
	require.NoError(t, p.TAP.Dev.Up())
	require.NoError(t, s.IP.AddAddress(p.TAP.Dev, netip.MustParsePrefix("10.8.0.2/24")))
	srv := echoServer(t, s, ":7")
	srv.(interface{ SetReadBuffer(int) error }).SetReadBuffer(4 << 20)
	return s, p
}

func TestLinuxUDPEcho(t *testing.T) {
	s, p := echoBehindPeer(t, nettest.NewPeer)

	// 100,000 datagrams of mixed sizes, paced: none lost.
	r := runClient(t, p, "paced,10.8.0.2:7,100000,32")
	t.Logf("paced: %+v (%.0f datagrams/s)", r, float64(r.Received)/r.Seconds)
	assert.Equal(t, 100000, r.Sent)
	assert.Equal(t, 100000, r.Received)
	assert.Zero(t, r.Lost)
	assert.Zero(t, r.Corrupt)
	assert.Greater(t, s.IP.MIB.ReasmOKs.Load(), uint64(0), "4000-byte datagrams came in fragments")
	assert.Greater(t, s.IP.MIB.FragCreates.Load(), uint64(0), "and went back in fragments")

	// Flooded: whatever is lost is counted somewhere.
	inBefore := s.UDP.Stats.InDatagrams.Load()
	txBefore := peerCounter(t, p, "tx_dropped")
	r = runClient(t, p, "flood,10.8.0.2:7,50000,0")
	txDropped := peerCounter(t, p, "tx_dropped") - txBefore
	var backlog uint64
	for _, st := range s.Core.SoftnetStats() {
		backlog += st.Dropped
	}
	st := &s.UDP.Stats
	arrived := st.InDatagrams.Load() - inBefore
	t.Logf("flood: client sent %d, echoes %d; ringo got %d, rcvbuf drops %d, backlog drops %d, kernel tap tx_dropped %d, ringo rx_dropped %d",
		r.Sent, r.Received, arrived, st.RcvbufErrors.Load(), backlog, txDropped, p.TAP.Dev.Stats.RxDropped.Load())
	// The TAP's tx_dropped also counts the kernel's own frames it dropped
	// meanwhile (IPv6 router solicitations, MLD reports): a few more than
	// the client's datagrams may be accounted, never fewer.
	accounted := arrived + st.RcvbufErrors.Load() + backlog + txDropped
	assert.GreaterOrEqual(t, accounted, uint64(r.Sent),
		"every datagram the client sent arrived at ringo's socket or was counted as dropped")
	assert.LessOrEqual(t, accounted, uint64(r.Sent)+10, "and little else was counted")
}

// TestLinuxUDPOffload: with the TAP's offloads the kernel leaves its UDP
// checksums undone (NEEDS_CSUM) and ringo, trusting the header as it
// would a NIC's, still takes and echoes every datagram.
func TestLinuxUDPOffload(t *testing.T) {
	s, p := echoBehindPeer(t, nettest.NewOffloadPeer)

	r := runClient(t, p, "paced,10.8.0.2:7,20000,32")
	t.Logf("paced: %+v; %d frames came with the checksum left", r, p.TAP.RxCsumLeft.Load())
	assert.Equal(t, 20000, r.Received)
	assert.Zero(t, r.Corrupt)
	assert.Greater(t, p.TAP.RxCsumLeft.Load(), uint64(10000), "the kernel left the checksums of the datagrams that fit a frame")
	assert.Zero(t, s.UDP.Stats.InCsumErrors.Load())
}

func peerCounter(t *testing.T, p *nettest.Peer, name string) uint64 {
	out, err := p.Exec("cat", "/sys/class/net/"+p.IfName+"/statistics/"+name)
	require.NoError(t, err)
	v, err := strconv.ParseUint(strings.TrimSpace(out), 10, 64)
	require.NoError(t, err)
	return v
}
