package socket_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/netcore/internal/nettest"
	"github.com/ringonet/ringo/netcore/internal/stacktest"
	"github.com/ringonet/ringo/netcore/ipv4"
	"github.com/ringonet/ringo/netcore/link"
	"github.com/ringonet/ringo/netcore/skb"
	"github.com/ringonet/ringo/netcore/socket"
	"github.com/ringonet/ringo/netcore/tcp"
)

// The differential harness (gVisor packetimpact's discipline): each case
// sends the same crafted frames from a tester to two targets, the Linux
// kernel (in a network namespace, over a TAP) and a ringo stack (over an
// in-memory wire), and compares what each sends back, frame by frame,
// after normalising what may rightly differ (IP IDs, checksums, initial
// sequence numbers, timestamps). Both targets are 10.0.0.1/24; the
// tester is 10.0.0.2, a bare device on a core of its own with no stack.

var (
	diffTarget = [4]byte{10, 0, 0, 1}
	diffTester = [4]byte{10, 0, 0, 2}
)

// diffRig is one target and the tester in front of it.
type diffRig struct {
	name    string // "linux" or "ringo"
	t       *testing.T
	dev     *netcore.Device  // the tester's device
	peerMAC net.HardwareAddr // the target's MAC
	settle  func()

	mu  sync.Mutex
	got [][]byte // frames the target sent, whole
	isn uint32   // the target's ISN on the case's connection, once established

	// The target's sockets, opened where the target lives.
	addAddress   func(prefix string)
	listenPacket func(network, addr string) (net.PacketConn, error)
	listen       func(network, addr string) (net.Listener, error)
	neighbours   func() []string // IPv4 addresses in the target's neighbour table
}

func (r *diffRig) capture(b *skb.Buff) {
	b.PushToMAC()
	r.mu.Lock()
	r.got = append(r.got, append([]byte(nil), b.Data()...))
	r.mu.Unlock()
	b.Free()
}

func (r *diffRig) take() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	got := r.got
	r.got = nil
	return got
}

// send puts a frame on the wire to the target and waits until the target
// has answered (or had its chance to).
func (r *diffRig) send(frame []byte) {
	r.t.Helper()
	require.NoError(r.t, stacktest.Send(r.dev, frame))
	r.settle()
}

func newTesterCore(t *testing.T) *netcore.Core {
	c := netcore.New(netcore.Config{Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() { c.Close() })
	return c
}

// linuxTarget is the kernel in a new namespace behind a TAP whose other
// end is the tester. IPv6 is off (its router and neighbour solicitations
// are not what the cases compare) and the tester is a permanent
// neighbour, as it is on the ringo side.
func linuxTarget(t *testing.T) *diffRig {
	c := newTesterCore(t)
	p := nettest.NewPeer(t, c, "10.0.0.1/24", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
	r := &diffRig{name: "linux", t: t, dev: p.TAP.Dev}
	require.NoError(t, p.TAP.Dev.Up())
	nettest.Run(t, "ip", "-n", p.NS, "neigh", "replace", "10.0.0.2", "lladdr", p.TAP.Dev.HardwareAddr.String(), "dev", p.IfName, "nud", "permanent")
	out := nettest.Run(t, "ip", "-n", p.NS, "link", "show", p.IfName)
	i := strings.Index(out, "link/ether ")
	require.GreaterOrEqual(t, i, 0, out)
	mac, err := net.ParseMAC(strings.Fields(out[i+len("link/ether "):])[0])
	require.NoError(t, err)
	r.peerMAC = mac
	c.AddPacketType(header.EtherTypeIPv4, r.capture)
	c.AddPacketType(header.EtherTypeARP, r.capture)
	r.settle = func() {
		// The kernel answers within microseconds of the write, in the
		// writer's system call; what it sends comes up through the TAP's
		// reader and the tester's softnet. Both are settled when the
		// tester's core is idle and the TAP has stayed quiet for 100 ms,
		// long enough for a loaded machine (the QEMU tests run beside
		// these) to schedule the reader.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		last, quiet := -1, time.Now()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); <-tick.C {
			require.NoError(t, c.Quiesce(ctx))
			r.mu.Lock()
			n := len(r.got)
			r.mu.Unlock()
			if n != last {
				last, quiet = n, time.Now()
			} else if time.Since(quiet) > 100*time.Millisecond {
				return
			}
		}
	}
	r.addAddress = func(prefix string) { nettest.Run(t, "ip", "-n", p.NS, "addr", "add", prefix, "dev", p.IfName) }
	r.listenPacket = func(network, addr string) (pc net.PacketConn, err error) {
		err = p.Do(func() error { pc, err = net.ListenPacket(network, addr); return err })
		return pc, err
	}
	r.listen = func(network, addr string) (l net.Listener, err error) {
		err = p.Do(func() error { l, err = net.Listen(network, addr); return err })
		return l, err
	}
	r.neighbours = func() []string {
		var ips []string
		for _, line := range strings.Split(nettest.Run(t, "ip", "-4", "-n", p.NS, "neigh", "show"), "\n") {
			if f := strings.Fields(line); len(f) > 0 && !strings.Contains(line, "FAILED") && !strings.Contains(line, "INCOMPLETE") {
				ips = append(ips, f[0])
			}
		}
		slices.Sort(ips)
		return ips
	}
	r.settle()
	r.take()
	return r
}

// ringoTarget is a ringo stack behind an in-memory wire.
func ringoTarget(t *testing.T) *diffRig {
	c := newTesterCore(t)
	s := stacktest.Stack(t, tcp.Config{})
	ringoEnd, testerEnd, err := link.NewPipe(s.Core, link.PipeConfig{PeerCore: c, Names: [2]string{"ringo0", "tester0"}})
	require.NoError(t, err)
	require.NoError(t, ringoEnd.Dev.Up())
	require.NoError(t, testerEnd.Dev.Up())
	require.NoError(t, s.IP.AddAddress(ringoEnd.Dev, netip.MustParsePrefix("10.0.0.1/24")))
	s.IP.Neigh.AddStatic(ringoEnd.Dev, netip.AddrFrom4(diffTester), testerEnd.Dev.HardwareAddr)
	r := &diffRig{name: "ringo", t: t, dev: testerEnd.Dev, peerMAC: ringoEnd.Dev.HardwareAddr}
	c.AddPacketType(header.EtherTypeIPv4, r.capture)
	c.AddPacketType(header.EtherTypeARP, r.capture)
	r.settle = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, netcore.Quiesce(ctx, s.Core, c))
	}
	r.addAddress = func(prefix string) { require.NoError(t, s.IP.AddAddress(ringoEnd.Dev, netip.MustParsePrefix(prefix))) }
	r.listenPacket = s.ListenPacket
	r.listen = s.Listen
	r.neighbours = func() []string { return neighbourIPs(s) }
	r.settle()
	r.take() // the gratuitous ARP of the address (a listed divergence)
	return r
}

func neighbourIPs(s *socket.Stack) []string {
	var ips []string
	for _, e := range s.IP.Neigh.Entries() {
		ips = append(ips, e.IP.String())
	}
	slices.Sort(ips)
	return ips
}

// diffCase is one case: run drives the rig (frames and socket calls) and
// returns what is compared: the frames the target sent, normalised, and
// any socket-visible results the case records.
type diffCase struct {
	name string
	run  func(r *diffRig) []string
	// divergence, when set, says why ringo deliberately differs
	// (docs/divergences.md): the case then checks that it still does,
	// so the list cannot go stale.
	divergence string
}

// TestDifferential runs every case against Linux and ringo and compares.
func TestDifferential(t *testing.T) {
	nettest.NeedRoot(t)
	for _, dc := range diffCases() {
		t.Run(dc.name, func(t *testing.T) {
			lin := dc.run(linuxTarget(t))
			rin := dc.run(ringoTarget(t))
			if dc.divergence != "" {
				require.NotEqual(t, lin, rin, "listed as a divergence (%s) but ringo now matches Linux: take it off docs/divergences.md", dc.divergence)
				t.Logf("divergence (%s):\n  linux %q\n  ringo %q", dc.divergence, lin, rin)
				return
			}
			require.Equal(t, lin, rin, "linux (expected) against ringo (actual)")
		})
	}
}

// frames returns what the target sent since the last look, normalised.
func (r *diffRig) frames() []string {
	var out []string
	for _, f := range r.take() {
		out = append(out, r.canon(f))
	}
	return out
}

// canon describes a frame by what both stacks must agree on.
func (r *diffRig) canon(f []byte) string {
	if len(f) < header.EthernetLen {
		return "runt"
	}
	mac := func(m net.HardwareAddr) string {
		switch {
		case m.String() == r.peerMAC.String():
			return "target"
		case m.String() == r.dev.HardwareAddr.String():
			return "tester"
		case m.String() == "ff:ff:ff:ff:ff:ff":
			return "bcast"
		}
		return m.String()
	}
	dst := mac(net.HardwareAddr(f[0:6]))
	switch binary.BigEndian.Uint16(f[12:]) {
	case header.EtherTypeARP:
		a, err := header.ParseARP(f[header.EthernetLen:])
		if err != nil {
			return "arp malformed"
		}
		return fmt.Sprintf("arp to %s op %d sha %s spa %v tha %s tpa %v", dst, a.Op(), mac(a.SenderMAC()), ipv4.IP(a.SenderIP()), mac(a.TargetMAC()), ipv4.IP(a.TargetIP()))
	case header.EtherTypeIPv4:
		ip, err := header.ParseIPv4(f[header.EthernetLen:])
		if err != nil {
			return "ipv4 malformed"
		}
		s := fmt.Sprintf("ipv4 to %s %v>%v proto %d tos %d df %t", dst, ipv4.IP(ip.Src()), ipv4.IP(ip.Dst()), ip.Protocol(), ip.TOS(), ip.DontFragment())
		switch ip.Protocol() {
		case header.ProtoICMP:
			m := ip.Payload()
			if len(m) < 8 {
				return s + " icmp runt"
			}
			s += fmt.Sprintf(" icmp %d/%d", m[0], m[1])
			if m[0] == header.ICMPEchoReply {
				s += fmt.Sprintf(" id %d seq %d data %x", binary.BigEndian.Uint16(m[4:]), binary.BigEndian.Uint16(m[6:]), m[8:])
			} else if q, err := header.ParseIPv4(m[8:]); err == nil || len(m) >= 28 {
				q = header.IPv4(m[8:])
				s += fmt.Sprintf(" about %v>%v proto %d", ipv4.IP(q.Src()), ipv4.IP(q.Dst()), q.Protocol())
			}
			return s
		case header.ProtoUDP:
			u := ip.Payload()
			if len(u) < 8 {
				return s + " udp runt"
			}
			return s + fmt.Sprintf(" udp %d>%d data %x", binary.BigEndian.Uint16(u[0:]), binary.BigEndian.Uint16(u[2:]), u[8:])
		case header.ProtoTCP:
			th, err := header.ParseTCP(ip.Payload(), ip.Src(), ip.Dst())
			if err != nil {
				return s + " tcp bad"
			}
			o := th.ParsedOptions()
			s += fmt.Sprintf(" tcp %d>%d %s", th.SrcPort(), th.DstPort(), flagsString(th.Flags()))
			if th.Flags()&header.TCPFlagSYN == 0 {
				// Relative to the target's ISN once a connection is up
				// (r.isn), absolute otherwise (a RST's seq is the ACK
				// it answers).
				s += fmt.Sprintf(" seq %d", th.Seq()-r.isn)
			}
			if th.Flags()&header.TCPFlagACK != 0 {
				s += fmt.Sprintf(" ack %d", th.Ack())
			}
			if o.MSS != 0 {
				s += fmt.Sprintf(" mss %d", o.MSS)
			}
			if o.SACKOK {
				s += " sackOK"
			}
			if o.TS {
				s += " ts"
			}
			if o.WScale >= 0 {
				s += " wscale"
			}
			return s + fmt.Sprintf(" len %d", len(th.Payload()))
		}
		return s
	}
	return fmt.Sprintf("ethertype %#x", binary.BigEndian.Uint16(f[12:]))
}

func flagsString(f uint8) string {
	var n []string
	for i, name := range []string{"FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"} {
		if f&(1<<i) != 0 {
			n = append(n, name)
		}
	}
	return strings.Join(n, "|")
}

// ip builds a frame from the tester to the target's MAC carrying an IPv4
// packet with fields f (source and destination default to the tester
// and the target) and payload.
func (r *diffRig) ip(f header.IPv4Fields, payload []byte) []byte {
	if f.Src == ([4]byte{}) {
		f.Src = diffTester
	}
	if f.Dst == ([4]byte{}) {
		f.Dst = diffTarget
	}
	return stacktest.Frame(r.peerMAC, r.dev.HardwareAddr, f, payload)
}

// arp builds an ARP frame from the tester's MAC (sha, if nil) to dst.
func (r *diffRig) arp(dst net.HardwareAddr, op uint16, sha net.HardwareAddr, spa, tpa [4]byte) []byte {
	if sha == nil {
		sha = r.dev.HardwareAddr
	}
	if dst == nil {
		dst = header.Broadcast
	}
	f := make([]byte, header.EthernetMin)
	header.EncodeEthernet(f, dst, r.dev.HardwareAddr, header.EtherTypeARP)
	header.EncodeARP(f[header.EthernetLen:], header.ARPFields{Op: op, SenderMAC: sha, SenderIP: spa, TargetIP: tpa})
	return f
}

// icmp builds an ICMP message (checksum set).
func icmpMsg(typ, code uint8, rest uint32, body []byte) []byte {
	m := make([]byte, 8+len(body))
	copy(m[8:], body)
	header.EncodeICMPv4(m, typ, code, rest)
	return m
}

// udpDatagram builds a UDP datagram from the tester with a right checksum
// (or csum 0: none).
func udpDatagram(sport, dport uint16, payload []byte, noCsum bool) []byte {
	u := make([]byte, header.UDPLen+len(payload))
	binary.BigEndian.PutUint16(u[0:], sport)
	binary.BigEndian.PutUint16(u[2:], dport)
	binary.BigEndian.PutUint16(u[4:], uint16(len(u)))
	copy(u[8:], payload)
	if !noCsum {
		sum := header.PseudoHeaderSum(diffTester, diffTarget, header.ProtoUDP, len(u))
		c := header.Fold(header.Checksum(u, sum))
		if c == 0 {
			c = 0xffff
		}
		binary.BigEndian.PutUint16(u[6:], c)
	}
	return u
}

func addAddress(r *diffRig, prefix string) { r.addAddress(prefix) }

// establish makes the target listen on port and the tester connect from
// port 40002 (ISN 1000, MSS 1460, no other options); it returns the
// listener and the target's next sequence number relative to its ISN
// (1). Frames from then on show the target's sequence numbers relative
// to its ISN.
func (r *diffRig) establish(port uint16) net.Listener {
	r.t.Helper()
	l, err := r.listen("tcp4", fmt.Sprintf(":%d", port))
	require.NoError(r.t, err)
	syn := stacktest.Segment(header.TCPFields{SrcPort: 40002, DstPort: port, Seq: 1000, Flags: header.TCPFlagSYN, Window: 64240, MSS: 1460, WScale: -1}, diffTester, diffTarget, nil)
	r.send(r.ip(header.IPv4Fields{Protocol: header.ProtoTCP}, syn))
	var isn uint32
	found := false
	for _, f := range r.take() {
		if ip, err := header.ParseIPv4(f[header.EthernetLen:]); err == nil && ip.Protocol() == header.ProtoTCP {
			th := header.TCP(ip.Payload())
			isn, found = th.Seq(), true
		}
	}
	require.True(r.t, found, "no SYN-ACK")
	r.isn = isn
	ack := stacktest.Segment(header.TCPFields{SrcPort: 40002, DstPort: port, Seq: 1001, Ack: isn + 1, Flags: header.TCPFlagACK, Window: 64240, WScale: -1}, diffTester, diffTarget, nil)
	r.send(r.ip(header.IPv4Fields{Protocol: header.ProtoTCP}, ack))
	r.take()
	return l
}
