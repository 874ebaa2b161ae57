#!/bin/sh
# Where vfio.rw's per-read work goes, timed by the kernel: one agent built with the bench modes
# (AERTRACE_BENCH_DEFINES=BENCH_MODES, probes/bpf/vfio.c bench_skip), one lab/vfio-user reading config space flat out,
# kernel.bpf_stats_enabled on throughout; for each mode of MODES (ROUNDS times, interleaved) the agent re-attaches
# vfio.rw with that mode and each program's run_time_ns / run_cnt over SECS s gives its mean time per run.
# A mode leaves parts out: bit 0 the entry program's work, 1 the exit's, 2 both clock readings, 3 the exit's read of
# the user's buffer, 4 the exit's counters, 5 its history entry, 6 its CPU id, 7 the entry's file-position read, 8 all
# of the entry after it has its task's storage, 9 all of the exit after it has the stash.
# The difference of a mode's mean to mode 0's is what that part costs per run (the stats' own two clock reads per run
# are in every mode alike). The reader's rate per phase is printed too (wall: a rough figure; cost.sh's A/B is the
# ratio). Run from the host:
#   lab/run shell --kernel K --out DIR -- sh -c "AERTRACE_BENCH_DEFINES=BENCH_MODES sh agent/bench/prog_split.sh"
set -u
DEV=${DEV:-0000:01:00.0}
OUT=${OUT:-/out}
SECS=${SECS:-4}
ROUNDS=${ROUNDS:-2}
MODES=${MODES:-0 8 16 32 64 128 4 256 512 1 2 3}
TRACE_DIR=${TRACE_DIR:-/tmp/t}
U=${VFIO_USER:-/out/.lab/vfio-user}
. "$(dirname "$0")/common.sh"

echo "kernel $(uname -r), $(nproc) CPUs, clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource), modes: $MODES, $ROUNDS rounds of $SECS s"
export AERTRACE_BENCH_MODE_FILE=$OUT/.bench-mode
echo 0 >"$AERTRACE_BENCH_MODE_FILE"
start_agent split --pause-signals
pauses=0
wait_err() {  # until the agent's stderr has $2 lines matching $1 (at most 120 s)
    n=0
    while [ "$(grep -c "$1" "$TRACE_DIR/split-agent.err")" -lt "$2" ] && [ $n -lt 600 ]; do sleep 0.2; n=$((n + 1)); done
}
# the reader stopped (every thread in state T) around every re-patching of kernel text it runs through: a re-attach
# and the bpf_stats static key (the TCG hazard of cost.sh's reader_stop)
reader_stop() {
    kill -STOP $p
    n=0
    while sed 's/.*) \([A-Za-z]\).*/\1/' /proc/$p/task/*/stat 2>/dev/null | grep -qv T && [ $n -lt 100 ]; do
        sleep 0.05; n=$((n + 1))
    done
}
progfds() {  # the fdinfo files of the agent's bpf-prog fds (they do not change once it is ready)
    for f in /proc/$a/fd/*; do
        [ "$(readlink "$f" 2>/dev/null)" = "anon_inode:bpf-prog" ] && echo "/proc/$a/fdinfo/${f##*/}"
    done
}
stats() {  # "id run_time_ns run_cnt" of each of them: one process, so the snapshot disturbs the reader little
    # shellcheck disable=SC2086
    awk '/^prog_id/{id=$2} /^run_time_ns/{t=$2} /^run_cnt/{print id, t, $2}' $fds
}
log=$OUT/split-reader.log
rm -f "$log"
"$U" --dev "$DEV" --interval-us 0 --log "$log" 2>/dev/null &
p=$!
sleep 4
n=0; last=-1; same=0   # the open's FLR armed the live window: wait until the agent has written it
while [ $same -lt 3 ] && [ $n -lt 600 ]; do
    sz=$(stat -c %s "$TRACE_DIR/split.jsonl" 2>/dev/null || echo 0)
    if [ "$sz" = "$last" ]; then same=$((same + 1)); else same=0; fi
    last=$sz; sleep 1; n=$((n + 1))
done
fds=$(progfds)
reader_stop
sysctl -qw kernel.bpf_stats_enabled=1
kill -CONT $p
marks=0
r=1
while [ $r -le "$ROUNDS" ]; do
    for m in $MODES; do
        echo "$m" >"$AERTRACE_BENCH_MODE_FILE"
        reader_stop; kill -USR1 $a; pauses=$((pauses + 1)); wait_err "vfio.rw detached" $pauses
        kill -USR2 $a; wait_err "vfio.rw attached again" $pauses; kill -CONT $p
        sleep 1
        s0=$(stats); kill -USR2 $p; marks=$((marks + 1))
        sleep "$SECS"
        s1=$(stats); kill -USR2 $p; marks=$((marks + 1))
        sleep 0.3
        rate=$(grep 'ev=mark' "$log" | sed -n "${marks}s/.*reads_per_s=\([0-9.]*\).*/\1/p")
        printf '%s\n%s\n' "$s0" "$s1" | awk -v m="$m" -v r="$r" -v rate="$rate" '
            { if (($1 in t0) == 0) { t0[$1] = $2; c0[$1] = $3 } else { t1[$1] = $2; c1[$1] = $3 } }
            END { line = sprintf("mode %d round %d: reader %s reads/s;", m, r, rate)
                  for (id in t1) { c = c1[id] - c0[id]; if (c > 1000) line = line sprintf(" prog %s %d runs %.0f ns", id, c, (t1[id] - t0[id]) / c) }
                  print line }'
    done
    r=$((r + 1))
done
reader_stop
sysctl -qw kernel.bpf_stats_enabled=0
kill -CONT $p
kill -INT $p; wait $p
kill -INT $a; wait $a
grep -v '^aertrace-agent: vfio.rw \(detached\|attached\)' "$TRACE_DIR/split-agent.err"
