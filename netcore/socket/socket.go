// Package socket is the face ringo shows Go programs: a Stack over one or
// more net devices whose ListenPacket, Dial and DialUDP return values that
// implement the standard library's net interfaces.
package socket

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"sync"

	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/ipv4"
	"github.com/ringonet/ringo/netcore/ipv6"
	"github.com/ringonet/ringo/netcore/tcp"
	"github.com/ringonet/ringo/netcore/udp"
)

// Stack is a network stack over a netcore.Core: IPv4 (with ARP and
// ICMP), IPv6 (with ICMPv6 and neighbour discovery), UDP and TCP.
type Stack struct {
	Core *netcore.Core
	IP   *ipv4.Stack
	IP6  *ipv6.Stack // devices take part once IP6.Enable gives them a link-local address
	UDP  *udp.Table
	TCP  *tcp.Table

	dnsMu   sync.Mutex
	dns     []netip.Addr
	dnsNext int
}

// Config sets up the protocols; the zero value is Linux's defaults.
type Config struct {
	IP  ipv4.Config
	IP6 ipv6.Config
	TCP tcp.Config
}

// New builds the protocols over c.
func New(c *netcore.Core, cfg Config) (*Stack, error) {
	ip, err := ipv4.New(c, cfg.IP)
	if err != nil {
		return nil, err
	}
	if cfg.IP6.Logger == nil {
		cfg.IP6.Logger = cfg.IP.Logger
	}
	s := &Stack{Core: c, IP: ip, IP6: ipv6.New(c, cfg.IP6), UDP: udp.New(ip), TCP: tcp.New(ip, cfg.TCP)}
	s.TCP.AttachIPv6(s.IP6)
	s.UDP.AttachIPv6(s.IP6)
	return s, nil
}

// Listen is net.Listen on ringo: "tcp" on ":port" or "[::]:port" takes
// both IP versions (IPv4 peers seen as IPv4 addresses, as Go shows them),
// "tcp4" and "tcp6" one.
func (s *Stack) Listen(network, address string) (net.Listener, error) {
	only, err := family(network, "tcp")
	if err != nil {
		return nil, err
	}
	a, err := resolveUDP(address)
	if err != nil {
		return nil, err
	}
	if a.IP != nil && only == 0 && a.IP.To4() != nil && a.IP.IsUnspecified() {
		only = 4
	}
	return s.TCP.ListenFamily(&net.TCPAddr{IP: a.IP, Port: a.Port, Zone: a.Zone}, only)
}

// family reads "tcp", "tcp4", "tcp6" (or udp's): 0 for both versions.
func family(network, proto string) (int, error) {
	switch network {
	case proto:
		return 0, nil
	case proto + "4":
		return 4, nil
	case proto + "6":
		return 6, nil
	}
	return 0, fmt.Errorf("socket: %s: unsupported network", network)
}

// DialContext is net.Dialer.DialContext on ringo for "tcp" and "udp"
// (what an http.Transport wants). A host name is resolved through the
// stack's name servers (SetNameservers) and each address tried in turn.
func (s *Stack) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	if host, port, ok := hostName(address); ok {
		switch network {
		case "tcp", "tcp4", "tcp6", "udp", "udp4", "udp6":
			return s.dialName(ctx, network, host, port)
		}
		return nil, fmt.Errorf("socket: %s: unsupported network", network)
	}
	switch network {
	case "tcp", "tcp4", "tcp6":
		a, err := resolveUDP(address)
		if err != nil {
			return nil, err
		}
		if a.IP == nil {
			return nil, fmt.Errorf("socket: dial %q: no host", address)
		}
		if v4 := a.IP.To4() != nil; network == "tcp4" && !v4 || network == "tcp6" && v4 {
			return nil, fmt.Errorf("socket: dial %s %q: wrong IP version", network, address)
		}
		return s.TCP.Dial(ctx, &net.TCPAddr{IP: a.IP, Port: a.Port, Zone: a.Zone})
	}
	only, err := family(network, "udp")
	if err != nil {
		return nil, err
	}
	ra, err := resolveUDP(address)
	if err != nil {
		return nil, err
	}
	if v4 := ra.IP.To4() != nil; only == 4 && !v4 || only == 6 && v4 {
		return nil, fmt.Errorf("socket: dial %s %q: wrong IP version", network, address)
	}
	return s.UDP.Dial(nil, ra)
}

// hostName splits "name:port" whose host is a name, not an address.
func hostName(address string) (string, int, bool) {
	host, port, err := net.SplitHostPort(address)
	if err != nil || host == "" {
		return "", 0, false
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return "", 0, false
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return "", 0, false
	}
	return host, p, true
}

// Close stops the protocol timers (the core is the caller's).
func (s *Stack) Close() {
	s.IP.Close()
	s.IP6.Close()
}

// ListenPacket is net.ListenPacket on ringo: network "udp" (both IP
// versions on an empty or :: host), "udp4" or "udp6", address
// "host:port".
func (s *Stack) ListenPacket(network, address string) (net.PacketConn, error) {
	only, err := family(network, "udp")
	if err != nil {
		return nil, err
	}
	la, err := resolveUDP(address)
	if err != nil {
		return nil, err
	}
	if la.IP != nil && only == 0 && la.IP.To4() != nil && la.IP.IsUnspecified() {
		only = 4
	}
	return s.UDP.ListenFamily(la, only)
}

// ListenUDP is net.ListenUDP on ringo.
func (s *Stack) ListenUDP(laddr *net.UDPAddr) (*udp.Conn, error) { return s.UDP.Listen(laddr) }

// DialUDP is net.DialUDP on ringo.
func (s *Stack) DialUDP(laddr, raddr *net.UDPAddr) (*udp.Conn, error) {
	return s.UDP.Dial(laddr, raddr)
}

// Dial is net.Dial on ringo for "udp", "udp4", "udp6", "tcp", "tcp4" and
// "tcp6"; the host is an address or a name.
func (s *Stack) Dial(network, address string) (net.Conn, error) {
	return s.DialContext(context.Background(), network, address)
}

// resolveUDP parses a numeric "host:port" (DialContext resolves names);
// an IPv6 host is in brackets, a link-local one with its zone
// ("[fe80::1%eth0]:80").
func resolveUDP(address string) (*net.UDPAddr, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, fmt.Errorf("socket: address %q: %w", address, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return nil, fmt.Errorf("socket: address %q: bad port", address)
	}
	a := &net.UDPAddr{Port: p}
	if host != "" {
		ip, err := netip.ParseAddr(host)
		if err != nil {
			return nil, fmt.Errorf("socket: address %q: not a numeric IP host", address)
		}
		a.IP, a.Zone = net.IP(ip.Unmap().AsSlice()), ip.Zone()
	}
	return a, nil
}

// WriteSNMP prints Ip:, Icmp:, Udp: and Tcp: in /proc/net/snmp's layout,
// then TcpExt: as /proc/net/netstat has it.
func (s *Stack) WriteSNMP(w io.Writer) error {
	if err := s.IP.WriteSNMP(w); err != nil {
		return err
	}
	if err := ipv4.WriteGroup(w, "Udp", &s.UDP.Stats); err != nil {
		return err
	}
	if err := ipv4.WriteGroup(w, "Tcp", &s.TCP.Stats); err != nil {
		return err
	}
	return ipv4.WriteGroup(w, "TcpExt", &s.TCP.Ext)
}

// WriteSNMP6 prints /proc/net/snmp6.
func (s *Stack) WriteSNMP6(w io.Writer) error { return s.IP6.WriteSNMP6(w) }
