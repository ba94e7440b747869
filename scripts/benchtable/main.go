// Command benchtable turns `go test -bench` output (several -count runs)
// into docs/benchmarks.md's tables: the median of each figure with its
// spread, ringo's raw frame rates beside the Linux kernel's on the same
// QEMU topology with their ratio, and a gnuplot script for a PNG chart.
//
//	go test -bench . -count 3 ... | go run ./scripts/benchtable -md out.md -plot out.gp
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// samples[benchmark][unit] = values from each run.
type samples map[string]map[string][]float64

var line = regexp.MustCompile(`^(Benchmark\S+)\s+\d+\s+(.*)$`)

// parse reads benchmark lines; suffix is the "-GOMAXPROCS" go test
// appends to each name, taken off.
func parse(r io.Reader, suffix string) samples {
	s := samples{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		m[1] = strings.TrimSuffix(m[1], suffix)
		f := strings.Fields(m[2])
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			if s[m[1]] == nil {
				s[m[1]] = map[string][]float64{}
			}
			s[m[1]][f[i+1]] = append(s[m[1]][f[i+1]], v)
		}
	}
	return s
}

// stat is a median with its spread.
type stat struct {
	med, lo, hi float64
	n           int
}

func summarize(v []float64) stat {
	if len(v) == 0 {
		return stat{}
	}
	v = slices.Clone(v)
	sort.Float64s(v)
	med := v[len(v)/2]
	if len(v)%2 == 0 {
		med = (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return stat{med, v[0], v[len(v)-1], len(v)}
}

func (s stat) String() string {
	if s.n == 0 {
		return "–"
	}
	if s.n == 1 || s.lo == s.hi {
		return human(s.med)
	}
	return fmt.Sprintf("%s (%s–%s)", human(s.med), human(s.lo), human(s.hi))
}

func human(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2f M", v/1e6)
	case v >= 10000:
		return fmt.Sprintf("%.1f k", v/1000)
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func main() {
	md := flag.String("md", "", "write the Markdown table here (default stdout)")
	plot := flag.String("plot", "", "write a gnuplot script for a PNG chart here")
	png := flag.String("png", "bench.png", "the chart the gnuplot script draws")
	procs := flag.Int("procs", runtime.NumCPU(), "GOMAXPROCS of the benchmark run (go test's name suffix)")
	flag.Parse()
	suffix := ""
	if *procs > 1 {
		suffix = fmt.Sprintf("-%d", *procs)
	}
	s := parse(os.Stdin, suffix)
	var b strings.Builder
	fmt.Fprintln(&b, "| frames, from → to, size | ringo, interrupts | ringo, busy poll | Linux (translation on) | Linux, iommu=pt | ringo / Linux |")
	fmt.Fprintln(&b, "| --- | --- | --- | --- | --- | --- |")
	type bar struct {
		label              string
		irq, poll, lx, lpt float64
	}
	var bars []bar
	for _, pair := range [][2]string{{"e1000", "e1000"}, {"e1000e", "e1000e"}, {"e1000", "ne2k_pci"}, {"ne2k_pci", "e1000"}} {
		for _, size := range []int{60, 1514} {
			get := func(mode string) stat {
				return summarize(s[fmt.Sprintf("BenchmarkFrames/%s-%s-%s-%d", pair[0], pair[1], mode, size)]["rx-frames/s"])
			}
			irq, poll, lx, lpt := get("irq"), get("poll"), get("linux"), get("linux-pt")
			if irq.n == 0 && lx.n == 0 {
				continue
			}
			ratio := "–"
			if lx.n > 0 && lx.med > 0 {
				ratio = fmt.Sprintf("%.2f", irq.med/lx.med)
				if poll.n > 0 {
					ratio += fmt.Sprintf(" (poll %.2f)", poll.med/lx.med)
				}
			}
			label := fmt.Sprintf("%s → %s, %d B", pair[0], pair[1], size)
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", label, irq, poll, lx, lpt, ratio)
			bars = append(bars, bar{strings.ReplaceAll(label, "_pci", ""), irq.med, poll.med, lx.med, lpt.med})
		}
	}
	// The driver fast path against DPDK's e1000 PMD, same guest, same run.
	var dpdkRows []string
	for _, mode := range []string{"txonly", "rxonly", "l2fwd", "e1000e-txonly"} {
		for _, size := range []int{60, 1514} {
			get := func(who string) stat {
				return summarize(s[fmt.Sprintf("BenchmarkDriverVsDPDK/%s-%s-%d", mode, who, size)]["frames/s"])
			}
			irq, poll, dp := get("ringo-irq"), get("ringo-poll"), get("dpdk")
			if irq.n == 0 && dp.n == 0 {
				continue
			}
			ratio := "–"
			if dp.n > 0 && dp.med > 0 {
				ratio = fmt.Sprintf("%.2f (irq %.2f)", poll.med/dp.med, irq.med/dp.med)
			}
			dpdkRows = append(dpdkRows, fmt.Sprintf("| %s, %d B | %s | %s | %s | %s |", mode, size, poll, irq, dp, ratio))
		}
	}
	// CPU per frame where the flooder sets the rate (l2fwd): µs of the
	// device under test's vCPU a forwarded frame, lower is better.
	for _, size := range []int{60, 1514} {
		get := func(who string) stat {
			v := s[fmt.Sprintf("BenchmarkDriverVsDPDK/l2fwd-%s-%d", who, size)]["cpu-ns/frame"]
			us := make([]float64, len(v))
			for i, ns := range v {
				us[i] = ns / 1e3
			}
			return summarize(us)
		}
		irq, poll, dp := get("ringo-irq"), get("ringo-poll"), get("dpdk")
		if irq.n == 0 || dp.n == 0 || dp.med == 0 {
			continue
		}
		dpdkRows = append(dpdkRows, fmt.Sprintf("| l2fwd, %d B: CPU per frame (µs, lower is better) | %s | %s | %s | %.2f (irq %.2f) |", size, poll, irq, dp, poll.med/dp.med, irq.med/dp.med))
	}
	if len(dpdkRows) > 0 {
		fmt.Fprintln(&b, "\n| e1000 driver, frames/s (-cpu max) | ringo, busy poll | ringo, interrupts | DPDK testpmd | ringo / DPDK |\n| --- | --- | --- | --- | --- |")
		fmt.Fprintln(&b, strings.Join(dpdkRows, "\n"))
	}
	// The whole stack against a Linux VM: ringo beside the kernel on the
	// same NIC model.
	stackRows := []struct{ unit, label string }{
		{"udp-tx-60B-dgrams/s", "UDP send, 60 B frames (datagrams/s at the peer)"},
		{"udp-flood-60B-dgrams/s", "UDP receive, 60 B, pktgen flood (datagrams/s)"},
		{"udp-rx-60B-dgrams/s", "UDP receive, 60 B, at the pace of the peer's sendto"},
		{"udp-tx-1514B-dgrams/s", "UDP send, 1514 B frames"},
		{"udp-flood-1514B-dgrams/s", "UDP receive, 1514 B, pktgen flood"},
		{"udp-rx-1514B-dgrams/s", "UDP receive, 1514 B, at the pace of the peer's sendto"},
		{"tcp-tx-MB/s", "TCP bulk send (MB/s)"},
		{"tcp-rx-MB/s", "TCP bulk receive (MB/s)"},
		{cpuPer("udp-rx-60B"), "UDP receive at the sendto pace, 60 B: the device under test's CPU per datagram (µs, lower is better)"},
		{cpuPer("udp-rx-1514B"), "UDP receive at the sendto pace, 1514 B: CPU per datagram (µs, lower is better)"},
		{cpuPerMB("tcp-tx"), "TCP bulk send: CPU per MB sent (ms, lower is better)"},
		{cpuPerMB("tcp-rx"), "TCP bulk receive: CPU per MB received (ms, lower is better)"},
		{"ping-p50-ms", "ping RTT p50 (ms, lower is better)"},
		{"ping-p99-ms", "ping RTT p99 (ms, lower is better)"},
	}
	for _, model := range []string{"e1000", "e1000e", "ne2k_pci"} {
		ringo, poll, linux := s["BenchmarkStack/"+model+"-ringo"], s["BenchmarkStack/"+model+"-ringo-poll"], s["BenchmarkStack/"+model+"-linux"]
		for _, units := range []map[string][]float64{ringo, poll, linux} {
			addCPUPer(units, "udp-rx-60B-busy%", "udp-rx-60B-dgrams/s", cpuPer("udp-rx-60B"), 1e6)
			addCPUPer(units, "udp-rx-1514B-busy%", "udp-rx-1514B-dgrams/s", cpuPer("udp-rx-1514B"), 1e6)
			addCPUPer(units, "tcp-tx-busy%", "tcp-tx-MB/s", cpuPerMB("tcp-tx"), 1e3)
			addCPUPer(units, "tcp-rx-busy%", "tcp-rx-MB/s", cpuPerMB("tcp-rx"), 1e3)
		}
		if ringo == nil && linux == nil {
			continue
		}
		fmt.Fprintf(&b, "\n| whole stack on %s, peer a Linux VM | ringo, interrupts | ringo, busy poll | Linux | ringo / Linux |\n| --- | --- | --- | --- | --- |\n", model)
		for _, row := range stackRows {
			r, p, l := summarize(ringo[row.unit]), summarize(poll[row.unit]), summarize(linux[row.unit])
			if r.n == 0 && p.n == 0 && l.n == 0 {
				continue // not measured on this model (the NE2000 has no floods)
			}
			ratio := "–"
			if r.n > 0 && l.n > 0 && l.med > 0 {
				ratio = fmt.Sprintf("%.2f", r.med/l.med)
				if p.n > 0 {
					ratio += fmt.Sprintf(" (poll %.2f)", p.med/l.med)
				}
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", row.label, r, p, l, ratio)
		}
	}
	if one, two := s["BenchmarkMultiQueue/ringo-1q-1cpu"], s["BenchmarkMultiQueue/ringo-2q-2cpu"]; one != nil || two != nil {
		linux := s["BenchmarkMultiQueue/linux-2cpu"]
		fmt.Fprintf(&b, "\n| 82574L, UDP flood from 64 sources into one socket | ringo 1 queue, 1 vCPU | ringo 2 queues, 2 vCPUs | Linux, 2 vCPUs | 2q / 1q |\n| --- | --- | --- | --- | --- |\n")
		for _, size := range []string{"60B", "1514B"} {
			for _, m := range []struct{ unit, label string }{
				{"flood-" + size + "-dgrams/s", size + ": received (datagrams/s)"},
				{"flood-" + size + "-offered/s", size + ": offered"},
				{"flood-" + size + "-%lost", size + ": % lost"},
			} {
				o, t, l := summarize(one[m.unit]), summarize(two[m.unit]), summarize(linux[m.unit])
				ratio := "–"
				if o.n > 0 && t.n > 0 && o.med > 0 && !strings.HasSuffix(m.unit, "%lost") {
					ratio = fmt.Sprintf("%.2f", t.med/o.med)
				}
				fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", m.label, o, t, l, ratio)
			}
		}
	}
	var host []string
	for name, units := range s {
		if strings.HasPrefix(name, "BenchmarkFrames") || strings.HasPrefix(name, "BenchmarkStack") || strings.HasPrefix(name, "BenchmarkDriverVsDPDK") || strings.HasPrefix(name, "BenchmarkMultiQueue") {
			continue
		}
		ns := summarize(units["ns/op"])
		al := summarize(units["allocs/op"])
		figure := ns.String() + " ns/op"
		if mb := summarize(units["MB/s"]); mb.n > 0 {
			figure = mb.String() + " MB/s"
			if rt := summarize(units["retrans/op"]); rt.n > 0 {
				figure += ", " + rt.String() + " resent a op"
			}
		}
		if d := summarize(units["rx-dgrams/s"]); d.n > 0 {
			figure = d.String() + " datagrams/s received, " + summarize(units["%lost"]).String() + "% lost"
		}
		host = append(host, fmt.Sprintf("| %s | %s | %s allocs/op | %s |",
			strings.TrimPrefix(name, "Benchmark"), figure, al, vsVeth(s, name)))
	}
	if len(host) > 0 {
		sort.Strings(host)
		fmt.Fprintln(&b, "\n| host path | figure | allocations | ringo / Linux (veth; lossy: the kernel's CUBIC, same path) |\n| --- | --- | --- | --- |")
		fmt.Fprintln(&b, strings.Join(host, "\n"))
	}
	out := os.Stdout
	if *md != "" {
		f, err := os.Create(*md)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer f.Close()
		out = f
	}
	fmt.Fprint(out, b.String())
	if *plot != "" && len(bars) > 0 {
		var g strings.Builder
		fmt.Fprintf(&g, "set terminal pngcairo size 1100,500\nset output %q\nset style data histograms\nset style histogram clustered gap 1\n", *png)
		fmt.Fprintln(&g, "set style fill solid border -1\nset ylabel \"frames/s received (median)\"\nset xtics rotate by -20\nset key top right\nset grid ytics")
		fmt.Fprintln(&g, "$data << EOD")
		for _, r := range bars {
			fmt.Fprintf(&g, "%q %.0f %.0f %.0f %.0f\n", r.label, r.irq, r.poll, r.lx, r.lpt)
		}
		fmt.Fprintln(&g, "EOD")
		fmt.Fprintln(&g, `plot $data using 2:xtic(1) title "ringo irq", '' using 3 title "ringo poll", '' using 4 title "Linux", '' using 5 title "Linux iommu=pt"`)
		if err := os.WriteFile(*plot, []byte(g.String()), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}

// cpuPer is the unit addCPUPer derives for a UDP receive run.
func cpuPer(run string) string { return run + "-cpu-us/dgram" }

// cpuPerMB is the unit addCPUPer derives for a TCP bulk run.
func cpuPerMB(run string) string { return run + "-cpu-ms/MB" }

// addCPUPer derives, run by run, how much of the device under test's CPU
// one unit of work took: its busy% over its rate (datagrams/s, MB/s),
// times scale (1e6: µs per datagram; 1e3: ms per MB), into units[out].
// At the peer's sendto pace both stacks take all that is offered, and
// the rate is the peer's; a TCP transfer may be paced by the peer too:
// what it cost the device under test tells the stacks apart. Each run
// reports both figures, so the two lists pair by index.
func addCPUPer(units map[string][]float64, busyUnit, rateUnit, out string, scale float64) {
	busy, rate := units[busyUnit], units[rateUnit]
	if units == nil || len(busy) != len(rate) {
		return
	}
	var per []float64
	for i := range busy {
		if busy[i] > 0 && rate[i] > 0 {
			per = append(per, busy[i]/100/rate[i]*scale)
		}
	}
	if len(per) > 0 {
		units[out] = per
	}
}

// vsVeth is a TAP row's ratio to the kernel on both ends of a veth pair
// (BulkTAP/* to BulkVeth in MB/s, BulkTAP/plain*-* to BulkVethPlain, the
// pair without its offloads, UDPTAP/* to UDPVeth in datagrams/s
// received), a lossy ringo sender's to the kernel's CUBIC sending to the
// kernel across the same impairment, "–" for other rows.
func vsVeth(s samples, name string) string {
	for _, c := range []struct{ tap, veth, unit string }{
		{"BenchmarkBulkTAP/plain", "BenchmarkBulkVethPlain", "MB/s"}, // plain- and plain6-
		{"BenchmarkBulkTAP/", "BenchmarkBulkVeth", "MB/s"},
		{"BenchmarkUDPTAP/", "BenchmarkUDPVeth", "rx-dgrams/s"},
		{"BenchmarkBulkLossy/ringo-", "BenchmarkBulkLossy/linux-cubic-to-linux", "MB/s"},
	} {
		if !strings.HasPrefix(name, c.tap) {
			continue
		}
		r, l := summarize(s[name][c.unit]), summarize(s[c.veth][c.unit])
		if r.n > 0 && l.n > 0 && l.med > 0 {
			return fmt.Sprintf("%.2f", r.med/l.med)
		}
	}
	return "–"
}
