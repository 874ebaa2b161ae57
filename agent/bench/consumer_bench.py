#!/usr/bin/python3
"""How many records per second the agent's consumer (perf buffer -> Encoder -> file) keeps up with,
on the machine it runs on, without AER hardware or vfio.

    sudo /usr/bin/python3 agent/bench/consumer_bench.py [SECONDS] [WRITERS] [ring|perf]
    sudo /usr/bin/python3 agent/bench/consumer_bench.py RECORDS 1 ring|perf drain

A BPF program on the syscalls:sys_enter_getppid tracepoint emits one vfio.rw.exit-shaped record
(probes/bpf/common.h's struct event) per getppid() call of this benchmark's writer processes, which
call getppid() as fast as they can. The agent's own reading code writes the lines to /dev/null: with
`ring` (the default where the kernel has it) one BPF ring buffer read through its mmap'ed pages in batches
(bpfrun.RingReader, Encoder.ring_lines), with `perf` per-CPU perf buffers and a ctypes callback per record
(bpfrun.Runner.open_buffer, Encoder.line). Prints records produced, consumed, lost, and the rate.
CONSUMER_BENCH_LIVE=1: every other record is a vfio.rw.enter (a live window's stream: entry, then return).
Needs root, bcc and the kernel headers bcc wants (like the agent). CONSUMER_BENCH_TREE=DIR reads the agent's
modules and probes/ from another checkout (consumer_compare.sh: the code before the batch decoder, whose
perf-buffer path this harness drives unchanged)."""
import multiprocessing
import os
import sys
import time

TREE = os.environ.get("CONSUMER_BENCH_TREE") or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TREE, "agent"))
from aertrace_agent.bpfrun import Runner  # noqa: E402
from aertrace_agent.encode import Encoder  # noqa: E402
from aertrace_agent.source import reset_fn_names  # noqa: E402

PROBES = os.path.join(TREE, "probes")
LIVE = "#define LIVE_MIX 1\n" if os.environ.get("CONSUMER_BENCH_LIVE") else ""

PROG = r"""
#ifndef SUBMIT_QUIET
/* common.h before the ring buffer; a function: bcc rewrites map calls only outside macros */
static __always_inline void bench_submit(void *ctx, struct event *e) { events.perf_submit(ctx, e, sizeof(*e)); }
#define SUBMIT_QUIET(ctx, e) bench_submit(ctx, e)
#endif
BPF_ARRAY(produced, u64, 1);
TRACEPOINT_PROBE(syscalls, sys_enter_getppid)
{
    struct event e;
    u32 zero = 0;
    u64 *n = produced.lookup(&zero);

    if ((bpf_get_current_pid_tgid() >> 32) == 0 || !n)
        return 0;
    __sync_fetch_and_add(n, 1);
    ev_init(&e, EV_RW_EXIT, 0x0100);
    e.fn = 7;
    e.arg = 4;
    e.size = 2;
    e.ret = 2;
    e.val = 0x103;
    e.flags = F_RET | F_VALUE;
#ifdef LIVE_MIX
    if (*n & 1) {   /* a live window's stream: each access's entry record (no value), then its return */
        e.type = EV_RW_ENTER;
        e.flags = 0;
        e.val = 0;
        e.ret = 0;
    }
#endif
    SUBMIT_QUIET(args, &e);
    return 0;
}
"""


def writer(stop_at):
    while time.time() < stop_at:
        for _ in range(1000):
            os.getppid()


def backlog(n):
    for _ in range(n):
        os.getppid()


def main():
    secs = float(sys.argv[1]) if len(sys.argv) > 1 else 5
    nwriters = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    kind = sys.argv[3] if len(sys.argv) > 3 else "ring"
    if len(sys.argv) > 4 and sys.argv[4] == "drain":
        return drain(int(secs), kind)
    with open(os.path.join(PROBES, "bpf", "common.h")) as f:
        text = LIVE + f.read() + PROG
    pages = 8192 if kind == "ring" else 512
    return setup_and_run(text, pages, kind, secs, nwriters)


def consumer(text, pages, kind):
    """(runner, poll(ms), counters): the agent's reading code writing lines to /dev/null."""
    import bcc
    import mmap
    r = Runner(bcc, text, ["RINGBUF_PAGES=%d" % pages] if kind == "ring" else [])
    enc = Encoder(reset_fn_names(PROBES))
    out = open(os.devnull, "w")
    st = {"n": 0, "lost": 0}

    def on_event(cpu, raw):
        out.write(enc.line(raw, cpu) + "\n")
        st["n"] += 1

    def on_lost(cpu, count):
        st["lost"] += count

    def on_batch(view, n):
        lines, used, _ = enc.ring_lines(view, n)
        out.write("\n".join(lines) + "\n")
        st["n"] += len(lines)
        return used

    if kind == "ring":
        r.open_ring(pages * mmap.PAGESIZE)
    else:
        r.open_buffer(on_event, on_lost, pages)
    poll = (lambda ms: r.poll(ms, on_batch)) if kind == "ring" else r.poll   # the old Runner.poll takes no reader
    return r, poll, st


def drain(n, kind):
    """The decoder's ceiling without a writer to wait for: n records are written while nobody reads (the
    buffers are sized to hold them), then the consumer's wall and CPU time to read them all is measured."""
    with open(os.path.join(PROBES, "bpf", "common.h")) as f:
        text = LIVE + f.read() + PROG
    pages = 16384   # 64 MiB: the ring, or each CPU's perf buffer, holds the whole backlog
    r, poll, st = consumer(text, pages, kind)
    p = multiprocessing.Process(target=backlog, args=(n,))
    p.start()
    p.join()
    produced = r.b["produced"][0].value
    t0 = time.time()
    c0 = time.process_time()
    idle = 0
    while st["n"] + st["lost"] < produced and idle < 20:
        before = st["n"]
        poll(0 if kind == "ring" else 10)
        idle = idle + 1 if st["n"] == before else 0
    dt = time.time() - t0
    cpu = time.process_time() - c0
    print("%s buffer, drain: %d records written, %d read in %.3f s wall (%.0f/s), consumer CPU %.3f s = %.0f records "
          "per CPU-second" % (kind, produced, st["n"], dt, st["n"] / dt, cpu, st["n"] / cpu))


def setup_and_run(text, pages, kind, secs, nwriters):
    r, poll, st = consumer(text, pages, kind)
    stop_at = time.time() + secs
    procs = [multiprocessing.Process(target=writer, args=(stop_at,)) for _ in range(nwriters)]
    t0 = time.time()
    c0 = time.process_time()   # the consumer's own CPU time (writers are other processes)
    for p in procs:
        p.start()
    while any(p.is_alive() for p in procs):
        poll(100)
    for _ in range(20):
        poll(50)
    dt = time.time() - t0
    cpu = time.process_time() - c0
    if kind == "ring":
        lost = r.ring_lost()
        st["lost"] = lost[0] if lost else 0
    produced = r.b["produced"][0].value
    print("%s buffer, %d writer(s), %.1f s: produced %d records (%.0f/s), consumed %d (%.0f/s), lost %d; "
          "consumer CPU %.2f s = %.0f records per CPU-second" % (
              kind, nwriters, dt, produced, produced / dt, st["n"], st["n"] / dt, st["lost"], cpu, st["n"] / cpu))


if __name__ == "__main__":
    main()
