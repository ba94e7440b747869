#!/usr/bin/env bash
# faults.sh: run the tests that inject each fault and attack and write the
# table they log (lines "FAULT | what was done | what happened, measured")
# into docs/faults.md between the fault-table markers.
# RINGO_FAULTS_QEMU=0 leaves out the QEMU rows.
set -euo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
table=$(mktemp)
trap 'rm -f "$log" "$table"' EXIT
run='TestNeighbourVanishesAndReturns|TestZeroWindow|TestHostileRxDescriptors|TestTxStallWatchdogReset|TestHostileHeaders|TestOverflowRecovery|TestReceiveBufferFull|TestHostUnreachable|TestKeepAlive|TestSYNFloodCookies|TestAttackReplay|TestSoak|TestLinuxBulk'
go test -count=1 -v -run "$run" ./e1000 ./ne2000 ./netcore/... >"$log" 2>&1 || { cat "$log"; exit 1; }
if [ "${RINGO_FAULTS_QEMU:-1}" != 0 ]; then
	(cd qemu-tests && go test -count=1 -v -timeout 20m -run 'TestAppliance$|TestKillRestart' .) >>"$log" 2>&1 || { cat "$log"; exit 1; }
fi
{
	echo "| Fault or attack | What happened (measured by the test) |"
	echo "|---|---|"
	grep -h 'FAULT | ' "$log" | sed 's/^.*FAULT | /| /; s/$/ |/'
	echo
	echo "Produced by \`scripts/faults.sh\` on $(date -u +%Y-%m-%d), $(nproc) CPUs, $(uname -r)."
} >"$table"
TABLE="$table" python3 - <<'PY'
import os, re
t = open(os.environ["TABLE"]).read()
r = open("docs/faults.md").read()
new = re.sub(r"(<!-- faults:begin -->\n).*?(<!-- faults:end -->)", lambda m: m.group(1) + t + m.group(2), r, flags=re.S)
open("docs/faults.md", "w").write(new)
PY
sed -n '/faults:begin/,/faults:end/p' docs/faults.md
