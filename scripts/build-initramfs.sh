#!/usr/bin/env bash
# build-initramfs.sh [OUT]: build the ringo appliance initramfs (u-root with
# ringo-init as uinit) into OUT (default .cache/ringo.cpio).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-.cache/ringo.cpio}
[ -f .cache/kernel/vmlinuz ] || { echo "no cached kernel: run scripts/setup.sh first" >&2; exit 1; }
CGO_ENABLED=0 go run ./qemu-tests/mkinitramfs -o "$out" -uinit ./cmd/ringo-init
