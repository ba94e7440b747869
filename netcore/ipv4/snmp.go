package ipv4

import (
	"fmt"
	"io"
	"sync/atomic"

	"github.com/ringonet/ringo/netcore/counter"
)

// IPStats are the Ip: counters of /proc/net/snmp (RFC 4293's IP MIB), in
// its column order, plus the reassembly details of /proc/net/netstat.
type IPStats struct {
	InReceives      atomic.Uint64
	InHdrErrors     atomic.Uint64
	InAddrErrors    atomic.Uint64
	ForwDatagrams   atomic.Uint64
	InUnknownProtos atomic.Uint64
	InDiscards      atomic.Uint64
	InDelivers      atomic.Uint64
	OutRequests     atomic.Uint64
	OutDiscards     atomic.Uint64
	OutNoRoutes     atomic.Uint64
	ReasmTimeout    atomic.Uint64
	ReasmReqds      atomic.Uint64
	ReasmOKs        atomic.Uint64
	ReasmFails      atomic.Uint64
	FragOKs         atomic.Uint64
	FragFails       atomic.Uint64
	FragCreates     atomic.Uint64
	// IpExt: and extra detail.
	InTruncatedPkts atomic.Uint64
	InCsumErrors    atomic.Uint64
	ReasmOverlaps   atomic.Uint64
	ReasmOversize   atomic.Uint64
	ReasmMemDrops   atomic.Uint64
	HookDrops       atomic.Uint64
	SoftOffloads    atomic.Uint64 // packets segmented or checksummed in software for a device without the offload
}

// ICMPStats are the Icmp: counters of /proc/net/snmp.
type ICMPStats struct {
	InMsgs           atomic.Uint64
	InErrors         atomic.Uint64
	InCsumErrors     atomic.Uint64
	InDestUnreachs   atomic.Uint64
	InTimeExcds      atomic.Uint64
	InParmProbs      atomic.Uint64
	InRedirects      atomic.Uint64
	InEchos          atomic.Uint64
	InEchoReps       atomic.Uint64
	InTimestamps     atomic.Uint64
	OutMsgs          atomic.Uint64
	OutErrors        atomic.Uint64
	OutRateLimited   atomic.Uint64
	OutDestUnreachs  atomic.Uint64
	OutTimeExcds     atomic.Uint64
	OutEchos         atomic.Uint64
	OutEchoReps      atomic.Uint64
	OutTimestampReps atomic.Uint64
	InBroadcastEcho  atomic.Uint64 // ignored echoes to broadcast addresses
}

// WriteSNMP prints the counters in /proc/net/snmp's layout: a line of
// names and a line of values per group.
func (s *Stack) WriteSNMP(w io.Writer) error {
	fwd := 2
	if s.cfg.Forwarding {
		fwd = 1
	}
	groups := []struct {
		name  string
		pre   []string
		prev  []uint64
		stats any
	}{
		{"Ip", []string{"Forwarding", "DefaultTTL"}, []uint64{uint64(fwd), uint64(s.cfg.DefaultTTL)}, &s.MIB},
		{"Icmp", nil, nil, &s.ICMP},
	}
	for _, g := range groups {
		names, values := fieldLists(g.stats)
		names, values = append(g.pre, names...), append(g.prev, values...)
		if err := writeGroup(w, g.name, names, values); err != nil {
			return err
		}
	}
	return nil
}

func writeGroup(w io.Writer, group string, names []string, values []uint64) error {
	if _, err := fmt.Fprintf(w, "%s:", group); err != nil {
		return err
	}
	for _, n := range names {
		fmt.Fprintf(w, " %s", n)
	}
	fmt.Fprintf(w, "\n%s:", group)
	for _, v := range values {
		fmt.Fprintf(w, " %d", v)
	}
	_, err := fmt.Fprintln(w)
	return err
}

// WriteGroup prints one counter group in /proc/net/snmp's layout (for the
// transport protocols' Udp: and Tcp: lines).
func WriteGroup(w io.Writer, group string, stats any) error {
	names, values := fieldLists(stats)
	return writeGroup(w, group, names, values)
}

// fieldLists splits counter.Fields into the names and values lines of a
// /proc/net/snmp group.
func fieldLists(v any) (names []string, values []uint64) {
	for _, st := range counter.Fields(v) {
		names = append(names, st.Name)
		values = append(values, st.Value)
	}
	return names, values
}
