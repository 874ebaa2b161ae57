#!/bin/sh
# Lab proof for the probes the injection scenarios do not reach, in one boot:
#   - user_reset.pci_reset_function: a sysfs reset of the endpoint (echo 1 > .../reset);
#   - lost: lab/vfio-user reading config space at full rate for 1 s while the agent runs with a
#     one-page perf buffer per CPU, so the kernel drops records and the agent reports them.
# Writes $OUT/extras.jsonl. Run from the host:
#   lab/run shell --kernel 6.1 --out DIR -- sh agent/bench/extras.sh
set -u
DEV=${DEV:-0000:01:00.0}
OUT=${OUT:-/out}
U=${VFIO_USER:-/out/.lab/vfio-user}
. "$(dirname "$0")/common.sh"
start_agent extras --page-cnt 1
echo 1 >"/sys/bus/pci/devices/$DEV/reset" && echo "sysfs reset of $DEV done"
sleep 1
"$U" --dev "$DEV" --interval-us 0 --log "$OUT/extras-user.log" 2>/dev/null &
p=$!
sleep 1
kill -INT $p
wait $p
sleep 2
kill -INT $a
wait $a
cat "$OUT/extras-agent.err"
