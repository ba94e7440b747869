package ipv6

import (
	"fmt"
	"io"
	"sync/atomic"

	"github.com/ringonet/ringo/netcore/counter"
)

// IPStats are the Ip6 counters of /proc/net/snmp6, with Linux's names.
type IPStats struct {
	Ip6InReceives       atomic.Uint64
	Ip6InHdrErrors      atomic.Uint64
	Ip6InTooBigErrors   atomic.Uint64
	Ip6InNoRoutes       atomic.Uint64
	Ip6InAddrErrors     atomic.Uint64
	Ip6InUnknownProtos  atomic.Uint64
	Ip6InTruncatedPkts  atomic.Uint64
	Ip6InDiscards       atomic.Uint64
	Ip6InDelivers       atomic.Uint64
	Ip6OutForwDatagrams atomic.Uint64
	Ip6OutRequests      atomic.Uint64
	Ip6OutDiscards      atomic.Uint64
	Ip6OutNoRoutes      atomic.Uint64
	Ip6ReasmTimeout     atomic.Uint64
	Ip6ReasmReqds       atomic.Uint64
	Ip6ReasmOKs         atomic.Uint64
	Ip6ReasmFails       atomic.Uint64
	Ip6FragOKs          atomic.Uint64
	Ip6FragFails        atomic.Uint64
	Ip6FragCreates      atomic.Uint64
	Ip6InMcastPkts      atomic.Uint64
	Ip6OutMcastPkts     atomic.Uint64
	// ringo's detail.
	ReasmOverlaps  atomic.Uint64 // datagrams dropped for overlapping fragments (RFC 5722)
	ReasmMemDrops  atomic.Uint64
	AddrLimitDrops atomic.Uint64 // addresses refused: the device has MaxAddrs
	HookDrops      atomic.Uint64 // dropped by a filter (AddHook)
	SoftOffloads   atomic.Uint64 // packets segmented or checksummed in software (GSO)
	RADrops        atomic.Uint64 // router advertisement content refused: bogus prefixes, or past the bounds on routers and prefixes
}

// ICMPStats are the Icmp6 counters of /proc/net/snmp6.
type ICMPStats struct {
	Icmp6InMsgs                    atomic.Uint64
	Icmp6InErrors                  atomic.Uint64
	Icmp6OutMsgs                   atomic.Uint64
	Icmp6OutErrors                 atomic.Uint64
	Icmp6InCsumErrors              atomic.Uint64
	Icmp6InDestUnreachs            atomic.Uint64
	Icmp6InPktTooBigs              atomic.Uint64
	Icmp6InTimeExcds               atomic.Uint64
	Icmp6InParmProblems            atomic.Uint64
	Icmp6InEchos                   atomic.Uint64
	Icmp6InEchoReplies             atomic.Uint64
	Icmp6InGroupMembQueries        atomic.Uint64
	Icmp6InRouterSolicits          atomic.Uint64
	Icmp6InRouterAdvertisements    atomic.Uint64
	Icmp6InNeighborSolicits        atomic.Uint64
	Icmp6InNeighborAdvertisements  atomic.Uint64
	Icmp6InRedirects               atomic.Uint64
	Icmp6InMLDv2Reports            atomic.Uint64
	Icmp6OutDestUnreachs           atomic.Uint64
	Icmp6OutPktTooBigs             atomic.Uint64
	Icmp6OutTimeExcds              atomic.Uint64
	Icmp6OutParmProblems           atomic.Uint64
	Icmp6OutEchos                  atomic.Uint64
	Icmp6OutEchoReplies            atomic.Uint64
	Icmp6OutRouterSolicits         atomic.Uint64
	Icmp6OutNeighborSolicits       atomic.Uint64
	Icmp6OutNeighborAdvertisements atomic.Uint64
	Icmp6OutMLDv2Reports           atomic.Uint64
	// ringo's detail.
	RateLimited  atomic.Uint64 // errors not sent: the rate limit
	NDInvalid    atomic.Uint64 // neighbour discovery messages dropped by RFC 4861's validity checks
	DADConflicts atomic.Uint64 // addresses another node has (dadfailed)
}

// WriteSNMP6 prints the counters in /proc/net/snmp6's layout: one name and
// value per line.
func (s *Stack) WriteSNMP6(w io.Writer) error {
	for _, g := range []any{&s.MIB, &s.ICMP} {
		for _, st := range counter.Fields(g) {
			if _, err := fmt.Fprintf(w, "%-32s%d\n", st.Name, st.Value); err != nil {
				return err
			}
		}
	}
	return nil
}
