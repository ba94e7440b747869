package netcore

import (
	"encoding/binary"

	"github.com/ringonet/ringo/netcore/skb"
)

// Ethernet constants (IEEE 802.3, include/uapi/linux/if_ether.h).
const (
	ethHeaderLen = 14
	ethMinLen    = 60   // without FCS
	ethMaxLen    = 1514 // without FCS

	EthPIPv4   = 0x0800
	EthPARP    = 0x0806
	EthPIPv6   = 0x86dd
	EthP8021Q  = 0x8100
	EthP8023   = 0x0001 // Novell raw 802.3 (dsap/ssap 0xffff)
	EthP8022   = 0x0004 // 802.2 LLC
	ethPMinTyp = 0x0600 // values below are 802.3 lengths
)

// EthTypeTrans prepares a received frame for the stack (eth_type_trans):
// marks the MAC header, pulls it, classifies the destination into
// skb.PktType against the device's address, and sets skb.Protocol to the
// ethertype (or EthP8023/EthP8022 for 802.3 length frames). It reports
// false for a frame shorter than an Ethernet header; the caller drops it.
func (d *Device) EthTypeTrans(b *skb.Buff) bool {
	b.Dev = d
	b.VlanTCI, b.VlanPresent = 0, false // a reused skb (an echo reply) carried its request's
	b.SetMACHeader()
	h := b.Pull(ethHeaderLen)
	if h == nil {
		return false
	}
	b.SetNetworkHeader()
	dst := h[0:6]
	switch {
	case dst[0]&1 != 0:
		if dst[0]&dst[1]&dst[2]&dst[3]&dst[4]&dst[5] == 0xff {
			b.PktType = skb.PacketBroadcast
		} else {
			b.PktType = skb.PacketMulticast
			d.Stats.Multicast.Add(1)
		}
	case len(d.HardwareAddr) == 6 && !equal6(dst, d.HardwareAddr):
		b.PktType = skb.PacketOtherHost
	default:
		b.PktType = skb.PacketHost
	}
	proto := binary.BigEndian.Uint16(h[12:14])
	switch {
	case proto >= ethPMinTyp:
		b.Protocol = proto
	case b.Len() >= 2 && b.Data()[0] == 0xff && b.Data()[1] == 0xff:
		b.Protocol = EthP8023
	default:
		b.Protocol = EthP8022
	}
	return true
}

func equal6(a, b []byte) bool {
	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3] && a[4] == b[4] && a[5] == b[5]
}

// FlowHash hashes a frame's flow (IPv4 addresses, protocol and, for TCP
// and UDP, ports) for RPS; frames that are not IPv4 hash their MAC
// addresses. b's data starts after the Ethernet header.
func FlowHash(b *skb.Buff) uint32 {
	if b.Hash != 0 {
		return b.Hash
	}
	p := b.Data()
	h := uint32(2166136261)
	mix := func(x []byte) {
		for _, c := range x {
			h = (h ^ uint32(c)) * 16777619
		}
	}
	if b.Protocol == EthPIPv4 && len(p) >= 20 && p[0]>>4 == 4 {
		ihl := int(p[0]&0x0f) * 4
		mix(p[12:20])
		mix(p[9:10])
		fragOff := binary.BigEndian.Uint16(p[6:8]) & 0x3fff
		if (p[9] == 6 || p[9] == 17) && fragOff == 0 && ihl >= 20 && len(p) >= ihl+4 {
			mix(p[ihl : ihl+4])
		}
	} else if m := b.MACHeader(); len(m) >= 12 {
		mix(m[:12])
	}
	if h == 0 {
		h = 1
	}
	b.Hash = h
	return h
}

// rpsCPU picks the backlog for a frame by flow hash (get_rps_cpu).
func (c *Core) rpsCPU(b *skb.Buff) int {
	return int(FlowHash(b) % uint32(len(c.cpus)))
}
