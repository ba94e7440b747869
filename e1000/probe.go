package e1000

import (
	"fmt"
	"net"
	"time"

	"github.com/ringonet/ringo/internal/e1000x"
	"github.com/ringonet/ringo/vfio"
)

// regs is the register window with the 8254x's own operations (reset,
// EEPROM, link) beside the shared ones.
type regs struct{ e1000x.Regs }

func newRegs(w vfio.Registers) regs { return regs{e1000x.Regs{W: w}} }

// resetTimeout bounds the wait for CTRL.RST to self-clear; the SDM asks for
// 1 µs, QEMU clears it at once, real parts within milliseconds.
const resetTimeout = 100 * time.Millisecond

// reset masks every interrupt and issues a global reset (SDM 14.5). QEMU's
// model rejects VFIO's function reset (EINVAL), so this is the only reset.
func (r regs) reset() error {
	r.Write(regIMC, 0xffffffff)
	r.Write(regRCTL, 0)
	r.Write(regTCTL, tctl_PSP)
	r.Read(regSTATUS) // flush posted writes
	time.Sleep(10 * time.Millisecond)
	r.Set(regCTRL, ctrl_RST)
	time.Sleep(time.Millisecond) // SDM: wait before accessing registers again
	if err := r.WaitClear(regCTRL, ctrl_RST, resetTimeout); err != nil {
		return fmt.Errorf("e1000: reset: %w", err)
	}
	r.Write(regIMC, 0xffffffff) // reset re-arms nothing, but be sure
	r.Read(regICR)
	return nil
}

// macAddr reads the station address from RAL0/RAH0, where the EEPROM load
// after reset puts it; if RAH.AV is clear it reads the EEPROM through EERD.
func (r regs) macAddr() (net.HardwareAddr, error) {
	if rah := r.Read(regRAH0); rah&rah_AV != 0 {
		ral := r.Read(regRAL0)
		return net.HardwareAddr{byte(ral), byte(ral >> 8), byte(ral >> 16), byte(ral >> 24), byte(rah), byte(rah >> 8)}, nil
	}
	mac := make(net.HardwareAddr, 6)
	for i := 0; i < 3; i++ {
		w, err := r.eepromRead(eepromEthAddr + i)
		if err != nil {
			return nil, err
		}
		mac[2*i], mac[2*i+1] = byte(w), byte(w>>8)
	}
	return mac, nil
}

// eepromRead reads one 16-bit EEPROM word through EERD (SDM 5.3.1).
func (r regs) eepromRead(word int) (uint16, error) {
	r.Write(regEERD, uint32(word)<<eerd_ADDR_SHIFT|eerd_START)
	if err := r.WaitSet(regEERD, eerd_DONE, 10*time.Millisecond); err != nil {
		return 0, fmt.Errorf("e1000: EERD word %d: %w", word, err)
	}
	return uint16(r.Read(regEERD) >> eerd_DATA_SHIFT), nil
}

// linkUp reports STATUS.LU.
func (r regs) linkUp() bool { return r.Read(regSTATUS)&status_LU != 0 }

// Identity is what probing finds on the card.
type Identity struct {
	MAC    net.HardwareAddr
	LinkUp bool
	Status uint32
}

// Probe resets the chip and reads its address and link state. It leaves
// the receiver and transmitter off and every interrupt masked.
func Probe(w vfio.Registers) (Identity, error) {
	r := newRegs(w)
	if err := r.reset(); err != nil {
		return Identity{}, err
	}
	// Set Link Up: the MAC/PHY autonegotiate (SDM 14.3 "Link Setup").
	r.Set(regCTRL, ctrl_SLU|ctrl_ASDE)
	mac, err := r.macAddr()
	if err != nil {
		return Identity{}, err
	}
	st := r.Read(regSTATUS)
	return Identity{MAC: mac, LinkUp: st&status_LU != 0, Status: st}, nil
}
