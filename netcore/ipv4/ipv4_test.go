package ipv4

import (
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringonet/ringo/internal/israce"
	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/netcore/link"
	"github.com/ringonet/ringo/netcore/neigh"
	"github.com/ringonet/ringo/netcore/skb"
)

var quiet = slog.New(slog.DiscardHandler)

// host is one ringo stack on its own core.
type host struct {
	core *netcore.Core
	ip   *Stack
}

func newHost(t testing.TB, cfg Config) *host {
	c := netcore.New(netcore.Config{Logger: quiet})
	cfg.Logger = quiet
	if cfg.Neigh.RetransTime == 0 {
		cfg.Neigh.RetransTime = 100 * time.Millisecond
	}
	s, err := New(c, cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		s.Close()
		c.Close()
	})
	return &host{core: c, ip: s}
}

// wire joins two hosts with a pipe and addresses each end.
func wire(t *testing.T, a, b *host, addrA, addrB string, mtu int) (*netcore.Device, *netcore.Device) {
	ea, eb, err := link.NewPipe(a.core, link.PipeConfig{PeerCore: b.core, MTU: mtu})
	require.NoError(t, err)
	require.NoError(t, ea.Dev.Up())
	require.NoError(t, eb.Dev.Up())
	require.NoError(t, a.ip.AddAddress(ea.Dev, netip.MustParsePrefix(addrA)))
	require.NoError(t, b.ip.AddAddress(eb.Dev, netip.MustParsePrefix(addrB)))
	return ea.Dev, eb.Dev
}

func ip4(s string) [4]byte { return netip.MustParseAddr(s).As4() }

func ping(t *testing.T, h *host, dst string, size int) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return h.ip.Ping(ctx, ip4(dst), size, 1)
}

func TestPingAndARP(t *testing.T) {
	a, b := newHost(t, Config{}), newHost(t, Config{})
	da, db := wire(t, a, b, "10.1.0.1/24", "10.1.0.2/24", 0)
	rtt, err := ping(t, a, "10.1.0.2", 56)
	require.NoError(t, err)
	assert.Greater(t, rtt, time.Duration(0))

	// The reply to a's request makes the entry reachable. It may come
	// after the echo reply: b's gratuitous ARP (its AddAddress) can reach
	// a while a resolves, set the entry stale with b's address and send
	// the echo on, ahead of a's own request; b, not knowing a yet, then
	// resolves a before it answers either.
	require.Eventually(t, func() bool {
		st, _ := a.ip.Neigh.Lookup(da, netip.MustParseAddr("10.1.0.2"))
		return st == neigh.Reachable
	}, 2*time.Second, time.Millisecond, "a's entry for b confirmed by the ARP reply")
	_, mac := a.ip.Neigh.Lookup(da, netip.MustParseAddr("10.1.0.2"))
	assert.Equal(t, db.HardwareAddr, mac)
	// b learned a from the request it answered.
	st, _ := b.ip.Neigh.Lookup(db, netip.MustParseAddr("10.1.0.1"))
	assert.Contains(t, []neigh.State{neigh.Stale, neigh.Reachable, neigh.Delay}, st)

	assert.EqualValues(t, 1, b.ip.ICMP.InEchos.Load())
	assert.EqualValues(t, 1, b.ip.ICMP.OutEchoReps.Load())
	assert.EqualValues(t, 1, a.ip.ICMP.InEchoReps.Load())

	// Ping ourselves through lo.
	_, err = ping(t, a, "10.1.0.1", 100)
	require.NoError(t, err)
	_, err = ping(t, a, "127.0.0.1", 100)
	require.NoError(t, err)
}

// An 8000-byte echo is fragmented on the way out and reassembled; the
// reply, just as large, comes back in fragments too.
func TestFragmentedEcho(t *testing.T) {
	a, b := newHost(t, Config{}), newHost(t, Config{})
	wire(t, a, b, "10.1.0.1/24", "10.1.0.2/24", 0)
	_, err := ping(t, a, "10.1.0.2", 8000)
	require.NoError(t, err)
	assert.EqualValues(t, 6, a.ip.MIB.FragCreates.Load(), "8028 bytes in 1480-byte pieces")
	assert.EqualValues(t, 1, b.ip.MIB.ReasmOKs.Load())
	assert.EqualValues(t, 1, a.ip.MIB.ReasmOKs.Load())
	assert.EqualValues(t, 6, b.ip.MIB.ReasmReqds.Load())
	_, err = ping(t, a, "10.1.0.2", 65507) // the largest that fits
	require.NoError(t, err)
	_, err = ping(t, a, "10.1.0.2", 65508)
	assert.Error(t, err)
}

func TestHostUnreachable(t *testing.T) {
	a, b := newHost(t, Config{Neigh: neigh.Config{McastProbes: 2, RetransTime: 50 * time.Millisecond}}), newHost(t, Config{})
	da, _ := wire(t, a, b, "10.1.0.1/24", "10.1.0.2/24", 0)
	start := time.Now()
	_, err := ping(t, a, "10.1.0.99", 56)
	var ue *UnreachableError
	require.ErrorAs(t, err, &ue)
	assert.Equal(t, uint8(header.ICMPHostUnreach), ue.Code)
	assert.Less(t, time.Since(start), 2*time.Second)
	st, _ := a.ip.Neigh.Lookup(da, netip.MustParseAddr("10.1.0.99"))
	assert.Equal(t, neigh.Failed, st)
	t.Logf("FAULT | neighbour that never answers ARP | entry FAILED after %v, the sender gets EHOSTUNREACH (ICMP host unreachable)", time.Since(start).Round(time.Millisecond))

	_, err = ping(t, a, "192.0.2.1", 56) // no route at all
	assert.ErrorIs(t, err, ErrNoRoute)
	assert.EqualValues(t, 1, a.ip.MIB.OutNoRoutes.Load())
}

// rawSend puts an IP packet on a's wire to b's device.
func rawSend(t *testing.T, from, to *netcore.Device, ip []byte) {
	b := skb.Alloc(len(ip) + 14)
	p := b.Put(14 + len(ip))
	header.EncodeEthernet(p, to.HardwareAddr, from.HardwareAddr, header.EtherTypeIPv4)
	copy(p[14:], ip)
	b.Dev = from
	require.NoError(t, netcore.DevQueueXmit(b))
}

// fragment builds one IPv4 fragment of a UDP-protocol datagram.
func fragment(src, dst [4]byte, id uint16, off int, more bool, payload []byte) []byte {
	p := make([]byte, 20+len(payload))
	flags := uint16(0)
	if more {
		flags = header.IPv4FlagMF
	}
	header.EncodeIPv4(p, header.IPv4Fields{TotalLen: len(p), ID: id, Flags: flags, FragOff: off, TTL: 64, Protocol: 253, Src: src, Dst: dst})
	copy(p[20:], payload)
	return p
}

func TestReassemblyHostile(t *testing.T) {
	a, b := newHost(t, Config{}), newHost(t, Config{FragTimeout: 300 * time.Millisecond, FragHighBytes: 64 << 10})
	da, db := wire(t, a, b, "10.1.0.1/24", "10.1.0.2/24", 0)
	src, dst := ip4("10.1.0.1"), ip4("10.1.0.2")
	var delivered atomic.Int64
	b.ip.AddProtocol(253, handlerFunc(func(s *skb.Buff) { delivered.Add(1); s.Free() }))
	m := &b.ip.MIB
	wait := func(what string, f func() bool) {
		require.Eventually(t, f, 5*time.Second, time.Millisecond, what)
	}

	// In order, out of order, duplicated: all fine.
	rawSend(t, da, db, fragment(src, dst, 1, 8, false, make([]byte, 8)))
	rawSend(t, da, db, fragment(src, dst, 1, 0, true, make([]byte, 8)))
	rawSend(t, da, db, fragment(src, dst, 1, 0, true, make([]byte, 8)))
	wait("reassembled", func() bool { return delivered.Load() == 1 })

	// Teardrop: the second fragment overlaps the first.
	rawSend(t, da, db, fragment(src, dst, 2, 0, true, make([]byte, 24)))
	rawSend(t, da, db, fragment(src, dst, 2, 16, false, make([]byte, 16)))
	wait("overlap counted", func() bool { return m.ReasmOverlaps.Load() == 1 })

	// Past 65535 bytes (ping of death).
	rawSend(t, da, db, fragment(src, dst, 3, 65528, false, make([]byte, 16)))
	wait("oversize counted", func() bool { return m.ReasmOversize.Load() == 1 })

	// A middle fragment whose length is not a multiple of 8.
	rawSend(t, da, db, fragment(src, dst, 4, 0, true, make([]byte, 12)))
	// A datagram that never completes: dropped after the timeout.
	rawSend(t, da, db, fragment(src, dst, 5, 0, true, make([]byte, 64)))
	wait("timeout counted", func() bool { return m.ReasmTimeout.Load() >= 1 })
	wait("time exceeded sent", func() bool { return b.ip.ICMP.OutTimeExcds.Load() >= 1 })
	wait("a heard it", func() bool { return a.ip.ICMP.InTimeExcds.Load() >= 1 })

	// Memory bound: many incomplete datagrams never hold more than the
	// threshold (here 64 KiB).
	for id := 100; id < 400; id++ {
		rawSend(t, da, db, fragment(src, dst, uint16(id), 0, true, make([]byte, 1024)))
	}
	wait("memory drops", func() bool { return m.ReasmMemDrops.Load() > 0 })
	assert.LessOrEqual(t, b.ip.frags.Mem(), 64<<10)
	assert.EqualValues(t, 1, delivered.Load())
}

type handlerFunc func(*skb.Buff)

func (f handlerFunc) Receive(b *skb.Buff)                     { f(b) }
func (f handlerFunc) Error(header.IPv4, uint8, uint8, uint32) {}

// A protocol nobody handles gets ICMP protocol unreachable.
func TestProtocolUnreachable(t *testing.T) {
	a, b := newHost(t, Config{}), newHost(t, Config{})
	da, db := wire(t, a, b, "10.1.0.1/24", "10.1.0.2/24", 0)
	_, err := ping(t, a, "10.1.0.2", 1) // resolve ARP both ways
	require.NoError(t, err)
	rawSend(t, da, db, fragment(ip4("10.1.0.1"), ip4("10.1.0.2"), 9, 0, false, make([]byte, 8)))
	require.Eventually(t, func() bool { return a.ip.ICMP.InDestUnreachs.Load() == 1 }, 5*time.Second, time.Millisecond)
	assert.EqualValues(t, 1, b.ip.MIB.InUnknownProtos.Load())
}

func TestBadHeadersCounted(t *testing.T) {
	a, b := newHost(t, Config{}), newHost(t, Config{})
	da, db := wire(t, a, b, "10.1.0.1/24", "10.1.0.2/24", 0)
	good := fragment(ip4("10.1.0.1"), ip4("10.1.0.2"), 9, 0, false, make([]byte, 8))
	bad := append([]byte(nil), good...)
	bad[10] ^= 0xff // checksum
	rawSend(t, da, db, bad)
	short := append([]byte(nil), good...)
	binary.BigEndian.PutUint16(short[2:], 200) // total length past the frame
	short[10], short[11] = 0, 0
	c := header.Fold(header.Checksum(short[:20], 0))
	binary.BigEndian.PutUint16(short[10:], c)
	rawSend(t, da, db, short)
	martian := fragment(ip4("224.0.0.1"), ip4("10.1.0.2"), 9, 0, false, make([]byte, 8))
	rawSend(t, da, db, martian)
	m := &b.ip.MIB
	require.Eventually(t, func() bool {
		return m.InCsumErrors.Load() == 1 && m.InTruncatedPkts.Load() == 1 && m.InAddrErrors.Load() == 1
	}, 5*time.Second, time.Millisecond)
	assert.EqualValues(t, 1, m.InHdrErrors.Load())
}

// A router between two networks forwards (TTL decremented), and answers
// TTL 1 with time exceeded.
func TestForwarding(t *testing.T) {
	a, r, c := newHost(t, Config{}), newHost(t, Config{Forwarding: true}), newHost(t, Config{})
	wire(t, a, r, "10.1.0.1/24", "10.1.0.254/24", 0)
	wire(t, r, c, "10.2.0.254/24", "10.2.0.1/24", 1000)
	require.NoError(t, a.ip.SetDefaultGateway(netip.MustParseAddr("10.1.0.254")))
	require.NoError(t, c.ip.SetDefaultGateway(netip.MustParseAddr("10.2.0.254")))
	_, err := ping(t, a, "10.2.0.1", 1400) // forwarded and fragmented to MTU 1000
	require.NoError(t, err)
	assert.GreaterOrEqual(t, r.ip.MIB.ForwDatagrams.Load(), uint64(2))
	assert.Greater(t, r.ip.MIB.FragCreates.Load(), uint64(0))

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	b := skb.Alloc(8)
	header.EncodeICMPv4(b.Put(8), header.ICMPEcho, 0, 0x77770001)
	require.NoError(t, a.ip.Output(b, [4]byte{}, ip4("10.2.0.1"), header.ProtoICMP, OutputOpts{TTL: 1}))
	_ = ctx
	require.Eventually(t, func() bool { return a.ip.ICMP.InTimeExcds.Load() == 1 }, 3*time.Second, time.Millisecond)
	assert.EqualValues(t, 1, r.ip.ICMP.OutTimeExcds.Load())
}

func TestHooks(t *testing.T) {
	a, b := newHost(t, Config{}), newHost(t, Config{})
	wire(t, a, b, "10.1.0.1/24", "10.1.0.2/24", 0)
	b.ip.AddHook(PreRouting, func(s *skb.Buff, _ *netcore.Device) Verdict {
		if header.IPv4(s.Data()).Protocol() == header.ProtoICMP {
			return Drop
		}
		return Accept
	})
	_, err := ping(t, a, "10.1.0.2", 10)
	assert.True(t, errors.Is(err, context.DeadlineExceeded))
	assert.GreaterOrEqual(t, b.ip.MIB.HookDrops.Load(), uint64(1))
}

func TestBroadcastPingIgnored(t *testing.T) {
	a, b := newHost(t, Config{}), newHost(t, Config{})
	wire(t, a, b, "10.1.0.1/24", "10.1.0.2/24", 0)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := a.ip.Ping(ctx, ip4("10.1.0.255"), 10, 1)
	assert.Error(t, err)
	assert.EqualValues(t, 1, b.ip.ICMP.InBroadcastEcho.Load())
}

func TestNeighbourStatesAndSpoofing(t *testing.T) {
	a := newHost(t, Config{Neigh: neigh.Config{BaseReachable: 200 * time.Millisecond, DelayFirstProbe: 100 * time.Millisecond, RetransTime: 50 * time.Millisecond}})
	b := newHost(t, Config{})
	da, db := wire(t, a, b, "10.1.0.1/24", "10.1.0.2/24", 0)
	_, err := ping(t, a, "10.1.0.2", 1)
	require.NoError(t, err)
	require.Eventually(t, func() bool { st, _ := a.ip.Neigh.Lookup(da, netip.MustParseAddr("10.1.0.2")); return st == neigh.Stale }, 3*time.Second, 5*time.Millisecond, "reachable expires to stale")
	_, err = ping(t, a, "10.1.0.2", 1) // use: delay, probe, reachable again
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		st, _ := a.ip.Neigh.Lookup(da, netip.MustParseAddr("10.1.0.2"))
		return st == neigh.Reachable
	}, 3*time.Second, 5*time.Millisecond)

	// A static entry ignores ARP that contradicts it.
	fake := []byte{2, 0xde, 0xad, 0xbe, 0xef, 1}
	b.ip.Neigh.AddStatic(db, netip.MustParseAddr("10.1.0.1"), fake)
	a.ip.Neigh.Gratuitous(da, ip4("10.1.0.1")) // the real owner speaks up
	require.Eventually(t, func() bool { return b.ip.Neigh.Stats.SpoofIgnored.Load() > 0 }, 3*time.Second, 5*time.Millisecond)
	st, mac := b.ip.Neigh.Lookup(db, netip.MustParseAddr("10.1.0.1"))
	assert.Equal(t, neigh.Permanent, st)
	assert.Equal(t, fake, []byte(mac))
	assert.Greater(t, b.ip.Neigh.Stats.SpoofIgnored.Load(), uint64(0))
}

func TestSNMPFormat(t *testing.T) {
	a := newHost(t, Config{})
	var sb strings.Builder
	require.NoError(t, a.ip.WriteSNMP(&sb))
	lines := strings.Split(strings.TrimSpace(sb.String()), "\n")
	require.Len(t, lines, 4)
	assert.True(t, strings.HasPrefix(lines[0], "Ip: Forwarding DefaultTTL InReceives InHdrErrors"))
	assert.True(t, strings.HasPrefix(lines[1], "Ip: 2 64 "))
	assert.True(t, strings.HasPrefix(lines[2], "Icmp: InMsgs InErrors"))
	assert.Equal(t, len(strings.Fields(lines[0])), len(strings.Fields(lines[1])))
}

// A neighbour that vanishes: its entry goes through STALE, DELAY and PROBE
// to FAILED, senders get host-unreachable; when it comes back, the next
// send resolves it again and traffic resumes.
func TestNeighbourVanishesAndReturns(t *testing.T) {
	nc := neigh.Config{BaseReachable: 100 * time.Millisecond, DelayFirstProbe: 50 * time.Millisecond,
		RetransTime: 50 * time.Millisecond, UcastProbes: 2, McastProbes: 2}
	a, b := newHost(t, Config{Neigh: nc}), newHost(t, Config{Neigh: nc})
	da, db := wire(t, a, b, "10.1.0.1/24", "10.1.0.2/24", 0)
	_, err := ping(t, a, "10.1.0.2", 56)
	require.NoError(t, err)

	require.NoError(t, db.Down())
	gone := time.Now()
	var failedAfter time.Duration
	for time.Since(gone) < 5*time.Second {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		a.ip.Ping(ctx, ip4("10.1.0.2"), 56, 2)
		cancel()
		if st, _ := a.ip.Neigh.Lookup(da, netip.MustParseAddr("10.1.0.2")); st == neigh.Failed {
			failedAfter = time.Since(gone)
			break
		}
	}
	require.NotZero(t, failedAfter, "the entry went FAILED")
	_, err = ping(t, a, "10.1.0.2", 56)
	var ue *UnreachableError
	require.ErrorAs(t, err, &ue, "senders get host unreachable")

	require.NoError(t, db.Up())
	back := time.Now()
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		_, err := a.ip.Ping(ctx, ip4("10.1.0.2"), 56, 3)
		return err == nil
	}, 5*time.Second, 10*time.Millisecond, "pings resume when the neighbour returns")
	st, _ := a.ip.Neigh.Lookup(da, netip.MustParseAddr("10.1.0.2"))
	assert.Equal(t, neigh.Reachable, st)
	t.Logf("FAULT | ARP peer vanishes (its link down) and returns | neighbour FAILED %v after it went (reachable 100 ms, 2 probes), senders got host unreachable; pings resumed %v after it returned",
		failedAfter.Round(time.Millisecond), time.Since(back).Round(time.Millisecond))
}

// A good packet costs the receive path no allocation from the wire to its
// protocol handler: garbage per packet is GC time on every path above.
func TestReceiveNoAlloc(t *testing.T) {
	a, b := newHost(t, Config{}), newHost(t, Config{})
	_, db := wire(t, a, b, "10.1.0.1/24", "10.1.0.2/24", 0)
	delivered := 0
	b.ip.AddProtocol(253, handlerFunc(func(p *skb.Buff) { delivered++; p.Free() }))
	pkt := fragment(ip4("10.1.0.1"), ip4("10.1.0.2"), 9, 0, false, make([]byte, 64))
	allocs := testing.AllocsPerRun(200, func() {
		p := skb.Alloc(len(pkt))
		copy(p.Put(len(pkt)), pkt)
		p.Dev = db
		b.ip.ipRcv(p)
	})
	assert.Equal(t, 201, delivered)
	if !israce.Enabled { // sync.Pool drops items at random under -race
		assert.Zero(t, allocs)
	}
}
