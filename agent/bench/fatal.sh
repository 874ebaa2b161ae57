#!/bin/sh
# One fatal error recorded by the agent with its defaults (flight recorder, ring buffer, fentry where the
# kernel and bcc allow) while lab/vfio-user reads config space every INTERVAL us (0 = flat out) -- the
# lab's fatal-race scenario, driven from a lab shell so the agent may take longer than the scenario's
# 300 s to compile on a loaded host (common.sh waits 600 s). Writes $OUT/$NAME.jsonl.
#   lab/run shell --kernel 6.1 --out DIR -- sh agent/bench/fatal.sh
#   INTERVAL=0 NAME=fatal-race-flat lab/run shell ... -- sh agent/bench/fatal.sh
set -u
DEV=${DEV:-0000:01:00.0}
OUT=${OUT:-/out}
LAB=$OUT/.lab
NAME=${NAME:-fatal-race-flat}
INTERVAL=${INTERVAL:-0}
U=${VFIO_USER:-/out/.lab/vfio-user}
. "$(dirname "$0")/common.sh"
# shellcheck disable=SC2086
start_agent "$NAME" ${AGENT_ARGS:-}
# what the verifier walked in each of the agent's programs (kernel 5.16+), by name: the load cost on this kernel
/usr/bin/python3 "$(dirname "$0")/prog_insns.py" $a >"$OUT/$NAME-progs.txt" 2>&1 || true
"$U" --dev "$DEV" --interval-us "$INTERVAL" --log "$OUT/$NAME-user.log" 2>/dev/null &
p=$!
sleep 3
kill -USR1 $p; sleep 0.5          # arm: error reporting enables, SERR# (see lab/README.md)
before=$(dmesg | grep -c "AER: device recovery")
echo fatal >"$LAB/req.tmp" && mv "$LAB/req.tmp" "$LAB/inject.$NAME"
n=0
while [ ! -e "$LAB/injected.$NAME" ] && [ $n -lt 300 ]; do sleep 0.1; n=$((n + 1)); done
echo "injected: $(cat "$LAB/injected.$NAME" 2>/dev/null || echo 'no answer')"
n=0
while [ "$(dmesg | grep -c "AER: device recovery")" -le "$before" ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n + 1)); done
dmesg | grep "AER: device recovery" | tail -1
sleep 3                           # past the agent's tail (2.5 s): back to recording
kill -INT $p
wait $p
sleep 2
kill -INT $a
wait $a
cat "$OUT/$NAME-agent.err"
grep "ev=summary" "$OUT/$NAME-user.log"
