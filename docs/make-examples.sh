#!/usr/bin/env bash
# Regenerates the worked example in docs/example/ from the real lab traces committed under testdata/lab/:
#   - compare-kernels.{md,json,png}      recovery timing and behaviour, kernel against kernel (20 fatal-race
#                                        episodes per kernel, recorded by lab/record KERNEL fatal-race 20)
#   - compare-kernels-reset.{png,svg}    the ~100 ms phases alone, on a linear scale
#   - same-kernel-split.md               the false-positive check: one kernel's 20 episodes, odd vs even
#   - fatal-race-6.1-timeline.{png,svg,txt}   one real fatal race, drawn
#   - fatal-race-6.1-x20-phases.png      phase durations over the 20 episodes of the 6.1 run
#   - fatal-race-6.1.trace.json          the same trace for ui.perfetto.dev / chrome://tracing
# and checks the trace export with the independent DevTools trace engine when node/npm are installed.
#
# usage: docs/make-examples.sh            (from anywhere; builds the analyzer on first use)
# Each step prints the command it runs, so every file can be re-made by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-docs/example}
lab=${LAB:-testdata/lab}   # LAB/OUT: only to dry-run the script elsewhere
mkdir -p "$out"

# Kernels to compare, oldest first (each is compared with the one before it). Pinned so that the page
# docs/example/README.md describes what this script makes; KERNELS="..." picks others.
x20=()
for k in ${KERNELS:-5.10 6.1 6.12 7.2}; do
  [ -f "$lab/$k/fatal-race-x20.jsonl.gz" ] && x20+=("$lab/$k/fatal-race-x20.jsonl.gz")
done
one=$lab/6.1/fatal-race.jsonl.gz
[ ${#x20[@]} -ge 2 ] || { echo "make-examples: need fatal-race-x20 traces of two kernels under $lab (lab/record K fatal-race 20)" >&2; exit 2; }
[ -f "$one" ] || { echo "make-examples: missing $one (lab/record 6.1 fatal-race)" >&2; exit 2; }

run() { echo "+ $*" >&2; "$@"; }
# compare exits 1 when it finds a difference: that is a result, not a failure.
cmp() { local rc=0; run ./aertrace compare "$@" || rc=$?; [ "$rc" -le 1 ] || exit "$rc"; }

cmp --format markdown --against previous -o "$out/compare-kernels.md" --chart "$out/compare-kernels.png" "${x20[@]}"
cmp --format text --against previous -o /dev/null --chart-phases recovery,reset,user-access-held-by-reset \
    --chart "$out/compare-kernels-reset.png" --chart "$out/compare-kernels-reset.svg" "${x20[@]}"
cmp --format json --against previous -o "$out/compare-kernels.json" "${x20[@]}"
# Same kernel, same run, odd vs even episodes: should find nothing (false-positive check).
split_src=$lab/6.1/fatal-race-x20.jsonl.gz
[ -f "$split_src" ] || split_src=${x20[0]}
cmp --format markdown -o "$out/same-kernel-split.md" --split "$split_src"

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
run ./aertrace chart --format both --no-phases -o "$tmp" "$one"
for ext in png svg; do mv -f "$tmp/fatal-race-ep1-timeline.$ext" "$out/fatal-race-6.1-timeline.$ext"; done
run ./aertrace chart --max 0 -o "$tmp" "$split_src"
mv -f "$tmp/fatal-race-x20-phases.png" "$out/fatal-race-6.1-x20-phases.png"
echo "+ ./aertrace timeline $one > $out/fatal-race-6.1-timeline.txt" >&2
./aertrace timeline "$one" > "$out/fatal-race-6.1-timeline.txt"
run ./aertrace export --format chrome -o "$out/fatal-race-6.1.trace.json" "$one"

if command -v node >/dev/null && command -v npm >/dev/null; then
  run tools/trace-check/run.sh "$out/fatal-race-6.1.trace.json"
else
  echo "make-examples: node/npm not installed; skipped the independent trace-event check (tools/trace-check/run.sh)" >&2
fi
echo "make-examples: done; files in $out/" >&2
