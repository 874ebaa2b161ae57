#!/bin/sh
# What one probe costs a vfio config read, measured in one lab boot (issue 8): one lab/vfio-user reads
# config space flat out for the whole run (opened once, so its open-time FLR is over before the first
# phase); phases of SECS s alternate "nothing attached" with one attachment each:
#   kprobe        bpftrace, an empty kprobe on vfio_pci_core_read
#   kprobe+kret   bpftrace, an empty kprobe and an empty kretprobe on it
#   fentry+fexit  bpftrace, empty kfunc/kretfunc (BTF trampolines) where bpftrace can attach them
#   agent         aertrace-agent with its defaults (flight recorder: nothing streamed, nothing is wrong)
#   agent-kprobe  (7.x: AGENT_KPROBE=1) the agent with --no-fentry
# Each phase's rate is the user's own count between two SIGUSR2 marks (ev=mark), so a bpftrace or bcc
# compile never falls inside a phase. With kernel.bpf_stats_enabled the kernel times every BPF program
# (run_time_ns/run_cnt in its fdinfo): that is the programs' own cost; the rest of a phase's loss is the
# attachment mechanism (kprobe/kretprobe/trampoline) and, for the agent, its process.
# Run from the host:  lab/run shell --kernel 6.1 --out DIR -- sh agent/bench/probe_cost.sh
set -u
DEV=${DEV:-0000:01:00.0}
SECS=${SECS:-10}
OUT=${OUT:-/out}
U=${VFIO_USER:-/out/.lab/vfio-user}
LOG=$OUT/probe-cost-user.log
PH=$OUT/probe-cost-phases.txt
. "$(dirname "$0")/common.sh"

[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd   # bpftrace 0.2x writes its object through /dev/fd
sysctl -qw kernel.bpf_stats_enabled=1 || echo "no kernel.bpf_stats_enabled: program times unknown"
echo "kernel $(uname -r), $(nproc) CPUs, $SECS s per phase, bpftrace $(bpftrace --version 2>/dev/null)"
rm -f "$LOG" "$PH"
"$U" --dev "$DEV" --interval-us 0 --log "$LOG" 2>/dev/null &
p=$!
sleep 4
marks=0
mark() {  # close the current phase as $1
    kill -USR2 $p
    marks=$((marks + 1))
    n=0
    while [ "$(grep -c 'ev=mark' "$LOG")" -lt $marks ] && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
    r=$(grep 'ev=mark' "$LOG" | tail -1 | sed -n 's/.*reads_per_s=\([0-9.]*\).*/\1/p')
    echo "phase $1 $r" >>"$PH"
    echo "phase $1: $r reads/s"
}
progstats() {  # fdinfo of every BPF program process $1 holds that ran: run_cnt, run_time_ns, avg
    for f in /proc/$1/fd/*; do
        [ "$(readlink "$f" 2>/dev/null)" = "anon_inode:bpf-prog" ] || continue
        awk -v who="$2" '/^prog_id/{id=$2} /^run_time_ns/{t=$2} /^run_cnt/{c=$2} /^verified_insns/{v=$2}
            END{if (c > 0) printf "  %s prog %s: run_cnt %.0f run_time_ns %.0f avg %.0f ns, %s insns\n", who, id, c, t, t / c, v}' \
            "/proc/$1/fdinfo/${f##*/}"
    done
}
bt() {  # $1 = name, $2 = bpftrace program
    bpftrace -e "$2" >"$OUT/probe-cost-bt.out" 2>&1 &
    b=$!
    n=0
    while ! grep -q "Attaching" "$OUT/probe-cost-bt.out" 2>/dev/null; do
        sleep 1; n=$((n + 1))
        if [ $n -gt 300 ] || ! kill -0 $b 2>/dev/null; then
            echo "$1: bpftrace did not attach:"; cat "$OUT/probe-cost-bt.out"; kill $b 2>/dev/null; wait $b; return; fi
    done
    sleep 2
    mark "$1-startup"
    sleep "$SECS"
    mark "$1"
    progstats $b "$1" | tee -a "$PH"
    grep -i vfio_pci_core_read /sys/kernel/debug/kprobes/list 2>/dev/null | sed 's/^/  kprobes: /'
    kill -INT $b; wait $b
    sleep 2
    mark "gap"
    sleep "$SECS"; mark none
}
agent() {  # $1 = name, rest = agent options
    name=$1; shift
    start_agent "probe-cost-$name" "$@"
    sleep 3
    mark "$name-startup"
    sleep "$SECS"
    mark "$name"
    progstats $a "$name" | tee -a "$PH"
    kill -INT $a; wait $a
    tail -2 "$OUT/probe-cost-$name-agent.err"
    sleep 2
    mark "gap"
    sleep "$SECS"; mark none
}

mark warmup
sleep "$SECS"; mark none
bt kprobe 'kprobe:vfio_pci_core_read { }'
bt kprobe+kret 'kprobe:vfio_pci_core_read { } kretprobe:vfio_pci_core_read { }'
bt fentry+fexit 'kfunc:vfio_pci_core:vfio_pci_core_read { } kretfunc:vfio_pci_core:vfio_pci_core_read { }'
agent agent
[ "${AGENT_KPROBE:-0}" = 1 ] && agent agent-kprobe --no-fentry
kill -INT $p; wait $p
echo "--- $PH"; cat "$PH"
