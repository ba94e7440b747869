// Package vm boots QEMU guests for hardware-in-the-loop tests: the Debian
// kernel from scripts/setup.sh, a u-root initramfs whose uinit is a ringo
// program, a virtual IOMMU so that VFIO works in the guest, and any number
// of emulated NICs on chosen backends. The guest reports on the serial
// console in lines the host parses.
package vm

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Report lines: the guest prints "RINGO <json>" for each result and
// "RINGO-DONE" or "RINGO-FAIL <reason>" last.
const (
	ReportPrefix = "RINGO "
	DoneLine     = "RINGO-DONE"
	FailPrefix   = "RINGO-FAIL "
)

// NIC is one emulated network card.
type NIC struct {
	Model  string // "e1000" or "ne2k_pci"
	MAC    string
	Netdev string // backend without id, e.g. "user,hostfwd=tcp::8080-:80" or "hubport,hubid=0"
	Opts   string // extra -device options, e.g. "mitigation=off"
}

// Config describes one VM.
type Config struct {
	Name      string // used in log and pcap file names
	Kernel    string
	Initramfs string
	Cmdline   []string // appended to the kernel command line
	NICs      []NIC
	MemoryMB  int
	Timeout   time.Duration // whole run, boot included
	Dir       string        // where the serial log, pcaps and monitor socket go
	Extra     []string      // extra QEMU arguments
	// NoPcap leaves out the filter-dump on each netdev: benchmarks, where
	// QEMU writing every frame to a file would be part of the figure.
	NoPcap bool
	// SMP is the guest's vCPUs; 0: 1.
	SMP int
	// CPUs, if set, pins every QEMU thread to these host CPUs (a
	// taskset(1) list such as "0" or "0-1").
	CPUs string
}

// VM is a running QEMU.
type VM struct {
	cfg     Config
	cmd     *exec.Cmd
	logPath string
	monPath string
	Pcaps   []string

	mu      sync.Mutex
	console bytes.Buffer
	reports []json.RawMessage
	done    chan struct{} // closed when the guest finished reporting or QEMU exited
	failed  string
	exitErr error
	exited  chan struct{}
}

// Start boots the VM. The caller must call Kill (Wait calls it).
func Start(ctx context.Context, cfg Config) (*VM, error) {
	if cfg.MemoryMB == 0 {
		cfg.MemoryMB = 512
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Minute
	}
	if cfg.Name == "" {
		cfg.Name = "vm"
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, err
	}
	v := &VM{
		cfg:     cfg,
		logPath: filepath.Join(cfg.Dir, cfg.Name+".serial.log"),
		monPath: filepath.Join(cfg.Dir, cfg.Name+".monitor"),
		done:    make(chan struct{}),
		exited:  make(chan struct{}),
	}
	args := []string{
		"-machine", "q35,kernel-irqchip=split", "-accel", "tcg",
		"-m", fmt.Sprint(cfg.MemoryMB), "-smp", fmt.Sprint(max(cfg.SMP, 1)),
		"-nodefaults", "-no-reboot", "-display", "none",
		// The IOMMU first: VFIO type1 in the guest needs it, with interrupt
		// remapping (intremap=on) or VFIO_SET_IOMMU fails with EPERM.
		"-device", "intel-iommu,intremap=on,caching-mode=on",
		"-kernel", cfg.Kernel, "-initrd", cfg.Initramfs,
		"-append", strings.Join(append([]string{"console=ttyS0", "intel_iommu=on", "quiet", "panic=-1"}, cfg.Cmdline...), " "),
		"-serial", "stdio",
		"-monitor", "unix:" + v.monPath + ",server,nowait",
	}
	for i, n := range cfg.NICs {
		id := fmt.Sprintf("net%d", i)
		args = append(args, "-netdev", n.Netdev+",id="+id)
		dev := fmt.Sprintf("%s,netdev=%s,mac=%s", n.Model, id, n.MAC)
		if n.Opts != "" {
			dev += "," + n.Opts
		}
		args = append(args, "-device", dev)
		if cfg.NoPcap {
			continue
		}
		pcap := filepath.Join(cfg.Dir, fmt.Sprintf("%s.%s.pcap", cfg.Name, id))
		args = append(args, "-object", fmt.Sprintf("filter-dump,id=dump%d,netdev=%s,file=%s", i, id, pcap))
		v.Pcaps = append(v.Pcaps, pcap)
	}
	args = append(args, cfg.Extra...)

	argv := append([]string{"qemu-system-x86_64"}, args...)
	if cfg.CPUs != "" {
		argv = append([]string{"taskset", "-c", cfg.CPUs}, argv...)
	}
	v.cmd = exec.Command(argv[0], argv[1:]...)
	out, err := v.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	v.cmd.Stderr = v.cmd.Stdout
	v.cmd.Stdin = nil
	logf, err := os.Create(v.logPath)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(logf, "# %s\n", strings.Join(argv, " "))
	if err := v.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("vm: start qemu: %w", err)
	}
	go v.readConsole(io.TeeReader(out, logf), logf)
	go func() {
		select {
		case <-ctx.Done():
		case <-time.After(cfg.Timeout):
		case <-v.exited:
			return
		}
		v.mu.Lock()
		if v.failed == "" {
			v.failed = fmt.Sprintf("timeout after %v", cfg.Timeout)
		}
		v.mu.Unlock()
		v.Kill()
	}()
	return v, nil
}

func (v *VM) readConsole(r io.Reader, logf *os.File) {
	defer logf.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	doneOnce := sync.OnceFunc(func() { close(v.done) })
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		v.mu.Lock()
		v.console.WriteString(line + "\n")
		// The console may prefix kernel messages; find the marker anywhere.
		if i := strings.Index(line, ReportPrefix+"{"); i >= 0 {
			// Only the first JSON value: a kernel message may follow it on
			// the same console line.
			var raw json.RawMessage
			if err := json.NewDecoder(strings.NewReader(line[i+len(ReportPrefix):])).Decode(&raw); err == nil {
				v.reports = append(v.reports, raw)
			} else {
				v.reports = append(v.reports, json.RawMessage(line[i+len(ReportPrefix):]))
			}
		} else if i := strings.Index(line, FailPrefix); i >= 0 {
			v.failed = line[i+len(FailPrefix):]
			doneOnce()
		} else if strings.Contains(line, DoneLine) {
			doneOnce()
		}
		v.mu.Unlock()
	}
	v.exitErr = v.cmd.Wait()
	close(v.exited)
	doneOnce()
}

// Wait waits until the guest reports it is done (or fails, or QEMU exits or
// times out), then stops QEMU. It returns the reports in order.
func (v *VM) Wait() ([]json.RawMessage, error) {
	<-v.done
	v.mu.Lock()
	failed, reports := v.failed, v.reports
	v.mu.Unlock()
	// Give the guest a moment to power off by itself, then kill.
	select {
	case <-v.exited:
	case <-time.After(5 * time.Second):
	}
	v.Kill()
	if failed != "" {
		return reports, fmt.Errorf("vm %s: guest failed: %s (serial log %s)", v.cfg.Name, failed, v.logPath)
	}
	select {
	case <-v.exited:
	default:
	}
	return reports, nil
}

// WaitReport blocks until the guest has printed at least n reports or is done.
func (v *VM) WaitReport(n int, timeout time.Duration) ([]json.RawMessage, error) {
	deadline := time.Now().Add(timeout)
	for {
		v.mu.Lock()
		r, failed := v.reports, v.failed
		v.mu.Unlock()
		if len(r) >= n {
			return r, nil
		}
		if failed != "" {
			return r, fmt.Errorf("vm %s: guest failed: %s (serial log %s)", v.cfg.Name, failed, v.logPath)
		}
		select {
		case <-v.exited:
			return r, fmt.Errorf("vm %s: qemu exited before report %d (serial log %s)", v.cfg.Name, n, v.logPath)
		default:
		}
		if time.Now().After(deadline) {
			return r, fmt.Errorf("vm %s: no report %d after %v (serial log %s)", v.cfg.Name, n, timeout, v.logPath)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Console returns everything the guest printed so far.
func (v *VM) Console() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.console.String()
}

// LogPath is the serial log file.
func (v *VM) LogPath() string { return v.logPath }

// Monitor sends one human monitor command (e.g. "set_link net0 off").
func (v *VM) Monitor(cmd string) (string, error) {
	c, err := net.DialTimeout("unix", v.monPath, 2*time.Second)
	if err != nil {
		return "", fmt.Errorf("vm: monitor: %w", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintf(c, "%s\n", cmd); err != nil {
		return "", err
	}
	// The monitor echoes the command and prompts "(qemu) " again.
	var out bytes.Buffer
	buf := make([]byte, 4096)
	for strings.Count(out.String(), "(qemu)") < 2 {
		n, err := c.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				break
			}
			return out.String(), err
		}
	}
	return out.String(), nil
}

// Kill stops QEMU if it still runs.
func (v *VM) Kill() {
	if v.cmd.Process != nil {
		v.cmd.Process.Kill()
	}
}

// WaitListening waits until a TCP socket listens on 127.0.0.1:port (a
// QEMU's -netdev socket,listen): the VM that connects to it must start
// after. It reads /proc/net/tcp rather than dialing, which would take the
// one connection QEMU accepts.
func WaitListening(port int, timeout time.Duration) error {
	want := fmt.Sprintf("0100007F:%04X", port)
	deadline := time.Now().Add(timeout)
	for {
		b, err := os.ReadFile("/proc/net/tcp")
		if err != nil {
			return fmt.Errorf("vm: wait for a listener on %d: %w", port, err)
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) > 3 && f[1] == want && f[3] == "0A" { // TCP_LISTEN
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("vm: nothing listens on 127.0.0.1:%d after %v", port, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
