package stacktest

import (
	"net/netip"
	"testing"

	"github.com/ringonet/ringo/netcore/internal/nettest"
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
