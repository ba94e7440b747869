package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ringonet/ringo/e1000"
	"github.com/ringonet/ringo/e1000e"
	"github.com/ringonet/ringo/pci"
	"github.com/ringonet/ringo/vfio"
)

// DPDKReport is one testpmd run: the anchor beside ringo's frame rows.
type DPDKReport struct {
	Mode      string // txonly or rxonly
	Size      int
	Seconds   float64 // forwarding time
	TxPackets uint64  // port 0's TX-packets (txonly)
	TxFPS     float64
	RxPackets uint64 // port 0's RX-packets over Seconds (rxonly)
	RxFPS     float64
	Output    string `json:",omitempty"` // testpmd's last lines, when it failed
}

// testpmdStats reads a port's figure from testpmd's closing statistics
// ("---- Forward statistics for port 0 ----" then "TX-packets: N ...").
var testpmdStats = regexp.MustCompile(`(?s)Forward statistics for port 0\s*-+\s*RX-packets:\s*\d+.*?TX-packets:\s*(\d+)`)

// dpdkTxOnly runs DPDK's testpmd in txonly mode on the first e1000 for
// ringo.seconds (the second is bound to vfio-pci too, as ringo's blast
// has two NICs, but testpmd forwards only on port 0): the frames/s
// DPDK's e1000 PMD puts on the link, in the same VM and QEMU as ringo.
func dpdkTxOnly(args map[string]string) error { return dpdkRun(args, "txonly") }

// dpdkRxOnly runs testpmd --forward-mode=rxonly on port 0 under a flood
// from a peer VM and reports the frames/s port 0 received, from
// testpmd's statistics every second: the first sample with traffic
// starts the measurement, the first ringo.seconds later ends it.
func dpdkRxOnly(args map[string]string) error { return dpdkRun(args, "rxonly") }

// dpdkL2Fwd runs testpmd --forward-mode=mac between the two e1000s until
// the host stops the VM: the device under test of the l2fwd row.
func dpdkL2Fwd(args map[string]string) error {
	args["ringo.flood"] = "1"
	return dpdkRun(args, "mac")
}

// dpdkRun runs testpmd in a forwarding mode on the guest's e1000s.
// ringo.flood=1 makes a txonly run the peer of a receive benchmark: it
// reports when it sends and runs until the host stops the VM.
func dpdkRun(args map[string]string, mode string) error {
	size := atoiDefault(args["ringo.size"], 60)
	secs := atoiDefault(args["ringo.seconds"], 5)
	flood := args["ringo.flood"] == "1"
	if err := vfio.LoadModules("/lib/modules/ringo"); err != nil {
		return err
	}
	bus := pci.NewBus("")
	devs, err := bus.List()
	if err != nil {
		return err
	}
	var addrs []string
	for _, d := range devs {
		if e1000.PCIDriver.Supports(d.Vendor, d.DeviceID) || e1000e.PCIDriver.Supports(d.Vendor, d.DeviceID) { // DPDK's em PMD drives both
			if _, err := bus.Bind(d.Addr); err != nil {
				return err
			}
			addrs = append(addrs, d.Addr)
		}
	}
	if len(addrs) == 0 {
		return fmt.Errorf("dpdk: no e1000 or 82574L")
	}
	// /dev is a devtmpfs mounted over the initramfs's: make the mount point.
	for _, d := range []string{"/dev/hugepages", "/var/run/dpdk"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if err := unix.Mount("nodev", "/dev/hugepages", "hugetlbfs", 0, ""); err != nil {
		return fmt.Errorf("dpdk: mount hugetlbfs: %w", err)
	}
	if err := os.WriteFile("/proc/sys/vm/nr_hugepages", []byte("128"), 0o644); err != nil {
		return fmt.Errorf("dpdk: hugepages: %w", err)
	}
	// EAL refuses a plugin under a world-writable directory: u-root's
	// root is 0777.
	for d := "/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0"; d != "/"; d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	if err := os.Chmod("/", 0o755); err != nil {
		return err
	}
	// EAL loads a plugin directory's *.so.23.0 only; ours are named by
	// their sonames, so name them (as testpmd's users do with -d).
	argv := []string{"--lcores", "0@0,1@0", "-n", "1", "--no-telemetry",
		"-d", "/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0/librte_net_e1000.so.23",
		"-d", "/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0/librte_mempool_ring.so.23"}
	for _, a := range addrs {
		argv = append(argv, "-a", a)
	}
	portmask, peerPort := "0x1", "0"
	if mode == "mac" { // l2fwd: in on port 0, out of port 1 with the MACs rewritten
		portmask, peerPort = "0x3", "1"
	}
	argv = append(argv, "--", "--forward-mode="+mode, fmt.Sprintf("--txpkts=%d", size), "--total-num-mbufs=8192",
		"--portmask="+portmask, "--nb-cores=1", "--burst=32", "--txd=256", "--rxd=256", "--disable-link-check")
	if peer := args["ringo.ethpeer"]; peer != "" {
		argv = append(argv, "--eth-peer="+peerPort+","+peer) // the receiver's MAC: no promiscuous mode needed there
	}
	if mode == "rxonly" {
		argv = append(argv, "--stats-period=1")
	}
	cmd := exec.Command("/usr/bin/dpdk-testpmd", argv...)
	cmd.Env = append(os.Environ(), "LD_LIBRARY_PATH=/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu")
	// On a terminal, as a person runs it: testpmd's stdout to a pipe is
	// block-buffered, and "Press enter to exit" would come only at exit.
	ptm, pts, err := openPTY()
	if err != nil {
		return err
	}
	defer ptm.Close()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = pts, pts, pts
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("dpdk: testpmd: %w", err)
	}
	pts.Close()
	stdin := ptm
	var out strings.Builder
	started := make(chan time.Time, 1)
	readDone := make(chan struct{})
	samples := make(chan rxSample, 1024) // port 0's RX-packets, each second (rxonly)
	go func() {
		defer close(readDone)
		sc := bufio.NewScanner(ptm) // ends with EIO when testpmd exits
		port0 := false
		for sc.Scan() {
			line := sc.Text()
			if out.Len() < 1<<20 {
				out.WriteString(line + "\n")
			}
			if strings.Contains(line, "Press enter to exit") {
				started <- time.Now()
			}
			if strings.Contains(line, "NIC statistics for port") {
				port0 = strings.Contains(line, "port 0 ")
			}
			if m := rxPackets.FindStringSubmatch(line); m != nil && port0 {
				n, _ := strconv.ParseUint(m[1], 10, 64)
				select {
				case samples <- rxSample{time.Now(), n}:
				default:
				}
			}
		}
	}()
	waitErr := make(chan error, 1)
	go func() { waitErr <- cmd.Wait() }()
	rep := DPDKReport{Mode: mode, Size: size}
	fail := func(err error) error {
		<-readDone
		rep.Output = tail(out.String(), 3000)
		report(rep)
		return err
	}
	var t0 time.Time
	if mode == "rxonly" {
		// With --stats-period testpmd prints statistics until a signal
		// instead of waiting for enter; the samples say it runs.
		first, last, err := measureRx(samples, time.Duration(secs)*time.Second)
		cmd.Process.Signal(os.Interrupt)
		if err != nil {
			return fail(err)
		}
		rep.Seconds = last.at.Sub(first.at).Seconds()
		rep.RxPackets = last.n - first.n
		rep.RxFPS = float64(rep.RxPackets) / rep.Seconds
		select {
		case <-waitErr:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
		}
		<-readDone
		report(rep)
		return nil
	}
	select {
	case t0 = <-started:
	case err := <-waitErr:
		return fail(fmt.Errorf("dpdk: testpmd exited before forwarding: %v", err))
	case <-time.After(150 * time.Second):
		cmd.Process.Kill()
		return fail(fmt.Errorf("dpdk: testpmd did not start forwarding"))
	}
	switch {
	case flood:
		report(map[string]bool{"Flooding": true})
		if mode == "mac" { // the device under test of l2fwd: its CPU
			reportCPUTicks()
		}
		select {} // until the host stops the VM
	default:
		time.Sleep(time.Duration(secs) * time.Second)
		rep.Seconds = time.Since(t0).Seconds()
	}
	io.WriteString(stdin, "\n")
	select {
	case <-waitErr:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
	}
	<-readDone
	if mode == "txonly" {
		m := testpmdStats.FindStringSubmatch(out.String())
		if m == nil {
			rep.Output = tail(out.String(), 3000)
			report(rep)
			return fmt.Errorf("dpdk: no port 0 statistics in testpmd's output")
		}
		rep.TxPackets, _ = strconv.ParseUint(m[1], 10, 64)
		rep.TxFPS = float64(rep.TxPackets) / rep.Seconds
	}
	report(rep)
	return nil
}

// rxPackets is a line of testpmd's NIC statistics.
var rxPackets = regexp.MustCompile(`RX-packets:\s*(\d+)`)

type rxSample struct {
	at time.Time
	n  uint64
}

// measureRx takes the first sample with traffic (waiting up to two
// minutes for the peer) and the first one d later.
func measureRx(samples <-chan rxSample, d time.Duration) (first, last rxSample, err error) {
	timeout := time.After(2 * time.Minute)
	for first.n == 0 {
		select {
		case first = <-samples:
		case <-timeout:
			return first, last, fmt.Errorf("dpdk: no traffic from the peer")
		}
	}
	for {
		select {
		case last = <-samples:
			if last.at.Sub(first.at) >= d {
				return first, last, nil
			}
		case <-time.After(10 * time.Second):
			return first, last, fmt.Errorf("dpdk: testpmd's statistics stopped")
		}
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// openPTY opens a pseudo-terminal pair on a devpts of its own.
func openPTY() (ptm, pts *os.File, err error) {
	if err := os.MkdirAll("/dev/pts", 0o755); err != nil {
		return nil, nil, err
	}
	if err := unix.Mount("devpts", "/dev/pts", "devpts", 0, "newinstance,ptmxmode=0666"); err != nil && err != unix.EBUSY {
		return nil, nil, fmt.Errorf("dpdk: mount devpts: %w", err)
	}
	ptm, err = os.OpenFile("/dev/pts/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("dpdk: ptmx: %w", err)
	}
	if err := unix.IoctlSetPointerInt(int(ptm.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		ptm.Close()
		return nil, nil, fmt.Errorf("dpdk: unlock pty: %w", err)
	}
	n, err := unix.IoctlGetUint32(int(ptm.Fd()), unix.TIOCGPTN)
	if err != nil {
		ptm.Close()
		return nil, nil, fmt.Errorf("dpdk: pty number: %w", err)
	}
	pts, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		ptm.Close()
		return nil, nil, fmt.Errorf("dpdk: pts: %w", err)
	}
	return ptm, pts, nil
}
