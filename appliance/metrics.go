package appliance

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"

	"github.com/ringonet/ringo/netcore/counter"
	"github.com/ringonet/ringo/netcore/neigh"
	"github.com/ringonet/ringo/netcore/skb"
)

// Metrics is the appliance's Prometheus registry: ringo's counters read
// at scrape time by one collector (no second bookkeeping), with Go's
// runtime and the process beside them.
func (s *System) Metrics() *prometheus.Registry {
	s.metricsOnce.Do(func() {
		s.registry = prometheus.NewRegistry()
		s.registry.MustRegister(metricsCollector{s}, collectors.NewGoCollector(),
			collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	})
	return s.registry
}

// MetricsHandler serves /metrics in the exposition format the scraper
// asks for; at most two scrapes run at once (a third waits its turn in
// the HTTP server's bounded connections, not in memory here).
func (s *System) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(s.Metrics(), promhttp.HandlerOpts{MaxRequestsInFlight: 2})
}

// WriteMetrics prints every metric in the Prometheus text format (ringo
// stats -prometheus).
func (s *System) WriteMetrics(w io.Writer) error {
	mfs, err := s.Metrics().Gather()
	if err != nil {
		return fmt.Errorf("appliance: gather metrics: %w", err)
	}
	enc := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return fmt.Errorf("appliance: encode metrics: %w", err)
		}
	}
	return nil
}

// metricsCollector is unchecked (Describe sends nothing): devices,
// interrupt lines and neighbour states come and go while it runs.
type metricsCollector struct{ s *System }

func (metricsCollector) Describe(chan<- *prometheus.Desc) {}

// emitter builds one scrape's metrics; each name has one help text and
// one label set, as the registry checks.
type emitter struct {
	ch chan<- prometheus.Metric
}

func (e emitter) emit(name, help string, t prometheus.ValueType, v float64, labels ...string) {
	var keys, values []string
	for i := 0; i+1 < len(labels); i += 2 {
		keys, values = append(keys, labels[i]), append(values, labels[i+1])
	}
	e.ch <- prometheus.MustNewConstMetric(prometheus.NewDesc(name, help, keys, nil), t, v, values...)
}

func (e emitter) counter(name, help string, v uint64, labels ...string) {
	e.emit(name+"_total", help, prometheus.CounterValue, float64(v), labels...)
}

func (e emitter) gauge(name, help string, v float64, labels ...string) {
	e.emit(name, help, prometheus.GaugeValue, v, labels...)
}

// stats emits a counter group: prefix_<field in snake case>_total, or a
// gauge for a field that goes down too. trim is a prefix the kernel's
// names repeat (Ip6 in Ip6InReceives, TCP in TcpExt's TCPSackRecovery).
func (e emitter) stats(prefix, origin, trim string, stats []counter.Stat, labels ...string) {
	for _, st := range stats {
		name := prefix + "_" + metricName(strings.TrimPrefix(st.Name, trim))
		help := origin + " " + st.Name
		if st.Gauge {
			e.gauge(name, help, float64(int64(st.Value)), labels...)
		} else {
			e.counter(name, help, st.Value, labels...)
		}
	}
}

// metricName is a counter's name in Prometheus's snake case, with any
// character outside [a-z0-9_] (a driver's statistic is its own) made _.
func metricName(s string) string {
	if strings.ContainsAny(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
		s = counter.Snake([]counter.Stat{{Name: s}})[0].Name
	}
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}

func bool01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (c metricsCollector) Collect(ch chan<- prometheus.Metric) {
	s, e := c.s, emitter{ch}
	e.gauge("ringo_start_time_seconds", "When the appliance started, seconds since the epoch.", float64(s.Start.UnixNano())/1e9)
	e.gauge("ringo_skb_live", "Packet buffers allocated and not yet freed.", float64(skb.Live()))

	for _, d := range s.Core.Devices() {
		dev := []string{"dev", d.Name, "driver", d.Kind}
		e.gauge("ringo_device_info", "A device: its MAC address and PCI address (value 1).", 1,
			"dev", d.Name, "driver", d.Kind, "mac", d.HardwareAddr.String(), "pci", s.pciOf(d))
		e.gauge("ringo_device_up", "The device is administratively up (IFF_UP).", bool01(d.IsUp()), dev...)
		e.gauge("ringo_device_carrier", "The device has carrier (IFF_LOWER_UP).", bool01(d.Carrier()), dev...)
		e.gauge("ringo_device_mtu_bytes", "The device's MTU.", float64(d.MTU()), dev...)
		e.stats("ringo_device", "ip -s link:", "", counter.Snake(counter.Fields(&d.Stats)), dev...)
		q := d.Qdisc()
		e.counter("ringo_qdisc_enqueued_packets", "tc -s qdisc: packets the pfifo_fast qdisc took.", q.Enqueued.Load(), dev...)
		e.counter("ringo_qdisc_drops", "tc -s qdisc: packets dropped, the qdisc full.", q.Drops.Load(), dev...)
		e.counter("ringo_qdisc_requeues", "tc -s qdisc: packets the driver refused and the qdisc put back.", q.Requeues.Load(), dev...)
		e.gauge("ringo_qdisc_backlog_packets", "tc -s qdisc: packets held.", float64(q.Len()), dev...)
		e.gauge("ringo_qdisc_backlog_bytes", "tc -s qdisc: bytes held.", float64(q.Backlog()), dev...)
		for i, n := range d.NAPIs() {
			napi := append(dev[:len(dev):len(dev)], "napi", strconv.Itoa(i))
			e.counter("ringo_napi_polls", "NAPI polls of the instance.", n.Polls(), napi...)
			e.stats("ringo_gro", "GRO:", "", counter.Snake(counter.Fields(n.GROStats())), napi...)
		}
	}
	for _, n := range s.NICs {
		e.stats("ringo_driver", "ethtool -S:", "", n.Card.Stats(), "dev", n.Dev.Name, "driver", n.Driver.Name)
	}

	for _, sd := range s.Core.SoftnetStats() {
		cpu := []string{"cpu", strconv.Itoa(sd.CPU)}
		e.counter("ringo_softnet_processed", "softnet_stat: packets the CPU's net_rx_action processed.", sd.Processed, cpu...)
		e.counter("ringo_softnet_dropped", "softnet_stat: packets dropped, the backlog full.", sd.Dropped, cpu...)
		e.counter("ringo_softnet_time_squeeze", "softnet_stat: net_rx_action runs ended by the budget or the time limit with work left.", sd.TimeSqueeze, cpu...)
		e.counter("ringo_softnet_received_rps", "softnet_stat: RPS wake-ups of this CPU's backlog.", sd.ReceivedRPS, cpu...)
		e.counter("ringo_softnet_rx_actions", "NET_RX softirq runs.", sd.RxActions, cpu...)
		e.counter("ringo_softnet_tx_actions", "NET_TX softirq runs.", sd.TxActions, cpu...)
		e.gauge("ringo_softnet_backlog_packets", "softnet_stat: packets in the CPU's backlog.", float64(sd.BacklogLen), cpu...)
	}
	if s.Bridge != nil {
		for _, l := range s.Bridge.Lines() {
			line := []string{"line", l.Name, "cpu", strconv.Itoa(l.CPU)}
			e.counter("ringo_interrupts", "/proc/interrupts: interrupts taken on the line.", l.Count(), line...)
			e.counter("ringo_interrupts_spurious", "Interrupts the device had not raised.", l.Spurious(), line...)
		}
	}

	for fam, t := range map[string]*neigh.Table{"ipv4": s.Stack.IP.Neigh, "ipv6": s.Stack.IP6.Neigh} {
		e.stats("ringo_neigh", "ip -s neigh:", "", counter.Snake(counter.Fields(&t.Stats)), "family", fam)
		states := map[string]int{}
		for _, en := range t.Entries() {
			states[en.State.String()]++
		}
		for st, n := range states {
			e.gauge("ringo_neigh_entries", "Neighbour entries by state.", float64(n), "family", fam, "state", st)
		}
	}

	e.stats("ringo_ip", "/proc/net/snmp Ip:", "", counter.Fields(&s.Stack.IP.MIB))
	e.stats("ringo_icmp", "/proc/net/snmp Icmp:", "", counter.Fields(&s.Stack.IP.ICMP))
	e.stats("ringo_udp", "/proc/net/snmp Udp:", "", counter.Fields(&s.Stack.UDP.Stats))
	e.stats("ringo_tcp", "/proc/net/snmp Tcp:", "", counter.Fields(&s.Stack.TCP.Stats))
	e.stats("ringo_tcpext", "/proc/net/netstat TcpExt:", "TCP", counter.Fields(&s.Stack.TCP.Ext))
	e.stats("ringo_ip6", "/proc/net/snmp6", "Ip6", counter.Fields(&s.Stack.IP6.MIB))
	e.stats("ringo_icmp6", "/proc/net/snmp6", "Icmp6", counter.Fields(&s.Stack.IP6.ICMP))

	tcpStates := map[string]int{}
	for _, so := range s.Stack.TCP.Sockets() {
		tcpStates[so.State]++
	}
	for st, n := range tcpStates {
		e.gauge("ringo_tcp_sockets", "ss -t: TCP sockets by state.", float64(n), "state", st)
	}
	e.gauge("ringo_udp_sockets", "ss -u: UDP sockets.", float64(len(s.Stack.UDP.Sockets())))
	e.stats("ringo_service", "The appliance's services:", "", counter.Snake(counter.Fields(&s.ServiceStats)))
}
