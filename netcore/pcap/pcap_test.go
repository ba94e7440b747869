package pcap

import (
	"bytes"
	"encoding/binary"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/link"
	"github.com/ringonet/ringo/netcore/skb"
)

func TestGoldenHeader(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, 0, "")
	require.NoError(t, err)
	frame := []byte{1, 2, 3}
	require.NoError(t, w.WritePacket(time.Unix(1700000000, 123456000), frame))
	require.NoError(t, w.Flush())
	want := []byte{
		0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, // magic, version 2.4
		0, 0, 0, 0, 0, 0, 0, 0, // thiszone, sigfigs
		0xff, 0xff, 0, 0, 1, 0, 0, 0, // snaplen 65535, LINKTYPE_ETHERNET
		0x00, 0xf1, 0x53, 0x65, 0x40, 0xe2, 0x01, 0x00, // ts 1700000000.123456
		3, 0, 0, 0, 3, 0, 0, 0, 1, 2, 3,
	}
	assert.Equal(t, want, buf.Bytes())
}

// Frames sent across a pipe pair through netcore, captured by the tap,
// must read back in tshark with the right count and ethertypes.
func TestTsharkReadsCapture(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("tshark not found: run scripts/setup.sh")
		}
		t.Skip("tshark not found: run scripts/setup.sh (apt-get install tshark)")
	}
	c := netcore.New(netcore.Config{Logger: slog.New(slog.DiscardHandler)})
	defer c.Close()
	a, b, err := link.NewPipe(c, link.PipeConfig{Names: [2]string{"a", "b"}})
	require.NoError(t, err)
	require.NoError(t, a.Dev.Up())
	require.NoError(t, b.Dev.Up())
	got := make(chan struct{}, 100)
	c.AddPacketType(0x88b5, func(s *skb.Buff) { s.Free(); got <- struct{}{} })

	path := filepath.Join(t.TempDir(), "cap.pcap")
	f, err := os.Create(path)
	require.NoError(t, err)
	w, err := NewWriter(f, 0, "")
	require.NoError(t, err)
	remove := c.AddTap(w.Tap())
	for i := 0; i < 10; i++ {
		s := skb.Alloc(100)
		p := s.Put(100)
		copy(p[0:6], b.Dev.HardwareAddr)
		copy(p[6:12], a.Dev.HardwareAddr)
		binary.BigEndian.PutUint16(p[12:], 0x88b5)
		s.Dev = a.Dev
		require.NoError(t, netcore.DevQueueXmit(s))
	}
	for i := 0; i < 10; i++ {
		<-got
	}
	remove()
	require.NoError(t, w.Flush())
	require.NoError(t, f.Close())
	// 10 frames out of a, the same 10 into b.
	assert.EqualValues(t, 20, w.Count())

	out, err := exec.Command(tshark, "-r", path, "-T", "fields", "-e", "eth.type", "-e", "frame.len").Output() // stderr warns about root
	require.NoError(t, err, "%s", out)
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	require.Len(t, lines, 20, "%s", out)
	for _, l := range lines {
		assert.Equal(t, "0x88b5\t100", strings.TrimSpace(l))
	}
}
