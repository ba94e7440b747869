// Package link has net devices that need no hardware: an in-memory pipe
// pair (two devices joined back to back) and a Linux TAP device. Both are
// NAPI devices driven through the same DeviceOps a hardware driver
// implements, so the core and the protocols can be tested on any host.
package link
