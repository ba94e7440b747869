// Package e1000x is what Intel's 8254x (e1000) and 82574L (e1000e) drivers
// share, as QEMU's e1000x_common shares it between its two models: register
// access with deadlines, the descriptor status word, the legacy, context
// and data transmit descriptors with their checksum and segmentation
// offloads, the statistics block, the multicast table hash and the
// adaptive interrupt rate. Each driver keeps its own rings, interrupts and
// bring-up; names follow the datasheets (8254x SDM, 82574 datasheet).
package e1000x
