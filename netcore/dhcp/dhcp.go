// Package dhcp is a DHCPv4 client (RFC 2131) for ringo devices. Like
// Linux's dhclient it works at the link layer, before the device has an
// address: replies are caught by a netcore tap (a packet socket) and
// requests leave as whole frames. The message format is
// github.com/insomniacslk/dhcp's dhcpv4, the library u-root uses.
package dhcp

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"

	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/netcore/ipv4"
	"github.com/ringonet/ringo/netcore/skb"
)

const (
	clientPort = 68
	serverPort = 67
)

// Lease is what the server granted.
type Lease struct {
	Addr     netip.Prefix
	Router   netip.Addr
	DNS      []netip.Addr
	Server   netip.Addr
	Obtained time.Time
	Lease    time.Duration
	T1, T2   time.Duration
	ack      *dhcpv4.DHCPv4
}

func (l *Lease) String() string {
	return fmt.Sprintf("%s via %s from %s for %v", l.Addr, l.Router, l.Server, l.Lease)
}

// Client configures one device.
type Client struct {
	dev *netcore.Device
	ip  *ipv4.Stack
	log *slog.Logger

	replies chan *dhcpv4.DHCPv4
	remove  func()

	mu    sync.Mutex
	lease *Lease

	// Retry schedule for a request without answer: RFC 2131 4.1 asks for
	// about 4 s doubling to 64 s; tests shorten it.
	Retry    time.Duration
	MaxTries int
}

// New starts listening for DHCP replies on dev.
func New(ip *ipv4.Stack, dev *netcore.Device, log *slog.Logger) *Client {
	if log == nil {
		log = slog.Default()
	}
	c := &Client{dev: dev, ip: ip, log: log, replies: make(chan *dhcpv4.DHCPv4, 8), Retry: 2 * time.Second, MaxTries: 5}
	c.remove = ip.Core().AddTap(&netcore.Tap{Func: c.tap})
	return c
}

// Close stops listening. The address stays.
func (c *Client) Close() { c.remove() }

// Lease returns the current lease, nil if none.
func (c *Client) Lease() *Lease {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lease
}

// tap picks DHCP replies for this device out of the receive path.
func (c *Client) tap(d *netcore.Device, frame []byte, dir skb.PktType, _ time.Time) {
	if d != c.dev || dir == skb.PacketOutgoing {
		return
	}
	eth, err := header.ParseEthernet(frame)
	if err != nil || eth.Type() != header.EtherTypeIPv4 {
		return
	}
	ip, err := header.ParseIPv4(frame[header.EthernetLen:])
	if err != nil || ip.Protocol() != header.ProtoUDP || ip.IsFragment() {
		return
	}
	u, err := header.ParseUDP(ip.Payload(), ip.Src(), ip.Dst())
	if err != nil || u.DstPort() != clientPort || u.SrcPort() != serverPort {
		return
	}
	m, err := dhcpv4.FromBytes(u.Payload())
	if err != nil || m.OpCode != dhcpv4.OpcodeBootReply || !bytesEqual(m.ClientHWAddr, c.dev.HardwareAddr) {
		return
	}
	select {
	case c.replies <- m:
	default:
	}
}

func bytesEqual(a, b []byte) bool { return string(a) == string(b) }

// send puts a DHCP message on the wire as a broadcast frame from src
// (0.0.0.0 before we have an address).
func (c *Client) send(m *dhcpv4.DHCPv4, src [4]byte) error {
	payload := m.ToBytes()
	n := header.EthernetLen + header.IPv4MinLen + header.UDPLen + len(payload)
	b := skb.Alloc(n)
	if b == nil {
		return fmt.Errorf("dhcp: message of %d bytes too large", len(payload))
	}
	f := b.Put(n)
	dst := [4]byte{255, 255, 255, 255}
	header.EncodeEthernet(f, header.Broadcast, c.dev.HardwareAddr, header.EtherTypeIPv4)
	header.EncodeIPv4(f[header.EthernetLen:], header.IPv4Fields{TotalLen: n - header.EthernetLen, TTL: 64, Protocol: header.ProtoUDP, Src: src, Dst: dst})
	u := f[header.EthernetLen+header.IPv4MinLen:]
	copy(u[header.UDPLen:], payload)
	header.EncodeUDP(u, clientPort, serverPort, src, dst)
	b.SetMACHeader()
	b.Dev = c.dev
	return netcore.DevQueueXmit(b)
}

// exchange sends m and waits for a reply of one of the wanted types with
// m's transaction ID, resending with backoff.
func (c *Client) exchange(ctx context.Context, m *dhcpv4.DHCPv4, src [4]byte, want ...dhcpv4.MessageType) (*dhcpv4.DHCPv4, error) {
	wait := c.Retry
	for try := 0; try < c.MaxTries; try++ {
		if err := c.send(m, src); err != nil {
			return nil, err
		}
		t := time.NewTimer(wait)
		for done := false; !done; {
			select {
			case r := <-c.replies:
				if r.TransactionID != m.TransactionID {
					continue
				}
				for _, w := range want {
					if r.MessageType() == w {
						t.Stop()
						return r, nil
					}
				}
			case <-t.C:
				done = true
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			}
		}
		wait = min(wait*2, 64*time.Second)
	}
	return nil, fmt.Errorf("dhcp: %s: no answer to %s after %d tries", c.dev.Name, m.MessageType(), c.MaxTries)
}

var requested = []dhcpv4.OptionCode{
	dhcpv4.OptionSubnetMask, dhcpv4.OptionRouter, dhcpv4.OptionDomainName, dhcpv4.OptionDomainNameServer,
}

// message builds a request the way dhcpv4.New does, but with our own
// transaction ID: dhcpv4.New reads crypto/rand, which blocks early in boot
// on a machine without a hardware RNG (QEMU TCG's default CPU has none)
// until the kernel's pool is ready — for minutes.
func message(xid dhcpv4.TransactionID, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	d := &dhcpv4.DHCPv4{
		OpCode:        dhcpv4.OpcodeBootRequest,
		HWType:        iana.HWTypeEthernet,
		ClientHWAddr:  make(net.HardwareAddr, 6),
		TransactionID: xid,
		ClientIPAddr:  net.IPv4zero,
		YourIPAddr:    net.IPv4zero,
		ServerIPAddr:  net.IPv4zero,
		GatewayIPAddr: net.IPv4zero,
		Options:       make(dhcpv4.Options),
	}
	for _, m := range mods {
		m(d)
	}
	// WithReply flips the opcode for replies to requests; ours are requests.
	d.OpCode = dhcpv4.OpcodeBootRequest
	return d
}

// newXID is a transaction ID from the runtime's non-blocking generator:
// it only has to tell our exchanges apart (RFC 2131 asks for randomness
// against collisions, not secrecy).
func newXID() dhcpv4.TransactionID {
	var x dhcpv4.TransactionID
	binary.BigEndian.PutUint32(x[:], rand.Uint32())
	return x
}

// ErrNAK is returned when the server refuses the request.
var ErrNAK = errors.New("dhcp: server sent NAK")

// Acquire runs DISCOVER, OFFER, REQUEST, ACK and applies the lease:
// address and connected route, default gateway.
func (c *Client) Acquire(ctx context.Context) (*Lease, error) {
	disc := message(newXID(),
		dhcpv4.WithHwAddr(c.dev.HardwareAddr),
		dhcpv4.WithRequestedOptions(requested...),
		dhcpv4.WithMessageType(dhcpv4.MessageTypeDiscover),
		dhcpv4.WithBroadcast(true))
	offer, err := c.exchange(ctx, disc, [4]byte{}, dhcpv4.MessageTypeOffer)
	if err != nil {
		return nil, err
	}
	// SELECTING (RFC 2131 4.3.2): requested address and server id.
	req := message(offer.TransactionID,
		dhcpv4.WithReply(offer),
		dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest),
		dhcpv4.WithClientIP(offer.ClientIPAddr),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(offer.YourIPAddr)),
		dhcpv4.WithOptionCopied(offer, dhcpv4.OptionServerIdentifier),
		dhcpv4.WithRequestedOptions(requested...),
		dhcpv4.WithBroadcast(true))
	ack, err := c.exchange(ctx, req, [4]byte{}, dhcpv4.MessageTypeAck, dhcpv4.MessageTypeNak)
	if err != nil {
		return nil, err
	}
	if ack.MessageType() == dhcpv4.MessageTypeNak {
		return nil, ErrNAK
	}
	return c.apply(ack)
}

// Renew asks the server to extend the lease (RENEWING, sent as a
// broadcast with ciaddr set, which servers also accept when rebinding).
func (c *Client) Renew(ctx context.Context) (*Lease, error) {
	l := c.Lease()
	if l == nil {
		return nil, errors.New("dhcp: no lease to renew")
	}
	// RENEWING: ciaddr set, no requested address or server id.
	req := message(newXID(),
		dhcpv4.WithReply(l.ack),
		dhcpv4.WithTransactionID(newXID()),
		dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest),
		dhcpv4.WithClientIP(l.ack.YourIPAddr),
		dhcpv4.WithRequestedOptions(requested...),
		dhcpv4.WithBroadcast(true))
	ack, err := c.exchange(ctx, req, l.Addr.Addr().As4(), dhcpv4.MessageTypeAck, dhcpv4.MessageTypeNak)
	if err != nil {
		return nil, err
	}
	if ack.MessageType() == dhcpv4.MessageTypeNak {
		c.drop()
		return nil, ErrNAK
	}
	return c.apply(ack)
}

func (c *Client) apply(ack *dhcpv4.DHCPv4) (*Lease, error) {
	addr, ok := netip.AddrFromSlice(ack.YourIPAddr.To4())
	mask := ack.SubnetMask()
	if !ok || mask == nil {
		return nil, fmt.Errorf("dhcp: ACK without address or netmask")
	}
	bits, _ := mask.Size()
	l := &Lease{Addr: netip.PrefixFrom(addr, bits), Obtained: time.Now(), ack: ack}
	l.Lease = ack.IPAddressLeaseTime(time.Hour)
	l.T1 = ack.IPAddressRenewalTime(l.Lease / 2)
	l.T2 = ack.IPAddressRebindingTime(l.Lease * 7 / 8)
	if s, ok := netip.AddrFromSlice(ack.ServerIdentifier().To4()); ok {
		l.Server = s
	}
	if r := ack.Router(); len(r) > 0 {
		l.Router, _ = netip.AddrFromSlice(r[0].To4())
	}
	for _, d := range ack.DNS() {
		if a, ok := netip.AddrFromSlice(d.To4()); ok {
			l.DNS = append(l.DNS, a)
		}
	}
	c.mu.Lock()
	old := c.lease
	c.lease = l
	c.mu.Unlock()
	if old != nil && old.Addr != l.Addr {
		c.ip.DelAddress(c.dev, old.Addr)
	}
	if err := c.ip.AddAddress(c.dev, l.Addr); err != nil {
		return nil, err
	}
	if l.Router.IsValid() {
		if err := c.ip.SetDefaultGateway(l.Router); err != nil {
			c.log.Warn("dhcp: gateway", "router", l.Router, "err", err)
		}
	}
	c.log.Info("dhcp lease", "dev", c.dev.Name, "lease", l.String(), "dns", fmt.Sprint(l.DNS))
	return l, nil
}

func (c *Client) drop() {
	c.mu.Lock()
	l := c.lease
	c.lease = nil
	c.mu.Unlock()
	if l != nil {
		c.ip.DelAddress(c.dev, l.Addr)
	}
}

// Run keeps the lease: renew at T1, retry until T2, start over after
// expiry. It returns when ctx ends.
func (c *Client) Run(ctx context.Context) {
	for {
		l := c.Lease()
		if l == nil {
			if _, err := c.Acquire(ctx); err != nil {
				if ctx.Err() != nil {
					return
				}
				c.log.Warn("dhcp: acquire", "dev", c.dev.Name, "err", err)
				sleep(ctx, 10*time.Second)
			}
			continue
		}
		if !sleep(ctx, time.Until(l.Obtained.Add(l.T1))) {
			return
		}
		for c.Lease() == l {
			if _, err := c.Renew(ctx); err == nil || errors.Is(err, ErrNAK) {
				break
			}
			if time.Now().After(l.Obtained.Add(l.Lease)) {
				c.log.Warn("dhcp: lease expired", "dev", c.dev.Name)
				c.drop()
				break
			}
			if !sleep(ctx, max(time.Until(l.Obtained.Add(l.T2))/2, 5*time.Second)) {
				return
			}
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
