package appliance

import (
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/counter"
	"github.com/ringonet/ringo/netcore/neigh"
)

// Status is one reading of what the status page shows: what a person
// would ask ip, ss, ethtool -S and /proc/net for. /status.json is this
// struct; the text page and the web page render it.
type Status struct {
	TimeMS     int64                        `json:"time_ms"` // when it was read, Unix milliseconds
	UptimeS    float64                      `json:"uptime_s"`
	Devices    []DeviceStatus               `json:"devices"`
	Addrs      []AddrStatus                 `json:"addrs"`
	Routes     []RouteStatus                `json:"routes"`
	Neigh      []NeighStatus                `json:"neigh"`
	DNS        []string                     `json:"nameservers"`
	Softnet    []SoftnetStatus              `json:"softnet"`
	Interrupts []IRQStatus                  `json:"interrupts"`
	SNMP       map[string]map[string]uint64 `json:"snmp"` // Ip, Icmp, Udp, Tcp, TcpExt, Ip6, Icmp6
	Services   map[string]uint64            `json:"services"`
	Sockets    []SocketStatus               `json:"sockets"`
}

// DeviceStatus is a device as ip -s link and ethtool -S show it.
type DeviceStatus struct {
	Name   string            `json:"name"`
	Kind   string            `json:"kind"`
	PCI    string            `json:"pci"`
	MAC    string            `json:"mac"`
	State  string            `json:"state"` // DOWN, UP,LOWER_UP or UP,NO-CARRIER
	MTU    int               `json:"mtu"`
	Stats  map[string]uint64 `json:"stats"`            // ip -s link: rx_packets, tx_dropped, ...
	Qdisc  map[string]uint64 `json:"qdisc"`            // tc -s qdisc
	Driver map[string]uint64 `json:"driver,omitempty"` // ethtool -S

	driverStats []counter.Stat // the same in the driver's order, for the text page
}

// AddrStatus is one address (ip addr, ip -6 addr).
type AddrStatus struct {
	Dev    string `json:"dev"`
	Family string `json:"family"` // inet or inet6
	Prefix string `json:"prefix"`
	State  string `json:"state,omitempty"` // IPv6: tentative, preferred, ...
	How    string `json:"how"`             // static, dhcp ... or autoconf
}

// RouteStatus is one route (ip route, ip -6 route).
type RouteStatus struct {
	Family  string `json:"family"` // inet or inet6
	Dst     string `json:"dst"`
	Gateway string `json:"gateway,omitempty"`
	Dev     string `json:"dev"`
	Metric  int    `json:"metric,omitempty"`
}

// NeighStatus is one neighbour entry (ip neigh).
type NeighStatus struct {
	IP     string `json:"ip"`
	Dev    string `json:"dev"`
	MAC    string `json:"mac"`
	State  string `json:"state"`
	Queued int    `json:"queued"`
}

// SoftnetStatus is one CPU's softnet (/proc/net/softnet_stat).
type SoftnetStatus struct {
	CPU         int    `json:"cpu"`
	Processed   uint64 `json:"processed"`
	Dropped     uint64 `json:"dropped"`
	TimeSqueeze uint64 `json:"time_squeeze"`
	ReceivedRPS uint64 `json:"received_rps"`
	Backlog     int    `json:"backlog"`
}

// IRQStatus is one interrupt line (/proc/interrupts).
type IRQStatus struct {
	Line     string `json:"line"`
	CPU      int    `json:"cpu"`
	Count    uint64 `json:"count"`
	Spurious uint64 `json:"spurious"`
}

// SocketStatus is one socket (ss -tu).
type SocketStatus struct {
	Proto  string `json:"proto"`
	State  string `json:"state"`
	Local  string `json:"local"`
	Remote string `json:"remote"`
	RecvQ  int    `json:"recv_q"`
	SendQ  int    `json:"send_q"`
	Drops  uint64 `json:"drops,omitempty"`
	CC     string `json:"cc,omitempty"`
	Cwnd   int    `json:"cwnd,omitempty"`
	RTTus  int64  `json:"rtt_us,omitempty"`
}

func statMap(stats []counter.Stat) map[string]uint64 {
	m := make(map[string]uint64, len(stats))
	for _, st := range stats {
		m[st.Name] = st.Value
	}
	return m
}

// Status reads everything the status page shows.
func (s *System) Status() Status {
	now := time.Now()
	st := Status{TimeMS: now.UnixMilli(), UptimeS: now.Sub(s.Start).Seconds(),
		SNMP: map[string]map[string]uint64{
			"Ip": statMap(counter.Fields(&s.Stack.IP.MIB)), "Icmp": statMap(counter.Fields(&s.Stack.IP.ICMP)),
			"Udp": statMap(counter.Fields(&s.Stack.UDP.Stats)), "Tcp": statMap(counter.Fields(&s.Stack.TCP.Stats)),
			"TcpExt": statMap(counter.Fields(&s.Stack.TCP.Ext)),
			"Ip6":    statMap(counter.Fields(&s.Stack.IP6.MIB)), "Icmp6": statMap(counter.Fields(&s.Stack.IP6.ICMP)),
		},
		Services: statMap(counter.Snake(counter.Fields(&s.ServiceStats))),
	}
	for _, sd := range s.Core.SoftnetStats() {
		st.Softnet = append(st.Softnet, SoftnetStatus{CPU: sd.CPU, Processed: sd.Processed, Dropped: sd.Dropped,
			TimeSqueeze: sd.TimeSqueeze, ReceivedRPS: sd.ReceivedRPS, Backlog: sd.BacklogLen})
	}
	for _, d := range s.Core.Devices() {
		state := "DOWN"
		if d.IsUp() {
			state = "UP,NO-CARRIER"
			if d.Carrier() {
				state = "UP,LOWER_UP"
			}
		}
		q := d.Qdisc()
		ds := DeviceStatus{Name: d.Name, Kind: d.Kind, PCI: s.pciOf(d), MAC: d.HardwareAddr.String(), State: state, MTU: d.MTU(),
			Stats: statMap(counter.Snake(counter.Fields(&d.Stats))),
			Qdisc: map[string]uint64{"enqueued": q.Enqueued.Load(), "drops": q.Drops.Load(), "requeues": q.Requeues.Load(),
				"backlog_packets": uint64(q.Len()), "backlog_bytes": uint64(q.Backlog())}}
		for _, n := range s.NICs {
			if n.Dev == d {
				ds.driverStats = n.Card.Stats() // reads the statistics registers: once per status
				ds.Driver = statMap(ds.driverStats)
			}
		}
		st.Devices = append(st.Devices, ds)
	}
	for _, a := range s.Stack.IP.Addresses() {
		how := "static"
		if l, ok := s.Leases[a.Dev.Name]; ok {
			how = "dhcp " + l
		}
		st.Addrs = append(st.Addrs, AddrStatus{Dev: a.Dev.Name, Family: "inet", Prefix: a.Prefix.String(), How: how})
	}
	for _, a := range s.Stack.IP6.Addrs() {
		how := "static"
		if a.Autoconf {
			how = "autoconf"
		}
		st.Addrs = append(st.Addrs, AddrStatus{Dev: a.Dev.Name, Family: "inet6", Prefix: a.Prefix.String(), State: a.State.String(), How: how})
	}
	for _, r := range s.Stack.IP.Routes() {
		rs := RouteStatus{Family: "inet", Dst: r.Dst.String(), Dev: r.Dev.Name}
		if r.Gateway.IsValid() {
			rs.Gateway = r.Gateway.String()
		}
		st.Routes = append(st.Routes, rs)
	}
	for _, r := range s.Stack.IP6.Routes() {
		rs := RouteStatus{Family: "inet6", Dst: r.Dst.String(), Dev: r.Dev.Name, Metric: r.Metric}
		if r.Gateway.IsValid() {
			rs.Gateway = r.Gateway.String()
		}
		st.Routes = append(st.Routes, rs)
	}
	for _, a := range s.Stack.Nameservers() {
		st.DNS = append(st.DNS, a.String())
	}
	for _, t := range []*neigh.Table{s.Stack.IP.Neigh, s.Stack.IP6.Neigh} {
		for _, e := range t.Entries() {
			mac := "-"
			if e.MAC != nil {
				mac = e.MAC.String()
			}
			st.Neigh = append(st.Neigh, NeighStatus{IP: e.IP.String(), Dev: e.Dev, MAC: mac, State: e.State.String(), Queued: e.Queue})
		}
	}
	if s.Bridge != nil {
		for _, l := range s.Bridge.Lines() {
			st.Interrupts = append(st.Interrupts, IRQStatus{Line: l.Name, CPU: l.CPU, Count: l.Count(), Spurious: l.Spurious()})
		}
	}
	for _, so := range s.Stack.UDP.Sockets() {
		st.Sockets = append(st.Sockets, SocketStatus{Proto: "udp", State: "UNCONN", Local: so.Local, Remote: so.Remote, RecvQ: so.RecvQ, Drops: so.Drops})
	}
	for _, so := range s.Stack.TCP.Sockets() {
		ss := SocketStatus{Proto: "tcp", State: so.State, Local: so.Local, Remote: so.Remote, RecvQ: so.RecvQ, SendQ: so.SendQ}
		if so.State != "LISTEN" {
			ss.CC, ss.Cwnd, ss.RTTus = so.Info.CongestionControl, so.Info.Cwnd, so.Info.RTT.Microseconds()
		}
		st.Sockets = append(st.Sockets, ss)
	}
	sort.SliceStable(st.Sockets, func(i, j int) bool {
		if st.Sockets[i].Proto != st.Sockets[j].Proto {
			return st.Sockets[i].Proto > st.Sockets[j].Proto // udp first, as ss -tu
		}
		return st.Sockets[i].Local < st.Sockets[j].Local
	})
	return st
}

// linkColumns are ip -s link's columns on the text page.
var linkColumns = []string{"rx_packets", "rx_bytes", "rx_errors", "rx_dropped", "tx_packets", "tx_bytes", "tx_errors", "tx_dropped"}

// WriteStatus prints the status as text: ip, ss, ethtool -S and
// /proc/net's layouts, one after another.
func (s *System) WriteStatus(w io.Writer) error {
	st := s.Status()
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "ringo appliance, up %v\n\n", time.Duration(st.UptimeS*float64(time.Second)).Round(time.Second))

	fmt.Fprintln(tw, "# ip -s link")
	fmt.Fprint(tw, "dev\tkind\tpci\tmac\tstate\tmtu\t")
	for _, c := range linkColumns {
		fmt.Fprintf(tw, "%s\t", c)
	}
	fmt.Fprintln(tw)
	for _, d := range st.Devices {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t", d.Name, d.Kind, d.PCI, d.MAC, d.State, d.MTU)
		for _, c := range linkColumns {
			fmt.Fprintf(tw, "%d\t", d.Stats[c])
		}
		fmt.Fprintln(tw)
	}

	section := func(title, family string) {
		fmt.Fprintf(tw, "\n# %s\n", title)
		for _, a := range st.Addrs {
			if a.Family == family {
				fmt.Fprintf(tw, "%s\t%s %s\t%s\t%s\t\n", a.Dev, a.Family, a.Prefix, a.State, a.How)
			}
		}
	}
	routes := func(title string, v6 bool) {
		fmt.Fprintf(tw, "\n# %s\n", title)
		for _, r := range st.Routes {
			if (r.Family == "inet6") != v6 {
				continue
			}
			via := ""
			if r.Gateway != "" {
				via = "via " + r.Gateway
			}
			fmt.Fprintf(tw, "%s\t%s\tdev %s\t", r.Dst, via, r.Dev)
			if v6 {
				fmt.Fprintf(tw, "metric %d\t", r.Metric)
			}
			fmt.Fprintln(tw)
		}
	}
	section("ip addr", "inet")
	routes("ip route", false)
	section("ip -6 addr", "inet6")
	routes("ip -6 route", true)

	fmt.Fprintln(tw, "\n# /etc/resolv.conf")
	for _, a := range st.DNS {
		fmt.Fprintf(tw, "nameserver %s\n", a)
	}

	fmt.Fprintln(tw, "\n# ip neigh")
	for _, n := range st.Neigh {
		fmt.Fprintf(tw, "%s\tdev %s\tlladdr %s\t%s\tqueued %d\t\n", n.IP, n.Dev, n.MAC, n.State, n.Queued)
	}
	tw.Flush()

	fmt.Fprintln(w, "\n# /proc/net/softnet_stat")
	s.Core.WriteSoftnetStat(w)
	fmt.Fprintln(w, "\n# /proc/interrupts")
	if s.Bridge != nil {
		s.Bridge.WriteInterrupts(w)
	}
	fmt.Fprintln(w, "\n# /proc/net/snmp")
	s.Stack.WriteSNMP(w)
	fmt.Fprintln(w, "\n# /proc/net/snmp6")
	s.Stack.WriteSNMP6(w)

	fmt.Fprint(w, "\n# services\n")
	for _, k := range sortedKeys(st.Services) {
		fmt.Fprintf(w, "%s %d ", k, st.Services[k])
	}
	fmt.Fprintln(w)

	fmt.Fprintln(w, "\n# ss -tu")
	for _, so := range st.Sockets {
		fmt.Fprintf(w, "%-4s %-12s %-22s %-22s recv-q %d", so.Proto, so.State, so.Local, so.Remote, so.RecvQ)
		switch {
		case so.Proto == "udp":
			fmt.Fprintf(w, " drops %d", so.Drops)
		case so.State != "LISTEN":
			fmt.Fprintf(w, " send-q %d %s cwnd %d rtt %v", so.SendQ, so.CC, so.Cwnd, time.Duration(so.RTTus)*time.Microsecond)
		default:
			fmt.Fprintf(w, " send-q %d", so.SendQ)
		}
		fmt.Fprintln(w)
	}

	for _, d := range st.Devices {
		if d.driverStats == nil {
			continue
		}
		fmt.Fprintf(w, "\n# ethtool -S %s (%s)\n", d.Name, d.Kind)
		for _, c := range d.driverStats {
			fmt.Fprintf(w, "     %s: %d\n", c.Name, c.Value)
		}
	}
	return nil
}

func sortedKeys(m map[string]uint64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (s *System) pciOf(d *netcore.Device) string {
	for _, n := range s.NICs {
		if n.Dev == d {
			return n.Addr
		}
	}
	return "-"
}
