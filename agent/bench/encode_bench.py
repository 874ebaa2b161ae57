#!/usr/bin/python3
"""How many records per second the agent's user-space side can encode (no bcc, no root).

    /usr/bin/python3 agent/bench/encode_bench.py [N]

Times the reference path (decode() to a dict + json.dumps), the per-record Encoder (perf buffers) and the
batch decoder of the ring buffer on N vfio.rw.exit records (the events that dominate a live stream), in
process CPU time (the build machine is shared, so wall-clock rates move with its load)."""
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
    t = time.process_time()
    for r in recs:
        json.dumps(e.decode(e.Event.from_buffer_copy(r), 0, fn), separators=(",", ":"))
    ref = n / (time.process_time() - t)
    enc = e.Encoder(fn)
    t = time.process_time()
    for r in recs:
        enc.line(r, 0)
    fast = n / (time.process_time() - t)
    print("vfio.rw.exit records: decode+json.dumps %.0f/s, Encoder %.0f/s (x%.1f)" % (ref, fast, fast / ref))
    buf = (ct.c_char * len(recs[0])).from_buffer_copy(recs[0])
    t = time.process_time()
    for _ in range(n):
        ct.string_at(ct.addressof(buf), e.RECORD.size)
    print("ctypes.string_at per record: %.0f/s" % (n / (time.process_time() - t)))
    # the ring-buffer path: the records as the kernel lays them out (8-byte header + record), decoded in
    # batches of 4 MiB as RingReader hands them over (Encoder.ring_lines: one struct.iter_unpack per batch)
    ring = bytearray()
    for r in recs:
        ring += e.RING_RECORD.pack(e.RECORD.size, 0, *e.RECORD.unpack(r))
    mv = memoryview(bytes(ring))
    per = (4 << 20) // e.RING_RECORD.size
    t = time.process_time()
    done = 0
    while done < n:
        k = min(per, n - done)
        lines, used, _ = enc.ring_lines(mv[done * e.RING_RECORD.size:], k)
        "\n".join(lines)
        done += used
    batch = n / (time.process_time() - t)
    print("ring buffer, 4 MiB batches (Encoder.ring_lines + join; agent 0.2): %.0f/s (x%.1f the per-record Encoder)"
          % (batch, batch / fast))
    # what the agent does since 0.3: RingReader hands over at most CHUNK records, Recording.on_batch joins their
    # lines and writes them at once (a 4 MiB batch's 40k lines kept alive until the join ran 0.4x as fast)
    from aertrace_agent.bpfrun import RingReader
    chunk = RingReader.CHUNK
    sink = open(os.devnull, "w", buffering=1 << 16)
    t = time.process_time()
    done = 0
    while done < n:
        k = min(chunk, n - done)
        lines, used, _ = enc.ring_lines(mv[done * e.RING_RECORD.size:], k)
        text = "\n".join(lines)
        sink.write(text + "\n")
        text.count("\n")
        done += used
    chunked = n / (time.process_time() - t)
    print("ring buffer, %d-record chunks (ring_lines + join + write + line count; agent 0.3): %.0f/s (x%.1f the "
          "per-record Encoder)" % (chunk, chunked, chunked / fast))
    # a live window's stream as the kernel writes it: every access a vfio.rw.enter record (at entry, no value)
    # then its vfio.rw.exit (value, ret); both must come through the cached-head path (agent 0.4: the enter did not)
    live = bytearray()
    for i, r in enumerate(recs):
        x = e.Event.from_buffer_copy(r)
        x.type, x.flags, x.val, x.ret = e.EV_RW_ENTER, 0, 0, 0
        live += e.RING_RECORD.pack(e.RECORD.size, 0, *e.RECORD.unpack(bytes(x)))
        live += e.RING_RECORD.pack(e.RECORD.size, 0, *e.RECORD.unpack(r))
    lv = memoryview(bytes(live))
    t = time.process_time()
    done = 0
    while done < 2 * n:
        k = min(chunk, 2 * n - done)
        lines, used, _ = enc.ring_lines(lv[done * e.RING_RECORD.size:], k)
        text = "\n".join(lines)
        sink.write(text + "\n")
        text.count("\n")
        done += used
    print("live window (enter + exit records per access), %d-record chunks: %.0f records/s" % (
        chunk, 2 * n / (time.process_time() - t)))
    # the floor of both paths: formatting one config read's line from a cached head (what ring_lines does per record)
    head = ',"pid":900,"tid":911,"comm":"vfio-user","dev":"0000:01:00.0","region":"config","offset":4,"size":2,"write":false'
    fmt = '{"type":"vfio.rw.exit","ts":%d,"cpu":%d%s,"value":%d,"ret":%d}'
    t = time.process_time()
    for i in range(n):
        fmt % (1000000000123456789 + i, 1, head, 259, 2)
    print("formatting one line alone: %.0f ns per record" % ((time.process_time() - t) / n * 1e9))


if __name__ == "__main__":
    main()
