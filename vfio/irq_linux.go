package vfio

import (
	"encoding/binary"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// IRQInfo describes one interrupt index.
type IRQInfo struct {
	Index int
	Flags uint32
	Count int // 0: the device has no interrupt of this kind
}

// IRQInfo asks VFIO about an interrupt index (PCIINTxIRQ, PCIMSIIRQ, ...).
func (d *Device) IRQInfo(index int) (IRQInfo, error) {
	ii := irqInfo{Argsz: uint32(unsafe.Sizeof(irqInfo{})), Index: uint32(index)}
	if err := ioctlPtr(d.dev, ioctlDeviceGetIRQInfo, unsafe.Pointer(&ii)); err != nil {
		return IRQInfo{}, fmt.Errorf("vfio: %s irq %d info: %w", d.Addr, index, err)
	}
	return IRQInfo{Index: index, Flags: ii.Flags, Count: int(ii.Count)}, nil
}

// IRQ is one interrupt vector signalled through an eventfd. It implements
// InterruptSource.
type IRQ struct {
	d      *Device
	index  int
	vector int
	efd    int
}

// EnableINTx routes the legacy line interrupt to a new eventfd. VFIO masks
// the line each time it fires; the handler must Unmask it.
func (d *Device) EnableINTx() (*IRQ, error) {
	irqs, err := d.enable(PCIINTxIRQ, 1)
	if err != nil {
		return nil, err
	}
	return irqs[0], nil
}

// EnableMSI routes n MSI (or, with msix, MSI-X) vectors to eventfds.
func (d *Device) EnableMSI(n int, msix bool) ([]*IRQ, error) {
	index := PCIMSIIRQ
	if msix {
		index = PCIMSIXIRQ
	}
	return d.enable(index, n)
}

func (d *Device) enable(index, n int) ([]*IRQ, error) {
	info, err := d.IRQInfo(index)
	if err != nil {
		return nil, err
	}
	if info.Count < n || info.Flags&IRQInfoEventfd == 0 {
		return nil, fmt.Errorf("vfio: %s irq index %d: device has %d vectors, want %d", d.Addr, index, info.Count, n)
	}
	irqs := make([]*IRQ, n)
	fds := make([]int32, n)
	for i := range irqs {
		efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
		if err != nil {
			for _, q := range irqs[:i] {
				unix.Close(q.efd)
			}
			return nil, fmt.Errorf("vfio: eventfd: %w", err)
		}
		irqs[i] = &IRQ{d: d, index: index, vector: i, efd: efd}
		fds[i] = int32(efd)
	}
	if err := d.setIRQs(index, 0, irqSetDataEventfd|irqSetActionTrigger, fds); err != nil {
		for _, q := range irqs {
			unix.Close(q.efd)
		}
		return nil, err
	}
	d.mu.Lock()
	d.irqs = append(d.irqs, irqs...)
	d.mu.Unlock()
	return irqs, nil
}

// setIRQs issues VFIO_DEVICE_SET_IRQS with an optional eventfd array.
func (d *Device) setIRQs(index, start int, flags uint32, fds []int32) error {
	count := len(fds)
	if flags&irqSetDataNone != 0 {
		count = 1
	}
	hdr := int(unsafe.Sizeof(irqSet{}))
	buf := make([]byte, hdr+4*len(fds))
	s := (*irqSet)(unsafe.Pointer(&buf[0]))
	*s = irqSet{Argsz: uint32(len(buf)), Flags: flags, Index: uint32(index), Start: uint32(start), Count: uint32(count)}
	for i, fd := range fds {
		binary.LittleEndian.PutUint32(buf[hdr+4*i:], uint32(fd))
	}
	if err := ioctlPtr(d.dev, ioctlDeviceSetIRQs, unsafe.Pointer(&buf[0])); err != nil {
		return fmt.Errorf("vfio: %s set irqs index %d flags %#x: %w", d.Addr, index, flags, err)
	}
	return nil
}

// Kind names the interrupt type as /proc/interrupts does for VFIO.
func (q *IRQ) Kind() string {
	switch q.index {
	case PCIINTxIRQ:
		return "vfio-intx"
	case PCIMSIIRQ:
		return "vfio-msi"
	default:
		return "vfio-msix"
	}
}

// Fd implements InterruptSource.
func (q *IRQ) Fd() int { return q.efd }

// Unmask implements InterruptSource: for INTx, ACTION_UNMASK with no data;
// MSI vectors are never masked by VFIO.
func (q *IRQ) Unmask() error {
	if q.index != PCIINTxIRQ {
		return nil
	}
	var s irqSet
	s = irqSet{Argsz: uint32(unsafe.Sizeof(s)), Flags: irqSetDataNone | irqSetActionUnmask, Index: PCIINTxIRQ, Count: 1}
	// A raw system call: the unmask never blocks, and the scheduler's
	// system-call hooks would wake sysmon when the program was idle
	// before the interrupt (a futex wake and a thread switch, per
	// interrupt).
	if _, _, errno := unix.RawSyscall(unix.SYS_IOCTL, q.d.dev.Fd(), ioctlDeviceSetIRQs, uintptr(unsafe.Pointer(&s))); errno != 0 {
		return fmt.Errorf("vfio: %s unmask intx: %w", q.d.Addr, errno)
	}
	return nil
}

// close disables the index (DATA_NONE | ACTION_TRIGGER with count 0) and
// closes the eventfd.
func (q *IRQ) close() error {
	var err error
	if q.vector == 0 && q.d.dev != nil {
		var s irqSet
		s = irqSet{Argsz: uint32(unsafe.Sizeof(s)), Flags: irqSetDataNone | irqSetActionTrigger, Index: uint32(q.index)}
		err = ioctlPtr(q.d.dev, ioctlDeviceSetIRQs, unsafe.Pointer(&s))
	}
	if cerr := unix.Close(q.efd); err == nil {
		err = cerr
	}
	return err
}
