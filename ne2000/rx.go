package ne2000

import (
	"fmt"
	"time"

	"github.com/ringonet/ringo/netcore/skb"
)

// The receive path (ei_receive): frames pulled from the DP8390's page
// ring in card memory by remote DMA, CURR and BNRY, and ring overflow
// recovery.

// receiveLocked is ei_receive: take every frame between BNRY+1 and CURR.
// The 4-byte header comes from the card and is checked: status, next page
// inside the ring, length 60..1518. A bad header resets the ring.
func (d *Driver) receiveLocked() {
	p := d.p
	// Acknowledge first: a frame that lands while the ring drains raises
	// PRX again and the interrupt loop comes back for it.
	if err := d.ackLocked(isr_PRX | isr_RXE); err != nil {
		return
	}
	// CURR once per pass, BNRY from the driver's own copy: each access is
	// a VM exit on an emulated card (Linux's ei_receive reads both per
	// frame). A frame that lands after the CURR read has raised PRX
	// again, so the service loop comes back for it.
	curr, err := d.readCurrLocked()
	if err != nil {
		return
	}
	// At most a ring's worth of frames (one page each at the least): a
	// pass drains a full ring, and a hostile header chain that never
	// reaches CURR ends.
	for rx := 0; rx < d.rxStop-RxStartPage; rx++ {
		this := int(d.bnry) + 1
		if this >= d.rxStop {
			this = RxStartPage
		}
		if this == int(curr) {
			break
		}
		// The header and the frame's start in one remote DMA.
		hdr := d.rxHead[:]
		if err := d.readMemLocked(uint16(this)<<8, hdr); err != nil {
			return
		}
		status, next := hdr[0], int(hdr[1])
		count := int(hdr[2]) | int(hdr[3])<<8
		length := count - rxHeaderBytes
		if next < RxStartPage || next >= d.rxStop || length < minFrame || length > maxFrame ||
			(status&rsr_PRX == 0 && status&^rsr_PHY == 0) {
			d.Counters.BadHeaders.Add(1)
			d.Dev.Stats.RxErrors.Add(1)
			d.Dev.Stats.RxFrameErrors.Add(1)
			d.log.Warn("ne2000: bad receive header; resetting the ring", "dev", d.Dev.Name,
				"page", this, "status", status, "next", next, "len", length)
			d.resetRingLocked()
			return
		}
		if status&rsr_PRX != 0 {
			d.pullFrameLocked(this, length)
		} else {
			d.Counters.RxErrStatus.Add(1)
			d.Dev.Stats.RxErrors.Add(1)
			if status&rsr_CRC != 0 {
				d.Dev.Stats.RxCRCErrors.Add(1)
			}
			if status&rsr_FO != 0 {
				d.Dev.Stats.RxFIFOErrors.Add(1)
			}
		}
		// The boundary trails the next frame by one page.
		nb := next - 1
		if nb < RxStartPage {
			nb = d.rxStop - 1
		}
		if err := p.out(regBNRY, uint8(nb)); err != nil {
			return
		}
		d.bnry = uint8(nb)
	}
}

// pullFrameLocked takes the frame whose header is at page into an skb and
// hands it to netif_rx: its first bytes are in rxHead already, the rest
// (if any) is read by remote DMA, in two parts if it wraps past PSTOP.
func (d *Driver) pullFrameLocked(page, length int) {
	b := skb.Alloc(length + 4)
	if b == nil {
		d.Dev.Stats.RxDropped.Add(1)
		return
	}
	buf := b.Put(length)
	got := copy(buf, d.rxHead[rxHeaderBytes:])
	if rest := buf[got:]; len(rest) > 0 {
		addr := page<<8 + rxFirstRead
		first := min(len(rest), d.rxStop<<8-addr)
		if err := d.readMemLocked(uint16(addr), rest[:first]); err != nil {
			b.Free()
			return
		}
		if first < len(rest) {
			if err := d.readMemLocked(RxStartPage<<8, rest[first:]); err != nil {
				b.Free()
				return
			}
		}
	}
	if !d.Dev.EthTypeTrans(b) {
		d.Dev.Stats.RxLengthErrors.Add(1)
		b.Free()
		return
	}
	d.Dev.NetifRx(b)
}

func (d *Driver) readCurrLocked() (uint8, error) {
	p := d.p
	d.crDirty = true
	if err := p.out(regCR, cr_PAGE1|cr_RD_ABORT|cr_STA); err != nil {
		return 0, err
	}
	curr, err := p.in(regCURR)
	if err2 := p.out(regCR, cr_PAGE0|cr_RD_ABORT|cr_STA); err == nil {
		err = err2
	}
	d.crDirty = err != nil
	if err == nil && (curr < RxStartPage || int(curr) >= d.rxStop) {
		// A CURR outside the ring is as bad as a bad header.
		d.Counters.BadHeaders.Add(1)
		d.resetRingLocked()
		return 0, fmt.Errorf("ne2000: CURR %#x outside the ring", curr)
	}
	return curr, err
}

// resetRingLocked discards everything in the receive ring: stop, reprogram
// BNRY and CURR, start again. Frames in the ring are lost and counted.
func (d *Driver) resetRingLocked() {
	d.Dev.Stats.RxDropped.Add(1)
	p := d.p
	d.bnry = uint8(d.rxStop - 1)
	err := p.outs(
		regCR, cr_PAGE0|cr_RD_ABORT|cr_STP,
		regBNRY, uint32(d.bnry),
		regCR, cr_PAGE1|cr_RD_ABORT|cr_STP,
		regCURR, RxStartPage,
		regCR, cr_PAGE0|cr_RD_ABORT|cr_STA,
		regISR, isr_PRX|isr_RXE|isr_OVW,
	)
	d.crDirty = err != nil
	d.Counters.RingResets.Add(1) // counted once done: the card takes frames again
}

// overrunLocked is the DP8390 datasheet's buffer-overflow recovery (Linux's
// ei_rx_overrun): stop, wait, clear the remote byte count, note whether a
// transmission was cut off, go to loopback, start, drain the ring, clear
// OVW, leave loopback, and resend if needed.
func (d *Driver) overrunLocked() {
	d.Counters.Overruns.Add(1)
	d.Dev.Stats.RxOverErrors.Add(1)
	d.Dev.Stats.RxErrors.Add(1)
	p := d.p
	cr, _ := p.in(regCR)
	wasTxing := cr&cr_TXP != 0
	p.out(regCR, cr_PAGE0|cr_RD_ABORT|cr_STP)
	time.Sleep(2 * time.Millisecond) // datasheet: at least 1.6 ms for the chip to stop
	p.outs(regRBCR0, 0, regRBCR1, 0)
	mustResend := false
	if wasTxing {
		isr, _ := p.in(regISR)
		mustResend = isr&(isr_PTX|isr_TXE) == 0
	}
	d.crDirty = p.outs(regTCR, tcr_LOOPBACK, regCR, cr_PAGE0|cr_RD_ABORT|cr_STA) != nil
	d.receiveLocked()
	p.outs(regISR, isr_OVW, regTCR, tcr_NORMAL)
	if mustResend {
		d.Counters.TxResends.Add(1)
		p.out(regCR, cr_PAGE0|cr_RD_ABORT|cr_STA|cr_TXP)
	}
}
