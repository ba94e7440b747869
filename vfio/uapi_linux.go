package vfio

// The VFIO user API, from include/uapi/linux/vfio.h. Every ioctl is
// _IO(VFIO_TYPE, VFIO_BASE + n): no size or direction is encoded, the
// structs carry their own argsz.

const (
	vfioType = ';'
	vfioBase = 100

	vfioAPIVersion = 0

	vfioType1IOMMU   = 1
	vfioType1v2IOMMU = 3
)

func vfioIO(nr uintptr) uintptr { return vfioType<<8 | (vfioBase + nr) }

var (
	ioctlGetAPIVersion     = vfioIO(0)
	ioctlCheckExtension    = vfioIO(1)
	ioctlSetIOMMU          = vfioIO(2)
	ioctlGroupGetStatus    = vfioIO(3)
	ioctlGroupSetContainer = vfioIO(4)
	ioctlGroupUnsetCont    = vfioIO(5)
	ioctlGroupGetDeviceFD  = vfioIO(6)
	ioctlDeviceGetInfo     = vfioIO(7)
	ioctlDeviceGetRegion   = vfioIO(8)
	ioctlDeviceGetIRQInfo  = vfioIO(9)
	ioctlDeviceSetIRQs     = vfioIO(10)
	ioctlDeviceReset       = vfioIO(11)
	ioctlIOMMUGetInfo      = vfioIO(12)
	ioctlIOMMUMapDMA       = vfioIO(13)
	ioctlIOMMUUnmapDMA     = vfioIO(14)
)

// struct vfio_group_status
type groupStatus struct {
	Argsz uint32
	Flags uint32
}

const (
	groupFlagsViable       = 1 << 0
	groupFlagsContainerSet = 1 << 1
)

// struct vfio_device_info
type deviceInfo struct {
	Argsz      uint32
	Flags      uint32
	NumRegions uint32
	NumIRQs    uint32
	CapOffset  uint32
	Pad        uint32
}

const (
	deviceFlagsReset = 1 << 0
	deviceFlagsPCI   = 1 << 1
)

// struct vfio_region_info
type regionInfo struct {
	Argsz     uint32
	Flags     uint32
	Index     uint32
	CapOffset uint32
	Size      uint64
	Offset    uint64
}

// Region flags.
const (
	RegionRead  = 1 << 0
	RegionWrite = 1 << 1
	RegionMmap  = 1 << 2
	RegionCaps  = 1 << 3
)

// VFIO-PCI region indices.
const (
	PCIBAR0Region   = 0
	PCIBAR5Region   = 5
	PCIROMRegion    = 6
	PCIConfigRegion = 7
	PCIVGARegion    = 8
)

// VFIO-PCI interrupt indices.
const (
	PCIINTxIRQ = 0
	PCIMSIIRQ  = 1
	PCIMSIXIRQ = 2
	PCIErrIRQ  = 3
	PCIReqIRQ  = 4
)

// struct vfio_irq_info
type irqInfo struct {
	Argsz uint32
	Flags uint32
	Index uint32
	Count uint32
}

// IRQ info flags.
const (
	IRQInfoEventfd    = 1 << 0
	IRQInfoMaskable   = 1 << 1
	IRQInfoAutomasked = 1 << 2
	IRQInfoNoresize   = 1 << 3
)

// struct vfio_irq_set, without its flexible data[] tail.
type irqSet struct {
	Argsz uint32
	Flags uint32
	Index uint32
	Start uint32
	Count uint32
}

const (
	irqSetDataNone      = 1 << 0
	irqSetDataBool      = 1 << 1
	irqSetDataEventfd   = 1 << 2
	irqSetActionMask    = 1 << 3
	irqSetActionUnmask  = 1 << 4
	irqSetActionTrigger = 1 << 5
)

// struct vfio_iommu_type1_info
type iommuType1Info struct {
	Argsz       uint32
	Flags       uint32
	IOVAPgsizes uint64
	CapOffset   uint32
	Pad         uint32
}

const (
	iommuInfoPgsizes = 1 << 0
	iommuInfoCaps    = 1 << 1

	// struct vfio_info_cap_header ids in the type1 info chain.
	iommuCapIOVARange = 1
)

// struct vfio_iommu_type1_dma_map
type dmaMap struct {
	Argsz uint32
	Flags uint32
	Vaddr uint64
	IOVA  uint64
	Size  uint64
}

// struct vfio_iommu_type1_dma_unmap
type dmaUnmap struct {
	Argsz uint32
	Flags uint32
	IOVA  uint64
	Size  uint64
}

const (
	dmaMapFlagRead  = 1 << 0
	dmaMapFlagWrite = 1 << 1
)
