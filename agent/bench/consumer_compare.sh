#!/bin/sh
# The native consumer benchmark (consumer_bench.py) before and after the batch decoder, in one run:
# ROUNDS alternations of this tree's ring-buffer consumer (RingReader + Encoder.ring_lines), this tree's
# perf-buffer consumer, and BEFORE's (default: the agent before the flight recorder, 7cb25b8^: per-CPU
# perf buffers, one ctypes callback and Encoder.line per record), each SECS s with one writer; prints
# every run and the medians. Needs root, bcc and kernel headers (BCC_KERNEL_SOURCE where the running
# kernel has none). BEFORE_KINDS (default perf) says which of BEFORE's consumers run: "ring perf" for a BEFORE
# that has the ring buffer (e.g. 5da7440^, before the perf path's per-round deferral). CONSUMER_BENCH_LIVE=1
# passes through (every other record an entry, as in a live window).
#   sudo BCC_KERNEL_SOURCE=DIR sh agent/bench/consumer_compare.sh [ROUNDS] [SECS] [BEFORE]
#   sudo BCC_KERNEL_SOURCE=DIR BEFORE_KINDS="ring perf" sh agent/bench/consumer_compare.sh 5 5 5da7440^
set -eu
ROUNDS=${1:-5}
SECS=${2:-5}
BEFORE=${3:-7cb25b8^}
BEFORE_KINDS=${BEFORE_KINDS:-perf}
WHO="after-ring after-perf"
for k in $BEFORE_KINDS; do WHO="$WHO before-$k"; done
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
git -C "$REPO" archive "$BEFORE" agent probes | tar -x -C "$TMP"
echo "before = $(git -C "$REPO" rev-parse --short "$BEFORE") ($BEFORE_KINDS), after = this tree; $ROUNDS rounds of $SECS s; live mix ${CONSUMER_BENCH_LIVE:-0}; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
: >"$TMP/runs"
r=1
while [ $r -le "$ROUNDS" ]; do
    for who in $WHO; do
        case $who in
            after-ring) line=$(/usr/bin/python3 "$HERE/consumer_bench.py" "$SECS" 1 ring 2>/dev/null | tail -1) ;;
            after-perf) line=$(/usr/bin/python3 "$HERE/consumer_bench.py" "$SECS" 1 perf 2>/dev/null | tail -1) ;;
            before-*) line=$(CONSUMER_BENCH_TREE=$TMP /usr/bin/python3 "$HERE/consumer_bench.py" "$SECS" 1 "${who#before-}" 2>/dev/null | tail -1) ;;
        esac
        echo "$who: $line"
        echo "$who $(echo "$line" | sed -n 's/.*consumed \([0-9]*\) (\([0-9]*\)\/s), lost \([0-9]*\).* = \([0-9]*\) records per CPU-second.*/\2 \3 \4/p')" >>"$TMP/runs"
    done
    r=$((r + 1))
done
echo "load at the end $(cut -d' ' -f1-3 /proc/loadavg)"
echo "median of $ROUNDS: consumer, records consumed/s (wall), records lost per run, records per consumer CPU-second"
for who in $WHO; do
    awk -v w="$who" '$1 == w && NF == 4 {a[n + 0] = $2 + 0; l[n + 0] = $3 + 0; c[n + 0] = $4 + 0; n++}
        function med(x,   i, j, t) { for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (x[j] < x[i]) { t = x[i]; x[i] = x[j]; x[j] = t }
                                     return n ? x[int(n / 2)] : 0 }
        END { printf "  %-10s %8d/s  lost %8d  %8d per CPU-s  (%d runs)\n", w, med(a), med(l), med(c), n }' "$TMP/runs"
done
