#!/usr/bin/python3
"""How fast the agent WRITES a live window's stream, where it runs (the lab's TCG guest above all):

    sudo /usr/bin/python3 agent/bench/writer_bench.py [ACCESSES] [KIND:PATH ...]

KIND is `pair` (schema 2: each config read a vfio.rw.enter record and a vfio.rw.exit record, as agent 0.5 streamed
every live access) or `one` (schema 3: one EV_RW_DONE record per read, written as one `vfio.rw` line); PATH is
where the lines go (`/dev/null`, a file on the guest's disk, or /out/... on the lab's 9p share, where cost.sh's
agent writes). Default: `pair:/dev/null one:/dev/null one:/tmp/writer-bench.jsonl`.

One compile: a BPF program on syscalls:sys_enter_getppid writes one record per getppid() call of a child process
(the vfio reader's shape: the lab endpoint, config offset 4, 2 bytes, value 0x103; `pair` alternates entry and
return records). For each KIND:PATH, ACCESSES accesses (default 100,000) are written into the ring buffer while
nobody reads it (128 MiB, as the agent's default), then the agent's own ring path reads them all: RingReader ->
main.Recording.on_batch (Encoder.ring_lines, the joined write) -> Output on PATH with its 64 KiB buffer, flushed as
the agent's poll loop does. Prints per run: records, lines, wall and CPU seconds of the drain, records/s, accesses/s
and lines/s per CPU-second. Needs root, bcc and the kernel headers (like the agent).

WRITER_BENCH_SYNTHETIC=1: no kernel, no bcc: the same records packed by Python into one buffer, handed to the same
Recording.on_batch in the RingReader's chunks (1,024 records): the user-space part alone, on any machine."""
import mmap
import multiprocessing
import os
import sys
import time
import types

TREE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TREE, "agent"))
from aertrace_agent import main as agent_main  # noqa: E402
from aertrace_agent.bpfrun import Runner  # noqa: E402
from aertrace_agent.output import Output  # noqa: E402
from aertrace_agent.source import reset_fn_names  # noqa: E402

PROBES = os.path.join(TREE, "probes")

PROG = r"""
BPF_ARRAY(produced, u64, 1);
BPF_ARRAY(kind, u32, 1);   /* 0 = pair (entry record, then return record), 1 = one whole-access record */
TRACEPOINT_PROBE(syscalls, sys_enter_getppid)
{
    struct event e;
    u32 zero = 0;
    u64 *n = produced.lookup(&zero);
    u32 *k = kind.lookup(&zero);

    if ((bpf_get_current_pid_tgid() >> 32) == 0 || !n || !k)
        return 0;
    __sync_fetch_and_add(n, 1);
    ev_init(&e, EV_RW_EXIT, 0x0100);
    e.fn = 7;
    e.arg = 4;
    e.size = 2;
    e.ret = 2;
    e.val = 0x103;
    e.flags = F_RET | F_VALUE;
    if (*k == 1) {
        e.type = EV_RW_DONE;
        e.tlp[0] = (u32)(e.ts - 3000);
        e.tlp[1] = (u32)((e.ts - 3000) >> 32);
    } else if (*n & 1) {
        e.type = EV_RW_ENTER;
        e.flags = 0;
        e.val = 0;
        e.ret = 0;
    }
    SUBMIT_QUIET(args, &e);
    return 0;
}
"""


def backlog(n):
    for _ in range(n):
        os.getppid()


def run(r, kind, path, accesses):
    t = r.b["kind"]
    t[t.Key(0)] = t.Leaf(1 if kind == "one" else 0)
    calls = accesses * (2 if kind == "pair" else 1)
    before = r.b["produced"][0].value
    p = multiprocessing.Process(target=backlog, args=(calls,))
    p.start()
    p.join()
    measure(r, kind, path, accesses, r.b["produced"][0].value - before)


def measure(r, kind, path, accesses, produced):
    f = open(path, "w", encoding="utf-8", buffering=1 << 16)
    out = Output(f, f.close, path)
    agent = types.SimpleNamespace(runner=r, out=out, args=types.SimpleNamespace(history=0, tail_ms=2500),
                                  state={"events": 0, "lost": 0, "undecodable": 0, "stop": None},
                                  fn_names=reset_fn_names(PROBES), devinfo={})
    rec = agent_main.Recording(agent)
    t0, c0 = time.time(), time.process_time()
    read = 0
    while read < produced:
        n = r.ring.read(rec.on_batch)   # one poll round's worth (4 MiB at most), then the flush the poll loop does
        out.flush()
        if n == 0:
            break
        read += n
    out.close()
    dt, cpu = time.time() - t0, time.process_time() - c0
    lost = r.ring_lost()
    lines = agent.state["events"]
    print("%-4s -> %-32s %7d records (%d lost), %7d lines in %6.2f s wall, %6.2f s CPU: %7.0f records/s, "
          "%7.0f accesses/s, %7.0f lines/s per CPU-second" % (
              kind, path, read, lost[0] if lost else 0, lines, dt, cpu, read / cpu, accesses / cpu, lines / cpu))
    sys.stdout.flush()


class Synthetic(object):
    """The records the BPF program would write, packed by Python, read in RingReader.CHUNK runs."""

    def __init__(self):
        self.ring = self
        self.buf = None
        self.pos = 0

    def fill(self, kind, accesses):
        from aertrace_agent import encode as e
        recs = []
        ts = 10 ** 12
        for i in range(accesses * (2 if kind == "pair" else 1)):
            ts += 1500
            if kind == "one":
                t0 = ts - 3000
                recs.append(e.RING_RECORD.pack(e.RECORD.size, 0, ts, 2, 4, 1234, 1234, 0x0100, 0x103, 2,
                                               t0 & 0xffffffff, t0 >> 32, 0, 0, e.EV_RW_DONE, 7, 0,
                                               e.F_RET | e.F_VALUE, 0, 1, b"vfio-user", b""))
            elif i & 1:
                recs.append(e.RING_RECORD.pack(e.RECORD.size, 0, ts, 0, 4, 1234, 1234, 0x0100, 0, 2, 0, 0, 0, 0,
                                               e.EV_RW_ENTER, 7, 0, 0, 0, 1, b"vfio-user", b""))
            else:
                recs.append(e.RING_RECORD.pack(e.RECORD.size, 0, ts, 2, 4, 1234, 1234, 0x0100, 0x103, 2, 0, 0, 0, 0,
                                               e.EV_RW_EXIT, 7, 0, e.F_RET | e.F_VALUE, 0, 1, b"vfio-user", b""))
        self.buf = memoryview(b"".join(recs))
        self.pos = 0
        return len(recs)

    def read(self, on_batch, max_bytes=1 << 22):
        from aertrace_agent.bpfrun import RingReader
        from aertrace_agent.encode import RING_RECORD
        rs = RING_RECORD.size
        done = 0
        while self.pos < len(self.buf) and max_bytes > 0:
            n = min((len(self.buf) - self.pos) // rs, RingReader.CHUNK)
            used = on_batch(self.buf[self.pos:self.pos + n * rs], n)
            self.pos += used * rs
            done += used
            max_bytes -= used * rs
        return done

    def ring_lost(self):
        return None


def synthetic(accesses, runs):
    s = Synthetic()
    print("synthetic records (no kernel); %s, %d accesses per run" % (os.uname().release, accesses))
    for x in runs:
        kind, _, path = x.partition(":")
        produced = s.fill(kind, accesses)
        measure(s, kind, path or "/dev/null", accesses, produced)


def main():
    args = sys.argv[1:]
    accesses = int(args.pop(0)) if args and args[0].isdigit() else 100000
    runs = args or ["pair:/dev/null", "one:/dev/null", "one:/tmp/writer-bench.jsonl"]
    if os.environ.get("WRITER_BENCH_SYNTHETIC"):
        return synthetic(accesses, runs)
    import bcc
    with open(os.path.join(PROBES, "bpf", "common.h")) as f:
        text = f.read() + PROG
    pages = 32768
    t0 = time.time()
    r = Runner(bcc, text, ["RINGBUF_PAGES=%d" % pages], Runner.NO_STATIC_ASSERT)   # 7.2's headers, as the agent
    r.open_ring(pages * mmap.PAGESIZE)
    print("compiled in %.1f s; %s, %d CPUs, %d accesses per run" % (time.time() - t0, os.uname().release,
                                                                    os.cpu_count(), accesses))
    for x in runs:
        kind, _, path = x.partition(":")
        run(r, kind, path or "/dev/null", accesses)
    return 0


if __name__ == "__main__":
    sys.exit(main())
