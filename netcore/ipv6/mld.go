package ipv6

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/netcore/neigh"
	"github.com/ringonet/ringo/netcore/skb"
)

// Multicast Listener Discovery version 2 (RFC 3810; Linux's mcast.c), the
// host side: a report when this host starts or stops listening to a group,
// and the groups it listens to when a router asks. ff02::1 is never
// reported (RFC 3810 6).

// MLDv2 record types (RFC 3810 5.2.12).
const (
	mldModeIsExclude   = 2
	mldChangeToInclude = 3
	mldChangeToExclude = 4

	mldRecordLen = 20 // type, aux len, sources, group; no sources
	// mldMaxRecords keeps one report within the minimum MTU.
	mldMaxRecords = (header.IPv6MinMTU - header.IPv6Len - 8 - 8) / mldRecordLen
)

// mldReport sends an MLDv2 report on dev with one record of typ for each
// group: hop limit 1, a Hop-by-Hop header with the Router Alert (RFC
// 2711, value 0: MLD), to all MLDv2 routers, from the link-local address
// or, before it has passed DAD, from :: (RFC 3810 5.2.13).
func (s *Stack) mldReport(dev *netcore.Device, typ uint8, groups [][16]byte) {
	for len(groups) > 0 {
		n := min(len(groups), mldMaxRecords)
		s.mldSend(dev, typ, groups[:n])
		groups = groups[n:]
	}
}

func (s *Stack) mldSend(dev *netcore.Device, typ uint8, groups [][16]byte) {
	src := netip.IPv6Unspecified()
	if a, ok := s.SourceFor(netip.AddrFrom16(header.IPv6AllMLDv2), dev); ok && a.IsLinkLocalUnicast() {
		src = a
	}
	dst := header.IPv6AllMLDv2
	mlen := 8 + mldRecordLen*len(groups)
	b := skb.Alloc(header.IPv6Len + 8 + mlen)
	if b == nil {
		return
	}
	p := b.Put(header.IPv6Len + 8 + mlen)
	header.EncodeIPv6(p, header.IPv6Fields{PayloadLen: 8 + mlen, NextHeader: header.ProtoHopByHop, HopLimit: 1, Src: src.As16(), Dst: dst})
	hbh := p[header.IPv6Len:]
	copy(hbh, []byte{header.ProtoICMPv6, 0, header.IPv6OptRouterAlert, 2, 0, 0, header.IPv6OptPadN, 0})
	m := hbh[8:]
	header.EncodeICMPv6(m, header.ICMPv6MLDv2Report, 0, uint32(len(groups)))
	for i, g := range groups {
		r := m[8+i*mldRecordLen:]
		r[0], r[1], r[2], r[3] = typ, 0, 0, 0
		copy(r[4:20], g[:])
	}
	header.SetICMPv6Checksum(m, src.As16(), dst)
	b.SetNetworkHeader()
	s.MIB.Ip6OutRequests.Add(1)
	s.MIB.Ip6OutMcastPkts.Add(1)
	s.ICMP.Icmp6OutMsgs.Add(1)
	s.ICMP.Icmp6OutMLDv2Reports.Add(1)
	var mac [6]byte
	header.IPv6MulticastMAC(dst, &mac)
	neigh.OutputDirectProto(b, dev, mac[:], netcore.EthPIPv6)
}

// mldQuery answers a router's query (RFC 3810 6.2): after a random delay
// up to the query's Maximum Response Delay, a report of every group dev
// listens to (one for a group-specific query), as MODE_IS_EXCLUDE. One
// answer waits per device at a time: a query flood sends no more.
func (s *Stack) mldQuery(dev *netcore.Device, ip header.IPv6, m header.ICMPv6) {
	if ip.HopLimit() != 1 || !ip.SrcAddr().IsLinkLocalUnicast() || len(m) < 24 {
		s.ICMP.NDInvalid.Add(1)
		return
	}
	maxDelay := time.Duration(binary.BigEndian.Uint16(m[4:])) * time.Millisecond // MLDv1's field; MLDv2's code for values under 32768
	group := [16]byte(m[8:24])
	s.mu.Lock()
	d := s.devs[dev]
	if d == nil || d.mldPending {
		s.mu.Unlock()
		return
	}
	d.mldPending = true
	s.mu.Unlock()
	delay := time.Duration(0)
	if maxDelay > 0 {
		delay = time.Duration(rand.Int64N(int64(min(maxDelay, 10*time.Second))))
	}
	time.AfterFunc(delay, func() {
		s.mu.Lock()
		d.mldPending = false
		var groups [][16]byte
		for g := range d.groups {
			if g != header.IPv6AllNodes && (group == [16]byte{} || g == group) {
				groups = append(groups, g)
			}
		}
		s.mu.Unlock()
		if len(groups) > 0 {
			s.mldReport(dev, mldModeIsExclude, groups)
		}
	})
}
