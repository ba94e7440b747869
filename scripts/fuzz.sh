#!/usr/bin/env bash
# fuzz.sh [COUNT]: run every fuzz target for COUNT executions (default
# 20000x, a few seconds each). A count, not a duration: Go 1.26's fuzz
# coordinator can fail a target at a -fuzztime deadline with a bare
# "context deadline exceeded" and no failing input (golang/go#75804,
# fixed in 1.27); a count has no deadline to race. A crasher is written
# under the package's testdata/fuzz and stays there as a regression case
# that every plain `go test` replays.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-20000x}
case $n in *x) ;; *) echo "fuzz.sh: COUNT is executions, like 20000x (a duration races Go's fuzz deadline)" >&2; exit 2 ;; esac
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for pkg in $(go list ./...); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	for f in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //'); do
		echo "fuzz: $pkg $f for $n"
		go test -run '^$' -fuzz "^$f\$" -fuzztime "$n" "$pkg" >"$log" 2>&1 || { cat "$log"; exit 1; }
	done
done
echo "fuzz: all targets passed"
