#!/bin/sh
# aertrace-agent cost, measured in one lab boot:
#   1. lab/vfio-user reads config space through vfio as fast as it can (--interval-us 0) for SECS s, no agent;
#   2. the agent starts with the device filter on (--device DEV) and the same read loop runs again;
#   3. prints both read rates, their ratio, and the events the agent lost (its footer).
# Run from the host:  lab/run shell --kernel 6.1 -- sh agent/bench/cost.sh
# (inside the guest, cwd is the repo; /out is the host's --out folder).
set -u
DEV=${DEV:-0000:01:00.0}
SECS=${SECS:-20}
OUT=${OUT:-/out}
U=${VFIO_USER:-/out/.lab/vfio-user}

user_rate() {  # $1 = log file; prints reads_per_s
    "$U" --dev "$DEV" --interval-us 0 --log "$1" 2>"$1.err" &
    p=$!
    sleep "$SECS"
    kill -INT $p
    wait $p
    sed -n 's/.*ev=summary .*reads_per_s=\([0-9.]*\).*/\1/p' "$1"
}

echo "kernel $(uname -r), device $DEV, $SECS s per phase, $(nproc) CPUs"
base=$(user_rate "$OUT/cost-base.log")
echo "without agent: $base config reads/s"

/usr/bin/python3 agent/aertrace-agent --device "$DEV" -o "$OUT/cost.jsonl" 2>"$OUT/cost-agent.err" &
a=$!
i=0
while ! grep -q "aertrace-agent: ready" "$OUT/cost-agent.err" 2>/dev/null; do
    sleep 1; i=$((i + 1))
    if [ $i -gt 600 ] || ! kill -0 $a 2>/dev/null; then echo "agent did not start:"; cat "$OUT/cost-agent.err"; exit 1; fi
done
with=$(user_rate "$OUT/cost-agent.log")
echo "with agent:    $with config reads/s"
t0=$(date +%s)
kill -INT $a
wait $a
echo "agent stopped in $(( $(date +%s) - t0 )) s"
footer=$(tail -n 1 "$OUT/cost.jsonl")
echo "agent footer: $footer"
rw=$(grep -c '"type":"vfio.rw.exit"' "$OUT/cost.jsonl")
echo "config reads recorded (vfio.rw.exit lines): $rw"
awk -v b="$base" -v w="$with" 'BEGIN { if (b > 0) printf "ratio with/without: %.3f (cost %.1f%%)\n", w / b, 100 * (1 - w / b) }'
echo "kprobe_events left behind: $(grep -c . /sys/kernel/tracing/kprobe_events 2>/dev/null || echo 0)"
