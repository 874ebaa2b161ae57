"""bpfrun.RingReader on a stand-in for a BPF ring buffer map: a memfd laid out as the kernel maps one (consumer
page, producer page, data). MOCK: a real ring buffer map needs root and bcc; the kernel's double mapping of the
data area is not reproduced, so the records here do not wrap. The lab traces show the real one."""
import mmap
import os
import struct
import unittest

from aertrace_agent import encode as e
from aertrace_agent.bpfrun import RingReader
from aertrace_agent.source import reset_fn_names
from tests.test_encode import ev
from tests.util import PROBES

PAGE = mmap.PAGESIZE
SIZE = 4 * PAGE


def ring_with(records, busy_at=None, discard_at=None):
    fd = os.memfd_create("ring")
    os.ftruncate(fd, 2 * PAGE + 2 * SIZE)
    data = bytearray()
    for i, r in enumerate(records):
        n = e.RECORD.size | (e.RING_BUSY if i == busy_at else 0) | (e.RING_DISCARD if i == discard_at else 0)
        data += struct.pack("<II", n, 0) + bytes(r) + bytes(e.RING_RECORD.size - 8 - e.RECORD.size)
    os.pwrite(fd, struct.pack("<Q", len(data)), PAGE)          # producer position
    os.pwrite(fd, bytes(data), 2 * PAGE)                         # data area
    return fd


class RingReaderTest(unittest.TestCase):
    def setUp(self):
        self.enc = e.Encoder(reset_fn_names(PROBES))
        self.lines = []

    def on_batch(self, view, n):
        lines, used, _ = self.enc.ring_lines(view, n)
        self.lines.extend(lines)
        return used

    def test_reads_everything_over_bounded_calls_and_stops_at_an_uncommitted_record(self):
        recs = [ev(e.EV_RW_EXIT, fn=7, arg=4, size=2, ret=2, val=i, flags=e.F_RET | e.F_VALUE) for i in range(100)]
        fd = ring_with(recs, busy_at=90, discard_at=3)
        try:
            r = RingReader(fd, SIZE)
            calls = 0
            while r.read(self.on_batch, max_bytes=10 * e.RING_RECORD.size):   # as the agent drains at stop
                calls += 1
            self.assertGreater(calls, 5)
            # 0..89 read except the discarded one; the busy record 90 and what follows wait
            self.assertEqual(len(self.lines), 89)
            self.assertEqual(struct.unpack("<Q", os.pread(fd, 8, 0))[0], 90 * e.RING_RECORD.size)
            # the kernel commits record 90: the next read goes on from there
            os.pwrite(fd, struct.pack("<I", e.RECORD.size), 2 * PAGE + 90 * e.RING_RECORD.size)
            while r.read(self.on_batch):
                pass
            self.assertEqual(len(self.lines), 99)
            self.assertEqual(struct.unpack("<Q", os.pread(fd, 8, 0))[0], 100 * e.RING_RECORD.size)
        finally:
            os.close(fd)


class SnapshotInRingTest(unittest.TestCase):
    """A history snapshot record (common.h hist_snapshot: another size than struct event) between events: the reader
    hands it to on_other in stream order, and the events around it are decoded as before."""

    def test_snapshot_record_goes_to_on_other_in_order(self):
        enc = e.Encoder(reset_fn_names(PROBES))
        hist_n = 4
        ent = e.HIST.pack(7, 100, 110, 4, 2, 1, 1, 0x0406, 2, 7, e.F_RET | e.F_VALUE, 0, b"u")
        snap = e.HSNAP.pack(500, 7, e.HIST_SNAP_MAGIC, 0, 1, 0, 0, 4, 2) + ent + bytes(3 * e.HIST.size)
        self.assertEqual(len(snap), e.snap_size(hist_n))
        before = [ev(e.EV_RW_EXIT, ts=10 + i, fn=7, arg=4, size=2, ret=2, val=i, flags=e.F_RET | e.F_VALUE)
                  for i in range(3)]
        trig = ev(e.EV_AER, dev=0x10, sev=1, ts=500, flags=e.F_TRIGGER | e.F_SNAP)
        data = bytearray()
        for r in before:
            data += struct.pack("<II", e.RECORD.size, 0) + bytes(r) + bytes(e.RING_RECORD.size - 8 - e.RECORD.size)
        data += struct.pack("<II", len(snap), 0) + snap + bytes((8 - len(snap) % 8) % 8)
        data += struct.pack("<II", e.RECORD.size, 0) + bytes(trig) + bytes(e.RING_RECORD.size - 8 - e.RECORD.size)
        fd = os.memfd_create("ring")
        os.ftruncate(fd, 2 * PAGE + 2 * SIZE)
        os.pwrite(fd, struct.pack("<Q", len(data)), PAGE)
        os.pwrite(fd, bytes(data), 2 * PAGE)
        seen = []

        def on_batch(view, n):
            lines, used, tr = enc.ring_lines(view, n)
            seen.extend(("line", x) for x in lines)
            seen.extend(("trig", t[1], t[4]) for t in tr)
            return used
        try:
            r = RingReader(fd, SIZE)
            r.on_other = lambda buf: seen.append(("snap", e.parse_snap(buf, hist_n)))
            while r.read(on_batch):
                pass
            self.assertEqual([x[0] for x in seen], ["line"] * 3 + ["snap", "line", "trig"])
            ts, cpu, slot, head, bank, part, parts, entries = seen[3][1]
            self.assertEqual((ts, cpu, slot, head, bank, part, parts), (500, 1, 0, 7, 0, 0, 2))
            self.assertEqual([e.HIST.pack(*x) for x in entries], [ent] + [bytes(e.HIST.size)] * 3)
            self.assertEqual(seen[-1], ("trig", 500, e.F_TRIGGER | e.F_SNAP))
            self.assertEqual(struct.unpack("<Q", os.pread(fd, 8, 0))[0], len(data))   # all consumed
        finally:
            os.close(fd)

    def test_parse_snap_refuses_what_is_not_one(self):
        with self.assertRaises(e.DecodeError):
            e.parse_snap(bytes(e.snap_size(4)), 4)                          # no magic
        with self.assertRaises(e.DecodeError):
            e.parse_snap(bytes(10), 4)                                      # short


class CountingStream(object):
    def __init__(self):
        self.parts = []

    def write(self, text):
        self.parts.append(text)

    def flush(self):
        pass


class OnBatchTest(unittest.TestCase):
    """Recording.on_batch, the agent's ring-buffer path: a chunk without triggers or bad records is one joined
    write; any other chunk goes line by line. Both must write the same lines and count the same events."""

    def recording(self):
        import types
        from aertrace_agent import main
        from aertrace_agent.output import Output
        self.stream = CountingStream()
        agent = types.SimpleNamespace(runner=None, out=Output(self.stream), args=types.SimpleNamespace(history=0, tail_ms=2500),
                                      state={"events": 0, "lost": 0, "undecodable": 0, "stop": None},
                                      fn_names=reset_fn_names(PROBES), devinfo={})
        return main.Recording(agent), agent

    def batch(self, recs):
        ring = bytearray()
        for r in recs:
            ring += e.RING_RECORD.pack(e.RECORD.size, 0, *e.RECORD.unpack(bytes(r)))
        return memoryview(bytes(ring))

    def test_joined_write_and_line_by_line_write_the_same(self):
        enc = e.Encoder(reset_fn_names(PROBES))
        reads = [ev(e.EV_RW_EXIT, ts=1000 + i, fn=7, arg=4, size=2, ret=2, val=i, flags=e.F_RET | e.F_VALUE)
                 for i in range(20)]
        done = ev(e.EV_RW_DONE, ts=2000, fn=7, arg=6, size=2, ret=2, val=0x10, tlp=[1990, 0, 0, 0],
                  flags=e.F_RET | e.F_VALUE)
        want = "\n".join(enc.line(bytes(r)) for r in reads + [done]) + "\n"
        rec, agent = self.recording()
        self.assertEqual(rec.on_batch(self.batch(reads + [done]), 21), 21)
        self.assertEqual(self.stream.parts, [want])                 # one write for the chunk
        self.assertEqual(agent.state["events"], 21)                 # the whole access is one line (schema 3)
        self.assertEqual(agent.out.lines, 21)
        # an undecodable record in the chunk: line by line, the others written all the same, it counted
        rec, agent = self.recording()
        self.assertEqual(rec.on_batch(self.batch(reads + [ev(99)] + [done]), 22), 22)
        self.assertEqual("".join(self.stream.parts), want)
        self.assertEqual(agent.state["events"], 21)
        self.assertEqual(agent.state["undecodable"], 1)

    def test_reader_hands_over_chunks(self):
        recs = [ev(e.EV_RW_EXIT, fn=7, arg=4, size=2, ret=2, val=i, flags=e.F_RET | e.F_VALUE) for i in range(100)]
        fd = ring_with(recs)
        sizes = []

        def on_batch(view, n):
            sizes.append(n)
            return n
        try:
            r = RingReader(fd, SIZE)
            r.CHUNK = 16
            self.assertEqual(r.read(on_batch), 100)
            self.assertEqual(sizes, [16] * 6 + [4])
        finally:
            os.close(fd)


if __name__ == "__main__":
    unittest.main()

    def test_unread_counts_and_bounds_what_was_not_read(self):
        # the agent's stop: what is still in the ring becomes a lost line with the records' own time bounds
        recs = [ev(e.EV_RW_EXIT, ts=1000 + i, fn=7, arg=4, size=2, ret=2, val=i, flags=e.F_RET | e.F_VALUE)
                for i in range(50)]
        fd = ring_with(recs, busy_at=45, discard_at=30)
        try:
            r = RingReader(fd, SIZE)
            self.assertEqual(r.unread(), (49, 1000, 1049))   # the discarded one is no record, the busy one has no ts
            r.read(self.on_batch, max_bytes=20 * e.RING_RECORD.size)
            self.assertEqual(r.unread(), (29, 1020, 1049))
            while r.read(self.on_batch):
                pass
            self.assertEqual(r.unread(), (5, 1046, 1049))      # stopped at the uncommitted record 45
        finally:
            os.close(fd)


class DrainAtStopTest(unittest.TestCase):
    """Agent.drain_at_stop: after SIGINT everything recorded before the stop is written (a second signal ends it);
    after SIGTERM the drain is bounded by DRAIN_S (a service manager's stop timeout), --drain-s bounds both."""

    def drain(self, stop, drain_s=None, force_after=None):
        import types
        from aertrace_agent import main
        recs = [ev(e.EV_RW_EXIT, fn=7, arg=4, size=2, ret=2, val=i, flags=e.F_RET | e.F_VALUE) for i in range(100)]
        fd = ring_with(recs)
        self.addCleanup(os.close, fd)
        ring = RingReader(fd, SIZE)
        enc = e.Encoder(reset_fn_names(PROBES))
        state = {"stop": stop}
        lines = []
        calls = [0]

        class Runner(object):
            def __init__(self):
                self.ring = ring

            def drain(self, on_batch):
                calls[0] += 1
                if force_after is not None and calls[0] > force_after:
                    state["force"] = True   # the second Ctrl-C, arriving while a batch is written
                return self.ring.read(on_batch, 10 * e.RING_RECORD.size) > 0

        def on_batch(view, n):
            got, used, _ = enc.ring_lines(view, n)
            lines.extend(got)
            return used
        agent = types.SimpleNamespace(runner=Runner(), state=state, args=types.SimpleNamespace(drain_s=drain_s),
                                      out=CountingStream())
        agent.drain_bound = lambda: main.Agent.drain_bound(agent)
        main.Agent.drain_at_stop(agent, types.SimpleNamespace(on_batch=on_batch))
        return len(lines), ring.unread()[0]

    def test_sigint_writes_everything_recorded_before_the_stop(self):
        self.assertEqual(self.drain("SIGINT"), (100, 0))

    def test_a_second_signal_stops_the_drain(self):
        written, unread = self.drain("SIGINT", force_after=3)
        self.assertEqual((written, unread), (40, 60))   # the batch being read when it came is written, no more

    def test_drain_s_bounds_it(self):
        self.assertEqual(self.drain("SIGINT", drain_s=0), (0, 100))
        self.assertEqual(self.drain("SIGTERM", drain_s=0), (0, 100))

    def test_sigterm_is_bounded_by_default(self):
        from aertrace_agent import main
        import types
        agent = types.SimpleNamespace(state={"stop": "SIGTERM"}, args=types.SimpleNamespace(drain_s=None))
        self.assertEqual(main.Agent.drain_bound(agent), main.DRAIN_S)
        agent.state["stop"] = "SIGINT"
        self.assertIsNone(main.Agent.drain_bound(agent))
        agent.state["stop"] = "duration"
        self.assertEqual(main.Agent.drain_bound(agent), main.DRAIN_S)
