package appliance

import (
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/neigh"
)

// WriteStatus prints what a person would ask ip, ss, ethtool -S and
// /proc/net for: devices and their counters, addresses, routes, the
// neighbour table, softnet_stat, interrupts, protocol counters, sockets,
// and each driver's own statistics.
func (s *System) WriteStatus(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "ringo appliance, up %v\n\n", time.Since(s.Start).Round(time.Second))

	fmt.Fprintln(tw, "# ip -s link")
	fmt.Fprintln(tw, "dev\tkind\tpci\tmac\tstate\tmtu\trx_packets\trx_bytes\trx_errors\trx_dropped\ttx_packets\ttx_bytes\ttx_errors\ttx_dropped\t")
	for _, d := range s.Core.Devices() {
		st := d.Stats.Snapshot()
		state := "DOWN"
		if d.IsUp() {
			state = "UP"
			if d.Carrier() {
				state = "UP,LOWER_UP"
			} else {
				state = "UP,NO-CARRIER"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", d.Name, d.Kind, s.pciOf(d), d.HardwareAddr, state, d.MTU(),
			st.RxPackets, st.RxBytes, st.RxErrors, st.RxDropped, st.TxPackets, st.TxBytes, st.TxErrors, st.TxDropped)
	}

	fmt.Fprintln(tw, "\n# ip addr")
	for _, a := range s.Stack.IP.Addresses() {
		lease := ""
		if l, ok := s.Leases[a.Dev.Name]; ok {
			lease = "dhcp " + l
		}
		fmt.Fprintf(tw, "%s\tinet %s\t%s\t\n", a.Dev.Name, a.Prefix, lease)
	}

	fmt.Fprintln(tw, "\n# ip route")
	for _, r := range s.Stack.IP.Routes() {
		via := ""
		if r.Gateway.IsValid() {
			via = "via " + r.Gateway.String()
		}
		fmt.Fprintf(tw, "%s\t%s\tdev %s\t\n", r.Dst, via, r.Dev.Name)
	}

	fmt.Fprintln(tw, "\n# ip -6 addr")
	for _, a := range s.Stack.IP6.Addrs() {
		how := "static"
		if a.Autoconf {
			how = "autoconf"
		}
		fmt.Fprintf(tw, "%s\tinet6 %s\t%s\t%s\t\n", a.Dev.Name, a.Prefix, a.State, how)
	}

	fmt.Fprintln(tw, "\n# ip -6 route")
	for _, r := range s.Stack.IP6.Routes() {
		via := ""
		if r.Gateway.IsValid() {
			via = "via " + r.Gateway.String()
		}
		fmt.Fprintf(tw, "%s\t%s\tdev %s\tmetric %d\t\n", r.Dst, via, r.Dev.Name, r.Metric)
	}

	fmt.Fprintln(tw, "\n# ip neigh")
	for _, t := range []*neigh.Table{s.Stack.IP.Neigh, s.Stack.IP6.Neigh} {
		for _, e := range t.Entries() {
			mac := "-"
			if e.MAC != nil {
				mac = e.MAC.String()
			}
			fmt.Fprintf(tw, "%s\tdev %s\tlladdr %s\t%s\tqueued %d\t\n", e.IP, e.Dev, mac, e.State, e.Queue)
		}
	}
	tw.Flush()

	fmt.Fprintln(w, "\n# /proc/net/softnet_stat")
	s.Core.WriteSoftnetStat(w)
	fmt.Fprintln(w, "\n# /proc/interrupts")
	s.Bridge.WriteInterrupts(w)
	fmt.Fprintln(w, "\n# /proc/net/snmp")
	s.Stack.WriteSNMP(w)
	fmt.Fprintln(w, "\n# /proc/net/snmp6")
	s.Stack.WriteSNMP6(w)

	fmt.Fprintf(w, "\n# services\nstatus_rate_limited %d conns_refused %d\n",
		s.ServiceStats.StatusRateLimited.Load(), s.ServiceStats.ConnsRefused.Load())

	fmt.Fprintln(w, "\n# ss -tu")
	socks := s.Stack.UDP.Sockets()
	sort.Slice(socks, func(i, j int) bool { return socks[i].Local < socks[j].Local })
	for _, so := range socks {
		fmt.Fprintf(w, "udp  %-12s %-22s %-22s recv-q %d drops %d\n", "UNCONN", so.Local, so.Remote, so.RecvQ, so.Drops)
	}
	tsocks := s.Stack.TCP.Sockets()
	sort.Slice(tsocks, func(i, j int) bool { return tsocks[i].Local < tsocks[j].Local })
	for _, so := range tsocks {
		fmt.Fprintf(w, "tcp  %-12s %-22s %-22s recv-q %d send-q %d", so.State, so.Local, so.Remote, so.RecvQ, so.SendQ)
		if so.State != "LISTEN" {
			fmt.Fprintf(w, " %s cwnd %d rtt %v", so.Info.CongestionControl, so.Info.Cwnd, so.Info.RTT)
		}
		fmt.Fprintln(w)
	}

	for _, n := range s.NICs {
		fmt.Fprintf(w, "\n# ethtool -S %s (%s)\n", n.Dev.Name, n.Driver.Name)
		for _, st := range n.Card.Stats() {
			fmt.Fprintf(w, "     %s: %d\n", st.Name, st.Value)
		}
	}
	return nil
}

func (s *System) pciOf(d *netcore.Device) string {
	for _, n := range s.NICs {
		if n.Dev == d {
			return n.Addr
		}
	}
	return "-"
}
