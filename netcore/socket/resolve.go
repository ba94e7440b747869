package socket

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
)

// DNS: Go's own resolver does the protocol (queries, retries, TCP after
// a truncated answer, search lists, /etc/hosts); ringo gives it a dialer
// that reaches the stack's name servers through ringo. The servers come
// from a DHCP lease or the configuration, never from the host's
// /etc/resolv.conf (whose addresses the resolver still names when it
// dials: ringo's dialer puts its own in their place).

// ErrNoNameservers is returned for a host name when no DNS server is set.
var ErrNoNameservers = errors.New("socket: no DNS servers (set them with SetNameservers: a DHCP lease's, or ringo.dns=)")

// SetNameservers sets the DNS servers host names are resolved with, in
// the order to ask them.
func (s *Stack) SetNameservers(servers ...netip.Addr) {
	s.dnsMu.Lock()
	s.dns = append([]netip.Addr(nil), servers...)
	s.dnsMu.Unlock()
}

// Nameservers are the DNS servers set.
func (s *Stack) Nameservers() []netip.Addr {
	s.dnsMu.Lock()
	defer s.dnsMu.Unlock()
	return append([]netip.Addr(nil), s.dns...)
}

// Resolver is Go's resolver asking the stack's name servers through
// ringo: LookupNetIP, LookupHost, LookupMX and the rest work as with Go's
// net.
func (s *Stack) Resolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: s.dialNameserver}
}

// dialNameserver is the resolver's Dial: each call (one per server and
// attempt the resolver makes) goes to the next of the stack's servers.
func (s *Stack) dialNameserver(ctx context.Context, network, _ string) (net.Conn, error) {
	s.dnsMu.Lock()
	if len(s.dns) == 0 {
		s.dnsMu.Unlock()
		return nil, ErrNoNameservers
	}
	server := s.dns[s.dnsNext%len(s.dns)]
	s.dnsNext++
	s.dnsMu.Unlock()
	return s.DialContext(ctx, network, netip.AddrPortFrom(server, 53).String())
}

// LookupNetIP resolves host through the stack's name servers to the
// addresses of the family network names ("ip", "ip4", "ip6", or a
// dial network: tcp4 is IPv4 only), those the stack has a route for
// first.
func (s *Stack) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	servers := s.Nameservers()
	if len(servers) == 0 {
		return nil, fmt.Errorf("socket: resolve %q: %w", host, ErrNoNameservers)
	}
	want := "ip"
	switch network[len(network)-1] {
	case '4':
		want = "ip4"
	case '6':
		want = "ip6"
	}
	addrs, err := s.Resolver().LookupNetIP(ctx, want, host)
	if err != nil {
		// The resolver's error names the server of the host's
		// resolv.conf, which ringo's dialer stood in for: say which.
		return nil, fmt.Errorf("socket: resolve %q (asking %v through ringo): %w", host, servers, err)
	}
	var routed, rest []netip.Addr
	for _, a := range addrs {
		a = a.Unmap()
		if s.routable(a) {
			routed = append(routed, a)
		} else {
			rest = append(rest, a)
		}
	}
	return append(routed, rest...), nil
}

func (s *Stack) routable(a netip.Addr) bool {
	if a.Is4() {
		_, ok := s.IP.Lookup(a.As4())
		return ok
	}
	_, ok := s.IP6.Lookup(a, nil)
	return ok
}

// dialName dials host:port at each of host's addresses in turn until
// one answers (RFC 8305's fallback without the racing).
func (s *Stack) dialName(ctx context.Context, network, host string, port int) (net.Conn, error) {
	addrs, err := s.LookupNetIP(ctx, network, host)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, a := range addrs {
		c, err := s.DialContext(ctx, network, net.JoinHostPort(a.String(), strconv.Itoa(port)))
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("socket: dial %s %s: %w", network, host, errors.Join(errs...))
}
