#!/usr/bin/python3
"""How many records per second the agent's user-space side can encode (no bcc, no root).

    /usr/bin/python3 agent/bench/encode_bench.py [N]

Times the reference path (decode() to a dict + json.dumps) and the Encoder used by the agent on N
vfio.rw.exit records (the events that dominate a trace) plus N mixed records."""
import ctypes as ct
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from aertrace_agent import encode as e  # noqa: E402
from aertrace_agent.source import reset_fn_names  # noqa: E402

PROBES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "probes")


def rw_record(i):
    x = e.Event()
    x.ts, x.pid, x.tid, x.type, x.dev, x.comm = 10 ** 9 + i, 900, 911, e.EV_RW_EXIT, 0x100, b"vfio-user"
    x.fn, x.arg, x.size, x.ret, x.val, x.flags = 7, 4, 2, 2, 0x103, e.F_RET | e.F_VALUE
    return bytes(x)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200000
    fn = reset_fn_names(PROBES)
    recs = [rw_record(i) for i in range(n)]
    t = time.perf_counter()
    for r in recs:
        json.dumps(e.decode(e.Event.from_buffer_copy(r), 0, fn), separators=(",", ":"))
    ref = n / (time.perf_counter() - t)
    enc = e.Encoder(fn)
    t = time.perf_counter()
    for r in recs:
        enc.line(r, 0)
    fast = n / (time.perf_counter() - t)
    print("vfio.rw.exit records: decode+json.dumps %.0f/s, Encoder %.0f/s (x%.1f)" % (ref, fast, fast / ref))
    buf = (ct.c_char * len(recs[0])).from_buffer_copy(recs[0])
    t = time.perf_counter()
    for _ in range(n):
        ct.string_at(ct.addressof(buf), e.RECORD.size)
    print("ctypes.string_at per record: %.0f/s" % (n / (time.perf_counter() - t)))


if __name__ == "__main__":
    main()
