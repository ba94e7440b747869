package neigh

import (
	"net"
	"net/netip"
	"time"

	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/netcore/skb"
)

// arpSolicit sends an ARP request for target: broadcast, or unicast to
// mac when probing a known entry (arp_solicit).
func (t *Table) arpSolicit(dev *netcore.Device, target netip.Addr, mac net.HardwareAddr) {
	var src netip.Addr
	ok := false
	if t.hooks.SourceFor != nil {
		src, ok = t.hooks.SourceFor(dev, target)
	}
	if !ok || !src.Is4() || !target.Is4() {
		return // no address on the device: nothing to ask with
	}
	dst := header.Broadcast
	if mac != nil {
		dst = mac
	}
	t.Stats.RequestsOut.Add(1)
	t.sendARP(dev, header.ARPRequest, dst, src.As4(), nil, target.As4())
}

// Gratuitous announces ip on dev (an ARP request for our own address),
// so peers update their caches when an address is added.
func (t *Table) Gratuitous(dev *netcore.Device, ip [4]byte) {
	t.Stats.RequestsOut.Add(1)
	t.sendARP(dev, header.ARPRequest, header.Broadcast, ip, nil, ip)
}

func (t *Table) sendARP(dev *netcore.Device, op uint16, dst net.HardwareAddr, sip [4]byte, tha net.HardwareAddr, tip [4]byte) {
	b := skb.Alloc(header.EthernetMin)
	f := b.Put(header.EthernetMin) // padded: Ethernet minimum
	clear(f)
	header.EncodeEthernet(f, dst, dev.HardwareAddr, netcore.EthPARP)
	header.EncodeARP(f[header.EthernetLen:], header.ARPFields{Op: op, SenderMAC: dev.HardwareAddr, SenderIP: sip, TargetMAC: tha, TargetIP: tip})
	b.SetMACHeader()
	b.Dev = dev
	netcore.DevQueueXmit(b)
}

// arpRcv is arp_rcv/arp_process, in softirq context.
func (t *Table) arpRcv(b *skb.Buff) {
	defer b.Free()
	dev := b.Dev.(*netcore.Device)
	a, err := header.ParseARP(b.Data())
	if err != nil || b.PktType == skb.PacketOtherHost {
		if err != nil {
			t.Stats.BadARP.Add(1)
		}
		return
	}
	sha := a.SenderMAC()
	sip, tip := a.SenderIP(), a.TargetIP()
	// A sender link address that is broadcast, multicast or zero is
	// bogus (and would poison the cache); so is one of our own.
	if sha[0]&1 != 0 || equalMAC(sha, dev.HardwareAddr) || isZeroMAC(sha) {
		t.Stats.BadARP.Add(1)
		return
	}
	// A request for a multicast or loopback target is never answered
	// (arp_process).
	if tip[0] >= 224 || tip[0] == 127 {
		t.Stats.MartianSenders.Add(1)
		return
	}
	sipA, tipA := netip.AddrFrom4(sip), netip.AddrFrom4(tip)
	if sip != [4]byte{} && (sip[0] >= 224 || sip[0] == 127 || sip[0] == 0 || t.hooks.Martian != nil && t.hooks.Martian(sipA)) {
		// One of our own addresses from another host is an address
		// conflict: Linux says so, and learns nothing.
		if t.hooks.IsLocal != nil && t.hooks.IsLocal(dev, sipA) {
			t.Stats.AddrConflicts.Add(1)
			t.log.Warn("arp: address conflict: another host uses our address", "dev", dev.Name, "addr", sipA, "mac", sha.String())
		}
		t.Stats.MartianSenders.Add(1)
		return
	}
	if a.Op() == header.ARPRequest {
		t.Stats.RequestsIn.Add(1)
	} else {
		t.Stats.RepliesIn.Add(1)
	}
	forUs := t.hooks.IsLocal != nil && t.hooks.IsLocal(dev, tipA)
	t.mu.Lock()
	e := t.entries[key{dev.Index, sipA}]
	switch {
	case sip == [4]byte{}:
		// An ARP probe (RFC 5227): learn nothing from it; a probe for
		// one of our addresses still gets its answer below.
	case e != nil:
		// Known neighbour: a reply to our request confirms it; anything
		// else (requests, gratuitous ARP) refreshes the address as stale.
		t.updateLocked(e, sha, a.Op() == header.ARPReply && equalMAC(a.TargetMAC(), dev.HardwareAddr))
	case forUs && a.Op() == header.ARPRequest:
		// Someone asks for us: we will talk back, so remember them
		// (neigh_event_ns).
		var err error
		if e, err = t.createLocked(dev, sipA, time.Now()); err == nil {
			t.updateLocked(e, sha, false)
		}
	}
	t.mu.Unlock()

	if forUs && a.Op() == header.ARPRequest {
		t.Stats.RepliesOut.Add(1)
		t.sendARP(dev, header.ARPReply, sha, tip, sha, sip)
	}
}

func isZeroMAC(m net.HardwareAddr) bool {
	for _, b := range m {
		if b != 0 {
			return false
		}
	}
	return true
}
