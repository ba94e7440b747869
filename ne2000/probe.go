package ne2000

import (
	"fmt"
	"net"
	"time"

	"github.com/ringonet/ringo/vfio"
)

// ports is the driver's port-I/O vocabulary: every wait has a deadline.
type ports struct {
	p vfio.Ports
}

func (p ports) in(off uint32) (uint8, error) { return p.p.Read8(off) }
func (p ports) out(off uint32, v uint8) error {
	return p.p.Write8(off, v)
}

// outs writes a sequence of (register, value) pairs, stopping at the first
// error.
func (p ports) outs(pairs ...uint32) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if err := p.p.Write8(pairs[i], uint8(pairs[i+1])); err != nil {
			return err
		}
	}
	return nil
}

// waitISR waits for bits in ISR with a deadline and returns the ISR
// value that had them.
func (p ports) waitISR(bits uint8, timeout time.Duration) (uint8, error) {
	deadline := time.Now().Add(timeout)
	for {
		v, err := p.in(regISR)
		if err != nil {
			return 0, err
		}
		if v&bits == bits {
			return v, nil
		}
		if time.Now().After(deadline) {
			return v, fmt.Errorf("ISR %#02x: bits %#02x not set after %v", v, bits, timeout)
		}
		time.Sleep(10 * time.Microsecond)
	}
}

// reset pulses the NE2000 reset port and waits for ISR.RST (as ne_reset_8390).
func (p ports) reset() error {
	v, err := p.in(ResetPort)
	if err != nil {
		return fmt.Errorf("ne2000: reset: %w", err)
	}
	if err := p.out(ResetPort, v); err != nil {
		return fmt.Errorf("ne2000: reset: %w", err)
	}
	if _, err := p.waitISR(isr_RST, 100*time.Millisecond); err != nil {
		return fmt.Errorf("ne2000: reset: %w", err)
	}
	return p.out(regISR, 0xff)
}

// remoteRead reads len(buf) bytes of card memory at addr by remote DMA
// through the data port, 16 bits at a time (the card is in word mode), then
// waits for RDC. len(buf) must be even.
func (p ports) remoteRead(addr uint16, buf []byte) error {
	n := len(buf)
	if err := p.outs(
		regCR, cr_PAGE0|cr_RD_ABORT|cr_STA,
		regRBCR0, uint32(n&0xff), regRBCR1, uint32(n>>8),
		regRSAR0, uint32(addr&0xff), regRSAR1, uint32(addr>>8),
		regCR, cr_PAGE0|cr_RD_READ|cr_STA,
	); err != nil {
		return fmt.Errorf("ne2000: remote read %#x: %w", addr, err)
	}
	if err := p.p.ReadBuf(DataPort, 2, buf); err != nil {
		return fmt.Errorf("ne2000: remote read %#x: %w", addr, err)
	}
	if _, err := p.waitISR(isr_RDC, 10*time.Millisecond); err != nil {
		return fmt.Errorf("ne2000: remote read %#x+%d: %w", addr, n, err)
	}
	return p.out(regISR, isr_RDC)
}

// readPROM reads the station address from the PROM at card address 0. The
// 8-bit PROM sits on a 16-bit bus, so in word mode each word holds one MAC
// byte twice.
func (p ports) readPROM() (net.HardwareAddr, error) {
	if err := p.outs(
		regCR, cr_PAGE0|cr_RD_ABORT|cr_STP,
		regDCR, DCRWord,
		regRBCR0, 0, regRBCR1, 0,
		regIMR, 0, regISR, 0xff,
		regRCR, rcr_MON,
		regTCR, tcr_LOOPBACK,
	); err != nil {
		return nil, fmt.Errorf("ne2000: prom: %w", err)
	}
	var prom [12]byte
	if err := p.remoteRead(0, prom[:]); err != nil {
		return nil, fmt.Errorf("ne2000: prom: %w", err)
	}
	mac := make(net.HardwareAddr, 6)
	for i := range mac {
		mac[i] = prom[2*i]
	}
	return mac, nil
}

// Probe resets the card and reads its station address from the PROM.
func Probe(p vfio.Ports) (net.HardwareAddr, error) {
	pp := ports{p}
	if err := pp.reset(); err != nil {
		return nil, err
	}
	return pp.readPROM()
}
