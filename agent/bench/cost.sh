#!/bin/sh
# aertrace-agent cost, measured in one lab boot:
#   1. lab/vfio-user reads config space through vfio for SECS s at each read interval of INTERVALS
#      (0 = as fast as it can), without the agent;
#   2. the agent starts with its defaults (flight recorder, device filter on --device DEV, ring buffer where
#      the kernel has it; AGENT_ARGS adds options) and the same read loops run again;
#   3. REPEAT times: the user reads flat out for RSECS s while the host resets the device twice, a sysfs
#      reset (pci_reset_function) at 1/3 and a real fatal error injected by QEMU (host recovery with a
#      secondary bus reset) at 2/3;
#   4. prints per interval both read rates, their ratio and the events lost in that phase, and per repeat
#      the records lost inside a recovery window (from the reset's or error's first event to 2 s after its
#      last, the analyzer's settle) judged by the lost lines' since/until bounds.
# Run from the host:  lab/run shell --kernel 6.1 --out DIR -- sh agent/bench/cost.sh
# (inside the guest, cwd is the repo; /out is the host's --out folder, /out/.lab the injection channel).
set -u
DEV=${DEV:-0000:01:00.0}
SECS=${SECS:-15}
RSECS=${RSECS:-12}
REPEAT=${REPEAT:-5}
INTERVALS=${INTERVALS:-2000 0}   # slow first: a backlog from a fast phase must not slow the next
OUT=${OUT:-/out}
LAB=$OUT/.lab
# TRACE_DIR: where the agent writes its trace (default $OUT); another directory's trace and agent log are copied to
# $OUT at the end. The lab's /out is a 9p share of the host (cache=none): 7.2's 9p client (netfs, unbuffered) wrote
# 5-20 MB/s in this guest against 6.1's 127-260 MB/s (dd, 256 KiB blocks, session 11), and 1-2 MB/s while the other
# vCPU is busy, as the flat-out reader keeps it: a trace written there measures the share, not the agent. A host's
# agent writes to a local file (the page cache) or a socket; the guest's tmpfs stands for that (TRACE_DIR=/tmp/t,
# with LAB_MEM=4096 on the host for a flat-out run's ~1 GB trace).
TRACE_DIR=${TRACE_DIR:-$OUT}
U=${VFIO_USER:-/out/.lab/vfio-user}
PY=/usr/bin/python3
. "$(dirname "$0")/common.sh"

mono() { $PY -c 'import time; print(time.clock_gettime_ns(time.CLOCK_MONOTONIC))'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }   # utime + stime of a process, in clock ticks

user_rate() {  # $1 = interval, $2 = log file, $3 = base|agent; prints reads_per_s of the whole phase
    rm -f "$2"
    "$U" --dev "$DEV" --interval-us "$1" --log "$2" 2>"$2.err" &
    p=$!
    # vfio resets the device when the user opens it (an FLR): with the agent that arms the live window for
    # --tail-ms, so the phase's first seconds stream every access. A mark after them gives the steady state.
    sleep 4
    kill -USR2 $p
    sleep $((SECS - 4))
    kill -USR2 $p
    sleep 0.3
    kill -INT $p
    wait $p
    echo "steady $3 $1 $(grep 'ev=mark' "$2" | sed -n '2s/.*reads_per_s=\([0-9.]*\).*/\1/p')" >>"$OUT/cost-phases.txt"
    sed -n 's/.*ev=summary .*reads_per_s=\([0-9.]*\).*/\1/p' "$2"
}
progstats() {  # kernel-timed BPF programs (kernel.bpf_stats_enabled) of process $1 that ran: count, mean time
    for f in /proc/$1/fd/*; do
        [ "$(readlink "$f" 2>/dev/null)" = "anon_inode:bpf-prog" ] || continue
        awk '/^prog_id/{id=$2} /^run_time_ns/{t=$2} /^run_cnt/{c=$2} /^verified_insns/{v=$2}
            END{if (c > 0) printf "  prog %s: run_cnt %.0f, mean %.0f ns, %s insns verified\n", id, c, t / c, v}' "/proc/$1/fdinfo/${f##*/}"
    done
}

inject_n=0
inject_fatal() {  # ask the host (lab/run) for a fatal error on the endpoint, wait for its answer
    inject_n=$((inject_n + 1))
    echo fatal >"$LAB/req.tmp" && mv "$LAB/req.tmp" "$LAB/inject.cost$inject_n"
    n=0
    while [ ! -e "$LAB/injected.cost$inject_n" ] && [ $n -lt 300 ]; do sleep 0.1; n=$((n + 1)); done
    echo "injection $inject_n: $(cat "$LAB/injected.cost$inject_n" 2>/dev/null || echo 'no answer')"
}

echo "kernel $(uname -r), device $DEV, $SECS s per phase, $(nproc) CPUs, intervals (us): $INTERVALS, agent args: ${AGENT_ARGS:-(defaults)}"
echo "bpf_jit_enable=$(cat /proc/sys/net/core/bpf_jit_enable 2>/dev/null)"
# every bpf_ktime_get_ns and the reader's own clock_gettime read this; the HPET is an emulated MMIO access
echo "clocksource=$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource 2>/dev/null)"
echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1); meltdown: $(cat /sys/devices/system/cpu/vulnerabilities/meltdown 2>/dev/null)"
# What one clock read costs in this guest (no vDSO for the HPET: a syscall each), against a syscall that reads
# no clock and the coarse clock (6 = CLOCK_MONOTONIC_COARSE, no hardware read): a precise timestamp is what bpf_ktime_get_ns pays too.
$PY - <<'PYEOF'
import os, time
def per(f, n=100000):
    t0 = time.perf_counter_ns()
    for _ in range(n):
        f()
    return (time.perf_counter_ns() - t0) / n
m, c, s = (per(lambda: time.clock_gettime_ns(time.CLOCK_MONOTONIC)),
           per(lambda: time.clock_gettime_ns(6)), per(os.getppid))
print("clock read (python loop): CLOCK_MONOTONIC %.0f ns, CLOCK_MONOTONIC_COARSE %.0f ns, getppid() %.0f ns" % (m, c, s))
PYEOF
rm -f "$OUT/cost-phases.txt" "$OUT/ab-marks.txt"
for i in $INTERVALS; do
    r=$(user_rate "$i" "$OUT/cost-base-$i.log" base)
    echo "interval $i us without agent: $r reads/s"
    echo "base $i $r" >>"$OUT/cost-phases.txt"
done

export AERTRACE_BENCH_MODE_FILE=$OUT/.bench-mode
# shellcheck disable=SC2086
start_agent cost --pause-signals ${AGENT_ARGS:-}
pauses=0
wait_err() {  # until the agent's stderr has $2 lines matching $1 (at most 120 s)
    n=0
    while [ "$(grep -c "$1" "$TRACE_DIR/cost-agent.err")" -lt "$2" ] && [ $n -lt 600 ]; do sleep 0.2; n=$((n + 1)); done
}
quiet_trace() {  # until the agent's trace has not grown for 3 s (at most 600 s)
    n=0; last=-1; same=0
    while [ $same -lt 3 ] && [ $n -lt 600 ]; do
        sz=$(stat -c %s "$TRACE_DIR/cost.jsonl" 2>/dev/null || echo 0)
        if [ "$sz" = "$last" ]; then same=$((same + 1)); else same=0; fi
        last=$sz; sleep 1; n=$((n + 1))
    done
    echo "trace quiet after ${n} s"
}
# PAUSE_READER=1 (the default): the A/B reader is stopped (SIGSTOP, which takes effect on its way back to user
# space, so never inside vfio_pci_core_read) while the agent detaches or re-attaches vfio.rw's programs. Re-patching
# the entry of a function that another vCPU is executing is the TCG hazard that hung 6.1's reader in soft lockups
# (session 9) and panicked 7.2 with an int3 in a BPF trampoline (session 10). The phases are timed between marks
# sent after the reader runs again, so the stop is in neither phase.
reader_stop() {
    [ "${PAUSE_READER:-1}" = 1 ] || return 0
    kill -STOP $p
    n=0
    # every thread stopped (the reader has a notifier thread besides the one that reads)
    while sed 's/.*) \([A-Za-z]\).*/\1/' /proc/$p/task/*/stat 2>/dev/null | grep -qv T && [ $n -lt 100 ]; do
        sleep 0.05; n=$((n + 1))
    done
}
reader_cont() { [ "${PAUSE_READER:-1}" = 1 ] || return 0; kill -CONT $p; }
abmark() {  # close a phase of the A/B reader; sets $rate to its rate (no subshell: $marks must count)
    marks=$((marks + 1))
    # for agent/bench/vcpu_time.py on the host: the vCPUs' CPU time at this mark (it polls every 10 ms)
    echo "abmark $i $marks" >>"$OUT/ab-marks.txt"
    sleep 0.05
    kill -USR2 $p
    n=0
    while [ "$(grep -c 'ev=mark' "$abl")" -lt $marks ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
    rate=$(grep 'ev=mark' "$abl" | sed -n "${marks}s/.*reads_per_s=\([0-9.]*\).*/\1/p")
}
# A/B in one reader (the drift-free figure): the agent stays loaded and SIGUSR1/SIGUSR2 (--pause-signals)
# detach and re-attach its vfio.rw probes without a compile, so phases with and without them alternate
# AB_ROUNDS times, AB_SECS s each, in one reader that opened the device before (no open-time window).
AB_ROUNDS=${AB_ROUNDS:-3}
AB_SECS=${AB_SECS:-8}
for i in $INTERVALS; do
    [ "$AB_ROUNDS" -gt 0 ] || break
    abl=$OUT/cost-ab-$i.log
    rm -f "$abl"
    "$U" --dev "$DEV" --interval-us "$i" --log "$abl" 2>/dev/null &
    p=$!
    marks=0
    sleep 4
    # The open's FLR made the device live for --tail-ms: at a flat-out rate the agent is still writing that
    # window's records long after (Python in an emulated guest); its CPU would count in every phase below.
    quiet_trace
    k=1
    while [ $k -le "$AB_ROUNDS" ]; do
        reader_stop; kill -USR1 $a; pauses=$((pauses + 1)); wait_err "vfio.rw detached" $pauses; reader_cont
        sleep 1; abmark; sleep "$AB_SECS"; abmark; rn=$rate; mn=$marks
        # AB_MODES (flat out only; needs AERTRACE_BENCH_DEFINES=BENCH_MODES): round k's "with" phase runs the k-th
        # mode of the list, cyclically (cost_report.py: 0 full programs, 1 entry empty, 2 exit empty, 3 both empty,
        # 4 no clock readings: each access keeps its task's last entry time)
        if [ "$i" = 0 ] && [ -n "${AB_MODES:-}" ]; then
            set -- $AB_MODES; shift $(( (k - 1) % $# )); echo "$1" >"$OUT/.bench-mode"
        else
            echo 0 >"$OUT/.bench-mode"
        fi
        reader_stop; kill -USR2 $a; wait_err "vfio.rw attached again" $pauses; reader_cont
        # AERTRACE_BENCH_MODES (with AERTRACE_BENCH_DEFINES=BENCH_MODES): which parts of vfio.rw ran in this phase
        mode=$(grep "vfio.rw attached again" "$TRACE_DIR/cost-agent.err" | tail -1 | sed -n 's/.*bench mode \([0-9]*\).*/\1/p')
        sleep 1; abmark; sleep "$AB_SECS"; abmark; ra=$rate
        # the reader's mark numbers of the two phases: cost_report.py pairs them with vcpu-marks.txt
        echo "ab $i $k $rn $ra $mn $marks ${mode:-0}" >>"$OUT/cost-phases.txt"
        # kernel.bpf_stats_enabled adds two clock reads per program run: it must be 0 here (progstats turns it on at the end)
        echo "A/B interval $i us, round $k: without probes $rn reads/s, with $ra reads/s${mode:+ (bench mode $mode)}, bpf_stats_enabled=$(cat /proc/sys/kernel/bpf_stats_enabled 2>/dev/null)"
        k=$((k + 1))
    done
    kill -INT $p
    wait $p
    sleep 3
done
# AGENT_PHASES=0: no whole phases with the agent (their open-time live window leaves a backlog to write at stop)
for i in $([ "${AGENT_PHASES:-1}" = 1 ] && echo $INTERVALS); do
    t0=$(mono)
    c0=$(cpu_ticks $a)
    r=$(user_rate "$i" "$OUT/cost-agent-$i.log" agent)
    c1=$(cpu_ticks $a)
    t1=$(mono)
    echo "interval $i us with agent:    $r reads/s"
    echo "agent $i $r $t0 $t1 $((c1 - c0)) $(getconf CLK_TCK)" >>"$OUT/cost-phases.txt"
    sleep 5   # let the agent drain before the next phase
done

# Flat out with host resets in the middle, REPEAT times, same agent.
k=1
while [ $k -le "$REPEAT" ]; do
    rm -f "$OUT/cost-reset-$k.log"
    t0=$(mono)
    "$U" --dev "$DEV" --interval-us 0 --log "$OUT/cost-reset-$k.log" 2>/dev/null &
    p=$!
    sleep $((RSECS / 3))
    echo 1 >"/sys/bus/pci/devices/$DEV/reset" && echo "repeat $k: sysfs reset done"
    sleep $((RSECS / 3))
    kill -USR1 $p; sleep 0.5          # arm: error reporting enables, SERR# (see lab/README.md)
    inject_fatal
    sleep $((RSECS / 3))
    kill -INT $p
    wait $p
    t1=$(mono)
    r=$(sed -n 's/.*ev=summary .*reads_per_s=\([0-9.]*\).*/\1/p' "$OUT/cost-reset-$k.log")
    echo "repeat $k: flat out with a sysfs reset and a fatal error: $r reads/s"
    echo "reset $k $r $t0 $t1" >>"$OUT/cost-phases.txt"
    dmesg | grep "AER: device recovery" | tail -1
    sleep 4   # past the agent's tail: back to recording before the next repeat
    k=$((k + 1))
done
# What the agent's programs cost per run, timed by the kernel (kernel.bpf_stats_enabled, off during the
# measured phases above: it adds two clock reads per run): 6 s flat out, steady state (past the open's window).
"$U" --dev "$DEV" --interval-us 0 --log "$OUT/cost-stats.log" 2>/dev/null &
p=$!
sleep 5
if sysctl -qw kernel.bpf_stats_enabled=1; then
    sleep 6
    echo "BPF programs of the agent that ran, 6 s flat out in steady state:"
    progstats $a
    sysctl -qw kernel.bpf_stats_enabled=0
fi
kill -INT $p
wait $p
kill -INT $a
wait $a
cat "$TRACE_DIR/cost-agent.err"
# Without the agent again: the compile between the first base phases and the agent's (minutes under TCG, 16 on a
# loaded host) lets the host's load drift; a second measurement after the agent brackets it.
sleep 3
for i in $INTERVALS; do
    r=$(user_rate "$i" "$OUT/cost-after-$i.log" after)
    echo "interval $i us without agent, after it: $r reads/s"
    echo "after $i $r" >>"$OUT/cost-phases.txt"
done
echo "kprobe_events left behind: $(grep -c . /sys/kernel/tracing/kprobe_events 2>/dev/null)"
if [ "$TRACE_DIR" != "$OUT" ]; then
    t0=$(mono)
    for f in cost.jsonl cost-agent.err; do dd if="$TRACE_DIR/$f" of="$OUT/$f" bs=1M 2>/dev/null && rm -f "$TRACE_DIR/$f"; done
    echo "trace copied from $TRACE_DIR to $OUT in $(( ($(mono) - t0) / 1000000 )) ms"
fi

# the report reads the whole trace (~100 MB flat out): REPORT=0 leaves it to the host (same command, host paths)
[ "${REPORT:-1}" = 0 ] || $PY agent/bench/cost_report.py "$OUT/cost-phases.txt" "$OUT/cost.jsonl"
