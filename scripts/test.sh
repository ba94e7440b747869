#!/usr/bin/env bash
# test.sh: the whole test suite: vet, every test with the race detector
# (host tests, then the drivers in QEMU guests), then each fuzz target for a
# bounded time (FUZZTIME, default 10s).
set -euo pipefail
cd "$(dirname "$0")/.."
go vet ./...
go test -race -timeout 25m ./...
scripts/fuzz.sh "${FUZZTIME:-10s}"
