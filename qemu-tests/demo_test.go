package qemutests

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDemoScript runs the README's demo command, scripts/demo.sh, as a
// user would, and fetches its status page from the host: both NICs up,
// with their addresses, and packets counted on both.
func TestDemoScript(t *testing.T) {
	needQEMU(t)
	ports := map[string]int{}
	var extra []string
	for _, k := range []string{"E_ECHO", "E_STATUS", "E_HTTP", "N_ECHO", "N_STATUS", "N_HTTP"} {
		ports[k] = freePort(t)
		extra = append(extra, fmt.Sprintf("%s=%d", k, ports[k]))
	}
	cmd := exec.Command(filepath.Join(env.root, "scripts", "demo.sh"))
	cmd.Dir = env.root
	cmd.Env = append(os.Environ(), extra...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = cmd.Stdout
	require.NoError(t, cmd.Start())
	defer func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	}()
	ready := make(chan struct{})
	var log strings.Builder
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "ringo-init: ready") && strings.Contains(sc.Text(), "dev=eth1") {
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(4 * time.Minute):
		t.Fatalf("the demo did not come up:\n%s", log.String())
	}
	// Traffic through the ne2k_pci side, then read both pages.
	assert.Equal(t, 5, udpExchange(t, fmt.Sprintf("127.0.0.1:%d", ports["N_ECHO"]), 5))
	get := func(port int) string {
		resp, err := (&http.Client{Timeout: 30 * time.Second}).Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return string(b)
	}
	get(ports["N_HTTP"])
	page := get(ports["E_HTTP"])
	t.Logf("%s", page)
	for _, want := range []string{"inet 10.0.2.15/24", "inet 10.0.3.15/24"} {
		assert.Contains(t, page, want)
	}
	row := regexp.MustCompile(`(?m)^(eth[01])\s+(\S+)\s+\S+\s+\S+\s+(\S+)\s+\d+\s+(\d+)\s+\d+\s+\d+\s+\d+\s+(\d+)`)
	rows := row.FindAllStringSubmatch(page, -1)
	require.Len(t, rows, 2, "two NIC rows in ip -s link")
	for _, r := range rows {
		assert.Equal(t, "UP,LOWER_UP", r[3], r[1])
		rx, _ := strconv.Atoi(r[4])
		tx, _ := strconv.Atoi(r[5])
		assert.Greater(t, rx, 0, "%s rx_packets", r[1])
		assert.Greater(t, tx, 0, "%s tx_packets", r[1])
	}
}
