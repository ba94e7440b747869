package ne2000

// PCI IDs.
const (
	VendorRealtek = 0x10ec
	DeviceRTL8029 = 0x8029
)

// Page 0 registers (DP8390D datasheet, section 9). Where a register reads and
// writes differently both names are given.
const (
	CR     = 0x00 // Command
	PSTART = 0x01 // W: Page Start
	PSTOP  = 0x02 // W: Page Stop
	BNRY   = 0x03 // Boundary
	TPSR   = 0x04 // W: Transmit Page Start
	TSR    = 0x04 // R: Transmit Status
	TBCR0  = 0x05 // W: Transmit Byte Count 0
	TBCR1  = 0x06 // W: Transmit Byte Count 1
	ISR    = 0x07 // Interrupt Status
	RSAR0  = 0x08 // W: Remote Start Address 0
	RSAR1  = 0x09 // W: Remote Start Address 1
	RBCR0  = 0x0a // W: Remote Byte Count 0
	RBCR1  = 0x0b // W: Remote Byte Count 1
	RCR    = 0x0c // W: Receive Configuration
	RSR    = 0x0c // R: Receive Status
	TCR    = 0x0d // W: Transmit Configuration
	CNTR0  = 0x0d // R: Frame Alignment Error tally
	DCR    = 0x0e // W: Data Configuration
	CNTR1  = 0x0e // R: CRC Error tally
	IMR    = 0x0f // W: Interrupt Mask
	CNTR2  = 0x0f // R: Missed Packet tally
)

// Page 1 registers.
const (
	PAR0 = 0x01 // Physical Address 0..5
	CURR = 0x07 // Current Page
	MAR0 = 0x08 // Multicast Address 0..7
)

// NE2000 ASIC ports beside the DP8390.
const (
	DataPort  = 0x10 // remote DMA data
	ResetPort = 0x1f // a read resets the card
)

// CR bits.
const (
	CR_STP      = 0x01 // Stop
	CR_STA      = 0x02 // Start
	CR_TXP      = 0x04 // Transmit Packet
	CR_RD_READ  = 0x08 // Remote DMA: read
	CR_RD_WRITE = 0x10 // Remote DMA: write
	CR_RD_SEND  = 0x18 // Remote DMA: send packet
	CR_RD_ABORT = 0x20 // Remote DMA: abort/complete
	CR_PAGE0    = 0x00
	CR_PAGE1    = 0x40
	CR_PAGE2    = 0x80
)

// ISR and IMR bits.
const (
	ISR_PRX = 0x01 // Packet Received
	ISR_PTX = 0x02 // Packet Transmitted
	ISR_RXE = 0x04 // Receive Error
	ISR_TXE = 0x08 // Transmit Error
	ISR_OVW = 0x10 // Overwrite Warning (ring full)
	ISR_CNT = 0x20 // Counter Overflow
	ISR_RDC = 0x40 // Remote DMA Complete
	ISR_RST = 0x80 // Reset Status
)

// DCR bits.
const (
	DCR_WTS = 0x01 // Word Transfer Select
	DCR_BOS = 0x02 // Byte Order Select
	DCR_LAS = 0x04 // Long Address Select
	DCR_LS  = 0x08 // Loopback Select (1: normal operation)
	DCR_AR  = 0x10 // Auto-initialize Remote
	DCR_FT1 = 0x40 // FIFO Threshold: 8 bytes
	// DCRWord is what NE2000 drivers program: word mode, normal, FIFO 8.
	DCRWord = DCR_FT1 | DCR_LS | DCR_WTS
)

// RCR bits.
const (
	RCR_SEP = 0x01 // Save Errored Packets
	RCR_AR  = 0x02 // Accept Runt packets
	RCR_AB  = 0x04 // Accept Broadcast
	RCR_AM  = 0x08 // Accept Multicast (hashed by MAR)
	RCR_PRO = 0x10 // Promiscuous Physical
	RCR_MON = 0x20 // Monitor mode
)

// TCR bits.
const (
	TCR_CRC      = 0x01 // Inhibit CRC
	TCR_LOOPBACK = 0x02 // Internal loopback (LB0)
	TCR_NORMAL   = 0x00
)

// TSR bits.
const (
	TSR_PTX = 0x01 // Packet Transmitted
	TSR_COL = 0x04 // Transmit Collided
	TSR_ABT = 0x08 // Transmit Aborted (16 collisions)
	TSR_CRS = 0x10 // Carrier Sense Lost
	TSR_FU  = 0x20 // FIFO Underrun
	TSR_CDH = 0x40 // CD Heartbeat
	TSR_OWC = 0x80 // Out of Window Collision
)

// RSR bits, also the status byte of the receive header.
const (
	RSR_PRX = 0x01 // Packet Received Intact
	RSR_CRC = 0x02
	RSR_FAE = 0x04 // Frame Alignment Error
	RSR_FO  = 0x08 // FIFO Overrun
	RSR_MPA = 0x10 // Missed Packet
	RSR_PHY = 0x20 // 1: multicast/broadcast
	RSR_DIS = 0x40 // Receiver Disabled
	RSR_DFR = 0x80 // Deferring
)

// Card memory layout, in 256-byte pages. NE2000 cards have 16 KiB of
// buffer RAM at 0x4000 (pages 0x40..0x7f), as Linux's ne2k-pci assumes; two
// transmit buffers of six pages each (a full frame) sit at the bottom, the
// receive ring above them.
const (
	PageSize    = 256
	StartPage   = 0x40
	StopPage    = 0x80
	TxPages     = 6
	TxStartPage = StartPage
	RxStartPage = StartPage + 2*TxPages
	RxStopPage  = StopPage // the NE2000's 16 KB of buffer memory
	// StopPage32K ends 32 KB of buffer memory (pages 0x40-0xbf), as QEMU's
	// ne2k_pci and some RTL8029 boards have; the driver probes for it.
	StopPage32K   = 0xc0
	rxHeaderBytes = 4 // status, next page, length low, length high
)
