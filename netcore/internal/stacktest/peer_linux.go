package stacktest

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ringonet/ringo/netcore/internal/nettest"
	"github.com/ringonet/ringo/netcore/ipv6"
	"github.com/ringonet/ringo/netcore/socket"
)

// LinuxPeer joins s to the Linux kernel over a TAP: the kernel's end in a
// fresh network namespace at kernelAddr, s's end up at ringoAddr. With
// plain the TAP carries no virtio-net header and offloads nothing.
func LinuxPeer(t testing.TB, s *socket.Stack, kernelAddr, ringoAddr string, plain bool) *nettest.Peer {
	t.Helper()
	newPeer := nettest.NewOffloadPeer
	if plain {
		newPeer = nettest.NewPeer
	}
	p := newPeer(t, s.Core, kernelAddr)
	if err := p.TAP.Dev.Up(); err != nil {
		t.Fatal(err)
	}
	if err := s.IP.AddAddress(p.TAP.Dev, netip.MustParsePrefix(ringoAddr)); err != nil {
		t.Fatal(err)
	}
	return p
}

// AddIPv6 gives both ends of p an IPv6 address (the kernel's without DAD)
// and waits for ringo's, and its link-local one, to pass DAD. It returns
// the kernel's link-local address.
func AddIPv6(t testing.TB, s *socket.Stack, p *nettest.Peer, kernelAddr, ringoAddr string) netip.Addr {
	t.Helper()
	nettest.Run(t, "ip", "-n", p.NS, "addr", "add", kernelAddr, "dev", p.IfName, "nodad")
	if err := s.IP6.AddAddress(p.TAP.Dev, netip.MustParsePrefix(ringoAddr)); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	for {
		ch := s.IP6.Changed()
		ready := 0
		for _, a := range s.IP6.Addrs() {
			if a.Dev == p.TAP.Dev && a.State == ipv6.Preferred {
				ready++
			}
		}
		if ready >= 2 {
			break
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("ringo's IPv6 addresses not ready: %v", s.IP6.Addrs())
		}
	}
	for _, f := range strings.Fields(nettest.Run(t, "ip", "-n", p.NS, "-6", "addr", "show", "dev", p.IfName, "scope", "link")) {
		if a, err := netip.ParsePrefix(f); err == nil && a.Addr().IsLinkLocalUnicast() {
			return a.Addr()
		}
	}
	t.Fatal("the kernel has no link-local address")
	return netip.Addr{}
}
