package ne2000

// PCI IDs.
const (
	VendorRealtek = 0x10ec
	DeviceRTL8029 = 0x8029
)

// Page 0 registers (DP8390D datasheet, section 9). Where a register reads and
// writes differently both names are given.
const (
	regCR     = 0x00 // Command
	regPSTART = 0x01 // W: Page Start
	regPSTOP  = 0x02 // W: Page Stop
	regBNRY   = 0x03 // Boundary
	regTPSR   = 0x04 // W: Transmit Page Start
	regTSR    = 0x04 // R: Transmit Status
	regTBCR0  = 0x05 // W: Transmit Byte Count 0
	regTBCR1  = 0x06 // W: Transmit Byte Count 1
	regISR    = 0x07 // Interrupt Status
	regRSAR0  = 0x08 // W: Remote Start Address 0
	regRSAR1  = 0x09 // W: Remote Start Address 1
	regRBCR0  = 0x0a // W: Remote Byte Count 0
	regRBCR1  = 0x0b // W: Remote Byte Count 1
	regRCR    = 0x0c // W: Receive Configuration
	regRSR    = 0x0c // R: Receive Status
	regTCR    = 0x0d // W: Transmit Configuration
	regCNTR0  = 0x0d // R: Frame Alignment Error tally
	regDCR    = 0x0e // W: Data Configuration
	regCNTR1  = 0x0e // R: CRC Error tally
	regIMR    = 0x0f // W: Interrupt Mask
	regCNTR2  = 0x0f // R: Missed Packet tally
)

// Page 1 registers.
const (
	regPAR0 = 0x01 // Physical Address 0..5
	regCURR = 0x07 // Current Page
	regMAR0 = 0x08 // Multicast Address 0..7
)

// NE2000 ASIC ports beside the DP8390.
const (
	DataPort  = 0x10 // remote DMA data
	ResetPort = 0x1f // a read resets the card
)

// CR bits.
const (
	cr_STP      = 0x01 // Stop
	cr_STA      = 0x02 // Start
	cr_TXP      = 0x04 // Transmit Packet
	cr_RD_READ  = 0x08 // Remote DMA: read
	cr_RD_WRITE = 0x10 // Remote DMA: write
	cr_RD_SEND  = 0x18 // Remote DMA: send packet
	cr_RD_ABORT = 0x20 // Remote DMA: abort/complete
	cr_PAGE0    = 0x00
	cr_PAGE1    = 0x40
	cr_PAGE2    = 0x80
)

// ISR and IMR bits.
const (
	isr_PRX = 0x01 // Packet Received
	isr_PTX = 0x02 // Packet Transmitted
	isr_RXE = 0x04 // Receive Error
	isr_TXE = 0x08 // Transmit Error
	isr_OVW = 0x10 // Overwrite Warning (ring full)
	isr_CNT = 0x20 // Counter Overflow
	isr_RDC = 0x40 // Remote DMA Complete
	isr_RST = 0x80 // Reset Status
)

// DCR bits.
const (
	dcr_WTS = 0x01 // Word Transfer Select
	dcr_BOS = 0x02 // Byte Order Select
	dcr_LAS = 0x04 // Long Address Select
	dcr_LS  = 0x08 // Loopback Select (1: normal operation)
	dcr_AR  = 0x10 // Auto-initialize Remote
	dcr_FT1 = 0x40 // FIFO Threshold: 8 bytes
	// DCRWord is what NE2000 drivers program: word mode, normal, FIFO 8.
	DCRWord = dcr_FT1 | dcr_LS | dcr_WTS
)

// RCR bits.
const (
	rcr_SEP = 0x01 // Save Errored Packets
	rcr_AR  = 0x02 // Accept Runt packets
	rcr_AB  = 0x04 // Accept Broadcast
	rcr_AM  = 0x08 // Accept Multicast (hashed by MAR)
	rcr_PRO = 0x10 // Promiscuous Physical
	rcr_MON = 0x20 // Monitor mode
)

// TCR bits.
const (
	tcr_CRC      = 0x01 // Inhibit CRC
	tcr_LOOPBACK = 0x02 // Internal loopback (LB0)
	tcr_NORMAL   = 0x00
)

// TSR bits.
const (
	tsr_PTX = 0x01 // Packet Transmitted
	tsr_COL = 0x04 // Transmit Collided
	tsr_ABT = 0x08 // Transmit Aborted (16 collisions)
	tsr_CRS = 0x10 // Carrier Sense Lost
	tsr_FU  = 0x20 // FIFO Underrun
	tsr_CDH = 0x40 // CD Heartbeat
	tsr_OWC = 0x80 // Out of Window Collision
)

// RSR bits, also the status byte of the receive header.
const (
	rsr_PRX = 0x01 // Packet Received Intact
	rsr_CRC = 0x02
	rsr_FAE = 0x04 // Frame Alignment Error
	rsr_FO  = 0x08 // FIFO Overrun
	rsr_MPA = 0x10 // Missed Packet
	rsr_PHY = 0x20 // 1: multicast/broadcast
	rsr_DIS = 0x40 // Receiver Disabled
	rsr_DFR = 0x80 // Deferring
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
