package qemutests

import (
	"bytes"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringonet/ringo/internal/browsertest"
	"github.com/ringonet/ringo/qemu-tests/vm"
)

type applianceDev struct {
	Name, Kind, Addr string
	Up, Carrier      bool
	RxPackets        uint64
	TxPackets        uint64
	IRQs             uint64
}

type applianceReport struct {
	Devices []applianceDev
	Status  string
	SkbLive int64
}

// get fetches url and returns the body of a 200 answer.
func get(t *testing.T, client *http.Client, url string) string {
	t.Helper()
	resp, err := client.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode, url)
	return string(body)
}

// promtoolCheck runs promtool check metrics (Debian's, from
// scripts/setup.sh) on an exposition: no error, no warning.
func promtoolCheck(t *testing.T, metrics string) {
	t.Helper()
	p, err := filepath.Abs("../.cache/bin/promtool")
	require.NoError(t, err)
	if _, err := os.Stat(p); err != nil {
		if p, err = exec.LookPath("promtool"); err != nil {
			if required() {
				t.Fatal("no promtool: run scripts/setup.sh")
			}
			t.Log("no promtool: run scripts/setup.sh; /metrics not checked")
			return
		}
	}
	cmd := exec.Command(p, "check", "metrics")
	cmd.Stdin = strings.NewReader(metrics)
	out, err := cmd.CombinedOutput()
	assert.NoError(t, err, "promtool check metrics: %s", out)
	assert.Empty(t, strings.TrimSpace(string(out)), "promtool check metrics warns")
}

func freeUDPPort(t *testing.T) int {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// udpExchange sends n datagrams of mixed sizes to addr and checks each
// echo, retrying a lost one (slirp's first datagrams can race the ARP).
func udpExchange(t *testing.T, addr string, n int) int {
	c, err := net.Dial("udp", addr)
	require.NoError(t, err)
	defer c.Close()
	buf := make([]byte, 65536)
	ok := 0
	for i := 0; i < n; i++ {
		msg := bytes.Repeat([]byte{byte(i)}, 1+(i*97)%3000)
		for try := 0; try < 5; try++ {
			c.Write(msg)
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			k, err := c.Read(buf)
			if err == nil && bytes.Equal(buf[:k], msg) {
				ok++
				break
			}
		}
	}
	return ok
}

// TestAppliance: ringo-init's appliance code on an e1000 (address
// by DHCP from slirp) and on an ne2k_pci (static address); the host reaches its UDP echo service
// through slirp's hostfwd (datagrams up to 3000 bytes: fragmented both
// ways) and reads the status report from the UDP status port.
func TestAppliance(t *testing.T) {
	for _, model := range []string{"e1000", "ne2k_pci"} {
		t.Run(model, func(t *testing.T) {
			addrArgs := []string{"ringo.ip=10.0.2.15/24", "ringo.gw=10.0.2.2"}
			if model == "e1000" {
				addrArgs = []string{"ringo.dhcp=1"}
			}
			echo, status := freeUDPPort(t), freeUDPPort(t)
			web, tcpEcho := freePort(t), freePort(t)
			v := boot(t, vm.Config{
				Name:    "appliance-" + model,
				Timeout: 3 * time.Minute,
				NICs: []vm.NIC{{Model: model, MAC: "52:54:00:00:02:0f",
					Netdev: fmt.Sprintf("user,hostfwd=udp:127.0.0.1:%d-:7,hostfwd=udp:127.0.0.1:%d-:7070,hostfwd=tcp:127.0.0.1:%d-:80,hostfwd=tcp:127.0.0.1:%d-:7",
						echo, status, web, tcpEcho)}},
			}, "appliance", append(addrArgs, "ringo.seconds=25")...)
			_, err := v.WaitReport(1, 90*time.Second)
			require.NoError(t, err)
			const n = 200
			got := udpExchange(t, fmt.Sprintf("127.0.0.1:%d", echo), n)
			assert.Equal(t, n, got, "echoes through slirp hostfwd")

			// The UDP status report in whole takes the cookie the
			// appliance hands to this address over HTTP (slirp's host
			// address either way); without it the reply is no larger
			// than the request.
			client := &http.Client{Timeout: 30 * time.Second}
			var cookie []byte
			require.Eventually(t, func() bool {
				resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/cookie", web))
				if err != nil {
					return false
				}
				defer resp.Body.Close()
				cookie, err = io.ReadAll(resp.Body)
				return err == nil && resp.StatusCode == 200
			}, 30*time.Second, 500*time.Millisecond, "GET /cookie")
			statusPage := func() string {
				c, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", status))
				if err != nil {
					return ""
				}
				defer c.Close()
				c.Write(cookie)
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				buf := make([]byte, 65536)
				k, _ := c.Read(buf)
				return string(buf[:k])
			}
			// IPv6 through the driver's multicast filter: a link-local
			// address after DAD, then slirp's router advertisement
			// (fec0::/64 from fe80::2, answering ringo's solicitation)
			// gives a SLAAC address and a default route. Waited for: DAD
			// takes a second after the device comes up.
			slaac := regexp.MustCompile(`eth0\s+inet6 fec0::[0-9a-f:]+/64\s+preferred\s+autoconf`)
			var page string
			assert.Eventually(t, func() bool { page = statusPage(); return slaac.MatchString(page) }, 30*time.Second, 500*time.Millisecond,
				"a SLAAC address from slirp's router advertisement")

			t.Logf("status page:\n%s", page)
			assert.Contains(t, page, "UP,LOWER_UP")
			assert.Contains(t, page, "inet 10.0.2.15/24")
			assert.Contains(t, page, "via 10.0.2.2")
			if model == "e1000" {
				assert.Contains(t, page, "dhcp 10.0.2.15/24 via 10.0.2.2 from 10.0.2.2")
			}
			assert.Contains(t, page, "Udp: InDatagrams")
			assert.Regexp(t, `eth0\s+inet6 fe80::[0-9a-f:]+/64\s+preferred\s+autoconf`, page)
			assert.Regexp(t, slaac, page)
			assert.Regexp(t, `::/0\s+via fe80::2\s+dev eth0`, page)
			assert.Contains(t, page, "Icmp6InRouterAdvertisements")

			// The same page over HTTP, served by net/http on ringo's TCP.
			resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/", web))
			require.NoError(t, err)
			html, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.NoError(t, err)
			assert.Equal(t, 200, resp.StatusCode)
			assert.Contains(t, string(html), "UP,LOWER_UP")
			assert.Contains(t, string(html), "tcp  ESTABLISHED")
			assert.Regexp(t, `tcp  ESTABLISHED .* cubic cwnd \d+`, string(html), "the congestion control on the status page")

			// /metrics passes promtool; the web page draws its charts in
			// headless Chromium, from the appliance.
			metrics := get(t, client, fmt.Sprintf("http://127.0.0.1:%d/metrics", web))
			assert.Regexp(t, `ringo_device_rx_packets_total\{dev="eth0",driver="[a-z0-9]+"\} [1-9]`, metrics)
			assert.Regexp(t, `ringo_interrupts_total\{cpu="0",line="[^"]+"\} [1-9]`, metrics)
			assert.Contains(t, metrics, `ringo_driver_`)
			promtoolCheck(t, metrics)
			if model == "e1000" {
				browsertest.CheckStatusPage(t, fmt.Sprintf("http://127.0.0.1:%d/", web), 90*time.Second)
			}

			// TCP echo: 1 MiB through slirp, byte-exact.
			c2, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", tcpEcho))
			require.NoError(t, err)
			data := make([]byte, 1<<20)
			rand.New(rand.NewSource(1)).Read(data)
			// Mid-transfer the link goes down for a second (QEMU's
			// set_link): TCP must ride it out and deliver every byte.
			go func() { c2.Write(data); c2.(*net.TCPConn).CloseWrite() }()
			c2.SetReadDeadline(time.Now().Add(90 * time.Second))
			start := time.Now()
			var back []byte
			flapped := make(chan time.Duration, 1)
			rbuf := make([]byte, 64<<10)
			for {
				k, err := c2.Read(rbuf)
				back = append(back, rbuf[:k]...)
				if len(back) >= len(data)/4 && cap(flapped) == 1 && len(flapped) == 0 {
					at := time.Since(start)
					_, merr := v.Monitor("set_link net0 off")
					require.NoError(t, merr)
					time.Sleep(time.Second)
					_, merr = v.Monitor("set_link net0 on")
					require.NoError(t, merr)
					flapped <- at
				}
				if err != nil {
					require.ErrorIs(t, err, io.EOF)
					break
				}
			}
			c2.Close()
			assert.True(t, bytes.Equal(data, back), "echoed %d of %d bytes", len(back), len(data))
			if assert.Len(t, flapped, 1, "the link went down mid-transfer") {
				t.Logf("FAULT | %s: link down for 1 s (QEMU set_link) during a 1 MiB TCP echo through slirp | every byte back in order; whole echo took %v (link cut at %v)",
					model, time.Since(start).Round(time.Millisecond), (<-flapped).Round(time.Millisecond))
			}

			raw, err := v.Wait()
			require.NoError(t, err)
			rep := decode[applianceReport](t, raw[1:])[0]
			require.Len(t, rep.Devices, 1)
			d := rep.Devices[0]
			assert.True(t, d.Up && d.Carrier)
			assert.Equal(t, "10.0.2.15/24", d.Addr)
			assert.Greater(t, d.RxPackets, uint64(n))
			assert.Greater(t, d.TxPackets, uint64(n))
			assert.Greater(t, d.IRQs, uint64(0))
			assert.True(t, strings.Contains(rep.Status, "ethtool -S eth0"))
			assert.Zero(t, rep.SkbLive)
		})
	}
}

// TestApplianceDemoConfig boots the appliance with demo.sh's topology (an
// e1000 and an ne2k_pci on two slirp networks, one VM), the e1000
// configured by DHCP and the ne2k_pci statically: the echo services answer
// on both, and the status page, fetched over HTTP through the e1000, shows
// both NICs up with their addresses.
func TestApplianceDemoConfig(t *testing.T) {
	web, nEcho, eEcho := freePort(t), freeUDPPort(t), freePort(t)
	v := boot(t, vm.Config{
		Name:    "appliance-demo",
		Timeout: 3 * time.Minute,
		NICs: []vm.NIC{
			{Model: "e1000", MAC: "52:54:00:12:34:56", Netdev: fmt.Sprintf("user,hostfwd=tcp:127.0.0.1:%d-10.0.2.15:80,hostfwd=tcp:127.0.0.1:%d-10.0.2.15:7", web, eEcho)},
			{Model: "ne2k_pci", MAC: "52:54:00:12:34:57", Netdev: fmt.Sprintf("user,net=10.0.3.0/24,host=10.0.3.2,hostfwd=udp:127.0.0.1:%d-10.0.3.15:7", nEcho)},
		},
	}, "appliance", "ringo.dhcp=eth0", "ringo.ip=eth1:10.0.3.15/24", "ringo.seconds=25")
	_, err := v.WaitReport(1, 90*time.Second)
	require.NoError(t, err)
	assert.Equal(t, 20, udpExchange(t, fmt.Sprintf("127.0.0.1:%d", nEcho), 20), "UDP echo through the ne2k_pci")
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", eEcho))
	require.NoError(t, err)
	c.SetDeadline(time.Now().Add(20 * time.Second))
	_, err = c.Write([]byte("hello e1000\n"))
	require.NoError(t, err)
	line := make([]byte, 12)
	_, err = io.ReadFull(c, line)
	c.Close()
	require.NoError(t, err)
	assert.Equal(t, "hello e1000\n", string(line), "TCP echo through the e1000")
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Get(fmt.Sprintf("http://127.0.0.1:%d/", web))
	require.NoError(t, err)
	page, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	t.Logf("%s", page)
	for _, want := range []string{"eth0  e1000", "eth1  ne2000", "inet 10.0.2.15/24", "inet 10.0.3.15/24", "dhcp 10.0.2.15/24"} {
		assert.Contains(t, string(page), want)
	}
	_, err = v.Wait()
	require.NoError(t, err)
	raw, _ := v.WaitReport(2, time.Second)
	rep := decode[applianceReport](t, raw[1:])[0]
	require.Len(t, rep.Devices, 2)
	for _, d := range rep.Devices {
		assert.True(t, d.Up && d.Carrier, d.Name)
		assert.Greater(t, d.RxPackets, uint64(0), d.Name)
		assert.Greater(t, d.TxPackets, uint64(0), d.Name)
	}
}

// TestApplianceIPv6: the appliance (on an e1000, a static IPv6 address
// beside its IPv4 one) and a Linux VM on a -netdev socket link: the Linux
// kernel pings it over IPv6, pushes bytes through its TCP echo service and
// fetches its status page over HTTP, all over IPv6, as a user's tools
// would; and over 802.1Q VLAN 100 (ringo.vlan=eth0.100 against Linux's
// eth0.100 from 8021q.ko) it pings it and uses the echo service.
func TestApplianceIPv6(t *testing.T) {
	for _, model := range []string{"e1000", "e1000e"} {
		t.Run(model, func(t *testing.T) { testApplianceIPv6(t, model) })
	}
}

// testApplianceIPv6 is TestApplianceIPv6 on one NIC model. On the 82574L
// both ends also run jumbo frames (MTU 9000 on the untagged link: the
// 3000-byte IPv6 pings cross unfragmented), with Linux's e1000e in the
// peer, and the status page shows the queues and their vectors.
func testApplianceIPv6(t *testing.T, model string) {
	port := freePort(t)
	appArgs := []string{"ringo.ip=eth0:10.0.5.2/24,eth0:2001:db8:5::2/64,eth0.100:10.0.100.2/24", "ringo.vlan=eth0.100", "ringo.seconds=40"}
	var peerArgs []string
	if model == "e1000e" {
		appArgs = append(appArgs, "ringo.mtu=eth0:9000")
		peerArgs = append(peerArgs, "ringo.mtu=9000")
	}
	app := boot(t, vm.Config{
		Name:    "appliance-ipv6-" + model,
		Timeout: 3 * time.Minute,
		NICs:    []vm.NIC{{Model: model, MAC: "52:54:00:00:05:02", Netdev: fmt.Sprintf("socket,listen=127.0.0.1:%d", port)}},
	}, "appliance", appArgs...)
	require.NoError(t, vm.WaitListening(port, time.Minute))
	peer := boot(t, vm.Config{
		Name:    "linux-peer-appliance-ipv6-" + model,
		Timeout: 3 * time.Minute,
		NICs:    []vm.NIC{{Model: model, MAC: "52:54:00:00:05:01", Netdev: fmt.Sprintf("socket,connect=127.0.0.1:%d", port)}},
	}, "linuxpeer", append([]string{"ringo.peerip=10.0.5.1/24", "ringo.peerip6=2001:db8:5::1/64", "ringo.target6=2001:db8:5::2",
		"ringo.sizes=56,3000", "ringo.count=3", "ringo.tcp6=[2001:db8:5::2]:7/65536", "ringo.http6=http://[2001:db8:5::2]/",
		// 802.1Q: Linux's eth0.100 (8021q.ko) against ringo's: pings and
		// the TCP echo over VLAN 100, beside the untagged IPv6 above.
		"ringo.vlan=100:10.0.100.1/24", "ringo.target=10.0.100.2", "ringo.tcp=10.0.100.2:7/65536"}, peerArgs...)...)
	raw, err := peer.Wait()
	require.NoError(t, err)
	pr := decodeBytes[linuxPeerReport](t, raws(raw)[1])
	assert.Equal(t, model, pr.Driver, "Linux's own driver in the peer")
	for _, size := range []int{56, 3000} {
		assert.Equal(t, 3, pr.Pings6[size].Received, "ping -6 -s %d to the appliance: %+v", size, pr.Pings6[size])
	}
	if assert.NotNil(t, pr.TCP6) {
		assert.True(t, pr.TCP6.Match, "the echo service over IPv6: %+v", *pr.TCP6)
	}
	for _, size := range []int{56, 3000} {
		assert.Equal(t, 3, pr.Pings[size].Received, "ping -s %d to the appliance over VLAN 100: %+v", size, pr.Pings[size])
	}
	if assert.NotNil(t, pr.TCP) {
		assert.True(t, pr.TCP.Match, "the echo service over VLAN 100: %+v", *pr.TCP)
	}
	if assert.NotNil(t, pr.HTTP6) {
		body := pr.HTTP6.Body
		assert.Equal(t, 200, pr.HTTP6.Status, pr.HTTP6.Err)
		assert.Contains(t, body, "inet6 2001:db8:5::2/64", "the status page, fetched over IPv6, shows the address")
		assert.Contains(t, body, "Icmp6InEchos")
		assert.Regexp(t, `eth0\.100\s+vlan`, body, "the VLAN device on the status page")
		if model == "e1000e" {
			assert.Regexp(t, `eth0\s+e1000e\s+\S+\s+\S+\s+\S+\s+9000`, body, "eth0 at MTU 9000")
			assert.Regexp(t, `Ip6ReasmOKs\s+0\b`, body, "the 3000-byte pings came whole: jumbo frames both ways")
			assert.Regexp(t, `rx_queue_0_packets: \d+\n(.*\n)*\s+rx_queue_1_packets: \d+`, body, "per-queue counters")
			assert.Contains(t, body, "eth0-rx-0", "per-vector interrupt lines")
			assert.Contains(t, body, "vfio-msix")
			t.Logf("the appliance's status page on an 82574L:\n%s", body)
		}
	}
	_, err = app.Wait()
	require.NoError(t, err)
}
