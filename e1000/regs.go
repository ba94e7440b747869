package e1000

// PCI IDs this driver probes (SDM 5.1, table 5-1).
const (
	VendorIntel    = 0x8086
	Device82540EM  = 0x100e // QEMU's -device e1000
	Device82545EM  = 0x100f // copper; same programming model
	Device82545EMF = 0x1011
)

// Register offsets in BAR0 (SDM 13.1, table 13-2).
const (
	regCTRL     = 0x00000 // Device Control
	regSTATUS   = 0x00008 // Device Status
	regEERD     = 0x00014 // EEPROM Read
	regCTRL_EXT = 0x00018 // Extended Device Control
	regFCAL     = 0x00028 // Flow Control Address Low
	regFCAH     = 0x0002c // Flow Control Address High
	regFCT      = 0x00030 // Flow Control Type
	regVET      = 0x00038 // VLAN Ether Type
	regICR      = 0x000c0 // Interrupt Cause Read (read to clear)
	regITR      = 0x000c4 // Interrupt Throttling
	regICS      = 0x000c8 // Interrupt Cause Set
	regIMS      = 0x000d0 // Interrupt Mask Set/Read
	regIMC      = 0x000d8 // Interrupt Mask Clear
	regRCTL     = 0x00100 // Receive Control
	regFCTTV    = 0x00170 // Flow Control Transmit Timer Value
	regTCTL     = 0x00400 // Transmit Control
	regTIPG     = 0x00410 // Transmit IPG
	regRDBAL    = 0x02800 // RX Descriptor Base Address Low
	regRDBAH    = 0x02804 // RX Descriptor Base Address High
	regRDLEN    = 0x02808 // RX Descriptor Length
	regRDH      = 0x02810 // RX Descriptor Head
	regRDT      = 0x02818 // RX Descriptor Tail
	regRDTR     = 0x02820 // RX Delay Timer
	regRADV     = 0x0282c // RX Interrupt Absolute Delay Timer
	regTDBAL    = 0x03800 // TX Descriptor Base Address Low
	regTDBAH    = 0x03804 // TX Descriptor Base Address High
	regTDLEN    = 0x03808 // TX Descriptor Length
	regTDH      = 0x03810 // TX Descriptor Head
	regTDT      = 0x03818 // TX Descriptor Tail
	regTIDV     = 0x03820 // TX Interrupt Delay Value
	regTADV     = 0x0382c // TX Interrupt Absolute Delay Value
	regRXCSUM   = 0x05000 // Receive Checksum Control
	regRAL0     = 0x05400 // Receive Address Low (entry 0)
	regRAH0     = 0x05404 // Receive Address High (entry 0)
)

// CTRL bits (SDM 13.4.1).
const (
	ctrl_FD      = 1 << 0  // Full Duplex
	ctrl_LRST    = 1 << 3  // Link Reset
	ctrl_ASDE    = 1 << 5  // Auto-Speed Detection Enable
	ctrl_SLU     = 1 << 6  // Set Link Up
	ctrl_ILOS    = 1 << 7  // Invert Loss-of-Signal
	ctrl_RST     = 1 << 26 // Device Reset (self-clearing)
	ctrl_RFCE    = 1 << 27 // Receive Flow Control Enable
	ctrl_TFCE    = 1 << 28 // Transmit Flow Control Enable
	ctrl_VME     = 1 << 30 // VLAN Mode Enable
	ctrl_PHY_RST = 1 << 31 // PHY Reset
)

// STATUS bits (SDM 13.4.2).
const (
	status_FD    = 1 << 0 // Full Duplex
	status_LU    = 1 << 1 // Link Up
	status_TXOFF = 1 << 4 // Transmission Paused
	status_SPEED = 3 << 6 // 00 10 Mb/s, 01 100 Mb/s, 1x 1000 Mb/s
)

// EERD bits for the 82540/82545 (SDM 13.4.4).
const (
	eerd_DONE       = 1 << 4
	eerd_ADDR_SHIFT = 8
	eerd_DATA_SHIFT = 16
)

// Interrupt cause bits, shared by ICR, ICS, IMS and IMC (SDM 13.4.17).
const (
	icr_TXDW    = 1 << 0  // Transmit Descriptor Written Back
	icr_TXQE    = 1 << 1  // Transmit Queue Empty
	icr_LSC     = 1 << 2  // Link Status Change
	icr_RXSEQ   = 1 << 3  // Receive Sequence Error
	icr_RXDMT0  = 1 << 4  // Receive Descriptor Minimum Threshold
	icr_RXO     = 1 << 6  // Receiver Overrun
	icr_RXT0    = 1 << 7  // Receiver Timer Interrupt
	icr_MDAC    = 1 << 9  // MDI/O Access Complete
	icr_TXD_LOW = 1 << 15 // Transmit Descriptor Low Threshold
	icr_SRPD    = 1 << 16 // Small Receive Packet Detected
)

// RCTL bits (SDM 13.4.22).
const (
	rctl_EN  = 1 << 1  // Receiver Enable
	rctl_UPE = 1 << 3  // Unicast Promiscuous Enable
	rctl_MPE = 1 << 4  // Multicast Promiscuous Enable
	rctl_LPE = 1 << 5  // Long Packet Reception Enable
	rctl_VFE = 1 << 18 // VLAN Filter Enable
)

// TCTL bits (SDM 13.4.33).
const (
	tctl_EN         = 1 << 1  // Transmit Enable
	tctl_PSP        = 1 << 3  // Pad Short Packets
	tctl_CT_SHIFT   = 4       // Collision Threshold
	tctl_COLD_SHIFT = 12      // Collision Distance
	tctl_SWXOFF     = 1 << 22 // Software XOFF Transmission
	tctl_RTLC       = 1 << 24 // Re-transmit on Late Collision
)

// TIPG for copper links (SDM 13.4.34, table 13-77).
const (
	tipg_IPGT_COPPER = 10
	tipg_IPGR1_SHIFT = 10
	tipg_IPGR1       = 8
	tipg_IPGR2_SHIFT = 20
	tipg_IPGR2       = 6
)

// RXCSUM bits (SDM 13.4.24).
const (
	rxcsum_IPOFL = 1 << 8 // IP checksum offload
	rxcsum_TUOFL = 1 << 9 // TCP/UDP checksum offload
)

// RAH bits.
const rah_AV = 1 << 31 // Address Valid

// Receive descriptor, legacy format (SDM 3.2.3): 16 bytes.
//
//	0: buffer address (64)
//	8: length (16) | checksum (16) | status (8) | errors (8) | special (16)
const (
	RxDescSize  = 16
	rxdAddr     = 0
	rxdLength   = 8
	rxdChecksum = 10
	rxdStatus   = 12
	rxdErrors   = 13
	rxdSpecial  = 14
)

// RX descriptor status and error bits.
const (
	rxd_STAT_DD    = 1 << 0 // Descriptor Done
	rxd_STAT_EOP   = 1 << 1 // End of Packet
	rxd_STAT_IXSM  = 1 << 2 // Ignore Checksum Indication
	rxd_STAT_VP    = 1 << 3 // 802.1Q packet
	rxd_STAT_TCPCS = 1 << 5
	rxd_STAT_IPCS  = 1 << 6

	rxd_ERR_CE   = 1 << 0 // CRC or alignment error
	rxd_ERR_SE   = 1 << 1 // Symbol error
	rxd_ERR_SEQ  = 1 << 2 // Sequence error
	rxd_ERR_CXE  = 1 << 4 // Carrier extension error
	rxd_ERR_TCPE = 1 << 5
	rxd_ERR_IPE  = 1 << 6
	rxd_ERR_RXE  = 1 << 7 // RX data error
	// RXD_ERR_FRAME are the errors that make a frame unusable.
	rxd_ERR_FRAME = rxd_ERR_CE | rxd_ERR_SE | rxd_ERR_SEQ | rxd_ERR_CXE | rxd_ERR_RXE
)
