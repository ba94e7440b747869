package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The stack benchmark's peer: the Linux kernel's driver and stack in the
// second VM, serving the device under test's control connection (udp-send,
// udp-flood with kernel pktgen, the TCP sinks and sources).

// udpFlood is the peer's "udp-flood ADDR:PORT N PAYLOAD [FLOWS]": kernel
// pktgen sends N datagrams of PAYLOAD bytes (UDP checksum 0, from port 9
// to PORT) to ADDR, at the MAC the peer's neighbour table has for it, as
// fast as its NIC takes them; with FLOWS, from that many source addresses
// in turn (198.18.0.1 up, RFC 2544's benchmark range). The reply is "sent
// nanoseconds", or "error: ...".
func udpFlood(ifname string, src netip.Addr, args []string) string {
	srcMin, srcMax := src, src
	if len(args) == 4 {
		flows, err := strconv.Atoi(args[3])
		if err != nil || flows < 1 || flows > 250 {
			return "error: udp-flood: flows: want 1-250"
		}
		srcMin = netip.MustParseAddr("198.18.0.1")
		srcMax = netip.AddrFrom4([4]byte{198, 18, 0, byte(flows)})
		args = args[:3]
	}
	dst, n, size, err := parseUDPCommand(args)
	if err == nil && size < 18 {
		err = fmt.Errorf("payload %d: pktgen needs 18 or more", size)
	}
	if err != nil {
		return "error: udp-flood: " + err.Error()
	}
	mac, err := neighbourMAC(dst.Addr())
	if err != nil {
		return "error: " + err.Error()
	}
	port := strconv.Itoa(int(dst.Port()))
	if err := pktgenSetup(ifname, fmt.Sprintf("count %d", n), fmt.Sprintf("pkt_size %d", size+42),
		"dst_mac "+mac, "dst "+dst.Addr().String(), "src_min "+srcMin.String(), "src_max "+srcMax.String(),
		"udp_src_min 9", "udp_src_max 9", "udp_dst_min "+port, "udp_dst_max "+port); err != nil {
		return "error: " + err.Error()
	}
	start := time.Now()
	if err := pktgenWrite("pgctrl", "start"); err != nil {
		return "error: " + err.Error()
	}
	return fmt.Sprintf("%d %d", n, time.Since(start).Nanoseconds())
}

// neighbourMAC is the kernel's ARP entry for ip (/proc/net/arp), which a
// peer with a connection to it has.
func neighbourMAC(ip netip.Addr) (string, error) {
	b, err := os.ReadFile("/proc/net/arp")
	if err != nil {
		return "", err
	}
	for _, l := range strings.Split(string(b), "\n")[1:] {
		// IP address, HW type, Flags, HW address, Mask, Device
		if f := strings.Fields(l); len(f) >= 4 && f[0] == ip.String() && f[3] != "00:00:00:00:00:00" {
			return f[3], nil
		}
	}
	return "", fmt.Errorf("no ARP entry for %v", ip)
}

// parseUDPCommand parses the arguments of udp-send and udp-flood:
// ADDR:PORT N PAYLOAD, PAYLOAD at most 1472 bytes (a 1514-byte frame).
func parseUDPCommand(args []string) (dst netip.AddrPort, n, payload int, err error) {
	if len(args) != 3 {
		return dst, 0, 0, errors.New("want ADDR:PORT N PAYLOAD")
	}
	dst, err1 := netip.ParseAddrPort(args[0])
	n, err2 := strconv.Atoi(args[1])
	payload, err3 := strconv.Atoi(args[2])
	if err := errors.Join(err1, err2, err3); err != nil {
		return dst, 0, 0, err
	}
	if payload < 0 || payload > 1472 {
		return dst, 0, 0, fmt.Errorf("payload %d: 0-1472 bytes", payload)
	}
	return dst, n, payload, nil
}

func closeWrite(c net.Conn) error {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return fmt.Errorf("%T has no CloseWrite", c)
}

// benchPeer is the Linux peer of the stack benchmark: the kernel's
// driver and stack at ringo.peerip, serving the ports above until the
// device under test says "bye".
func benchPeer(args map[string]string) error {
	self, err := netip.ParsePrefix(args["ringo.peerip"])
	if err != nil {
		return fmt.Errorf("ringo.peerip: %w", err)
	}
	ifname, drv, err := kernelNIC(args["ringo.peerip"], benchRxRing)
	if err != nil {
		return err
	}
	// Room for a burst: the sink counts what the kernel queued for it.
	for _, kv := range [][2]string{{"net.core.rmem_max", "8388608"}, {"net.core.wmem_max", "8388608"}} {
		if err := sysctl(kv[0], kv[1]); err != nil {
			return err
		}
	}
	uc, err := net.ListenUDP("udp4", &net.UDPAddr{Port: benchUDPPort})
	if err != nil {
		return err
	}
	defer uc.Close()
	uc.SetReadBuffer(8 << 20)
	var sink struct {
		sync.Mutex
		n           int
		first, last time.Time
	}
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, err := uc.Read(buf); err != nil {
				return
			}
			now := time.Now()
			sink.Lock()
			if sink.n == 0 {
				sink.first = now
			}
			sink.n++
			sink.last = now
			sink.Unlock()
		}
	}()
	serve := func(port int, h func(net.Conn)) (net.Listener, error) {
		l, err := net.Listen("tcp4", fmt.Sprintf(":%d", port))
		if err != nil {
			return nil, err
		}
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				go func() { defer c.Close(); h(c) }()
			}
		}()
		return l, nil
	}
	for port, h := range map[int]func(net.Conn){
		benchTCPSink: func(c net.Conn) { io.Copy(io.Discard, c) },
		benchTCPSource: func(c net.Conn) {
			var hdr [8]byte
			if _, err := io.ReadFull(c, hdr[:]); err != nil {
				return
			}
			buf := make([]byte, 64<<10)
			for left := int64(binary.BigEndian.Uint64(hdr[:])); left > 0; {
				n, err := c.Write(buf[:min(int64(len(buf)), left)])
				if err != nil {
					return
				}
				left -= int64(n)
			}
		},
	} {
		l, err := serve(port, h)
		if err != nil {
			return err
		}
		defer l.Close()
	}
	ctl, err := net.Listen("tcp4", fmt.Sprintf(":%d", benchCtlPort))
	if err != nil {
		return err
	}
	defer ctl.Close()
	report(map[string]string{"phase": "ready", "driver": drv})
	ctl.(*net.TCPListener).SetDeadline(time.Now().Add(3 * time.Minute))
	c, err := ctl.Accept()
	if err != nil {
		return fmt.Errorf("no device under test: %w", err)
	}
	defer c.Close()
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		reply := "ok"
		switch f[0] {
		case "udp-reset":
			sink.Lock()
			sink.n = 0
			sink.Unlock()
		case "udp-count":
			sink.Lock()
			reply = fmt.Sprintf("%d %d", sink.n, sink.last.Sub(sink.first).Nanoseconds())
			sink.n = 0
			sink.Unlock()
		case "udp-send": // udp-send ADDR:PORT N PAYLOAD
			dst, n, size, err := parseUDPCommand(f[1:])
			if err != nil {
				reply = "error: udp-send: " + err.Error()
				break
			}
			buf := make([]byte, size)
			start := time.Now()
			sent := 0
			for sent < n && time.Since(start) < benchSendLimit {
				binary.BigEndian.PutUint32(buf, uint32(sent))
				if _, err := uc.WriteToUDPAddrPort(buf, dst); err != nil {
					if errors.Is(err, syscall.ENOBUFS) {
						time.Sleep(20 * time.Microsecond)
						continue
					}
					break
				}
				sent++
			}
			reply = fmt.Sprintf("%d %d", sent, time.Since(start).Nanoseconds())
		case "udp-flood": // udp-flood ADDR:PORT N PAYLOAD
			reply = udpFlood(ifname, self.Addr(), f[1:])
		case "bye":
			io.WriteString(c, "ok\n")
			report(map[string]string{"phase": "done"})
			return nil
		default:
			reply = "error: unknown command " + f[0]
		}
		if _, err := io.WriteString(c, reply+"\n"); err != nil {
			return err
		}
	}
	return fmt.Errorf("control connection ended without bye: %v", sc.Err())
}
