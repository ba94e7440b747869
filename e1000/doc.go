// Package e1000 drives the Intel 8254x family (82540EM, QEMU's "e1000", and
// 82545EM) through VFIO: descriptor rings in DMA memory, INTx interrupts as
// eventfds, and NAPI polling into netcore. Register and bit names follow the
// PCI/PCI-X Family of Gigabit Ethernet Controllers Software Developer's
// Manual (8254x SDM); section numbers refer to it.
package e1000
