package header

import (
	"encoding/binary"
	"net"
)

// Ethernet II header (IEEE 802.3 clause 3):
//
//	 0                   6                  12      14
//	+-------------------+-------------------+-------+
//	| destination       | source            | type  |
//	+-------------------+-------------------+-------+
const (
	ethDst        = 0
	ethSrc        = 6
	ethType       = 12
	EthernetLen   = 14
	EthernetMin   = 60 // minimum frame without FCS
	EthernetMTU   = 1500
	EtherTypeIPv4 = 0x0800
	EtherTypeARP  = 0x0806
	EtherTypeIPv6 = 0x86dd
)

// Ethernet is a view of an Ethernet II header.
type Ethernet []byte

// ParseEthernet checks that b holds a header.
func ParseEthernet(b []byte) (Ethernet, error) {
	if len(b) < EthernetLen {
		return nil, ErrTruncated
	}
	return Ethernet(b), nil
}

func (e Ethernet) Dst() net.HardwareAddr { return net.HardwareAddr(e[ethDst : ethDst+6]) }
func (e Ethernet) Src() net.HardwareAddr { return net.HardwareAddr(e[ethSrc : ethSrc+6]) }
func (e Ethernet) Type() uint16          { return binary.BigEndian.Uint16(e[ethType:]) }

// EncodeEthernet writes a header into b (at least EthernetLen bytes).
func EncodeEthernet(b []byte, dst, src net.HardwareAddr, typ uint16) {
	copy(b[ethDst:ethDst+6], dst)
	copy(b[ethSrc:ethSrc+6], src)
	binary.BigEndian.PutUint16(b[ethType:], typ)
}

// Broadcast is ff:ff:ff:ff:ff:ff.
var Broadcast = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
