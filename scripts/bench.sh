#!/usr/bin/env bash
# bench.sh [COUNT]: ringo's benchmarks, each run COUNT times (default 3),
# reported as medians with their spread.
#
# Host: the netcore receive and transmit paths (ns/packet, allocs/op);
# TCP bulk MB/s and UDP datagrams/s, ringo <-> Linux over a TAP beside
# Linux <-> Linux over a veth pair.
# QEMU: raw frame rates through ringo's drivers and, on the same QEMU hub
# topology in the same run, through the Linux kernel's drivers driven by
# pktgen (BenchmarkFrames, one VM boot per case and size); the whole
# stack — UDP each way, TCP bulk each way, ping — ringo and the kernel on
# the same NIC model against a Linux VM (BenchmarkStack); the e1000 driver
# beside DPDK's e1000 PMD (testpmd) in the same guest (BenchmarkDriverVsDPDK).
#
# Writes bench/results.txt (raw go test output), bench/table.md (medians,
# ratios ringo / Linux), bench/bench.gp and, with gnuplot installed,
# bench/bench.png.
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-3}
mkdir -p bench
{
	go test -run '^$' -bench . -benchmem -count "$count" ./netcore/ ./netcore/skb/
	go test -run '^$' -bench 'Bulk' -benchmem -count "$count" ./netcore/tcp/
	go test -run '^$' -bench 'UDP' -benchmem -count "$count" ./netcore/udp/
	# One round of every QEMU case at a time, not COUNT runs of each in a
	# row: the host's speed drifts over minutes, and interleaving gives
	# ringo and Linux the same drift. BenchmarkStack pins the device under
	# test's QEMU and the peer's to one host CPU each (RINGO_DUT_CPUS,
	# RINGO_PEER_CPUS).
	# RINGO_REQUIRE_QEMU: fail, not skip, without QEMU or the cached
	# kernel (scripts/setup.sh), so a table never comes out without them.
	for _ in $(seq "$count"); do
		RINGO_REQUIRE_QEMU=1 go test -run '^$' -bench 'BenchmarkFrames|BenchmarkStack|BenchmarkDriverVsDPDK|BenchmarkMultiQueue' -benchtime 1x -count 1 -timeout 120m ./qemu-tests/
	done
} | tee bench/results.txt
go run ./scripts/benchtable -procs "$(nproc)" -md bench/table.md -plot bench/bench.gp -png bench/bench.png <bench/results.txt
if command -v gnuplot >/dev/null; then
	gnuplot bench/bench.gp
fi
cat bench/table.md
