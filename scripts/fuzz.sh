#!/usr/bin/env bash
# fuzz.sh [DURATION]: run every fuzz target for DURATION (default 10s) each.
# A crasher is written by go test under the package's testdata/fuzz and
# stays there as a regression case that every plain `go test` replays.
set -euo pipefail
cd "$(dirname "$0")/.."
t=${1:-10s}
for pkg in $(go list ./...); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	for f in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //'); do
		echo "fuzz: $pkg $f for $t"
		go test -run '^$' -fuzz "^$f\$" -fuzztime "$t" "$pkg" >/tmp/ringo-fuzz.log 2>&1 || { cat /tmp/ringo-fuzz.log; exit 1; }
	done
done
echo "fuzz: all targets passed"
