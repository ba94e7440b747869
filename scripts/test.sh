#!/usr/bin/env bash
# test.sh: the whole test suite, from a fresh Debian machine: setup (quick
# when done), vet, the arm64 build, every test with the race detector (host
# tests, then the drivers in QEMU guests), then each fuzz target for a
# bounded count of executions (FUZZCOUNT, default 20000x).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
go vet ./...
GOARCH=arm64 go vet ./... # no amd64-only call outside a build-tagged file
GOOS=darwin go build ./netcore/... # the network core builds off Linux
go test -race -count=1 -timeout 25m ./... # -count=1: the QEMU tests read files the test cache does not see
scripts/fuzz.sh "${FUZZCOUNT:-20000x}"
