#!/usr/bin/python3
"""How many records per second the agent's consumer (perf buffer -> Encoder -> file) keeps up with,
on the machine it runs on, without AER hardware or vfio.

    sudo /usr/bin/python3 agent/bench/consumer_bench.py [SECONDS] [WRITERS] [ring|perf]

A BPF program on the syscalls:sys_enter_getppid tracepoint emits one vfio.rw.exit-shaped record
(probes/bpf/common.h's struct event) per getppid() call of this benchmark's writer processes, which
call getppid() as fast as they can. The agent's own reading code writes the lines to /dev/null: with
`ring` (the default where the kernel has it) one BPF ring buffer read through its mmap'ed pages in batches
(bpfrun.RingReader, Encoder.ring_lines), with `perf` per-CPU perf buffers and a ctypes callback per record
(bpfrun.Runner.open_buffer, Encoder.line). Prints records produced, consumed, lost, and the rate.
Needs root, bcc and the kernel headers bcc wants (like the agent)."""
import multiprocessing
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from aertrace_agent.bpfrun import Runner  # noqa: E402
from aertrace_agent.encode import Encoder  # noqa: E402
from aertrace_agent.source import reset_fn_names  # noqa: E402

PROBES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "probes")

PROG = r"""
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
    SUBMIT_QUIET(args, &e);
    return 0;
}
"""


def writer(stop_at):
    while time.time() < stop_at:
        for _ in range(1000):
            os.getppid()


def main():
    secs = float(sys.argv[1]) if len(sys.argv) > 1 else 5
    nwriters = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    kind = sys.argv[3] if len(sys.argv) > 3 else "ring"
    import bcc
    import mmap
    with open(os.path.join(PROBES, "bpf", "common.h")) as f:
        text = f.read() + PROG
    pages = 8192 if kind == "ring" else 512
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
    stop_at = time.time() + secs
    procs = [multiprocessing.Process(target=writer, args=(stop_at,)) for _ in range(nwriters)]
    t0 = time.time()
    c0 = time.process_time()   # the consumer's own CPU time (writers are other processes)
    for p in procs:
        p.start()
    while any(p.is_alive() for p in procs):
        r.poll(100, on_batch)
    for _ in range(20):
        r.poll(50, on_batch)
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
