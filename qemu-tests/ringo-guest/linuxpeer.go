package main

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// LinuxPeerReport is what the Linux-kernel peer reports.
type LinuxPeerReport struct {
	Driver string
	Pings  map[int]PingResult // size -> result
	TCP    *TCPEchoResult     `json:",omitempty"`
	// Over IPv6, with ringo.peerip6 and ringo.target6 (ringo.tcp6).
	Pings6 map[int]PingResult `json:",omitempty"`
	TCP6   *TCPEchoResult     `json:",omitempty"`
	// With ringo.mcast6=GROUP: pings to ff02::1, which ringo joined,
	// after as many to GROUP, which it did not.
	Mcast6         *PingResult `json:",omitempty"`
	Mcast6Unjoined int         `json:",omitempty"`
	// With ringo.linklocal6=ADDR: pings to ringo's link-local address.
	LinkLocal6 *PingResult `json:",omitempty"`
	// With ringo.http6=URL: what a GET of it gave.
	HTTP6 *HTTPResult `json:",omitempty"`
	// With ringo.udp=ADDR:PORT/N: N datagrams of each of 64, 1400 and
	// 4000 bytes (fragmented) to a UDP echo service, and what came back.
	UDP *UDPEchoResult `json:",omitempty"`
}

// UDPEchoResult counts datagrams sent to an echo service and the echoes
// that came back whole.
type UDPEchoResult struct {
	Sent, Echoed int
	Err          string `json:",omitempty"`
}

// udpEcho sends n datagrams of each size to addr, one at a time, and
// counts the echoes that match.
func udpEcho(addr string, n int) UDPEchoResult {
	var r UDPEchoResult
	c, err := net.Dial("udp", addr)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	defer c.Close()
	buf := make([]byte, 65536)
	for _, size := range []int{64, 1400, 4000} {
		msg := make([]byte, size)
		for i := range n {
			msg[0], msg[size-1] = byte(i), byte(size)
			r.Sent++
			if _, err := c.Write(msg); err != nil {
				r.Err = err.Error()
				return r
			}
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			m, err := c.Read(buf)
			if err == nil && bytes.Equal(buf[:m], msg) {
				r.Echoed++
			}
		}
	}
	return r
}

// HTTPResult is one HTTP GET.
type HTTPResult struct {
	Status int
	Body   string
	Err    string `json:",omitempty"`
}

// TCPEchoResult is a transfer through a TCP echo server: what went out,
// what came back, whether they matched.
type TCPEchoResult struct {
	Bytes, Back int64
	Match       bool
	Seconds     float64
	Err         string `json:",omitempty"`
}

// linuxPeer runs the kernel's own NIC drivers and stack: load e1000 (or
// ne2k-pci), give eth0 ringo.peerip, then ping ringo.target with each size
// in ringo.sizes (ringo.count each) from the kernel's ICMP socket; the
// same over IPv6 with ringo.peerip6 and ringo.target6.
func linuxPeer(args map[string]string) error {
	ifname, drv, err := kernelNIC(args["ringo.peerip"], 0)
	if err != nil {
		return err
	}
	if mtu := args["ringo.mtu"]; mtu != "" { // jumbo frames: ip link set dev mtu N
		if out, err := exec.Command("ip", "link", "set", "dev", ifname, "mtu", mtu).CombinedOutput(); err != nil {
			return fmt.Errorf("ip link set mtu %s: %v: %s", mtu, err, out)
		}
	}
	if p6 := args["ringo.peerip6"]; p6 != "" {
		sysctl("net.ipv6.conf."+ifname+".accept_dad", "0")
		if out, err := exec.Command("ip", "addr", "add", p6, "dev", ifname).CombinedOutput(); err != nil {
			return fmt.Errorf("ip addr add %s: %v: %s", p6, err, out)
		}
	}
	if spec := args["ringo.vlan"]; spec != "" {
		if err := linuxVLAN(ifname, spec); err != nil {
			return err
		}
	}
	report(map[string]string{"phase": "ready"})
	count := atoiDefault(args["ringo.count"], 5)
	rep := LinuxPeerReport{Driver: drv, Pings: map[int]PingResult{}}
	if err := pingAll(args, count, &rep); err != nil {
		return err
	}
	if spec := args["ringo.tcp"]; spec != "" {
		addr, n, _ := strings.Cut(spec, "/")
		r := tcpEcho("tcp4", addr, int64(atoiDefault(n, 1<<20)))
		rep.TCP = &r
	}
	if spec := args["ringo.udp"]; spec != "" {
		addr, n, _ := strings.Cut(spec, "/")
		r := udpEcho(addr, atoiDefault(n, 20))
		rep.UDP = &r
	}
	if err := ipv6Peer(args, ifname, count, &rep); err != nil {
		return err
	}
	report(rep)
	return nil
}

// pingAll pings ringo.target with each of ringo.sizes, count times.
func pingAll(args map[string]string, count int, rep *LinuxPeerReport) error {
	if args["ringo.target"] == "" {
		return nil
	}
	target := net.ParseIP(args["ringo.target"])
	c, err := icmp.ListenPacket("ip4:icmp", "0.0.0.0")
	if err != nil {
		return err
	}
	defer c.Close()
	// ringo comes up after us: wait for it to answer at all.
	start := time.Now()
	for time.Since(start) < 60*time.Second {
		if _, err := echo(c, target, 1, 56, 999); err == nil {
			break
		}
	}
	for _, sz := range strings.Split(args["ringo.sizes"], ",") {
		size := atoiDefault(sz, 56)
		var r PingResult
		for i := 0; i < count; i++ {
			r.Sent++
			rtt, err := echo(c, target, i+1, size, 1000+size)
			if err != nil {
				r.Err = err.Error()
				continue
			}
			r.Received++
			r.RTTs = append(r.RTTs, float64(rtt.Microseconds())/1000)
		}
		rep.Pings[size] = r
	}
	return nil
}

// ipv6Peer is the IPv6 part: pings (ringo.target6, ringo.linklocal6,
// ringo.mcast6), the TCP echo (ringo.tcp6), an HTTP GET (ringo.http6).
func ipv6Peer(args map[string]string, ifname string, count int, rep *LinuxPeerReport) error {
	if t6 := args["ringo.target6"]; t6 != "" {
		rep.Pings6 = map[int]PingResult{}
		c6, err := icmp.ListenPacket("ip6:ipv6-icmp", "::")
		if err != nil {
			return err
		}
		defer c6.Close()
		target := net.ParseIP(t6)
		for start := time.Now(); time.Since(start) < 60*time.Second; {
			if _, err := echo6(c6, target, 1, 56, 998); err == nil {
				break
			}
		}
		for _, sz := range strings.Split(args["ringo.sizes"], ",") {
			size := atoiDefault(sz, 56)
			var r PingResult
			for i := 0; i < count; i++ {
				r.Sent++
				rtt, err := echo6(c6, target, i+1, size, 2000+size)
				if err != nil {
					r.Err = err.Error()
					continue
				}
				r.Received++
				r.RTTs = append(r.RTTs, float64(rtt.Microseconds())/1000)
			}
			rep.Pings6[size] = r
		}
		if ll := args["ringo.linklocal6"]; ll != "" {
			var r PingResult
			for i := 0; i < count; i++ {
				r.Sent++
				rtt, err := echoVia(c6, net.ParseIP(ll), i+1, 56, 4000, ipv6.ICMPTypeEchoRequest, ipv6.ICMPTypeEchoReply, 58, ifname)
				if err != nil {
					r.Err = err.Error()
					continue
				}
				r.Received++
				r.RTTs = append(r.RTTs, float64(rtt.Microseconds())/1000)
			}
			rep.LinkLocal6 = &r
		}
		if g := args["ringo.mcast6"]; g != "" {
			// First the group ringo's NIC must filter out, then the one it
			// must let through: when ringo has its answers, the others
			// have crossed the link before them.
			unjoined := &net.IPAddr{IP: net.ParseIP(g), Zone: ifname}
			msg := icmp.Message{Type: ipv6.ICMPTypeEchoRequest, Body: &icmp.Echo{ID: 7, Seq: 1, Data: make([]byte, 56)}}
			b, _ := msg.Marshal(nil)
			for i := 0; i < count; i++ {
				if _, err := c6.WriteTo(b, unjoined); err == nil {
					rep.Mcast6Unjoined++
				}
			}
			var r PingResult
			for i := 0; i < count; i++ {
				r.Sent++
				rtt, err := echoVia(c6, net.ParseIP("ff02::1"), i+1, 56, 3000, ipv6.ICMPTypeEchoRequest, ipv6.ICMPTypeEchoReply, 58, ifname)
				if err != nil {
					r.Err = err.Error()
					continue
				}
				r.Received++
				r.RTTs = append(r.RTTs, float64(rtt.Microseconds())/1000)
			}
			rep.Mcast6 = &r
		}
		if spec := args["ringo.tcp6"]; spec != "" {
			addr, n, _ := strings.Cut(spec, "/")
			r := tcpEcho("tcp6", addr, int64(atoiDefault(n, 1<<20)))
			rep.TCP6 = &r
		}
	}
	if u := args["ringo.http6"]; u != "" {
		var r HTTPResult
		resp, err := (&http.Client{Timeout: 30 * time.Second}).Get(u)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			r.Status, r.Body = resp.StatusCode, string(b)
		} else {
			r.Err = err.Error()
		}
		rep.HTTP6 = &r
	}
	return nil
}

// tcpEcho sends n seeded bytes through the kernel's TCP to an echo server
// at addr while reading the echo back, and compares SHA-256.
func tcpEcho(network, addr string, n int64) TCPEchoResult {
	r := TCPEchoResult{Bytes: n}
	start := time.Now()
	c, err := net.DialTimeout(network, addr, 30*time.Second)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Minute))
	data := make([]byte, n)
	rand.NewChaCha8([32]byte{9}).Read(data)
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(data)
		c.(*net.TCPConn).CloseWrite()
		werr <- err
	}()
	h := sha256.New()
	r.Back, err = io.Copy(h, c)
	if err == nil {
		err = <-werr
	}
	if err != nil {
		r.Err = err.Error()
	}
	r.Match = r.Back == n && [32]byte(h.Sum(nil)) == sha256.Sum256(data)
	r.Seconds = time.Since(start).Seconds()
	return r
}

// loadModules loads kernel modules the initramfs carries, in order.
func loadModules(names ...string) error {
	for _, m := range names {
		if err := loadModule(m, ""); err != nil {
			return err
		}
	}
	return nil
}

// loadModule loads /lib/modules/ringo/name.ko with params ("RxDescriptors=1024");
// one already loaded is left as it is.
func loadModule(name, params string) error {
	f, err := os.Open(filepath.Join("/lib/modules/ringo", name+".ko"))
	if err != nil {
		return err
	}
	err = unix.FinitModule(int(f.Fd()), params, 0)
	f.Close()
	if err != nil && err != unix.EEXIST {
		return fmt.Errorf("load %s: %w", name, err)
	}
	return nil
}

// echo sends one echo request through the kernel and waits for its reply.
func echo(c *icmp.PacketConn, dst net.IP, seq, size, id int) (time.Duration, error) {
	return echoVia(c, dst, seq, size, id, ipv4.ICMPTypeEcho, ipv4.ICMPTypeEchoReply, 1, "")
}

// echo6 is echo over ICMPv6 (the kernel computes the checksum).
func echo6(c *icmp.PacketConn, dst net.IP, seq, size, id int) (time.Duration, error) {
	return echoVia(c, dst, seq, size, id, ipv6.ICMPTypeEchoRequest, ipv6.ICMPTypeEchoReply, 58, "")
}

func echoVia(c *icmp.PacketConn, dst net.IP, seq, size, id int, req, rep icmp.Type, proto int, zone string) (time.Duration, error) {
	msg := icmp.Message{Type: req, Body: &icmp.Echo{ID: id, Seq: seq, Data: make([]byte, size)}}
	b, err := msg.Marshal(nil)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	if _, err := c.WriteTo(b, &net.IPAddr{IP: dst, Zone: zone}); err != nil {
		return 0, err
	}
	buf := make([]byte, 70000)
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	for {
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			return 0, err
		}
		m, err := icmp.ParseMessage(proto, buf[:n])
		if err != nil {
			continue
		}
		if e, ok := m.Body.(*icmp.Echo); ok && m.Type == rep && e.Seq == seq && len(e.Data) == size {
			return time.Since(start), nil
		}
	}
}

// linuxVLAN is `ip link add link IF name IF.ID type vlan id ID` and an
// address on it, for ringo.vlan=ID:ADDR/LEN: Linux's own 802.1Q (8021q.ko)
// as ringo's VLAN devices' peer. Through netlink: u-root's ip makes VLAN
// links without an id.
func linuxVLAN(ifname, spec string) error {
	id, addr, ok := strings.Cut(spec, ":")
	vid := atoiDefault(id, 0)
	if !ok || vid < 1 || vid > 4094 {
		return fmt.Errorf("ringo.vlan=%q: want ID:ADDR/LEN", spec)
	}
	if err := loadModules("llc", "stp", "garp", "mrp", "8021q"); err != nil {
		return err
	}
	parent, err := netlink.LinkByName(ifname)
	if err != nil {
		return err
	}
	name := fmt.Sprintf("%s.%d", ifname, vid)
	v := &netlink.Vlan{LinkAttrs: netlink.LinkAttrs{Name: name, ParentIndex: parent.Attrs().Index}, VlanId: vid}
	if err := netlink.LinkAdd(v); err != nil {
		return fmt.Errorf("vlan %s: %w", name, err)
	}
	a, err := netlink.ParseAddr(addr)
	if err != nil {
		return err
	}
	if err := netlink.AddrAdd(v, a); err != nil {
		return fmt.Errorf("vlan %s: address %s: %w", name, addr, err)
	}
	return netlink.LinkSetUp(v)
}
