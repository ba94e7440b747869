package vfio

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ringonet/ringo/pci"
)

// ErrBusy says the device's group is already open, in this process or
// another: VFIO gives a group to one opener at a time.
var ErrBusy = errors.New("vfio: group already open (is another ringo running on this device?)")

// open groups in this process, so a second Open says so before the kernel
// would answer EBUSY.
var openGroups struct {
	sync.Mutex
	m map[int]string
}

// Options for Open.
type Options struct {
	// Sysfs is the PCI sysfs root; "" means pci.DefaultSysfs.
	Sysfs string
	// DevDir holds the vfio character devices; "" means /dev/vfio.
	DevDir string
}

// Device is one PCI function owned through VFIO, with its own container.
type Device struct {
	Addr string

	container *os.File
	group     *os.File
	groupID   int
	dev       *os.File
	info      deviceInfo

	dma  *DMAPool
	mu   sync.Mutex // guards maps and irqs
	maps []*MMIO
	irqs []*IRQ
}

// Open takes the device at addr (which must be bound to vfio-pci) through
// VFIO, in the order the kernel's VFIO documentation gives.
func Open(addr string, opt Options) (d *Device, err error) {
	if opt.DevDir == "" {
		opt.DevDir = "/dev/vfio"
	}
	bus := pci.NewBus(opt.Sysfs)
	pd, err := bus.Device(addr)
	if err != nil {
		return nil, fmt.Errorf("vfio: open %s: %w", addr, err)
	}
	if pd.IOMMUGroup < 0 {
		return nil, fmt.Errorf("vfio: open %s: %w", pd.Addr, pci.ErrNoIOMMUGroup)
	}
	if pd.Driver != pci.VFIODriver {
		return nil, fmt.Errorf("vfio: open %s: bound to %q, not vfio-pci (run: ringo bind %s)", pd.Addr, pd.Driver, pd.Addr)
	}
	d = &Device{Addr: pd.Addr, groupID: pd.IOMMUGroup}

	openGroups.Lock()
	if other, ok := openGroups.m[d.groupID]; ok {
		openGroups.Unlock()
		return nil, fmt.Errorf("vfio: open %s: group %d held for %s: %w", d.Addr, d.groupID, other, ErrBusy)
	}
	if openGroups.m == nil {
		openGroups.m = map[int]string{}
	}
	openGroups.m[d.groupID] = d.Addr
	openGroups.Unlock()
	defer func() {
		if err != nil {
			d.Close()
		}
	}()

	// 1. The container, its API version and the type1 IOMMU model.
	if d.container, err = os.OpenFile(filepath.Join(opt.DevDir, "vfio"), os.O_RDWR, 0); err != nil {
		return d, fmt.Errorf("vfio: open container: %w (is the vfio module loaded?)", err)
	}
	if v, err := ioctlInt(d.container, ioctlGetAPIVersion, 0); err != nil || v != vfioAPIVersion {
		return d, fmt.Errorf("vfio: API version %d (want %d): %v", v, vfioAPIVersion, err)
	}
	iommuType := uintptr(vfioType1v2IOMMU)
	if ok, _ := ioctlInt(d.container, ioctlCheckExtension, vfioType1v2IOMMU); ok == 0 {
		if ok, _ := ioctlInt(d.container, ioctlCheckExtension, vfioType1IOMMU); ok == 0 {
			return d, fmt.Errorf("vfio: no type1 IOMMU support (load vfio_iommu_type1)")
		}
		iommuType = vfioType1IOMMU
	}

	// 2. The group: it must be viable, every device in it bound to vfio-pci.
	gpath := filepath.Join(opt.DevDir, strconv.Itoa(d.groupID))
	if d.group, err = os.OpenFile(gpath, os.O_RDWR, 0); err != nil {
		if errors.Is(err, unix.EBUSY) {
			return d, fmt.Errorf("vfio: open %s: %w", gpath, ErrBusy)
		}
		return d, fmt.Errorf("vfio: open group %s: %w", gpath, err)
	}
	st := groupStatus{Argsz: uint32(unsafe.Sizeof(groupStatus{}))}
	if err := ioctlPtr(d.group, ioctlGroupGetStatus, unsafe.Pointer(&st)); err != nil {
		return d, fmt.Errorf("vfio: group %d status: %w", d.groupID, err)
	}
	if st.Flags&groupFlagsViable == 0 {
		if verr := bus.CheckGroupViable(pd); verr != nil {
			return d, fmt.Errorf("vfio: open %s: %w", d.Addr, verr)
		}
		return d, fmt.Errorf("vfio: open %s: group %d not viable", d.Addr, d.groupID)
	}

	// 3. Attach the group to the container, then choose the IOMMU model.
	fd := int32(d.container.Fd())
	if err := ioctlPtr(d.group, ioctlGroupSetContainer, unsafe.Pointer(&fd)); err != nil {
		return d, fmt.Errorf("vfio: group %d set container: %w", d.groupID, err)
	}
	if _, err := ioctlInt(d.container, ioctlSetIOMMU, iommuType); err != nil {
		if errors.Is(err, unix.EPERM) {
			err = fmt.Errorf("%w (no interrupt remapping? QEMU needs intel-iommu,intremap=on)", err)
		}
		return d, fmt.Errorf("vfio: set IOMMU type %d: %w", iommuType, err)
	}
	ranges, err := iovaRanges(d.container)
	if err != nil {
		return d, err
	}
	d.dma = newDMAPool(ranges, containerMapper{d.container})

	// 4. The device fd.
	name := append([]byte(d.Addr), 0)
	dfd, err := ioctlInt(d.group, ioctlGroupGetDeviceFD, uintptr(unsafe.Pointer(&name[0])))
	if err != nil {
		return d, fmt.Errorf("vfio: get device fd for %s: %w", d.Addr, err)
	}
	d.dev = os.NewFile(uintptr(dfd), "vfio-device:"+d.Addr)
	d.info = deviceInfo{Argsz: uint32(unsafe.Sizeof(deviceInfo{}))}
	if err := ioctlPtr(d.dev, ioctlDeviceGetInfo, unsafe.Pointer(&d.info)); err != nil {
		return d, fmt.Errorf("vfio: %s device info: %w", d.Addr, err)
	}
	if d.info.Flags&deviceFlagsPCI == 0 {
		return d, fmt.Errorf("vfio: %s is not a vfio-pci device", d.Addr)
	}
	return d, nil
}

// NumRegions and NumIRQs are what VFIO_DEVICE_GET_INFO reported.
func (d *Device) NumRegions() int { return int(d.info.NumRegions) }

// NumIRQs is the number of interrupt indices the device has.
func (d *Device) NumIRQs() int { return int(d.info.NumIRQs) }

// DMA is the device's DMA allocator.
func (d *Device) DMA() *DMAPool { return d.dma }

// Reset asks VFIO for a function reset. Not every device supports it (QEMU's
// e1000 answers EINVAL); drivers reset through their own registers then.
func (d *Device) Reset() error {
	if d.info.Flags&deviceFlagsReset == 0 {
		return fmt.Errorf("vfio: %s: device reset not supported", d.Addr)
	}
	if _, err := ioctlInt(d.dev, ioctlDeviceReset, 0); err != nil {
		return fmt.Errorf("vfio: %s reset: %w", d.Addr, err)
	}
	return nil
}

// Close unmaps every BAR and DMA buffer, disables interrupts and closes
// every fd. It is safe on a partly opened device.
func (d *Device) Close() error {
	var errs []error
	d.mu.Lock()
	for _, q := range d.irqs {
		errs = append(errs, q.close())
	}
	d.irqs = nil
	for _, m := range d.maps {
		errs = append(errs, m.unmap())
	}
	d.maps = nil
	d.mu.Unlock()
	if d.dev != nil {
		errs = append(errs, d.dev.Close())
		d.dev = nil
	}
	if d.dma != nil {
		errs = append(errs, d.dma.Close())
		d.dma = nil
	}
	if d.group != nil {
		errs = append(errs, d.group.Close())
		d.group = nil
	}
	if d.container != nil {
		errs = append(errs, d.container.Close())
		d.container = nil
	}
	openGroups.Lock()
	if openGroups.m[d.groupID] == d.Addr {
		delete(openGroups.m, d.groupID)
	}
	openGroups.Unlock()
	return errors.Join(errs...)
}

func ioctlInt(f *os.File, req, arg uintptr) (int, error) {
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), req, arg)
	if errno != 0 {
		return int(r), errno
	}
	return int(r), nil
}

func ioctlPtr(f *os.File, req uintptr, arg unsafe.Pointer) error {
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), req, uintptr(arg))
	if errno != 0 {
		return errno
	}
	return nil
}
