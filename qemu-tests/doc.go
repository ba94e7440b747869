// Package qemutests runs ringo's real drivers and stack inside QEMU guests
// (hardware in the loop). TestMain builds the guest initramfs once; each
// test boots one or more VMs with emulated NICs and checks what the guest
// reports and what the host sees.
package qemutests
