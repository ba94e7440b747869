// Package pci enumerates PCI devices through sysfs, reads and writes their
// configuration space, walks capability lists, and binds devices to and from
// the vfio-pci driver.
package pci
