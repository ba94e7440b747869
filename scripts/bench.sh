#!/usr/bin/env bash
# bench.sh: ringo's benchmarks. Host: the netcore receive and transmit
# paths (ns/packet, allocs/op). QEMU: raw frame rates through the drivers
# (one VM boot per case).
set -euo pipefail
cd "$(dirname "$0")/.."
go test -run '^$' -bench . -benchmem ./netcore/ ./netcore/skb/
go test -run '^$' -bench . -benchtime 1x -timeout 60m ./qemu-tests/
