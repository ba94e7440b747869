package ipv6_test

import (
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/netcore/ipv6"
	"github.com/ringonet/ringo/netcore/skb"
)

type mldRecord struct {
	typ   uint8
	group netip.Addr
}

// mldTap records the MLDv2 reports the attacker's side sees arriving.
func mldTap(p *pair) (get func() []mldRecord) {
	var mu sync.Mutex
	var recs []mldRecord
	p.ca.AddTap(&netcore.Tap{Func: func(dev *netcore.Device, frame []byte, dir skb.PktType, _ time.Time) {
		if dir == skb.PacketOutgoing || len(frame) < header.EthernetLen+header.IPv6Len+16 {
			return
		}
		ip := header.IPv6(frame[header.EthernetLen:])
		if ip[0]>>4 != 6 || ip.NextHeader() != header.ProtoHopByHop || ip.HopLimit() != 1 {
			return
		}
		m := ip.Payload()[8:]
		if m[0] != header.ICMPv6MLDv2Report {
			return
		}
		n := int(m[6])<<8 | int(m[7])
		mu.Lock()
		defer mu.Unlock()
		for i := 0; i < n && 8+20*(i+1) <= len(m); i++ {
			r := m[8+20*i:]
			recs = append(recs, mldRecord{r[0], netip.AddrFrom16([16]byte(r[4:20]))})
		}
	}})
	return func() []mldRecord {
		mu.Lock()
		defer mu.Unlock()
		return append([]mldRecord(nil), recs...)
	}
}

// MLDv2 (RFC 3810): joining a group reports it (CHANGE_TO_EXCLUDE with no
// sources); a general query is answered with every group but ff02::1;
// leaving a group reports CHANGE_TO_INCLUDE.
func TestMLDv2(t *testing.T) {
	p := newPair(t, ipv6.Config{})
	records := mldTap(p)
	extra := netip.MustParsePrefix("2001:db8:1::77/64")
	require.NoError(t, p.b.AddAddress(p.db, extra))
	p.settle(t)
	sn := netip.AddrFrom16(header.SolicitedNode(extra.Addr().As16()))
	assert.Contains(t, records(), mldRecord{4, sn}, "joining the solicited-node group is reported")

	// A general query from a router's link-local address, answered at
	// once (maximum response delay 0).
	q := make([]byte, 28)
	header.EncodeICMPv6(q, header.ICMPv6MLDQuery, 0, 0)
	hbh := []byte{header.ProtoICMPv6, 0, header.IPv6OptRouterAlert, 2, 0, 0, header.IPv6OptPadN, 0}
	src := netip.MustParseAddr("fe80::1")
	all := netip.AddrFrom16(header.IPv6AllNodes)
	header.SetICMPv6Checksum(q, src.As16(), all.As16())
	before := len(records())
	p.send(t, src, all, 1, header.ProtoHopByHop, append(hbh, q...))
	require.Eventually(t, func() bool { return len(records()) > before }, 5*time.Second, 10*time.Millisecond)
	answer := records()[before:]
	assert.Contains(t, answer, mldRecord{2, sn}, "MODE_IS_EXCLUDE for each group")
	for _, r := range answer {
		assert.NotEqual(t, all, r.group, "ff02::1 is never reported")
	}

	p.b.DelAddress(p.db, extra)
	p.settle(t)
	assert.Contains(t, records(), mldRecord{3, sn}, "leaving is reported")
}
