package appliance

import (
	"bytes"
	"io"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringonet/ringo/netcore"
)

// promtool is Debian's, unpacked by scripts/setup.sh into .cache/bin, or
// one on PATH; "" if neither.
func promtool() string {
	if p, err := filepath.Abs("../.cache/bin/promtool"); err == nil {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	p, _ := exec.LookPath("promtool")
	return p
}

// value is the sample of family name whose labels include want, or -1.
func value(mfs map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	mf, ok := mfs[name]
	if !ok {
		return -1
	}
next:
	for _, m := range mf.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		}
	}
	return -1
}

// /metrics, scraped over ringo's TCP by an HTTP client on a second ringo
// stack: the exposition parses, passes the linter promtool uses (and
// promtool itself), and its values are ringo's counters, read at the scrape.
func TestMetrics(t *testing.T) {
	sys, cli := servicesHost(t)
	client := &http.Client{Transport: &http.Transport{DialContext: cli.DialContext}, Timeout: 10 * time.Second}
	scrape := func() []byte {
		resp, err := client.Get("http://10.4.0.2/metrics")
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, 200, resp.StatusCode)
		assert.Contains(t, resp.Header.Get("Content-Type"), "text/plain; version=0.0.4")
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return body
	}
	body := scrape()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	require.NoError(t, err)

	problems, err := promlint.New(bytes.NewReader(body)).Lint()
	require.NoError(t, err)
	assert.Empty(t, problems, "promlint (promtool check metrics)")
	if p := promtool(); p != "" {
		cmd := exec.Command(p, "check", "metrics")
		cmd.Stdin = bytes.NewReader(body)
		out, err := cmd.CombinedOutput()
		assert.NoError(t, err, "promtool check metrics: %s", out)
		assert.Empty(t, strings.TrimSpace(string(out)), "promtool warns")
	} else if os.Getenv("CI") == "true" {
		t.Fatal("promtool not found: run scripts/setup.sh")
	}

	var dev *netcore.Device
	for _, a := range sys.Stack.IP.Addresses() {
		if a.Prefix.Addr() == netip.MustParseAddr("10.4.0.2") {
			dev = a.Dev
		}
	}
	require.NotNil(t, dev)
	assert.Positive(t, value(mfs, "ringo_device_rx_packets_total", map[string]string{"dev": dev.Name}))
	assert.Equal(t, float64(dev.Stats.TxBytes.Load()) > 0, value(mfs, "ringo_device_tx_bytes_total", map[string]string{"dev": dev.Name}) > 0)
	assert.Equal(t, 1.0, value(mfs, "ringo_device_up", map[string]string{"dev": dev.Name}))
	assert.Equal(t, 1500.0, value(mfs, "ringo_device_mtu_bytes", map[string]string{"dev": dev.Name}))
	for _, name := range []string{
		"ringo_device_rx_missed_errors_total", "ringo_device_tx_timeouts_total", // the link statistics the text page leaves out
		"ringo_qdisc_requeues_total", "ringo_qdisc_backlog_packets", "ringo_napi_polls_total", "ringo_gro_merged_total",
		"ringo_softnet_processed_total", "ringo_neigh_lookups_total", "ringo_neigh_entries",
		"ringo_ip_in_receives_total", "ringo_icmp_out_rate_limited_total", "ringo_udp_in_datagrams_total",
		"ringo_tcp_curr_estab", "ringo_tcpext_syncookies_sent_total", "ringo_tcpext_sack_recovery_total",
		"ringo_ip6_in_receives_total", "ringo_icmp6_in_msgs_total", "ringo_tcp_sockets",
		"ringo_service_status_rate_limited_total", "go_goroutines",
	} {
		assert.Contains(t, mfs, name)
	}
	assert.Equal(t, dto.MetricType_GAUGE, mfs["ringo_tcp_curr_estab"].GetType(), "CurrEstab goes down: a gauge")
	assert.Equal(t, 1.0, value(mfs, "ringo_tcp_sockets", map[string]string{"state": "ESTABLISHED"}), "the scrape's own connection")
	assert.Equal(t, 1.0, value(mfs, "ringo_neigh_entries", map[string]string{"family": "ipv4", "state": "REACHABLE"}))

	// Read at scrape time: the next scrape sees the first one's segments.
	before := value(mfs, "ringo_tcp_in_segs_total", nil)
	mfs, err = parser.TextToMetricFamilies(bytes.NewReader(scrape()))
	require.NoError(t, err)
	assert.Greater(t, value(mfs, "ringo_tcp_in_segs_total", nil), before)

	// ringo stats -prometheus prints the same families.
	var out bytes.Buffer
	require.NoError(t, sys.WriteMetrics(&out))
	cli2, err := parser.TextToMetricFamilies(&out)
	require.NoError(t, err)
	assert.Contains(t, cli2, "ringo_device_rx_packets_total")
}
