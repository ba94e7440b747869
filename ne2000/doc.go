// Package ne2000 drives NE2000-compatible cards built on the National
// Semiconductor DP8390 (QEMU's ne2k_pci, a Realtek RTL8029) through VFIO
// I/O-port regions. Like Linux's 8390 driver it is a non-NAPI device: the
// interrupt handler pulls each frame out of card memory by remote DMA and
// hands it to netif_rx. Register names follow the DP8390D datasheet.
package ne2000
