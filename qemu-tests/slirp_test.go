package qemutests

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringonet/ringo/qemu-tests/vm"
)

type arpReport struct {
	Dev, Kind         string
	ReplyMAC, ReplyIP string
	Tries             int
}

// slirp's gateway answers as 52:55:0a:00:02:02.
const slirpGatewayMAC = "52:55:0a:00:02:02"

// TestARPSlirp: an e1000 and an ne2k_pci, each on its own -netdev user,
// send an ARP request for 10.0.2.2 as a raw frame through ringo's driver
// and get slirp's answer.
func TestARPSlirp(t *testing.T) {
	v := boot(t, vm.Config{
		Name:    "arp-slirp",
		Timeout: 90 * time.Second,
		NICs: []vm.NIC{
			{Model: "e1000", MAC: "52:54:00:aa:00:01", Netdev: "user"},
			{Model: "ne2k_pci", MAC: "52:54:00:bb:00:02", Netdev: "user"},
		},
	}, "arp")
	raw, err := v.Wait()
	require.NoError(t, err)
	reps := decode[arpReport](t, raw)
	require.Len(t, reps, 2)
	for _, r := range reps {
		assert.Equal(t, slirpGatewayMAC, r.ReplyMAC, "%s (%s)", r.Dev, r.Kind)
		assert.Equal(t, "10.0.2.2", r.ReplyIP)
	}
}

type linkReport struct {
	Events                      []string
	RepliesBefore, RepliesAfter int
	Sent                        int
	SkbLive                     int64
	DMABefore, DMAAfter         int
	TxInFlight, QdiscLen        int
}

// TestE1000LinkFlap: the host takes the e1000's link down and up through
// the QEMU monitor during traffic; ringo's carrier follows, traffic
// resumes, and no buffer is lost or leaked.
func TestE1000LinkFlap(t *testing.T) {
	v := boot(t, vm.Config{
		Name:    "e1000-linkflap",
		Timeout: 90 * time.Second,
		NICs:    []vm.NIC{{Model: "e1000", MAC: "52:54:00:aa:00:01", Netdev: "user"}},
	}, "linkflap", "ringo.seconds=8")
	_, err := v.WaitReport(1, 60*time.Second)
	require.NoError(t, err)
	time.Sleep(2 * time.Second)
	_, err = v.Monitor("set_link net0 off")
	require.NoError(t, err)
	time.Sleep(2 * time.Second)
	_, err = v.Monitor("set_link net0 on")
	require.NoError(t, err)
	raw, err := v.Wait()
	require.NoError(t, err)
	require.Len(t, raw, 2)
	rep := decode[linkReport](t, raw[1:])[0]
	t.Logf("%+v", rep)
	assert.Equal(t, []string{"down", "up"}, rep.Events)
	assert.Greater(t, rep.RepliesBefore, 0, "traffic before the flap")
	assert.Greater(t, rep.RepliesAfter, 0, "traffic resumed after the flap")
	assert.Zero(t, rep.SkbLive, "every skb returned to the pool")
	assert.Equal(t, rep.DMABefore, rep.DMAAfter, "no DMA memory grew or leaked")
}
