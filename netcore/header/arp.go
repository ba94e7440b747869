package header

import (
	"encoding/binary"
	"net"
)

// ARP for IPv4 over Ethernet (RFC 826):
//
//	 0       2       4   5   6       8            14      18           24      28
//	+-------+-------+---+---+-------+------------+-------+------------+-------+
//	| htype | ptype |hln|pln|  op   | sender MAC | s. IP | target MAC | t. IP |
//	+-------+-------+---+---+-------+------------+-------+------------+-------+
const (
	arpHType     = 0
	arpPType     = 2
	arpHLen      = 4
	arpPLen      = 5
	arpOp        = 6
	arpSHA       = 8
	arpSPA       = 14
	arpTHA       = 18
	arpTPA       = 24
	ARPLen       = 28
	ARPRequest   = 1
	ARPReply     = 2
	arpHTEther   = 1
	arpHTIEEE802 = 6 // ARPHRD_IEEE802
)

// ARP is a view of an ARP packet for IPv4 over Ethernet.
type ARP []byte

// ParseARP accepts only Ethernet/IPv4 ARP with the lengths 6 and 4, and
// operations request and reply.
func ParseARP(b []byte) (ARP, error) {
	if len(b) < ARPLen {
		return nil, ErrTruncated
	}
	a := ARP(b[:ARPLen])
	// An Ethernet device takes hardware type 6 (IEEE 802) as well as 1,
	// as Linux's arp_rcv does.
	if ht := binary.BigEndian.Uint16(a[arpHType:]); ht != arpHTEther && ht != arpHTIEEE802 || binary.BigEndian.Uint16(a[arpPType:]) != EtherTypeIPv4 ||
		a[arpHLen] != 6 || a[arpPLen] != 4 {
		return nil, ErrMalformed
	}
	if op := a.Op(); op != ARPRequest && op != ARPReply {
		return nil, ErrMalformed
	}
	return a, nil
}

func (a ARP) Op() uint16                  { return binary.BigEndian.Uint16(a[arpOp:]) }
func (a ARP) SenderMAC() net.HardwareAddr { return net.HardwareAddr(a[arpSHA : arpSHA+6]) }
func (a ARP) SenderIP() [4]byte           { return [4]byte(a[arpSPA : arpSPA+4]) }
func (a ARP) TargetMAC() net.HardwareAddr { return net.HardwareAddr(a[arpTHA : arpTHA+6]) }
func (a ARP) TargetIP() [4]byte           { return [4]byte(a[arpTPA : arpTPA+4]) }

// ARPFields describes an ARP packet to encode.
type ARPFields struct {
	Op                   uint16
	SenderMAC, TargetMAC net.HardwareAddr
	SenderIP, TargetIP   [4]byte
}

// EncodeARP writes an ARP packet into b (at least ARPLen bytes).
func EncodeARP(b []byte, f ARPFields) {
	binary.BigEndian.PutUint16(b[arpHType:], arpHTEther)
	binary.BigEndian.PutUint16(b[arpPType:], EtherTypeIPv4)
	b[arpHLen], b[arpPLen] = 6, 4
	binary.BigEndian.PutUint16(b[arpOp:], f.Op)
	copy(b[arpSHA:arpSHA+6], f.SenderMAC)
	copy(b[arpSPA:arpSPA+4], f.SenderIP[:])
	if f.TargetMAC != nil {
		copy(b[arpTHA:arpTHA+6], f.TargetMAC)
	} else {
		clear(b[arpTHA : arpTHA+6])
	}
	copy(b[arpTPA:arpTPA+4], f.TargetIP[:])
}
