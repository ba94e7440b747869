package e1000e

// PCI IDs this driver probes (datasheet 1.4, table 1-3).
const (
	VendorIntel   = 0x8086
	Device82574L  = 0x10d3 // QEMU's -device e1000e
	Device82574LA = 0x10f6
)

// Register offsets in BAR0 (datasheet 10.2, table 10-3).
const (
	regCTRL     = 0x00000 // Device Control
	regSTATUS   = 0x00008 // Device Status
	regCTRL_EXT = 0x00018 // Extended Device Control
	regFCAL     = 0x00028 // Flow Control Address Low
	regFCAH     = 0x0002c // Flow Control Address High
	regFCT      = 0x00030 // Flow Control Type
	regVET      = 0x00038 // VLAN Ether Type
	regICR      = 0x000c0 // Interrupt Cause Read
	regITR      = 0x000c4 // Interrupt Throttling Rate
	regICS      = 0x000c8 // Interrupt Cause Set
	regIMS      = 0x000d0 // Interrupt Mask Set/Read
	regIMC      = 0x000d8 // Interrupt Mask Clear
	regEIAC     = 0x000dc // Extended Interrupt Auto Clear (MSI-X)
	regIAM      = 0x000e0 // Interrupt Acknowledge Auto Mask
	regIVAR     = 0x000e4 // Interrupt Vector Allocation Registers
	regEITR0    = 0x000e8 // Extended Interrupt Throttling Rate, one per MSI-X vector
	regRCTL     = 0x00100 // Receive Control
	regFCTTV    = 0x00170 // Flow Control Transmit Timer Value
	regTCTL     = 0x00400 // Transmit Control
	regTIPG     = 0x00410 // Transmit IPG
	regRDTR     = 0x02820 // Receive Interrupt Packet Delay Timer
	regRADV     = 0x0282c // Receive Interrupt Absolute Delay Timer
	regTIDV     = 0x03820 // Transmit Interrupt Delay Value
	regTADV     = 0x0382c // Transmit Absolute Interrupt Delay Value
	regRXCSUM   = 0x05000 // Receive Checksum Control
	regRFCTL    = 0x05008 // Receive Filter Control
	regRAL0     = 0x05400 // Receive Address Low (entry 0)
	regRAH0     = 0x05404 // Receive Address High (entry 0)
	regVFTA     = 0x05600 // VLAN Filter Table Array, 128 registers
	regMRQC     = 0x05818 // Multiple Receive Queues Command
	regRETA     = 0x05c00 // Redirection Table, 32 registers of four entries
	regRSSRK    = 0x05c80 // RSS Random Key, 10 registers
)

// Per-queue registers (datasheet 10.2.5, 10.2.6): queue n's are 0x100
// after queue 0's.
const (
	regRDBAL  = 0x02800 // Receive Descriptor Base Address Low
	regRDBAH  = 0x02804 // Receive Descriptor Base Address High
	regRDLEN  = 0x02808 // Receive Descriptor Length
	regRDH    = 0x02810 // Receive Descriptor Head
	regRDT    = 0x02818 // Receive Descriptor Tail
	regRXDCTL = 0x02828 // Receive Descriptor Control
	regTDBAL  = 0x03800 // Transmit Descriptor Base Address Low
	regTDBAH  = 0x03804 // Transmit Descriptor Base Address High
	regTDLEN  = 0x03808 // Transmit Descriptor Length
	regTDH    = 0x03810 // Transmit Descriptor Head
	regTDT    = 0x03818 // Transmit Descriptor Tail
	regTXDCTL = 0x03828 // Transmit Descriptor Control
	regTARC   = 0x03840 // Transmit Arbitration Count

	queueStride = 0x100
)

// qreg is queue q's instance of a per-queue register.
func qreg(reg uint32, q int) uint32 { return reg + uint32(q)*queueStride }

// CTRL bits (10.2.2.1).
const (
	ctrl_FD      = 1 << 0  // Full Duplex
	ctrl_GIO_MD  = 1 << 2  // GIO Master Disable
	ctrl_ASDE    = 1 << 5  // Auto-Speed Detection Enable
	ctrl_SLU     = 1 << 6  // Set Link Up
	ctrl_RST     = 1 << 26 // Device Reset (self-clearing)
	ctrl_RFCE    = 1 << 27 // Receive Flow Control Enable
	ctrl_TFCE    = 1 << 28 // Transmit Flow Control Enable
	ctrl_VME     = 1 << 30 // VLAN Mode Enable
	ctrl_PHY_RST = 1 << 31 // PHY Reset
)

// STATUS bits (10.2.2.2).
const (
	status_FD = 1 << 0 // Full Duplex
	status_LU = 1 << 1 // Link Up
)

// EERD bits (10.2.2.4): the 82574's layout, not the 8254x's.
const (
	eerd_DONE       = 1 << 1
	eerd_ADDR_SHIFT = 2
)

// CTRL_EXT bits (10.2.2.5).
const (
	ctrlExt_EIAME    = 1 << 24 // Extended Interrupt Auto Mask Enable (MSI-X: EIAC masks too)
	ctrlExt_IAME     = 1 << 27 // Interrupt Acknowledge Auto-Mask Enable (ICR read masks by IAM)
	ctrlExt_DRV_LOAD = 1 << 28 // Driver Loaded
	ctrlExt_PBA_CLR  = 1 << 31 // clear the MSI-X Pending Bit Array when IMS unmasks
)

// Interrupt cause bits, shared by ICR, ICS, IMS, IMC, EIAC and IAM
// (10.2.4.1).
const (
	icr_TXDW     = 1 << 0  // Transmit Descriptor Written Back
	icr_TXQE     = 1 << 1  // Transmit Queue Empty
	icr_LSC      = 1 << 2  // Link Status Change
	icr_RXDMT0   = 1 << 4  // Receive Descriptor Minimum Threshold
	icr_RXO      = 1 << 6  // Receiver Overrun
	icr_RXT0     = 1 << 7  // Receiver Timer Interrupt
	icr_MDAC     = 1 << 9  // MDI/O Access Complete
	icr_SRPD     = 1 << 16 // Small Receive Packet Detected
	icr_ACK      = 1 << 17 // Receive ACK Frame Detected
	icr_RXQ0     = 1 << 20 // Receive Queue 0 (MSI-X)
	icr_RXQ1     = 1 << 21 // Receive Queue 1 (MSI-X)
	icr_TXQ0     = 1 << 22 // Transmit Queue 0 (MSI-X)
	icr_TXQ1     = 1 << 23 // Transmit Queue 1 (MSI-X)
	icr_OTHER    = 1 << 24 // Other Interrupt (MSI-X: link and the rest)
	icr_ASSERTED = 1 << 31 // Interrupt Asserted
)

func icrRXQ(q int) uint32 { return icr_RXQ0 << q }
func icrTXQ(q int) uint32 { return icr_TXQ0 << q }

// IVAR (10.2.4.9): a 4-bit entry per cause, a vector number and a valid bit.
const (
	ivarValid      = 0x8
	ivarRXQ0Shift  = 0
	ivarRXQ1Shift  = 4
	ivarTXQ0Shift  = 8
	ivarTXQ1Shift  = 12
	ivarOtherShift = 16
	ivarTxEveryWB  = 1 << 31 // a TX interrupt on every write-back, not only RS
)

// RCTL bits (10.2.5.1).
const (
	rctl_EN = 1 << 1 // Receiver Enable
)

// RFCTL bits (10.2.5.5).
const (
	rfctl_ISCSI_DIS = 1 << 0  // iSCSI filtering off
	rfctl_NFSW_DIS  = 1 << 6  // NFS write filtering off
	rfctl_NFSR_DIS  = 1 << 7  // NFS read filtering off
	rfctl_ACK_DIS   = 1 << 12 // ACK-frame interrupt off
	rfctl_EXSTEN    = 1 << 15 // Extended Status Enable: extended receive descriptors
)

// RXCSUM bits (10.2.5.4).
const (
	rxcsum_IPOFL = 1 << 8  // IP checksum offload
	rxcsum_TUOFL = 1 << 9  // TCP/UDP checksum offload
	rxcsum_PCSD  = 1 << 13 // Packet Checksum Disable: the descriptor carries the RSS hash instead
)

// MRQC (10.2.5.11): RSS on, and the hash types.
const (
	mrqc_RSS        = 0x1     // Multiple Receive Queues Enable: RSS, two queues
	mrqc_TCPIPV4    = 1 << 16 // hash TCP over IPv4 on addresses and ports
	mrqc_IPV4       = 1 << 17 // hash other IPv4 on addresses
	mrqc_TCPIPV6    = 1 << 18
	mrqc_IPV6EX     = 1 << 19
	mrqc_IPV6       = 1 << 20
	mrqcHashTypes   = mrqc_TCPIPV4 | mrqc_IPV4 | mrqc_TCPIPV6 | mrqc_IPV6EX | mrqc_IPV6
	retaQueueBit    = 1 << 7 // in a RETA entry: queue 1
	retaEntries     = 128
	rssKeyRegisters = 10
)

// TCTL bits (10.2.6.1).
const (
	tctl_EN         = 1 << 1  // Transmit Enable
	tctl_PSP        = 1 << 3  // Pad Short Packets
	tctl_CT_SHIFT   = 4       // Collision Threshold
	tctl_COLD_SHIFT = 12      // Collision Distance
	tctl_RTLC       = 1 << 24 // Re-transmit on Late Collision
	tctl_MULR       = 1 << 28 // Multiple Request Support
)

// TXDCTL (10.2.6.9): descriptor granularity, and the prefetch, host and
// write-back thresholds Linux's e1000e sets (E1000_TXDCTL_DMA_BURST_ENABLE).
const (
	txdctl_GRAN       = 1 << 24
	txdctl_COUNT_DESC = 1 << 22
	txdctlBurst       = txdctl_GRAN | txdctl_COUNT_DESC | 1<<16 | 1<<8 | 0x1f
	tarc_ENABLE       = 1 << 10 // TARC: the queue takes part in arbitration
)

// TIPG for copper (10.2.6.4).
const tipgCopper = 8 | 8<<10 | 6<<20

// RCTL bits beyond the shared receive control word (e1000x.RxControl).
const (
	rctl_LPE = 1 << 5  // Long Packet Reception Enable
	rctl_VFE = 1 << 18 // VLAN Filter Enable
)

// RAH bits.
const rah_AV = 1 << 31 // Address Valid

// Extended receive descriptor (7.1.5.2), 16 bytes. Read format: the
// buffer address, then 8 bytes the driver zeroes. Write-back format:
//
//	0: MRQ (RSS type 3:0, queue 12:8)   4: RSS hash (PCSD) or IP id | checksum
//	8: extended status (19:0) and errors (31:20)   12: length (16) | VLAN tag (16)
const (
	RxDescSize   = 16
	rxdAddr      = 0
	rxdMRQ       = 0
	rxdRSSHash   = 4
	rxdStatusErr = 8
	rxdLenVlan   = 12
)

// Extended status and error bits (7.1.5.2, tables 7-7 and 7-8).
const (
	rxdStat_DD    = 1 << 0  // Descriptor Done
	rxdStat_EOP   = 1 << 1  // End of Packet
	rxdStat_VP    = 1 << 3  // 802.1Q tag stripped into the VLAN field
	rxdStat_UDPCS = 1 << 4  // UDP checksum calculated
	rxdStat_TCPCS = 1 << 5  // TCP (or UDP) checksum calculated
	rxdStat_IPCS  = 1 << 6  // IPv4 header checksum calculated
	rxdErr_CE     = 1 << 24 // CRC or alignment error
	rxdErr_SE     = 1 << 25 // Symbol error
	rxdErr_SEQ    = 1 << 26 // Sequence error
	rxdErr_CXE    = 1 << 28 // Carrier extension error
	rxdErr_TCPE   = 1 << 29 // TCP/UDP checksum error
	rxdErr_IPE    = 1 << 30 // IPv4 header checksum error
	rxdErr_RXE    = 1 << 31 // RX data error
	// rxdErrFrame are the errors that make a frame unusable.
	rxdErrFrame = rxdErr_CE | rxdErr_SE | rxdErr_SEQ | rxdErr_CXE | rxdErr_RXE
	// rxdMRQTypeMask is the RSS type in MRQ: 0 when the frame was not hashed.
	rxdMRQTypeMask = 0xf
)
