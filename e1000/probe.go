package e1000

import (
	"fmt"
	"net"

	"github.com/ringonet/ringo/internal/e1000x"
	"github.com/ringonet/ringo/vfio"
)

// regs is the register window with the 8254x's own operations (reset,
// EEPROM, link) beside the shared ones.
type regs struct{ e1000x.Regs }

func newRegs(w vfio.Registers) regs { return regs{e1000x.Regs{W: w}} }

// eerd is the 82540/82545's EEPROM Read layout (SDM 13.4.4).
var eerd = e1000x.EERD{Done: eerd_DONE, AddrShift: eerd_ADDR_SHIFT}

// reset is the shared reset (e1000x.Regs.Reset), SDM 14.5.
func (r regs) reset() error {
	if err := r.Reset(); err != nil {
		return fmt.Errorf("e1000: %w", err)
	}
	return nil
}

// macAddr reads the station address (SDM 5.3.1, 13.5.2).
func (r regs) macAddr() (net.HardwareAddr, error) {
	mac, err := r.StationAddress(eerd)
	if err != nil {
		return nil, fmt.Errorf("e1000: %w", err)
	}
	return mac, nil
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
