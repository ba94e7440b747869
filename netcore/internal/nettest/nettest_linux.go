package nettest

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/link"
)

// Peer is the kernel side of a TAP link.
type Peer struct {
	TAP    *link.TAP
	NS     string // network namespace name
	IfName string // the TAP's name inside NS
}

var seq atomic.Int32

// NeedRoot skips (or fails under CI) a test that needs root, /dev/net/tun
// and ip(8).
func NeedRoot(t testing.TB) {
	t.Helper()
	why := ""
	if os.Geteuid() != 0 {
		why = "needs root"
	} else if _, err := os.Stat("/dev/net/tun"); err != nil {
		why = "needs /dev/net/tun"
	} else if _, err := exec.LookPath("ip"); err != nil {
		why = "needs ip(8): run scripts/setup.sh (iproute2)"
	}
	if why == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("host network test %s", why)
	}
	t.Skipf("host network test %s", why)
}

// NewPeer creates a TAP without offloads (every frame a read or a write,
// as the tests that impair, fragment or count frames want) registered with
// c and moves its kernel side into a
// new namespace with address kernelAddr (e.g. "10.9.0.1/24"). sysctls are
// "key=value" pairs applied in the namespace; IFNAME in a key stands for
// the interface (a new namespace has no neigh "default" entries).
func NewPeer(t testing.TB, c *netcore.Core, kernelAddr string, sysctls ...string) *Peer {
	t.Helper()
	return newPeer(t, c, kernelAddr, false, sysctls)
}

// NewOffloadPeer is NewPeer with the TAP's virtio-net offloads on (the
// TAP's default; NewPeer sets link.TAPConfig.NoOffload): checksums and
// TCP segmentation are left to the other side both ways, and TCP crosses
// in packets of up to 64 KB.
func NewOffloadPeer(t testing.TB, c *netcore.Core, kernelAddr string, sysctls ...string) *Peer {
	t.Helper()
	return newPeer(t, c, kernelAddr, true, sysctls)
}

func newPeer(t testing.TB, c *netcore.Core, kernelAddr string, offload bool, sysctls []string) *Peer {
	t.Helper()
	NeedRoot(t)
	n := seq.Add(1)
	p := &Peer{
		NS:     fmt.Sprintf("ringo-%d-%d", os.Getpid(), n),
		IfName: fmt.Sprintf("rt%d%d", os.Getpid()%10000, n),
	}
	tap, err := link.NewTAP(c, link.TAPConfig{IfName: p.IfName, Name: "tap" + fmt.Sprint(n), NoOffload: !offload})
	if err != nil {
		t.Fatalf("tap: %v", err)
	}
	p.TAP = tap
	t.Cleanup(func() { tap.Close() })
	Run(t, "ip", "netns", "add", p.NS)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", p.NS).Run() })
	Run(t, "ip", "link", "set", p.IfName, "netns", p.NS)
	for _, s := range sysctls {
		Run(t, "ip", "netns", "exec", p.NS, "sysctl", "-qw", strings.ReplaceAll(s, "IFNAME", p.IfName))
	}
	Run(t, "ip", "-n", p.NS, "addr", "add", kernelAddr, "dev", p.IfName)
	Run(t, "ip", "-n", p.NS, "link", "set", p.IfName, "up")
	Run(t, "ip", "-n", p.NS, "link", "set", "lo", "up")
	return p
}

// Exec runs a command inside the namespace and returns its combined
// output and error.
func (p *Peer) Exec(args ...string) (string, error) {
	out, err := exec.Command("ip", append([]string{"netns", "exec", p.NS}, args...)...).CombinedOutput()
	return string(out), err
}

// Run runs a command and fails the test if it fails.
func Run(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Do runs f on an OS thread that has entered the peer's namespace, so the
// sockets f opens are the kernel's sockets in that namespace (they stay
// there when used from any goroutine later). The thread is never given
// back to the runtime: it ends with f's goroutine.
func (p *Peer) Do(f func() error) error { return InNS(p.NS, f) }

// InNS runs f on an OS thread inside network namespace ns (see Peer.Do).
func InNS(ns string, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread is in another namespace
		fd, err := unix.Open("/var/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- fmt.Errorf("nettest: open netns %s: %w", ns, err)
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("nettest: setns %s: %w", ns, err)
			return
		}
		errc <- f()
	}()
	return <-errc
}

// Veth makes two network namespaces joined by a veth pair, the Linux
// kernel on both ends: the baseline ringo's TAP figures are compared
// with. The first has addrA, the second addrB (e.g. "10.8.0.1/24").
func Veth(t testing.TB, addrA, addrB string) (nsA, nsB string) {
	t.Helper()
	NeedRoot(t)
	n := seq.Add(1)
	nsA, nsB = fmt.Sprintf("ringo-va-%d-%d", os.Getpid(), n), fmt.Sprintf("ringo-vb-%d-%d", os.Getpid(), n)
	for _, ns := range []string{nsA, nsB} {
		Run(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	}
	Run(t, "ip", "-n", nsA, "link", "add", "va", "type", "veth", "peer", "name", "vb", "netns", nsB)
	Run(t, "ip", "-n", nsA, "addr", "add", addrA, "dev", "va")
	Run(t, "ip", "-n", nsB, "addr", "add", addrB, "dev", "vb")
	for _, c := range [][]string{{nsA, "va"}, {nsB, "vb"}} {
		Run(t, "ip", "-n", c[0], "link", "set", c[1], "up")
		Run(t, "ip", "-n", c[0], "link", "set", "lo", "up")
	}
	return nsA, nsB
}
