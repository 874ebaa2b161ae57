# Sourced by the lab bench scripts (run in the guest, cwd = the repo).
# start_agent NAME [AGENT OPTIONS...]: starts the agent on $DEV writing ${TRACE_DIR:-$OUT}/NAME.jsonl (stderr to
# NAME-agent.err beside it), sets $a to its pid, and returns once every probe is attached; exits the script
# with the agent's stderr when it dies or is not ready within 600 s (bcc under TCG can take minutes).
start_agent() {
    name=$1; shift
    td=${TRACE_DIR:-$OUT}
    mkdir -p "$td"
    rm -f "$td/$name.jsonl" "$td/$name-agent.err"
    /usr/bin/python3 agent/aertrace-agent --device "$DEV" "$@" -o "$td/$name.jsonl" 2>"$td/$name-agent.err" &
    a=$!
    n=0
    while ! grep -q "aertrace-agent: ready" "$td/$name-agent.err" 2>/dev/null; do
        sleep 1; n=$((n + 1))
        if [ $n -gt 600 ] || ! kill -0 $a 2>/dev/null; then echo "agent did not start:"; cat "$td/$name-agent.err"; exit 1; fi
    done
}
