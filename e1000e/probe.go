package e1000e

import (
	"fmt"
	"net"

	"github.com/ringonet/ringo/internal/e1000x"
	"github.com/ringonet/ringo/vfio"
)

// regs is the register window with the 82574's own operations (reset,
// EEPROM, link) beside the shared ones.
type regs struct{ e1000x.Regs }

func newRegs(w vfio.Registers) regs { return regs{e1000x.Regs{W: w}} }

// eerd is the 82574's EEPROM Read layout (10.2.2.4).
var eerd = e1000x.EERD{Done: eerd_DONE, AddrShift: eerd_ADDR_SHIFT}

// reset is the shared reset (e1000x.Regs.Reset, e1000_reset_hw_82571).
func (r regs) reset() error {
	if err := r.Reset(); err != nil {
		return fmt.Errorf("e1000e: %w", err)
	}
	return nil
}

// macAddr reads the station address from RAL0/RAH0 or the NVM.
func (r regs) macAddr() (net.HardwareAddr, error) {
	mac, err := r.StationAddress(eerd)
	if err != nil {
		return nil, fmt.Errorf("e1000e: %w", err)
	}
	return mac, nil
}

func (r regs) linkUp() bool { return r.Read(regSTATUS)&status_LU != 0 }
