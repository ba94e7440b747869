package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// linuxBlast is blast on the Linux kernel's own drivers: kernel pktgen
// sends ringo.frames frames of ringo.size bytes from the first NIC to the
// second (both on one QEMU hub), and the second NIC's rx_packets counts
// what arrives. It reports a BlastReport measured as ringo's blast is:
// the receive rate between the first and the last frame.
func linuxBlast(args map[string]string) error {
	if err := loadModules("e1000", "e1000e", "8390", "ne2k-pci", "pktgen"); err != nil {
		return err
	}
	n := atoiDefault(args["ringo.frames"], 20000)
	size := atoiDefault(args["ringo.size"], 60)
	ifs, err := nicsByPCIAddress(2)
	if err != nil {
		return err
	}
	tx, rx := ifs[0], ifs[1]
	for _, c := range [][]string{
		{"ip", "link", "set", tx, "up"},
		{"ip", "link", "set", rx, "up", "promisc", "on"},
	} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %v: %s", strings.Join(c, " "), err, out)
		}
	}
	rxIf, err := net.InterfaceByName(rx)
	if err != nil {
		return err
	}
	// Carrier up on both, as ringo's blast waits for a working path.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if readInt("/sys/class/net/"+tx+"/carrier") == 1 && readInt("/sys/class/net/"+rx+"/carrier") == 1 {
			break
		}
	}
	time.Sleep(time.Second) // QEMU's e1000 drops for a while after RCTL.EN
	// pkt_size is the frame without its FCS, as ringo.size is.
	if err := pktgenSetup(tx, fmt.Sprintf("count %d", n), fmt.Sprintf("pkt_size %d", size),
		"dst_mac "+rxIf.HardwareAddr.String(), "dst 10.0.9.2", "src_min 10.0.9.1", "src_max 10.0.9.1"); err != nil {
		return err
	}
	rxPath := "/sys/class/net/" + rx + "/statistics/rx_packets"
	base := readInt(rxPath)
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- pktgenWrite("pgctrl", "start") }()
	var first, last time.Time
	prev := base
	var txDone time.Duration
	var quiet time.Time
	// Sampled every 10 ms: a tighter loop would take the one vCPU from
	// the kernel being measured.
	for ; ; time.Sleep(10 * time.Millisecond) {
		now := time.Now()
		if v := readInt(rxPath); v != prev {
			if first.IsZero() {
				first = now
			}
			last, prev, quiet = now, v, time.Time{}
		}
		select {
		case err := <-done:
			if err != nil {
				return err
			}
			txDone = time.Since(start)
			done = nil
		default:
		}
		if done == nil {
			if quiet.IsZero() {
				quiet = now
			} else if now.Sub(quiet) > 500*time.Millisecond {
				break // everything that will arrive has
			}
		}
	}
	got := prev - base
	rep := BlastReport{Size: size, Sent: n, Received: got, TxSeconds: txDone.Seconds()}
	rep.TxFPS = float64(n) / txDone.Seconds()
	if got > 1 && last.After(first) {
		rep.RxSeconds = last.Sub(first).Seconds()
		rep.RxFPS = float64(got-1) / rep.RxSeconds
	}
	report(rep)
	return nil
}

// nicsByPCIAddress waits for want non-loopback interfaces and returns
// their names in PCI address order (the order QEMU's -device flags gave).
func nicsByPCIAddress(want int) ([]string, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		type nicName struct{ addr, name string }
		var found []nicName
		ents, _ := os.ReadDir("/sys/class/net")
		for _, e := range ents {
			l, err := os.Readlink("/sys/class/net/" + e.Name() + "/device")
			if err == nil {
				found = append(found, nicName{filepath.Base(l), e.Name()})
			}
		}
		if len(found) >= want {
			sort.Slice(found, func(i, j int) bool { return found[i].addr < found[j].addr })
			var out []string
			for _, f := range found {
				out = append(out, f.name)
			}
			return out, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("want %d NICs, have %d", want, len(found))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// pktgenSetup gives dev to kernel pktgen's first thread, alone, and
// configures it: cmds are pktgen's device commands (count, pkt_size,
// dst_mac, dst, ...) after "delay 0" and "clone_skb 0", as fast as the
// device takes them, a fresh skb each. pktgenWrite("pgctrl", "start")
// then sends, returning once the count has gone.
func pktgenSetup(dev string, cmds ...string) error {
	if err := loadModules("pktgen"); err != nil {
		return err
	}
	if err := pktgenWrite("kpktgend_0", "rem_device_all", "add_device "+dev); err != nil {
		return err
	}
	return pktgenWrite(dev, append([]string{"delay 0", "clone_skb 0"}, cmds...)...)
}

// pktgenWrite writes commands, one at a time, to /proc/net/pktgen/file.
func pktgenWrite(file string, cmds ...string) error {
	for _, c := range cmds {
		if err := os.WriteFile("/proc/net/pktgen/"+file, []byte(c+"\n"), 0); err != nil {
			return fmt.Errorf("pktgen %s %q: %w", file, c, err)
		}
	}
	return nil
}

func readInt(path string) int {
	b, _ := os.ReadFile(path)
	v, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return v
}
