#!/usr/bin/env bash
# The launcher's class-data archive holds what `analyze` loads: after the launcher has written it, an analyze run
# maps its classes from the archive and parses none of ours or picocli's from the jar (a lambda that makes the dump
# resolve a picocli class drops CommandLine from the archive: ~20 ms of every start; issue 13). Prints the counts.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/../.."
t=testdata/lab/6.1/fatal-race.jsonl.gz
rc=0; ./aertrace analyze "$t" -o /dev/null || rc=$?
[ $rc = 1 ] || { echo "launcher-check: ./aertrace analyze $t exit $rc, expected 1 (its race)"; exit 1; }
jsa=analyzer/target/aertrace.jsa
[ -s "$jsa" ] || { echo "launcher-check: the launcher wrote no $jsa"; exit 1; }
opts=$(AERTRACE_PRINT_JAVA_OPTS=1 ./aertrace analyze "$t")
# -Xshare:on: an archive the JVM cannot map is an error here, not a silent slow start
log=$(java $opts -XX:SharedArchiveFile="$jsa" -Xshare:on -Xlog:disable -Xlog:class+load=info:stdout \
        -jar analyzer/target/aertrace.jar analyze "$t" -o /dev/null) || [ $? = 1 ]
shared=$(grep -c "source: shared objects file" <<<"$log" || true)
parsed=$(grep "source: file:" <<<"$log" || true)
echo "launcher-check: $shared classes mapped from $jsa, $(grep -c . <<<"$parsed" || true) parsed from the jar"
[ -z "$parsed" ] || { echo "launcher-check: parsed from the jar (not archived):"; echo "$parsed"; exit 1; }
[ "$shared" -ge 1500 ] || { echo "launcher-check: only $shared classes from the archive"; exit 1; }
