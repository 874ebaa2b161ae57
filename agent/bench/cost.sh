#!/bin/sh
# aertrace-agent cost, measured in one lab boot:
#   1. lab/vfio-user reads config space through vfio for SECS s at each read interval of INTERVALS
#      (0 = as fast as it can), without the agent;
#   2. the agent starts with the device filter on (--device DEV) and the same read loops run again;
#   3. prints per interval: both read rates, their ratio, and the events the agent lost in that phase.
# Run from the host:  lab/run shell --kernel 6.1 -- sh agent/bench/cost.sh
# (inside the guest, cwd is the repo; /out is the host's --out folder).
set -u
DEV=${DEV:-0000:01:00.0}
SECS=${SECS:-20}
INTERVALS=${INTERVALS:-2000 100 0}   # slow first: a backlog from a fast phase must not slow the next
OUT=${OUT:-/out}
U=${VFIO_USER:-/out/.lab/vfio-user}
PY=/usr/bin/python3
. "$(dirname "$0")/common.sh"

mono() { $PY -c 'import time; print(time.clock_gettime_ns(time.CLOCK_MONOTONIC))'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }   # utime + stime of a process, in clock ticks

user_rate() {  # $1 = interval, $2 = log file; prints reads_per_s
    rm -f "$2"
    "$U" --dev "$DEV" --interval-us "$1" --log "$2" 2>"$2.err" &
    p=$!
    sleep "$SECS"
    kill -INT $p
    wait $p
    sed -n 's/.*ev=summary .*reads_per_s=\([0-9.]*\).*/\1/p' "$2"
}

echo "kernel $(uname -r), device $DEV, $SECS s per phase, $(nproc) CPUs, intervals (us): $INTERVALS"
rm -f "$OUT/cost-phases.txt"
for i in $INTERVALS; do
    r=$(user_rate "$i" "$OUT/cost-base-$i.log")
    echo "interval $i us without agent: $r reads/s"
    echo "base $i $r" >>"$OUT/cost-phases.txt"
done

start_agent cost
for i in $INTERVALS; do
    t0=$(mono)
    c0=$(cpu_ticks $a)
    r=$(user_rate "$i" "$OUT/cost-agent-$i.log")
    c1=$(cpu_ticks $a)
    t1=$(mono)
    echo "interval $i us with agent:    $r reads/s"
    echo "agent $i $r $t0 $t1 $((c1 - c0)) $(getconf CLK_TCK)" >>"$OUT/cost-phases.txt"
    sleep 10   # let the agent drain before the next phase
done
kill -INT $a
wait $a
cat "$OUT/cost-agent.err"
echo "kprobe_events left behind: $(grep -c . /sys/kernel/tracing/kprobe_events 2>/dev/null)"

# Last phase: full rate again, the agent with --rw-window (reads recorded only around error/reset
# activity) and one sysfs reset of the device in the middle of the phase as that activity.
if [ -n "${WINDOW_MS:-200}" ]; then
    start_agent cost-window --rw-window "${WINDOW_MS:-200}"
    ( sleep $((SECS / 2)); echo 1 >"/sys/bus/pci/devices/$DEV/reset" ) &
    r=$(user_rate 0 "$OUT/cost-window-0.log")
    sleep 10
    kill -INT $a
    wait $a
    echo "interval 0 us with agent --rw-window ${WINDOW_MS:-200}: $r reads/s, sysfs reset at $((SECS / 2)) s"
    echo "window ${WINDOW_MS:-200} $r" >>"$OUT/cost-phases.txt"
fi

$PY - "$OUT/cost-phases.txt" "$OUT/cost.jsonl" "$OUT/cost-window.jsonl" <<'PYEOF'
import json, sys
base, phases, window = {}, [], None
for line in open(sys.argv[1]):
    p = line.split()
    if p[0] == "base":
        base[p[1]] = float(p[2] or 0)
    elif p[0] == "window":
        window = (p[1], float(p[2] or 0))
    else:
        phases.append((p[1], float(p[2] or 0), int(p[3]), int(p[4]) + 10 * 10**9,
                       int(p[5]) / float(p[6]) / ((int(p[4]) - int(p[3])) / 1e9)))
lost = dict((ph[0], 0) for ph in phases)
reads = dict((ph[0], 0) for ph in phases)
footer = None
for line in open(sys.argv[2]):
    d = json.loads(line)
    for iv, _, t0, t1, _ in phases:
        if d["type"] in ("lost", "vfio.rw.exit") and t0 <= d.get("ts", 0) < t1:
            if d["type"] == "lost":
                lost[iv] += d["count"]
            else:
                reads[iv] += 1
    if d["type"] == "footer":
        footer = d
print("| read interval | reads/s without agent | reads/s with agent | ratio | config reads recorded | events lost | agent CPU (of one CPU) |")
print("|---|---|---|---|---|---|---|")
for iv, w, t0, t1, cpu in phases:
    b = base.get(iv, 0)
    print("| %s us | %.0f | %.0f | %.2f | %d | %d | %.0f%% |" % (iv, b, w, w / b if b else 0, reads[iv], lost[iv], 100 * cpu))
print("footer:", json.dumps(footer))
if window:
    rw = lost = 0
    wfooter = None
    for line in open(sys.argv[3]):
        d = json.loads(line)
        rw += d["type"] == "vfio.rw.exit"
        lost += d["count"] if d["type"] == "lost" else 0
        wfooter = d if d["type"] == "footer" else wfooter
    b = base.get("0", 0)
    print("| 0 us, --rw-window %s ms, one sysfs reset | %.0f | %.0f | %.2f | %d | %d | - |" % (
        window[0], b, window[1], window[1] / b if b else 0, rw, lost))
    print("window footer:", json.dumps(wfooter))
PYEOF
