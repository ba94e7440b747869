// Package neigh is the neighbour subsystem (Linux's net/core/neighbour.c):
// a bounded table of IP-to-MAC entries that move through the NUD states,
// packets queued while an address resolves, and retries. One Table per
// address family, each with its resolver, as Linux has arp_tbl and
// nd_tbl over the same code: ARP lives here (net/ipv4/arp.c, New), IPv6
// neighbour discovery in package ipv6 (net/ipv6/ndisc.c, NewTable with
// its Proto).
package neigh

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/netcore/skb"
)

// State is a neighbour's NUD state.
type State uint8

const (
	None       State = iota
	Incomplete       // resolving: requests out, packets queued
	Reachable        // confirmed recently
	Stale            // usable, unconfirmed: the next use starts a check
	Delay            // used while stale: wait for an upper-layer confirmation
	Probe            // unicast requests to the cached address
	Failed           // resolution failed: queued packets dropped
	Permanent        // static: never changes, never expires
)

func (s State) String() string {
	return [...]string{"NONE", "INCOMPLETE", "REACHABLE", "STALE", "DELAY", "PROBE", "FAILED", "PERMANENT"}[s]
}

// Config holds the neighbour parameters (ip neigh / sysctl names).
type Config struct {
	BaseReachable   time.Duration // base_reachable_time: 30 s
	RetransTime     time.Duration // retrans_time: 1 s
	DelayFirstProbe time.Duration // delay_first_probe_time: 5 s
	McastProbes     int           // broadcast requests before failing: 3
	UcastProbes     int           // unicast probes before failing: 3
	QueueLen        int           // packets queued per unresolved entry: 64
	MaxEntries      int           // gc_thresh3: 1024
	GCStale         time.Duration // unused stale/failed entries removed after: 60 s
	Logger          *slog.Logger
}

func (c *Config) defaults() {
	if c.BaseReachable == 0 {
		c.BaseReachable = 30 * time.Second
	}
	if c.RetransTime == 0 {
		c.RetransTime = time.Second
	}
	if c.DelayFirstProbe == 0 {
		c.DelayFirstProbe = 5 * time.Second
	}
	if c.McastProbes == 0 {
		c.McastProbes = 3
	}
	if c.UcastProbes == 0 {
		c.UcastProbes = 3
	}
	if c.QueueLen == 0 {
		c.QueueLen = 64
	}
	if c.MaxEntries == 0 {
		c.MaxEntries = 1024
	}
	if c.GCStale == 0 {
		c.GCStale = 60 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Proto is the address family a table resolves for (Linux's neigh_table
// with its neigh_ops).
type Proto struct {
	Name      string // "arp", "ndisc": for logs
	EtherType uint16 // of the frames the table sends
	// Solicit asks for target's link address on dev: to the
	// family's broadcast or multicast when mac is nil, else unicast to
	// mac to check a cached address (neigh_ops.solicit). It must not
	// call back into the table.
	Solicit func(dev *netcore.Device, target netip.Addr, mac net.HardwareAddr)
}

// Hooks connect the table to the IP layer.
type Hooks struct {
	// IsLocal reports whether ip is one of dev's addresses (requests for
	// it are answered).
	IsLocal func(dev *netcore.Device, ip netip.Addr) bool
	// Martian reports whether ip can never be a neighbour's address: one
	// of ours, a broadcast address, loopback, multicast or zero-net
	// (Linux's fib_validate_source rejects them as ARP senders).
	Martian func(ip netip.Addr) bool
	// SourceFor picks the sender address of a request for target on dev.
	SourceFor func(dev *netcore.Device, target netip.Addr) (netip.Addr, bool)
	// Unreachable takes each packet dropped because resolution failed
	// (data at the IP header); it owns it. ipv4 sends ICMP host
	// unreachable to a local sender.
	Unreachable func(b *skb.Buff)
}

type key struct {
	dev int
	ip  netip.Addr
}

type entry struct {
	dev       *netcore.Device
	ip        netip.Addr
	mac       [6]byte
	state     State
	updated   time.Time // entered the state
	confirmed time.Time // last reachability confirmation
	used      time.Time
	lastProbe time.Time
	probes    int
	reachable time.Duration
	queue     *skb.Queue
}

// Table is the neighbour table.
type Table struct {
	cfg   Config
	proto Proto
	hooks Hooks
	log   *slog.Logger

	mu      sync.Mutex // guards entries and every entry's fields
	entries map[key]*entry

	stop chan struct{}
	done chan struct{}

	Stats Stats
}

// Stats are the table's counters (ip -s neigh / arp_cache stats).
type Stats struct {
	Lookups         atomic.Uint64
	ResolveFailed   atomic.Uint64 // entries that went FAILED
	UnresolvedDrops atomic.Uint64 // packets dropped: queue full or resolution failed
	TableFull       atomic.Uint64 // no room for a new entry
	Evictions       atomic.Uint64
	RequestsIn      atomic.Uint64
	RepliesIn       atomic.Uint64
	RequestsOut     atomic.Uint64
	RepliesOut      atomic.Uint64
	BadARP          atomic.Uint64 // malformed or with a bogus sender (broadcast, multicast or zero MAC)
	MartianSenders  atomic.Uint64 // sender IP loopback, broadcast, multicast, zero-net or our own: learnt nothing
	AddrConflicts   atomic.Uint64 // another host sent with one of our addresses
	SpoofIgnored    atomic.Uint64 // tried to change a permanent entry
}

// New creates the IPv4 table with ARP as its resolver: it registers ARP
// with the core and starts the timer.
func New(c *netcore.Core, cfg Config, hooks Hooks) *Table {
	t := NewTable(cfg, Proto{Name: "arp", EtherType: netcore.EthPIPv4}, hooks)
	t.proto.Solicit = t.arpSolicit
	c.AddPacketType(netcore.EthPARP, t.arpRcv)
	return t
}

// NewTable creates a table for proto and starts its timer.
func NewTable(cfg Config, proto Proto, hooks Hooks) *Table {
	cfg.defaults()
	t := &Table{cfg: cfg, proto: proto, hooks: hooks, log: cfg.Logger, entries: map[key]*entry{}, stop: make(chan struct{}), done: make(chan struct{})}
	go t.timer()
	return t
}

// Close stops the timer and drops every queued packet.
func (t *Table) Close() {
	close(t.stop)
	<-t.done
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, e := range t.entries {
		if e.queue != nil {
			e.queue.Purge()
		}
	}
}

// Output sends an IP packet (b's data starts at the IP header) to nexthop
// on dev (neigh_resolve_output): with a usable entry the Ethernet header is
// pushed and the frame sent; otherwise the packet waits, bounded, while ARP
// resolves. The table owns b after the call.
func (t *Table) Output(b *skb.Buff, dev *netcore.Device, nexthop netip.Addr) error {
	t.Stats.Lookups.Add(1)
	now := time.Now()
	t.mu.Lock()
	e := t.entries[key{dev.Index, nexthop}]
	if e == nil {
		var err error
		if e, err = t.createLocked(dev, nexthop, now); err != nil {
			t.mu.Unlock()
			t.Stats.UnresolvedDrops.Add(1)
			b.Free()
			return err
		}
	}
	e.used = now
	switch e.state {
	case Reachable, Permanent, Delay, Probe, Stale:
		if e.state == Stale {
			// First use of a stale entry: wait for a confirmation before
			// probing (NUD_DELAY).
			e.state, e.updated = Delay, now
		}
		mac := e.mac
		t.mu.Unlock()
		return xmit(b, dev, mac[:], t.proto.EtherType)
	case None, Failed:
		e.state, e.updated, e.probes = Incomplete, now, 0
		e.lastProbe = time.Time{}
		fallthrough
	default: // Incomplete
		if e.queue == nil {
			e.queue = skb.NewQueue(t.cfg.QueueLen)
		}
		if !e.queue.Push(b) {
			// Linux drops the oldest; the newest is as good and cheaper.
			t.Stats.UnresolvedDrops.Add(1)
			b.Free()
		}
		probe := e.lastProbe.IsZero()
		if probe {
			e.lastProbe, e.probes = now, 1
		}
		t.mu.Unlock()
		if probe {
			t.proto.Solicit(dev, nexthop, nil)
		}
		return nil
	}
}

// OutputDirect sends an IPv4 packet to a known link address
// (broadcast, multicast).
func OutputDirect(b *skb.Buff, dev *netcore.Device, mac net.HardwareAddr) error {
	return xmit(b, dev, mac, netcore.EthPIPv4)
}

// OutputDirectProto is OutputDirect for another ethertype.
func OutputDirectProto(b *skb.Buff, dev *netcore.Device, mac net.HardwareAddr, etherType uint16) error {
	return xmit(b, dev, mac, etherType)
}

func xmit(b *skb.Buff, dev *netcore.Device, dst []byte, etherType uint16) error {
	h := b.Push(header.EthernetLen)
	if h == nil {
		b.Free()
		return fmt.Errorf("neigh: no headroom for the Ethernet header")
	}
	header.EncodeEthernet(h, dst, dev.HardwareAddr, etherType)
	b.SetMACHeader()
	b.Dev = dev
	// A received skb turned into a reply (an echo) must not take its
	// request's tag out: only a VLAN device sets one for the NIC.
	b.VlanTCI, b.VlanPresent = 0, false
	return netcore.DevQueueXmit(b)
}

// createLocked adds an entry, evicting a failed or old stale one if the
// table is full (gc_thresh3 is a hard bound).
func (t *Table) createLocked(dev *netcore.Device, ip netip.Addr, now time.Time) (*entry, error) {
	if len(t.entries) >= t.cfg.MaxEntries && !t.evictLocked() {
		t.Stats.TableFull.Add(1)
		return nil, fmt.Errorf("neigh: table full (%d entries)", t.cfg.MaxEntries)
	}
	e := &entry{dev: dev, ip: ip, state: None, updated: now, used: now}
	t.entries[key{dev.Index, ip}] = e
	return e, nil
}

// evictLocked removes one entry: a failed one, else the least recently
// used stale one.
func (t *Table) evictLocked() bool {
	var victim key
	var oldest time.Time
	found := false
	for k, e := range t.entries {
		if e.state == Failed || e.state == None {
			victim, found = k, true
			break
		}
		if e.state == Stale && (!found || e.used.Before(oldest)) {
			victim, oldest, found = k, e.used, true
		}
	}
	if found {
		t.dropLocked(victim)
		t.Stats.Evictions.Add(1)
	}
	return found
}

func (t *Table) dropLocked(k key) {
	if e := t.entries[k]; e != nil && e.queue != nil {
		e.queue.Purge()
	}
	delete(t.entries, k)
}

// AddStatic installs a permanent entry (ip neigh add ... nud permanent).
func (t *Table) AddStatic(dev *netcore.Device, ip netip.Addr, mac net.HardwareAddr) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.entries[key{dev.Index, ip}]
	if e == nil {
		e = &entry{dev: dev, ip: ip}
		t.entries[key{dev.Index, ip}] = e
	}
	copy(e.mac[:], mac)
	e.state, e.updated = Permanent, time.Now()
	t.flushQueueLocked(e)
}

// Delete removes an entry.
func (t *Table) Delete(dev *netcore.Device, ip netip.Addr) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.dropLocked(key{dev.Index, ip})
}

// Confirm records an upper-layer proof that the neighbour is reachable
// (a TCP ACK, say): a DELAY or PROBE entry goes back to REACHABLE.
func (t *Table) Confirm(dev *netcore.Device, ip netip.Addr) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e := t.entries[key{dev.Index, ip}]; e != nil && e.state != Permanent && e.state != Incomplete && e.state != Failed {
		e.confirmed = time.Now()
		if e.state == Delay || e.state == Probe || e.state == Stale {
			t.setReachableLocked(e)
		}
	}
}

// Entry is one row of ip neigh show.
type Entry struct {
	Dev   string
	IP    netip.Addr
	MAC   net.HardwareAddr
	State State
	Queue int
	Age   time.Duration
}

// Entries lists the table sorted by device and address.
func (t *Table) Entries() []Entry {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	out := make([]Entry, 0, len(t.entries))
	for _, e := range t.entries {
		r := Entry{Dev: e.dev.Name, IP: e.ip, State: e.state, Age: now.Sub(e.updated)}
		if e.state != Incomplete && e.state != Failed && e.state != None {
			r.MAC = net.HardwareAddr(append([]byte(nil), e.mac[:]...))
		}
		if e.queue != nil {
			r.Queue = e.queue.Len()
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Dev != out[j].Dev {
			return out[i].Dev < out[j].Dev
		}
		return out[i].IP.Less(out[j].IP)
	})
	return out
}

// Lookup returns the state of one entry (None if absent).
func (t *Table) Lookup(dev *netcore.Device, ip netip.Addr) (State, net.HardwareAddr) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.entries[key{dev.Index, ip}]
	if e == nil {
		return None, nil
	}
	return e.state, net.HardwareAddr(append([]byte(nil), e.mac[:]...))
}

func (t *Table) setReachableLocked(e *entry) {
	now := time.Now()
	e.state, e.updated, e.confirmed, e.probes = Reachable, now, now, 0
	// reachable_time is random in [base/2, 3*base/2) (RFC 4861 6.3.2).
	e.reachable = t.cfg.BaseReachable/2 + time.Duration(rand.Int64N(int64(t.cfg.BaseReachable)))
}

// update applies a link address learned from ARP. A permanent entry never
// changes: a different address for it is spoofing and is counted.
func (t *Table) updateLocked(e *entry, mac []byte, reachable bool) {
	if e.state == Permanent {
		if !equalMAC(e.mac[:], mac) {
			t.Stats.SpoofIgnored.Add(1)
		}
		return
	}
	changed := !equalMAC(e.mac[:], mac)
	copy(e.mac[:], mac)
	switch {
	case reachable:
		t.setReachableLocked(e)
	case changed || e.state == Incomplete || e.state == None || e.state == Failed:
		e.state, e.updated = Stale, time.Now()
	}
	t.flushQueueLocked(e)
}

// flushQueueLocked sends what waited for resolution. Sending happens with
// the table locked: DevQueueXmit never calls back into the table.
func (t *Table) flushQueueLocked(e *entry) {
	if e.queue == nil {
		return
	}
	for b := e.queue.Pop(); b != nil; b = e.queue.Pop() {
		xmit(b, e.dev, e.mac[:], t.proto.EtherType)
	}
}

func equalMAC(a, b []byte) bool {
	return len(a) == 6 && len(b) == 6 && a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3] && a[4] == b[4] && a[5] == b[5]
}

// timer runs the state machine's clock (neigh_timer_handler and
// neigh_periodic_work in one).
func (t *Table) timer() {
	defer close(t.done)
	tick := time.NewTicker(max(t.cfg.RetransTime/10, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-t.stop:
			return
		case now := <-tick.C:
			t.tick(now)
		}
	}
}

type probeReq struct {
	dev *netcore.Device
	ip  netip.Addr
	mac []byte // nil: broadcast
}

func (t *Table) tick(now time.Time) {
	var probes []probeReq
	var unreachable []*skb.Buff
	t.mu.Lock()
	for k, e := range t.entries {
		switch e.state {
		case Incomplete:
			if now.Sub(e.lastProbe) < t.cfg.RetransTime {
				continue
			}
			if e.probes >= t.cfg.McastProbes {
				t.failLocked(e, now, &unreachable)
				continue
			}
			e.probes++
			e.lastProbe = now
			probes = append(probes, probeReq{e.dev, e.ip, nil})
		case Reachable:
			if now.Sub(e.confirmed) >= e.reachable {
				e.state, e.updated = Stale, now
			}
		case Delay:
			if e.confirmed.After(e.updated) {
				t.setReachableLocked(e)
			} else if now.Sub(e.updated) >= t.cfg.DelayFirstProbe {
				e.state, e.updated, e.probes, e.lastProbe = Probe, now, 1, now
				probes = append(probes, probeReq{e.dev, e.ip, append([]byte(nil), e.mac[:]...)})
			}
		case Probe:
			if now.Sub(e.lastProbe) < t.cfg.RetransTime {
				continue
			}
			if e.probes >= t.cfg.UcastProbes {
				t.failLocked(e, now, &unreachable)
				continue
			}
			e.probes++
			e.lastProbe = now
			probes = append(probes, probeReq{e.dev, e.ip, append([]byte(nil), e.mac[:]...)})
		case Stale, Failed, None:
			if now.Sub(e.used) >= t.cfg.GCStale || (e.state == Failed && now.Sub(e.updated) >= t.cfg.GCStale/4) {
				t.dropLocked(k)
			}
		}
	}
	t.mu.Unlock()
	for _, p := range probes {
		t.proto.Solicit(p.dev, p.ip, p.mac)
	}
	for _, b := range unreachable {
		if t.hooks.Unreachable != nil {
			t.hooks.Unreachable(b)
		} else {
			b.Free()
		}
	}
}

func (t *Table) failLocked(e *entry, now time.Time, unreachable *[]*skb.Buff) {
	t.Stats.ResolveFailed.Add(1)
	e.state, e.updated = Failed, now
	if e.queue != nil {
		for b := e.queue.Pop(); b != nil; b = e.queue.Pop() {
			t.Stats.UnresolvedDrops.Add(1)
			*unreachable = append(*unreachable, b)
		}
	}
	t.log.Debug("neighbour unreachable", "table", t.proto.Name, "dev", e.dev.Name, "ip", e.ip)
}

// Update applies a link address learned from neighbour discovery (Linux's
// neigh_update with RFC 4861 7.2.5's rules): solicited says the
// neighbour answered our solicitation (REACHABLE), override that the
// address replaces a cached different one; without override a different
// address only makes a REACHABLE entry STALE. With create an absent entry
// is made STALE (an NS or RA with a source link-layer option); without,
// an advertisement for an address never asked about is ignored. A nil
// mac confirms without changing the address.
func (t *Table) Update(dev *netcore.Device, ip netip.Addr, mac net.HardwareAddr, solicited, override, create bool) {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.entries[key{dev.Index, ip}]
	if e == nil {
		if !create || mac == nil {
			return
		}
		var err error
		if e, err = t.createLocked(dev, ip, now); err != nil {
			return
		}
	}
	if e.state == Permanent {
		if mac != nil && !equalMAC(e.mac[:], mac) {
			t.Stats.SpoofIgnored.Add(1)
		}
		return
	}
	if e.state == Incomplete || e.state == None || e.state == Failed {
		if mac == nil {
			return
		}
		copy(e.mac[:], mac)
		if solicited {
			t.setReachableLocked(e)
		} else {
			e.state, e.updated = Stale, now
		}
		t.flushQueueLocked(e)
		return
	}
	changed := mac != nil && !equalMAC(e.mac[:], mac)
	if changed && !override && !create {
		if e.state == Reachable {
			e.state, e.updated = Stale, now
		}
		return
	}
	if changed {
		copy(e.mac[:], mac)
	}
	switch {
	case solicited:
		t.setReachableLocked(e)
	case changed:
		e.state, e.updated = Stale, now
	}
}
