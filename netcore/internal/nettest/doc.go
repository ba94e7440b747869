// Package nettest sets up the Linux kernel as a peer for host tests: a TAP
// device whose kernel side lives in a fresh network namespace with an
// address, so tests talk to the kernel's own stack (Linux only).
package nettest
