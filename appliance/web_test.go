package appliance

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringonet/ringo/internal/browsertest"
)

// The status endpoints over ringo's TCP: / is text for curl and HTML for
// a browser, /status.txt text, /status.json the same reading as JSON.
func TestStatusEndpoints(t *testing.T) {
	sys, cli := servicesHost(t)
	client := &http.Client{Transport: &http.Transport{DialContext: cli.DialContext}, Timeout: 10 * time.Second}
	get := func(path, accept string) (*http.Response, string) {
		req, err := http.NewRequest("GET", "http://10.4.0.2"+path, nil)
		require.NoError(t, err)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := client.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, 200, resp.StatusCode, path)
		return resp, string(body)
	}
	resp, body := get("/", "*/*") // curl's
	assert.Equal(t, "text/plain; charset=utf-8", resp.Header.Get("Content-Type"))
	assert.Contains(t, body, "# ip -s link")
	resp, body = get("/", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8") // a browser's
	assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
	assert.Contains(t, resp.Header.Get("Content-Security-Policy"), "default-src 'none'")
	assert.True(t, strings.Contains(body, `<div id="charts">`), "the web page")
	assert.False(t, strings.Contains(body, "http://") || strings.Contains(body, "https://"), "no external assets")
	_, body = get("/status.txt", "text/html")
	assert.Contains(t, body, "# /proc/net/snmp")

	sys.Stack.SetNameservers(netip.MustParseAddr("10.4.0.53"))
	resp, body = get("/status.json", "")
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	var st Status
	require.NoError(t, json.Unmarshal([]byte(body), &st))
	var eth *DeviceStatus
	for i := range st.Devices {
		if st.Devices[i].Kind == "pipe" {
			eth = &st.Devices[i]
		}
	}
	require.NotNil(t, eth)
	assert.Equal(t, "UP,LOWER_UP", eth.State)
	assert.Positive(t, eth.Stats["rx_packets"])
	assert.Contains(t, eth.Qdisc, "drops")
	assert.Positive(t, st.SNMP["Tcp"]["PassiveOpens"])
	assert.Contains(t, st.Services, "status_rate_limited")
	assert.Equal(t, []string{"10.4.0.53"}, st.DNS)
	assert.NotEmpty(t, st.Softnet)
	found := false
	for _, so := range st.Sockets {
		found = found || so.Proto == "tcp" && so.State == "ESTABLISHED" && so.CC == "cubic"
	}
	assert.True(t, found, "this request's connection, with its congestion control")
	assert.InDelta(t, time.Now().UnixMilli(), st.TimeMS, 5000)
	assert.InDelta(t, sys.Start.UnixMilli(), st.TimeMS-int64(st.UptimeS*1000), 2, "uptime from the start")
}

// The web page in headless Chromium, served by the appliance's handler
// (on the host's TCP here; TestAppliance in qemu-tests loads it from the
// appliance in QEMU): the charts draw at least two updates from
// /status.json, the tables show the devices, and nothing goes to the
// console.
func TestWebPageInBrowser(t *testing.T) {
	browsertest.Chromium(t)
	sys, cli := servicesHost(t)
	srv := httptest.NewServer(sys.httpHandler())
	defer srv.Close()
	stop := make(chan struct{})
	defer close(stop)
	go func() { // traffic for the charts: pings over the pipe
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				c, err := cli.Dial("udp", "10.4.0.2:7")
				if err == nil {
					c.Write([]byte("x"))
					c.Close()
				}
			}
		}
	}()
	browsertest.CheckStatusPage(t, srv.URL+"/", 30*time.Second)
}
