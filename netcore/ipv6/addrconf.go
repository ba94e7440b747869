package ipv6

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/header"
)

// Address configuration (RFC 4862; Linux's addrconf.c): interface
// identifiers, duplicate address detection, lifetimes.

func randomSecret() [16]byte {
	var k [16]byte
	rand.Read(k[:])
	return k
}

// interfaceID forms the address for prefix p (a /64) on dev: EUI-64 from
// the MAC if configured, else RFC 7217's stable identifier, the first 64
// bits of SHA-256 over the prefix, the device's name and MAC, the DAD
// counter and the secret — the same on every boot for the same network,
// different across networks, and revealing no MAC.
func (s *Stack) interfaceID(dev *netcore.Device, p netip.Prefix, dadCounter int) netip.Addr {
	a := p.Masked().Addr().As16()
	if s.cfg.EUI64 && len(dev.HardwareAddr) == 6 {
		m := dev.HardwareAddr
		copy(a[8:], []byte{m[0] ^ 0x02, m[1], m[2], 0xff, 0xfe, m[3], m[4], m[5]})
		return netip.AddrFrom16(a)
	}
	for ; ; dadCounter++ {
		h := sha256.New()
		h.Write(a[:8])
		h.Write([]byte(dev.Name))
		h.Write(dev.HardwareAddr)
		var c [4]byte
		binary.BigEndian.PutUint32(c[:], uint32(dadCounter))
		h.Write(c[:])
		h.Write(s.cfg.StableSecret[:])
		sum := h.Sum(nil)
		iid := binary.BigEndian.Uint64(sum[:8])
		// Reserved identifiers (RFC 5453): the subnet-router anycast
		// and the reserved anycast range.
		if iid == 0 || iid >= 0xfdffffffffffff80 {
			continue
		}
		binary.BigEndian.PutUint64(a[8:], iid)
		return netip.AddrFrom16(a)
	}
}

// startDAD begins duplicate address detection (RFC 4862 5.4): NSs from
// the unspecified address to the address's solicited-node group; if none
// is answered and no other node probes for it within RetransTimer of the
// last, the address becomes preferred.
func (s *Stack) startDAD(a *addrEntry) {
	if s.cfg.DADTransmits < 0 {
		s.dadDone(a)
		return
	}
	s.dadStep(a)
}

func (s *Stack) dadStep(a *addrEntry) {
	s.mu.Lock()
	if a.State != Tentative || !s.hasLocked(a) {
		s.mu.Unlock()
		return
	}
	if a.dadLeft <= 0 {
		s.mu.Unlock()
		s.dadDone(a)
		return
	}
	a.dadLeft--
	a.dadTick = time.AfterFunc(s.cfg.RetransTimer, func() { s.dadStep(a) })
	target := a.Prefix.Addr()
	dev := a.Dev
	s.mu.Unlock()
	s.sendNS(dev, netip.IPv6Unspecified(), netip.AddrFrom16(header.SolicitedNode(target.As16())), target, nil)
}

func (s *Stack) hasLocked(a *addrEntry) bool {
	for _, e := range s.addrs {
		if e == a {
			return true
		}
	}
	return false
}

func (s *Stack) dadDone(a *addrEntry) {
	s.mu.Lock()
	if a.State != Tentative {
		s.mu.Unlock()
		return
	}
	a.State = Preferred
	s.mu.Unlock()
	s.log.Info("address ready", "dev", a.Dev.Name, "addr", a.Prefix)
	s.notifyReady()
	if a.Prefix.Addr().IsLinkLocalUnicast() && a.Autoconf {
		// The link-local address is usable: ask the routers to speak
		// now rather than at their next periodic advertisement (RFC
		// 4861 6.3.7; addrconf_dad_completed).
		s.sendRS(a.Dev, a.Prefix.Addr())
	}
}

// dadFailed marks an address another node has (IFA_F_DADFAILED): it stays
// listed, never used.
func (s *Stack) dadFailed(a *addrEntry, why string) {
	s.mu.Lock()
	if a.State != Tentative {
		s.mu.Unlock()
		return
	}
	a.State = DADFailed
	if a.dadTick != nil {
		a.dadTick.Stop()
	}
	s.mu.Unlock()
	s.ICMP.DADConflicts.Add(1)
	s.log.Warn("ipv6: duplicate address detected", "dev", a.Dev.Name, "addr", a.Prefix, "by", why)
	s.notifyReady()
}

// AddrState reports the state of address a on dev (false if absent).
func (s *Stack) AddrState(dev *netcore.Device, a netip.Addr) (AddrState, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if e := s.findLocked(dev, a); e != nil {
		return e.State, true
	}
	return 0, false
}

// notifyReady wakes WaitAddrs callers.
func (s *Stack) notifyReady() {
	s.readyMu.Lock()
	close(s.ready)
	s.ready = make(chan struct{})
	s.readyMu.Unlock()
}

// Changed returns a channel closed at the next change of an address's
// state (DAD passed or failed): tests and callers that must wait for an
// address wait on it, not on a clock.
func (s *Stack) Changed() <-chan struct{} {
	s.readyMu.Lock()
	defer s.readyMu.Unlock()
	return s.ready
}

// verify expires addresses and routes past their valid lifetime
// (addrconf_verify), every second.
func (s *Stack) verify() {
	defer close(s.verifyDone)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			var gone []Addr
			s.mu.Lock()
			keep := s.addrs[:0]
			for _, a := range s.addrs {
				if !a.Valid.IsZero() && now.After(a.Valid) {
					gone = append(gone, a.Addr)
					continue
				}
				keep = append(keep, a)
			}
			clear(s.addrs[len(keep):])
			s.addrs = keep
			routes := s.routes[:0]
			for _, r := range s.routes {
				if !r.Expires.IsZero() && now.After(r.Expires) {
					if !r.Gateway.IsValid() && r.Dst.Bits() > 0 {
						s.routers.prefixN--
					}
					continue
				}
				routes = append(routes, r)
			}
			s.routes = routes
			rl := s.routers.list[:0]
			for _, r := range s.routers.list {
				if now.Before(r.expires) {
					rl = append(rl, r)
				}
			}
			s.routers.list = rl
			s.mu.Unlock()
			for _, a := range gone {
				s.leave(a.Dev, header.SolicitedNode(a.Prefix.Addr().As16()))
				s.log.Info("address expired", "dev", a.Dev.Name, "addr", a.Prefix)
			}
		}
	}
}
