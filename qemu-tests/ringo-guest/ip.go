package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ringonet/ringo/appliance"
	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/ipv4"
	"github.com/ringonet/ringo/netcore/ipv6"
	"github.com/ringonet/ringo/netcore/skb"
	"github.com/ringonet/ringo/netcore/tcp"
	"github.com/ringonet/ringo/netcore/udp"
)

// IPServeReport is what ipserve reports at the end.
type IPServeReport struct {
	Pings       map[string]PingResult // target -> result
	InEchos     uint64
	OutEchoReps uint64
	ReasmOKs    uint64
	FragCreates uint64
	// The same for IPv6.
	In6Echos, Reasm6OKs, Frag6Creates uint64
	In6Discards, In6McastPkts         uint64
	// With ringo.watchmac=MAC: frames to it that reached the stack (a
	// tap sees them after the NIC's filter, before any protocol).
	WatchedFrames int64
	Neighbours    []string
	// With ringo.tcpecho: bytes echoed and the Tcp: counters.
	TCPEchoed      int64  `json:",omitempty"`
	TCPRetransSegs uint64 `json:",omitempty"`
	// With ringo.udpecho: datagrams echoed.
	UDPEchoed int64 `json:",omitempty"`
	// The first NIC's driver counters (ethtool -S), the interrupt lines
	// (/proc/interrupts) and the packets each softnet processed.
	NIC0Stats map[string]uint64
	IRQs      []IRQLine
	Softnet   []uint64
}

// IRQLine is one interrupt line as /proc/interrupts shows it.
type IRQLine struct {
	Name, Kind string
	CPU        int
	Count      uint64
}

// PingResult summarizes pings to one target.
type PingResult struct {
	Sent, Received int
	RTTs           []float64 // milliseconds
	Err            string    `json:",omitempty"`
}

// ipServe brings the NICs up with ringo's IPv4 and IPv6 stacks (every
// device gets its link-local address): ringo.ip=eth0:ADDR/LEN,eth1:ADDR/LEN
// (IPv4 or IPv6 prefixes), ringo.gw=ADDR. It reports "ready", answers pings for ringo.seconds,
// pings each of ringo.ping=IP,IP (ringo.count times, ringo.size bytes),
// then reports.
func ipServe(args map[string]string, nics []appliance.Opened) error {
	s, err := newStack(nics, stackOpts{ioWidth: 4, cpus: atoiDefault(args["ringo.cpus"], 1)})
	if err != nil {
		return err
	}
	defer s.close()
	ip, err := ipv4.New(s.core, ipv4.Config{})
	if err != nil {
		return err
	}
	defer ip.Close()
	// EUI-64 identifiers: the groups ringo joins are known in advance, so
	// the test can name one that no filter bucket of ours holds.
	ip6 := ipv6.New(s.core, ipv6.Config{EUI64: true})
	defer ip6.Close()
	for _, d := range s.core.Devices() {
		if err := ip6.Enable(d); err != nil {
			return err
		}
	}
	for _, spec := range strings.Split(args["ringo.ip"], ",") {
		dev, pfx, ok := strings.Cut(spec, ":")
		if !ok {
			return fmt.Errorf("ringo.ip entry %q: want DEV:ADDR/LEN", spec)
		}
		d := s.core.DeviceByName(dev)
		p, err := netip.ParsePrefix(pfx)
		if d == nil || err != nil {
			return fmt.Errorf("ringo.ip entry %q: device %v, %v", spec, d != nil, err)
		}
		if p.Addr().Is6() {
			err = ip6.AddAddress(d, p)
		} else {
			err = ip.AddAddress(d, p)
		}
		if err != nil {
			return err
		}
	}
	if gw := args["ringo.gw"]; gw != "" {
		if err := ip.SetDefaultGateway(netip.MustParseAddr(gw)); err != nil {
			return err
		}
	}
	var echoed atomic.Int64
	var echoConns atomic.Int32
	var tcpTable *tcp.Table
	if port := atoiDefault(args["ringo.tcpecho"], 0); port != 0 {
		// A TCP echo server on ringo's TCP, for a peer to push bytes
		// through and check them coming back.
		tcpTable = tcp.New(ip, tcp.Config{NoTLP: args["ringo.notlp"] == "1"})
		tcpTable.AttachIPv6(ip6)
		l, err := tcpTable.Listen(&net.TCPAddr{Port: port})
		if err != nil {
			return err
		}
		defer l.Close()
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				go func() {
					n, _ := io.Copy(c, c)
					// Close returns once the peer has every byte: this
					// program powers the VM off soon after.
					tc := c.(*tcp.Conn)
					tc.SetLinger(10)
					c.Close()
					if st := tc.State(); st != tcp.FinWait2 && st != tcp.TimeWait && st != tcp.Closed {
						slog.Warn("tcp echo: close lingered out", "state", st, "info", tc.Info())
					}
					echoed.Add(n)
					echoConns.Add(1)
				}()
			}
		}()
	}
	var udpEchoed atomic.Int64
	if port := atoiDefault(args["ringo.udpecho"], 0); port != 0 {
		// A UDP echo server on ringo's UDP, both IP versions.
		ut := udp.New(ip)
		ut.AttachIPv6(ip6)
		uc, err := ut.Listen(&net.UDPAddr{Port: port})
		if err != nil {
			return err
		}
		defer uc.Close()
		go func() {
			buf := make([]byte, 65536)
			for {
				n, from, err := uc.ReadFrom(buf)
				if err != nil {
					return
				}
				if _, err := uc.WriteTo(buf[:n], from); err == nil {
					udpEchoed.Add(1)
				}
			}
		}()
	}
	var watched atomic.Int64
	if w := args["ringo.watchmac"]; w != "" {
		mac, err := net.ParseMAC(w)
		if err != nil {
			return err
		}
		s.core.AddTap(&netcore.Tap{Func: func(_ *netcore.Device, frame []byte, dir skb.PktType, _ time.Time) {
			if dir != skb.PacketOutgoing && len(frame) >= 6 && bytes.Equal(frame[:6], mac) {
				watched.Add(1)
			}
		}})
	}
	report(map[string]string{"phase": "ready"})
	rep := IPServeReport{Pings: map[string]PingResult{}}
	count := atoiDefault(args["ringo.count"], 5)
	size := atoiDefault(args["ringo.size"], 56)
	if t := args["ringo.ping"]; t != "" {
		for _, target := range strings.Split(t, ",") {
			a, err := netip.ParseAddr(target)
			if err != nil {
				return err
			}
			var r PingResult
			// The peer may still be booting: wait for a first answer.
			for start := time.Now(); time.Since(start) < 60*time.Second; {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				_, err := ip.Ping(ctx, a.As4(), 8, 0)
				cancel()
				if err == nil {
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
			for i := 0; i < count; i++ {
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
				rtt, err := ip.Ping(ctx, a.As4(), size, uint16(i+1))
				cancel()
				r.Sent++
				if err != nil {
					r.Err = err.Error()
					continue
				}
				r.Received++
				r.RTTs = append(r.RTTs, float64(rtt.Microseconds())/1000)
			}
			rep.Pings[target] = r
		}
	}
	// Keep answering until ringo.expect echo requests came, or ringo.seconds.
	end := time.Now().Add(time.Duration(atoiDefault(args["ringo.seconds"], 0)) * time.Second)
	expect := uint64(atoiDefault(args["ringo.expect"], 0))
	expectConns := int32(atoiDefault(args["ringo.tcpconns"], 0))
	for time.Now().Before(end) && (ip.ICMP.InEchos.Load()+ip6.ICMP.Icmp6InEchos.Load() < expect || echoConns.Load() < expectConns) {
		time.Sleep(50 * time.Millisecond)
	}
	if tcpTable != nil {
		rep.TCPEchoed = echoed.Load()
		rep.TCPRetransSegs = tcpTable.Stats.RetransSegs.Load()
	}
	time.Sleep(200 * time.Millisecond) // let the last replies leave
	rep.InEchos = ip.ICMP.InEchos.Load()
	rep.OutEchoReps = ip.ICMP.OutEchoReps.Load()
	rep.ReasmOKs = ip.MIB.ReasmOKs.Load()
	rep.FragCreates = ip.MIB.FragCreates.Load()
	rep.In6Echos = ip6.ICMP.Icmp6InEchos.Load()
	rep.Reasm6OKs = ip6.MIB.Ip6ReasmOKs.Load()
	rep.Frag6Creates = ip6.MIB.Ip6FragCreates.Load()
	rep.In6Discards = ip6.MIB.Ip6InDiscards.Load()
	rep.In6McastPkts = ip6.MIB.Ip6InMcastPkts.Load()
	rep.WatchedFrames = watched.Load()
	rep.UDPEchoed = udpEchoed.Load()
	rep.NIC0Stats = map[string]uint64{}
	for _, st := range s.nics[0].Card.Stats() {
		rep.NIC0Stats[st.Name] = st.Value
	}
	for _, l := range s.bridge.Lines() {
		rep.IRQs = append(rep.IRQs, IRQLine{Name: l.Name, Kind: l.Kind(), CPU: l.CPU, Count: l.Count()})
	}
	for _, st := range s.core.SoftnetStats() {
		rep.Softnet = append(rep.Softnet, st.Processed)
	}
	for _, e := range ip6.Neigh.Entries() {
		rep.Neighbours = append(rep.Neighbours, fmt.Sprintf("%s %s %s %s", e.Dev, e.IP, e.MAC, e.State))
	}
	for _, e := range ip.Neigh.Entries() {
		rep.Neighbours = append(rep.Neighbours, fmt.Sprintf("%s %s %s %s", e.Dev, e.IP, e.MAC, e.State))
	}
	report(rep)
	return nil
}
