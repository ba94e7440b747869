// Package vfio gives a userspace driver a PCI device through the kernel's
// VFIO interface: container, group and device fds; BARs as MMIO register
// windows or I/O-port windows; DMA memory mapped through the IOMMU; and
// interrupts as eventfds.
//
// The sequence follows Documentation/driver-api/vfio.rst: open the container,
// check the API version and the type1 extension, open the group, check that
// it is viable, attach it to the container, set the IOMMU model, map DMA, and
// only then get the device fd.
package vfio
