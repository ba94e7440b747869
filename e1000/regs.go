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
	CTRL     = 0x00000 // Device Control
	STATUS   = 0x00008 // Device Status
	EECD     = 0x00010 // EEPROM/Flash Control
	EERD     = 0x00014 // EEPROM Read
	CTRL_EXT = 0x00018 // Extended Device Control
	MDIC     = 0x00020 // MDI Control
	FCAL     = 0x00028 // Flow Control Address Low
	FCAH     = 0x0002c // Flow Control Address High
	FCT      = 0x00030 // Flow Control Type
	VET      = 0x00038 // VLAN Ether Type
	ICR      = 0x000c0 // Interrupt Cause Read (read to clear)
	ITR      = 0x000c4 // Interrupt Throttling
	ICS      = 0x000c8 // Interrupt Cause Set
	IMS      = 0x000d0 // Interrupt Mask Set/Read
	IMC      = 0x000d8 // Interrupt Mask Clear
	RCTL     = 0x00100 // Receive Control
	FCTTV    = 0x00170 // Flow Control Transmit Timer Value
	TCTL     = 0x00400 // Transmit Control
	TIPG     = 0x00410 // Transmit IPG
	RDBAL    = 0x02800 // RX Descriptor Base Address Low
	RDBAH    = 0x02804 // RX Descriptor Base Address High
	RDLEN    = 0x02808 // RX Descriptor Length
	RDH      = 0x02810 // RX Descriptor Head
	RDT      = 0x02818 // RX Descriptor Tail
	RDTR     = 0x02820 // RX Delay Timer
	RADV     = 0x0282c // RX Interrupt Absolute Delay Timer
	TDBAL    = 0x03800 // TX Descriptor Base Address Low
	TDBAH    = 0x03804 // TX Descriptor Base Address High
	TDLEN    = 0x03808 // TX Descriptor Length
	TDH      = 0x03810 // TX Descriptor Head
	TDT      = 0x03818 // TX Descriptor Tail
	TIDV     = 0x03820 // TX Interrupt Delay Value
	TADV     = 0x0382c // TX Interrupt Absolute Delay Value
	MTA      = 0x05200 // Multicast Table Array, 128 registers
	RAL0     = 0x05400 // Receive Address Low (entry 0)
	RAH0     = 0x05404 // Receive Address High (entry 0)
)

// MTAn is the nth Multicast Table Array register.
func MTAn(n int) uint32 { return MTA + uint32(n)*4 }

// Statistics registers (SDM 13.7): all clear on read.
const (
	CRCERRS  = 0x04000 // CRC Error Count
	ALGNERRC = 0x04004
	SYMERRS  = 0x04008
	RXERRC   = 0x0400c
	MPC      = 0x04010 // Missed Packets Count (RX FIFO full)
	SCC      = 0x04014
	ECOL     = 0x04018
	MCC      = 0x0401c
	LATECOL  = 0x04020
	COLC     = 0x04028
	DC       = 0x04030
	SEC      = 0x04038
	RLEC     = 0x04040
	XONRXC   = 0x04048
	XONTXC   = 0x0404c
	XOFFRXC  = 0x04050
	XOFFTXC  = 0x04054
	FCRUC    = 0x04058
	PRC64    = 0x0405c
	GPRC     = 0x04074 // Good Packets Received Count
	BPRC     = 0x04078 // Broadcast Packets Received
	MPRC     = 0x0407c // Multicast Packets Received
	GPTC     = 0x04080 // Good Packets Transmitted Count
	GORCL    = 0x04088 // Good Octets Received Count (low, high)
	GORCH    = 0x0408c
	GOTCL    = 0x04090 // Good Octets Transmitted Count (low, high)
	GOTCH    = 0x04094
	RNBC     = 0x040a0 // Receive No Buffers Count
	RUC      = 0x040a4 // Receive Undersize
	RFC      = 0x040a8 // Receive Fragment
	ROC      = 0x040ac // Receive Oversize
	RJC      = 0x040b0 // Receive Jabber
	TORL     = 0x040c0 // Total Octets Received (low, high)
	TORH     = 0x040c4
	TOTL     = 0x040c8 // Total Octets Transmitted (low, high)
	TOTH     = 0x040cc
	TPR      = 0x040d0 // Total Packets Received
	TPT      = 0x040d4 // Total Packets Transmitted
	MPTC     = 0x040f0 // Multicast Packets Transmitted
	BPTC     = 0x040f4 // Broadcast Packets Transmitted
)

// CTRL bits (SDM 13.4.1).
const (
	CTRL_FD      = 1 << 0  // Full Duplex
	CTRL_LRST    = 1 << 3  // Link Reset
	CTRL_ASDE    = 1 << 5  // Auto-Speed Detection Enable
	CTRL_SLU     = 1 << 6  // Set Link Up
	CTRL_ILOS    = 1 << 7  // Invert Loss-of-Signal
	CTRL_RST     = 1 << 26 // Device Reset (self-clearing)
	CTRL_RFCE    = 1 << 27 // Receive Flow Control Enable
	CTRL_TFCE    = 1 << 28 // Transmit Flow Control Enable
	CTRL_VME     = 1 << 30 // VLAN Mode Enable
	CTRL_PHY_RST = 1 << 31 // PHY Reset
)

// STATUS bits (SDM 13.4.2).
const (
	STATUS_FD    = 1 << 0 // Full Duplex
	STATUS_LU    = 1 << 1 // Link Up
	STATUS_TXOFF = 1 << 4 // Transmission Paused
	STATUS_SPEED = 3 << 6 // 00 10 Mb/s, 01 100 Mb/s, 1x 1000 Mb/s
)

// EERD bits for the 82540/82545 (SDM 13.4.4).
const (
	EERD_START      = 1 << 0
	EERD_DONE       = 1 << 4
	EERD_ADDR_SHIFT = 8
	EERD_DATA_SHIFT = 16
)

// Interrupt cause bits, shared by ICR, ICS, IMS and IMC (SDM 13.4.17).
const (
	ICR_TXDW    = 1 << 0  // Transmit Descriptor Written Back
	ICR_TXQE    = 1 << 1  // Transmit Queue Empty
	ICR_LSC     = 1 << 2  // Link Status Change
	ICR_RXSEQ   = 1 << 3  // Receive Sequence Error
	ICR_RXDMT0  = 1 << 4  // Receive Descriptor Minimum Threshold
	ICR_RXO     = 1 << 6  // Receiver Overrun
	ICR_RXT0    = 1 << 7  // Receiver Timer Interrupt
	ICR_MDAC    = 1 << 9  // MDI/O Access Complete
	ICR_RXCFG   = 1 << 10 // Receiving /C/ ordered sets
	ICR_PHYINT  = 1 << 12
	ICR_TXD_LOW = 1 << 15 // Transmit Descriptor Low Threshold
	ICR_SRPD    = 1 << 16 // Small Receive Packet Detected
)

// RCTL bits (SDM 13.4.22).
const (
	RCTL_EN         = 1 << 1  // Receiver Enable
	RCTL_SBP        = 1 << 2  // Store Bad Packets
	RCTL_UPE        = 1 << 3  // Unicast Promiscuous Enable
	RCTL_MPE        = 1 << 4  // Multicast Promiscuous Enable
	RCTL_LPE        = 1 << 5  // Long Packet Reception Enable
	RCTL_LBM_MASK   = 3 << 6  // Loopback Mode
	RCTL_RDMTS_HALF = 0 << 8  // RX Descriptor Minimum Threshold: 1/2 RDLEN
	RCTL_MO_SHIFT   = 12      // Multicast Offset (which address bits index the MTA)
	RCTL_BAM        = 1 << 15 // Broadcast Accept Mode
	RCTL_BSIZE_2048 = 0 << 16 // Receive Buffer Size, with BSEX = 0
	RCTL_VFE        = 1 << 18 // VLAN Filter Enable
	RCTL_DPF        = 1 << 22 // Discard Pause Frames
	RCTL_PMCF       = 1 << 23 // Pass MAC Control Frames
	RCTL_BSEX       = 1 << 25 // Buffer Size Extension
	RCTL_SECRC      = 1 << 26 // Strip Ethernet CRC
)

// TCTL bits (SDM 13.4.33).
const (
	TCTL_EN         = 1 << 1  // Transmit Enable
	TCTL_PSP        = 1 << 3  // Pad Short Packets
	TCTL_CT_SHIFT   = 4       // Collision Threshold
	TCTL_COLD_SHIFT = 12      // Collision Distance
	TCTL_SWXOFF     = 1 << 22 // Software XOFF Transmission
	TCTL_RTLC       = 1 << 24 // Re-transmit on Late Collision
)

// TIPG for copper links (SDM 13.4.34, table 13-77).
const (
	TIPG_IPGT_COPPER = 10
	TIPG_IPGR1_SHIFT = 10
	TIPG_IPGR1       = 8
	TIPG_IPGR2_SHIFT = 20
	TIPG_IPGR2       = 6
)

// RAH bits.
const RAH_AV = 1 << 31 // Address Valid

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
	RXD_STAT_DD    = 1 << 0 // Descriptor Done
	RXD_STAT_EOP   = 1 << 1 // End of Packet
	RXD_STAT_IXSM  = 1 << 2 // Ignore Checksum Indication
	RXD_STAT_VP    = 1 << 3 // 802.1Q packet
	RXD_STAT_TCPCS = 1 << 5
	RXD_STAT_IPCS  = 1 << 6

	RXD_ERR_CE   = 1 << 0 // CRC or alignment error
	RXD_ERR_SE   = 1 << 1 // Symbol error
	RXD_ERR_SEQ  = 1 << 2 // Sequence error
	RXD_ERR_CXE  = 1 << 4 // Carrier extension error
	RXD_ERR_TCPE = 1 << 5
	RXD_ERR_IPE  = 1 << 6
	RXD_ERR_RXE  = 1 << 7 // RX data error
	// RXD_ERR_FRAME are the errors that make a frame unusable.
	RXD_ERR_FRAME = RXD_ERR_CE | RXD_ERR_SE | RXD_ERR_SEQ | RXD_ERR_CXE | RXD_ERR_RXE
)

// Transmit descriptor, legacy format (SDM 3.3.3): 16 bytes.
//
//	0: buffer address (64)
//	8: length (16) | CSO (8) | CMD (8) | STA (8) | CSS (8) | special (16)
const (
	TxDescSize = 16
	txdAddr    = 0
	txdLength  = 8
	txdCSO     = 10
	txdCmd     = 11
	txdStatus  = 12
	txdCSS     = 13
	txdSpecial = 14
)

// TX descriptor command and status bits.
const (
	TXD_CMD_EOP  = 1 << 0 // End of Packet
	TXD_CMD_IFCS = 1 << 1 // Insert FCS
	TXD_CMD_IC   = 1 << 2 // Insert Checksum
	TXD_CMD_RS   = 1 << 3 // Report Status
	TXD_CMD_DEXT = 1 << 5 // Descriptor Extension (0: legacy)
	TXD_CMD_VLE  = 1 << 6
	TXD_CMD_IDE  = 1 << 7 // Interrupt Delay Enable

	TXD_STAT_DD = 1 << 0 // Descriptor Done

	// Extended (DEXT) descriptors, SDM 3.3.6-3.3.7: in the command byte
	// of a data descriptor bit 2 is TSE, and DTYP (bits 20-23 of the
	// length word) tells a context descriptor (0) from data (1).
	TXD_CMD_TSE  = 1 << 2 // TCP Segmentation Enable
	TXD_DTYP_C   = 0      // TCP/IP context descriptor
	TXD_DTYP_D   = 1      // TCP/IP data descriptor
	TXD_DTYP_SHL = 20

	// TUCMD of a context descriptor.
	TXD_TUCMD_TCP  = 1 << 0 // TCP (0: UDP)
	TXD_TUCMD_IP   = 1 << 1 // IPv4 (0: IPv6)
	TXD_TUCMD_TSE  = 1 << 2 // the context is for segmentation
	TXD_TUCMD_RS   = 1 << 3
	TXD_TUCMD_DEXT = 1 << 5

	// POPTS of a data descriptor.
	TXD_POPTS_IXSM = 1 << 0 // insert the IP checksum
	TXD_POPTS_TXSM = 1 << 1 // insert the TCP/UDP checksum
)

// TCP/IP context descriptor fields (SDM 3.3.6).
const (
	ctxIPCSS  = 0  // IP checksum start
	ctxIPCSO  = 1  // IP checksum offset
	ctxIPCSE  = 2  // IP checksum end (inclusive), 16 bits
	ctxTUCSS  = 4  // TCP/UDP checksum start
	ctxTUCSO  = 5  // TCP/UDP checksum offset
	ctxTUCSE  = 6  // TCP/UDP checksum end, 0: to the end of the packet
	ctxPAYLEN = 8  // payload length (20 bits) | DTYP << 20 | TUCMD << 24
	ctxHDRLEN = 13 // headers before the payload (TSO)
	ctxMSS    = 14 // segment payload size (TSO)
)

// TCP/IP data descriptor fields (SDM 3.3.7): the address is at txdAddr;
// the status word at txdStatus carries POPTS in its second byte.
const (
	dataLength = 8 // DTALEN (20 bits) | DTYP << 20 | DCMD << 24
)

// EEPROM word addresses (SDM 5.6).
const (
	EEPROMEthAddr = 0x00 // words 0..2: Ethernet address
)
