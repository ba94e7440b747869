package ipv4

import (
	"net"

	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/skb"
)

// loopback is the "lo" device: what it sends comes back through netif_rx
// on the same CPU's backlog, as Linux's loopback_xmit does.
type loopback struct{ dev *netcore.Device }

func newLoopback(c *netcore.Core) (*netcore.Device, error) {
	l := &loopback{}
	var err error
	l.dev, err = c.Register(netcore.DeviceConfig{Name: "lo", HardwareAddr: net.HardwareAddr{0, 0, 0, 0, 0, 0}, MTU: 65536 - 20 - 14, Kind: "loopback"}, l)
	if err != nil {
		return nil, err
	}
	return l.dev, l.dev.Up()
}

func (l *loopback) Open() error { l.dev.NetifCarrierOn(); return nil }
func (l *loopback) Stop() error { return nil }

func (l *loopback) StartXmit(b *skb.Buff) netcore.TxStatus {
	b.Priority, b.Hash = 0, 0
	if !l.dev.EthTypeTrans(b) {
		b.Free()
		return netcore.TxOK
	}
	b.PktType = skb.PacketHost
	l.dev.NetifRx(b)
	return netcore.TxOK
}
