#!/usr/bin/python3
"""The flight recorder's history snapshot (probes/bpf/common.h hist_snapshot) on the running kernel, natively:

    BCC_KERNEL_SOURCE=DIR /usr/bin/python3 agent/bench/snapshot_check.py [ring|perf] [HIST_N]

Compiles the real common.h (with HIST_SNAP, as the agent does) and one trigger program on this process's getppid()
(a cfg_lock record for a device of hierarchy 1), fills a slot's two history banks from user space with known entries,
triggers, and reads the stream with the agent's own readers (bpfrun.RingReader / perf buffers + encode.parse_snap):
every chunk of both banks must arrive before the trigger's record, the entries as written, the record flagged
F_SNAP. Then again with the hierarchy's slot list cleared (a hierarchy the kernel does not copy): no chunk, no F_SNAP,
the baseline bank frozen. Needs root and bcc; prints what it saw and exits 1 on a mismatch. Not a unit test: the
agent's unit tests cannot load BPF (agent/tests/test_runloop.py's MOCK), the lab runs show it on the lab's kernels."""
import ctypes as ct
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from aertrace_agent import encode as e                       # noqa: E402
from aertrace_agent.bpfrun import Runner                     # noqa: E402

PROBES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "probes")
DEV = 0x0100   # 0000:01:00.0
PROG = r"""
BPF_ARRAY(test_ctl, u32, 1);   /* the pid whose getppid() is a trigger */
TRACEPOINT_PROBE(syscalls, sys_enter_getppid)
{
    u32 zero = 0;
    u32 *pid = test_ctl.lookup(&zero);
    struct event e;

    if (!pid || *pid != (u32)(bpf_get_current_pid_tgid() >> 32))
        return 0;
    ev_init(&e, EV_CFG_LOCK, 0x0100);
    e.fn = 1;
    SUBMIT(args, &e);
    return 0;
}
"""


def main():
    import bcc
    kind = sys.argv[1] if len(sys.argv) > 1 else "ring"
    hist_n = int(sys.argv[2]) if len(sys.argv) > 2 else 512
    with open(os.path.join(PROBES, "bpf", "common.h")) as f:
        text = f.read() + PROG
    defs = ["HIST_N=%d" % hist_n, "HIST_SLOTS=2", "HIER_MAX=8", "TAIL_NS=1000ULL", "HIST_SNAP"]
    if kind == "ring":
        defs.append("RINGBUF_PAGES=1024")
    r = Runner(bcc, text, defs)
    r.set_recorder({"0000:01:00.0": (1, 1), "0000:02:00.0": (0, 2)}, hist_n, 2)
    ctl = r.b["test_ctl"]
    ctl[ctl.Key(0)] = ctl.Leaf(os.getpid())
    hist = r.b["history"]
    # slot 1: bank 0 holds seqs 1..hist_n (entry i = seq i+1), bank 1 later seqs in its first (up to 10) entries
    want = {}
    later = range(hist_n + 100, hist_n + 100 + min(10, hist_n))
    head = later[-1]
    for bank, seqs in ((0, range(1, hist_n + 1)), (1, later)):
        for i, seq in enumerate(seqs):
            raw = e.HIST.pack(seq, seq * 10, seq * 10 + 5, 4, 2, 7, 7, seq & 0xffff, 2, 7, e.F_RET | e.F_VALUE, 1,
                              b"reader")
            hist[hist.Key((1 * 2 + bank) * hist_n + i)] = hist.Leaf.from_buffer_copy(raw)
            want[seq] = raw
    r.b["hist_head"][ct.c_uint32(1)] = ct.c_uint64(head)
    got = {"chunks": [], "events": []}

    def on_other(raw):
        got["chunks"].append(e.parse_snap(raw, hist_n))

    def on_batch(view, n):
        lines, used, trig = e.Encoder({}).ring_lines(view, n)
        for i, ts, dev, cpu, flags in trig:
            got["events"].append((ts, cpu, flags, len(got["chunks"])))
        return used

    def on_event(cpu, raw):
        t = e.RECORD.unpack_from(raw)
        got["events"].append((t[0], cpu, raw[64], len(got["chunks"])))

    if kind == "ring":
        import mmap
        r.open_ring(1024 * mmap.PAGESIZE, on_other)
        read = lambda: r.drain(on_batch)   # noqa: E731
    else:
        r.open_buffer(on_event, lambda cpu, n: sys.exit("perf buffer lost %d" % n), 64,
                      on_other=lambda cpu, raw: on_other(raw), other_size=e.snap_size(hist_n))
        read = lambda: r.poll(100)         # noqa: E731
    ok = True

    def check(what, cond):
        nonlocal ok
        print("%s %s" % ("ok  " if cond else "FAIL", what))
        ok = ok and cond

    os.getppid()
    for _ in range(5):
        read()
    n_parts = 2 * ((hist_n + e.snap_chunk(hist_n) - 1) // e.snap_chunk(hist_n))
    check("one trigger record", len(got["events"]) == 1)
    ts, cpu, flags, before = got["events"][0]
    check("%d chunks (2 banks) before it, of slot 1" % n_parts,
          before == n_parts and len(got["chunks"]) == n_parts and all(c[2] == 1 for c in got["chunks"]))
    check("the trigger flagged F_SNAP | F_TRIGGER", flags & (e.F_SNAP | e.F_TRIGGER) == e.F_SNAP | e.F_TRIGGER)
    check("chunks carry the trigger's ts and cpu, head %d" % head,
          all(c[0] == ts and c[1] == cpu and c[3] == head and c[6] == n_parts for c in got["chunks"]))
    entries = [x for c in got["chunks"] for x in c[7] if x[0]]
    check("every entry written is in the snapshot, byte for byte (%d)" % len(want),
          sorted(e.HIST.pack(*x) for x in entries) == sorted(want.values()))
    frozen = r.b["hist_frozen"]
    check("nothing frozen", all(int(frozen[ct.c_uint32(k)].value) == 0 for k in range(18)))

    # a hierarchy the kernel does not copy (slot list cleared): the old way, frozen for the agent to read
    hs = r.b["hier_slots"]
    hs[hs.Key(1)] = hs.Leaf(0, (ct.c_uint32 * 4)())
    got["chunks"], got["events"] = [], []
    import time
    time.sleep(0.01)   # past TAIL_NS: recording again
    os.getppid()
    for _ in range(5):
        read()
    check("without a slot list: one trigger, no chunk, no F_SNAP, bank 0 frozen",
          len(got["events"]) == 1 and not got["chunks"] and not got["events"][0][2] & e.F_SNAP
          and int(frozen[ct.c_uint32(2)].value) == 1)
    print("%s, HIST_N %d: %s" % (kind, hist_n, "all ok" if ok else "MISMATCH"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
