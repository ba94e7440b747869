package main

import (
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/ringonet/ringo/appliance"
	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/skb"
)

// slirp's addresses (QEMU -netdev user defaults).
var (
	guestIP   = net.IPv4(10, 0, 2, 15).To4()
	gatewayIP = net.IPv4(10, 0, 2, 2).To4()
)

// arpRequest builds "who-has target tell sender" as a raw Ethernet frame.
func arpRequest(src net.HardwareAddr, sender, target net.IP) *skb.Buff {
	b := skb.Alloc(60)
	f := b.Put(60) // padded to the Ethernet minimum
	copy(f[0:6], []byte{255, 255, 255, 255, 255, 255})
	copy(f[6:12], src)
	binary.BigEndian.PutUint16(f[12:], netcore.EthPARP)
	a := f[14:]
	binary.BigEndian.PutUint16(a[0:], 1)      // htype Ethernet
	binary.BigEndian.PutUint16(a[2:], 0x0800) // ptype IPv4
	a[4], a[5] = 6, 4
	binary.BigEndian.PutUint16(a[6:], 1) // request
	copy(a[8:14], src)
	copy(a[14:18], sender)
	copy(a[24:28], target)
	return b
}

// arpReplies collects ARP replies per device.
type arpReplies struct {
	mu  sync.Mutex
	got map[string][]arpReply
}

type arpReply struct {
	MAC string
	IP  string
	At  time.Time
}

func listenARP(core *netcore.Core) *arpReplies {
	r := &arpReplies{got: map[string][]arpReply{}}
	core.AddPacketType(netcore.EthPARP, func(s *skb.Buff) {
		defer s.Free()
		a := s.Data()
		if len(a) < 28 || binary.BigEndian.Uint16(a[6:]) != 2 {
			return
		}
		r.mu.Lock()
		name := s.Dev.(*netcore.Device).Name
		r.got[name] = append(r.got[name], arpReply{MAC: net.HardwareAddr(a[8:14]).String(), IP: net.IP(a[14:18]).String(), At: time.Now()})
		r.mu.Unlock()
	})
	return r
}

func (r *arpReplies) count(dev string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got[dev])
}

// ARPReport is what the arp scenario reports per NIC.
type ARPReport struct {
	Dev      string
	Kind     string
	ReplyMAC string
	ReplyIP  string
	Tries    int
}

// arp asks slirp's gateway for its MAC on every NIC, as raw frames
// through the driver.
func arp(_ map[string]string, nics []appliance.Opened) error {
	s, err := newStack(nics, stackOpts{})
	if err != nil {
		return err
	}
	defer s.close()
	replies := listenARP(s.core)
	for i, d := range s.devs {
		rep := ARPReport{Dev: d.Name, Kind: nics[i].Driver.Name}
		for rep.Tries = 1; rep.Tries <= 10 && replies.count(d.Name) == 0; rep.Tries++ {
			b := arpRequest(d.HardwareAddr, guestIP, gatewayIP)
			b.Dev = d
			if err := netcore.DevQueueXmit(b); err != nil {
				return err
			}
			time.Sleep(300 * time.Millisecond)
		}
		replies.mu.Lock()
		if g := replies.got[d.Name]; len(g) > 0 {
			rep.ReplyMAC, rep.ReplyIP = g[0].MAC, g[0].IP
		}
		replies.mu.Unlock()
		if rep.ReplyMAC == "" {
			return fmt.Errorf("%s: no ARP reply from %v", d.Name, gatewayIP)
		}
		report(rep)
	}
	return nil
}
