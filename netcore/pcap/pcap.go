// Package pcap writes captured frames in the libpcap file format
// (LINKTYPE_ETHERNET, microsecond timestamps), readable by tcpdump,
// Wireshark and tshark. A Writer is a netcore tap.
package pcap

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/skb"
)

const (
	magicMicros     = 0xa1b2c3d4
	versionMajor    = 2
	versionMinor    = 4
	linktypeEther   = 1
	fileHeaderLen   = 24
	recordHeaderLen = 16
	// DefaultSnaplen keeps whole frames.
	DefaultSnaplen = 65535
)

// Writer writes a pcap stream. It is safe for concurrent use: taps run on
// several softnets and senders at once.
type Writer struct {
	mu      sync.Mutex
	w       *bufio.Writer
	snaplen int
	dev     string // only this device, "" for all
	err     error
	count   uint64
	hdr     [recordHeaderLen]byte
}

// NewWriter writes the file header and returns a Writer. dev limits the
// capture to one device ("" captures all).
func NewWriter(w io.Writer, snaplen int, dev string) (*Writer, error) {
	if snaplen <= 0 {
		snaplen = DefaultSnaplen
	}
	var h [fileHeaderLen]byte
	le := binary.LittleEndian
	le.PutUint32(h[0:], magicMicros)
	le.PutUint16(h[4:], versionMajor)
	le.PutUint16(h[6:], versionMinor)
	// thiszone and sigfigs stay 0
	le.PutUint32(h[16:], uint32(snaplen))
	le.PutUint32(h[20:], linktypeEther)
	bw := bufio.NewWriterSize(w, 64<<10)
	if _, err := bw.Write(h[:]); err != nil {
		return nil, fmt.Errorf("pcap: header: %w", err)
	}
	return &Writer{w: bw, snaplen: snaplen, dev: dev}, nil
}

// WritePacket appends one frame.
func (p *Writer) WritePacket(ts time.Time, frame []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return p.err
	}
	n := min(len(frame), p.snaplen)
	le := binary.LittleEndian
	le.PutUint32(p.hdr[0:], uint32(ts.Unix()))
	le.PutUint32(p.hdr[4:], uint32(ts.Nanosecond()/1000))
	le.PutUint32(p.hdr[8:], uint32(n))
	le.PutUint32(p.hdr[12:], uint32(len(frame)))
	if _, p.err = p.w.Write(p.hdr[:]); p.err == nil {
		_, p.err = p.w.Write(frame[:n])
	}
	p.count++
	return p.err
}

// Tap returns a netcore tap that writes every frame it sees.
func (p *Writer) Tap() *netcore.Tap {
	return &netcore.Tap{Func: func(d *netcore.Device, frame []byte, _ skb.PktType, ts time.Time) {
		if p.dev != "" && d.Name != p.dev {
			return
		}
		if ts.IsZero() {
			ts = time.Now()
		}
		p.WritePacket(ts, frame)
	}}
}

// Count is the number of frames written.
func (p *Writer) Count() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.count
}

// Flush writes buffered records out.
func (p *Writer) Flush() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return p.err
	}
	return p.w.Flush()
}
