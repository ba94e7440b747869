package appliance

import (
	"log/slog"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParse(t *testing.T) {
	c, warn := Parse("console=ttyS0 ringo.ip=10.0.2.15/24 ringo.gw=10.0.2.2 ringo.mode=poll ringo.ring=64 ringo.echo=0 ringo.dhcp=eth1 ringo.log=debug quiet")
	assert.Empty(t, warn)
	assert.Equal(t, netip.MustParsePrefix("10.0.2.15/24"), c.Addrs["eth0"])
	assert.Equal(t, netip.MustParseAddr("10.0.2.2"), c.Gateway)
	assert.True(t, c.BusyPoll)
	assert.Equal(t, 64, c.Ring)
	assert.Equal(t, 0, c.EchoPort)
	assert.True(t, c.DHCP["eth1"])
	assert.Equal(t, slog.LevelDebug, c.LogLevel)

	c, warn = Parse("ringo.ip=eth0:10.0.3.2/24,eth1:10.0.2.15/24 ringo.nic=0000:00:02.0,0000:00:03.0 ringo.dhcp=1")
	assert.Empty(t, warn)
	assert.Len(t, c.Addrs, 2)
	assert.Equal(t, []string{"0000:00:02.0", "0000:00:03.0"}, c.NICs)
	assert.True(t, c.DHCP["eth0"])
	assert.False(t, c.VFIOPortIO)

	c, warn = Parse("ringo.itr=-1")
	assert.Empty(t, warn)
	assert.Equal(t, -1, c.InterruptRate)
	c, warn = Parse("ringo.itr=8000")
	assert.Empty(t, warn)
	assert.Equal(t, 8000, c.InterruptRate)
	c, warn = Parse("ringo.itr=-2")
	assert.Len(t, warn, 1)
	assert.Zero(t, c.InterruptRate, "adaptive unless set")

	c, warn = Parse("ringo.dns=10.0.2.3,2001:db8::53")
	assert.Empty(t, warn)
	assert.Equal(t, []netip.Addr{netip.MustParseAddr("10.0.2.3"), netip.MustParseAddr("2001:db8::53")}, c.DNS)
	_, warn = Parse("ringo.dns=resolver.example")
	assert.Len(t, warn, 1)
	c, warn = Parse("ringo.vlan=eth0.100,eth1.7 ringo.ip=eth0.100:10.0.100.2/24")
	assert.Empty(t, warn)
	assert.Equal(t, []string{"eth0.100", "eth1.7"}, c.VLANs)
	assert.Equal(t, netip.MustParsePrefix("10.0.100.2/24"), c.Addrs["eth0.100"])
	c, warn = Parse("ringo.mtu=eth0:9000,eth1:x ringo.rsskey=00")
	assert.Len(t, warn, 2, "a bad MTU spec and a key of one byte: %v", warn)
	assert.Equal(t, map[string]int{"eth0": 9000}, c.MTUs)
	assert.Nil(t, c.RSSKey)
	_, warn = Parse("ringo.vlan=eth0.0,eth0,eth0.4095")
	assert.Len(t, warn, 3)
	c, warn = Parse("ringo.portio=vfio")
	assert.Empty(t, warn)
	assert.True(t, c.VFIOPortIO)
	_, warn = Parse("ringo.portio=magic")
	assert.Len(t, warn, 1)
}

// IPv6 addresses and gateways sit beside the IPv4 ones.
func TestParseIPv6(t *testing.T) {
	c, warn := Parse("ringo.ip=10.0.2.15/24,2001:db8::10/64,eth1:2001:db8:1::5/64 ringo.gw=fe80::1")
	assert.Empty(t, warn)
	assert.Equal(t, netip.MustParsePrefix("10.0.2.15/24"), c.Addrs["eth0"])
	assert.Equal(t, netip.MustParsePrefix("2001:db8::10/64"), c.Addrs6["eth0"])
	assert.Equal(t, netip.MustParsePrefix("2001:db8:1::5/64"), c.Addrs6["eth1"])
	assert.Equal(t, netip.MustParseAddr("fe80::1"), c.Gateway6)
	assert.True(t, c.IPv6, "on by default")
	c, warn = Parse("ringo.ipv6=0")
	assert.Empty(t, warn)
	assert.False(t, c.IPv6)
}

// Bad values: a warning each, defaults kept, never a crash.
func TestParseBadValues(t *testing.T) {
	c, warn := Parse("ringo.ip=10.0.2.1500/24 ringo.gw=fe80::zz ringo.mode=turbo ringo.ring=100 ringo.cpus=-3 ringo.echo=99999 ringo.log=loud ringo.ip=eth0:x")
	assert.Len(t, warn, 8)
	d := Defaults()
	assert.Empty(t, c.Addrs)
	assert.False(t, c.Gateway.IsValid())
	assert.False(t, c.BusyPoll)
	assert.Equal(t, d.Ring, c.Ring)
	assert.Equal(t, d.CPUs, c.CPUs)
	assert.Equal(t, d.EchoPort, c.EchoPort)
	assert.Equal(t, slog.LevelInfo, c.LogLevel)
	assert.Contains(t, warn[0], `ringo.ip="10.0.2.1500/24"`)
}
