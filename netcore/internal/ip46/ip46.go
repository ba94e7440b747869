// Package ip46 holds the address helpers both transports use to serve
// IPv4 and IPv6 from one table: addresses are 16 bytes, an IPv4 one in
// its mapped form (::ffff:a.b.c.d, RFC 4291 2.5.5.2), as Linux's dual
// stack keeps them.
package ip46

import (
	"net"
	"net/netip"

	"github.com/ringonet/ringo/netcore"
)

// Mapped is a's 16-byte form.
func Mapped(a [4]byte) [16]byte { return netip.AddrFrom4(a).As16() }

// Is4 reports whether a is an IPv4 address in mapped form.
func Is4(a [16]byte) bool {
	return a[10] == 0xff && a[11] == 0xff && [10]byte(a[:10]) == [10]byte{}
}

// As4 is the IPv4 address in a mapped a.
func As4(a [16]byte) [4]byte { return [4]byte(a[12:]) }

// IP is a as a net.IP: 4 bytes for IPv4, as Go's net shows them.
func IP(a [16]byte) net.IP {
	if Is4(a) {
		return net.IP{a[12], a[13], a[14], a[15]}
	}
	return net.IP(append([]byte(nil), a[:]...))
}

// Zone is the zone of a link-local IPv6 address reached through dev.
func Zone(a [16]byte, dev *netcore.Device) string {
	if dev != nil && !Is4(a) && netip.AddrFrom16(a).IsLinkLocalUnicast() {
		return dev.Name
	}
	return ""
}

// LinkLocal reports whether a is a link-local IPv6 address (its peer is
// named by address and device).
func LinkLocal(a [16]byte) bool { return !Is4(a) && netip.AddrFrom16(a).IsLinkLocalUnicast() }

// Addr is a as a netip.Addr, IPv4 unmapped.
func Addr(a [16]byte) netip.Addr { return netip.AddrFrom16(a).Unmap() }
