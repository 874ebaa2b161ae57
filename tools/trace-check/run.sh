#!/usr/bin/env bash
# Checks trace-event exports with an independent consumer (Chrome DevTools' trace engine, from npm).
# usage: tools/trace-check/run.sh [FILE.json ...]   (default: every docs/**/*.trace.json)
# Needs node and npm (Debian: apt-get install nodejs npm); installs the pinned engine on first use.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
command -v node >/dev/null && command -v npm >/dev/null || {
  echo "trace-check: node/npm not found; install them: apt-get install nodejs npm" >&2; exit 2; }
if [ ! -d "$here/node_modules/@paulirish/trace_engine" ]; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
if [ $# -eq 0 ]; then
  mapfile -t files < <(find "$root/docs" -name '*.trace.json' -o -name '*.trace.json.gz' | sort)
  [ ${#files[@]} -gt 0 ] || { echo "trace-check: no docs/**/*.trace.json to check" >&2; exit 2; }
  set -- "${files[@]}"
fi
exec node "$here/check.mjs" "$@"
