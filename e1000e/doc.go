// Package e1000e drives the Intel 82574L (QEMU's "e1000e", 8086:10d3)
// through VFIO: two receive and two transmit queues with extended receive
// descriptors, receive-side scaling (a Toeplitz hash and a redirection
// table choose the queue), MSI-X with a vector per queue and one for link
// and other causes, a NAPI instance per queue pair polled on its own
// softnet, an interrupt rate per vector (EITR), checksum offload on
// receive and transmit, TSO, and the hardware statistics. With MSI or a
// shared INTx line, or busy polling, it runs as the e1000 does: one
// vector, one queue pair. Register and bit names follow the Intel 82574
// GbE Controller Family Datasheet; section numbers refer to it. What the
// 8254x driver shares with this one is in internal/e1000x.
package e1000e
