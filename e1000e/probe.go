package e1000e

import (
	"fmt"
	"net"
	"time"

	"github.com/ringonet/ringo/internal/e1000x"
	"github.com/ringonet/ringo/vfio"
)

// regs is the register window with the 82574's own operations (reset,
// EEPROM, link) beside the shared ones.
type regs struct{ e1000x.Regs }

func newRegs(w vfio.Registers) regs { return regs{e1000x.Regs{W: w}} }

// resetTimeout bounds the wait for CTRL.RST to self-clear.
const resetTimeout = 100 * time.Millisecond

// reset masks every interrupt, stops both DMA engines and issues a
// software reset (e1000_reset_hw_82571): the 82574 clears its registers,
// QEMU's model only reloads the station address, so up programs every
// register it relies on.
func (r regs) reset() error {
	r.Write(regIMC, 0xffffffff)
	r.Write(regRCTL, 0)
	r.Write(regTCTL, tctl_PSP)
	r.Read(regSTATUS) // flush posted writes
	time.Sleep(10 * time.Millisecond)
	r.Set(regCTRL, ctrl_RST)
	time.Sleep(time.Millisecond)
	if err := r.WaitClear(regCTRL, ctrl_RST, resetTimeout); err != nil {
		return fmt.Errorf("e1000e: reset: %w", err)
	}
	r.Write(regIMC, 0xffffffff)
	r.Read(regICR)
	return nil
}

// macAddr reads the station address from RAL0/RAH0, where the NVM load
// after reset puts it, or from the NVM through EERD.
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

// eepromRead reads one 16-bit NVM word through EERD (10.2.2.4).
func (r regs) eepromRead(word int) (uint16, error) {
	r.Write(regEERD, uint32(word)<<eerd_ADDR_SHIFT|eerd_START)
	if err := r.WaitSet(regEERD, eerd_DONE, 10*time.Millisecond); err != nil {
		return 0, fmt.Errorf("e1000e: EERD word %d: %w", word, err)
	}
	return uint16(r.Read(regEERD) >> eerd_DATA_SHIFT), nil
}

func (r regs) linkUp() bool { return r.Read(regSTATUS)&status_LU != 0 }
