#!/usr/bin/env bash
# Checks aertrace's Chrome trace-event exports with an independent consumer: the Chrome DevTools trace engine
# (npm @paulirish/trace_engine, pinned in package-lock.json), which must parse every file and keep every slice,
# async window, instant and thread name aertrace wrote.
#
# usage: tools/trace-check/run.sh              fresh exports of every testdata/lab trace (via ./aertrace export)
#                                              plus the committed docs/**/*.trace.json
#        tools/trace-check/run.sh FILE.json... just these files
# Needs node and npm (Debian: apt-get install nodejs npm); installs the engine into tools/trace-check/node_modules
# on first use. Exit 0 when every file passes.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
command -v node >/dev/null && command -v npm >/dev/null || {
  echo "trace-check: node/npm not found; install them: apt-get install nodejs npm" >&2; exit 2; }
if [ ! -d "$here/node_modules/@paulirish/trace_engine" ]; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
if [ $# -eq 0 ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  files=()
  while IFS= read -r t; do
    name=$(echo "${t#"$root"/testdata/lab/}" | tr '/' '_')
    rc=0
    "$root/aertrace" export --format chrome -o "$tmp/${name%.jsonl.gz}.trace.json" "$t" 2>"$tmp/err" || rc=$?
    if [ "$rc" -eq 1 ]; then   # the trace has no error episode (e.g. extras.jsonl.gz): nothing to draw
      echo "skip $t: no episodes" >&2; continue
    elif [ "$rc" -ne 0 ]; then
      cat "$tmp/err" >&2; echo "trace-check: aertrace export failed on $t" >&2; exit 1
    fi
    files+=("$tmp/${name%.jsonl.gz}.trace.json")
  done < <(find "$root/testdata/lab" -name '*.jsonl.gz' 2>/dev/null | sort)
  while IFS= read -r f; do files+=("$f"); done < <(find "$root/docs" -name '*.trace.json' 2>/dev/null | sort)
  [ ${#files[@]} -gt 0 ] || { echo "trace-check: no lab traces and no docs/**/*.trace.json to check" >&2; exit 2; }
  set -- "${files[@]}"
fi
node "$here/check.mjs" "$@"
