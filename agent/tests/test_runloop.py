"""The agent's run loop (main.run) end to end with a stand-in for bcc.

MOCK: kprobes, BPF and bcc cannot run on a test machine without root and kernel headers (and not at
all on this project's CI host), so FakeBPF below plays bcc's part: it accepts the compile and the
attachments and delivers records and losses through the agent's real perf-buffer callbacks. Everything
else is the real agent: catalog resolution on this machine's /proc/kallsyms, topology, the filter,
the encoder, lost-line aggregation, signal handling, header and footer. The same loop on real
kernels is shown by the lab traces (test_lab_traces.py)."""
import ctypes as ct
import io
import json
import os
import signal
import sys
import tempfile
import types
import unittest
from unittest import mock

from aertrace_agent import encode as e
from aertrace_agent import main
from tests.test_encode import ev
from tests.test_schema import validator


class FakeTable(object):
    class Key(ct.c_uint32):
        pass

    @staticmethod
    def Leaf(*a):
        return ct.c_uint64(a[0]) if len(a) == 1 else a

    def __init__(self, owner, name):
        self.owner, self.name, self.items = owner, name, {}

    def __setitem__(self, k, v):
        self.items[k.value] = getattr(v, "value", v)

    def __getitem__(self, k):
        k = k.value
        if self.name == "hist_head":
            return types.SimpleNamespace(value=self.owner.hist_head.get(k, 0))
        if self.name == "history":
            return self.owner.history.get(k, bytes(e.HIST.size))
        if self.name == "regs":
            return types.SimpleNamespace(cmd_changes=1, status_changes=0)
        if k in self.items:
            return types.SimpleNamespace(value=self.items[k])
        return types.SimpleNamespace(value=self.owner.counts.get((self.name, k), 0))

    def _open_perf_buffer(self, cpu, raw, page_cnt, lost, wakeup):
        self.owner.readers[cpu] = (raw, lost)


class FakeBPF(object):
    last = None

    def __init__(self, text, cflags):
        self.text, self.cflags = text, cflags
        self.attached, self.tables, self.readers = [], {}, {}
        self.polls, self.skipped, self.keep = 0, 7, []
        self.tracepoint_fds = {}
        self.hist_head, self.history, self.counts = {}, {}, {("rw_count", 7): 12}
        FakeBPF.last = self

    def __getitem__(self, name):
        return self.tables.setdefault(name, FakeTable(self, name))

    def attach_kprobe(self, event, fn_name):
        if event == "pci_cfg_access_unlock":
            raise Exception("cannot attach kprobe, probe entry may not exist")
        self.attached.append(("kprobe", event, fn_name))

    def attach_kretprobe(self, event, fn_name):
        self.attached.append(("kretprobe", event, fn_name))

    def attach_tracepoint(self, tp, fn_name):
        self.attached.append(("tracepoint", tp, fn_name))

    def detach_kprobe(self, event):
        pass

    def detach_kretprobe(self, event):
        pass

    def deliver(self, cpu, rec):
        buf = ct.create_string_buffer(bytes(rec), e.RECORD.size)
        self.keep.append(buf)
        self.readers[cpu][0](cpu, ct.addressof(buf), e.RECORD.size)

    def deliver_raw(self, cpu, data):
        # a perf sample's size is the record's rounded up (u32 size + data to 8 bytes)
        buf = ct.create_string_buffer(bytes(data), ((len(data) + 4 + 7) & ~7) - 4)
        self.keep.append(buf)
        self.readers[cpu][0](cpu, ct.addressof(buf), len(buf))

    def perf_buffer_poll(self, timeout=-1):
        self.polls += 1
        if self.polls == 1:
            self.deliver(0, ev(e.EV_RW_ENTER, fn=7, arg=4, size=2))
            self.deliver(0, ev(e.EV_RW_EXIT, fn=7, arg=4, size=2, ret=2, val=0, flags=e.F_RET | e.F_VALUE))
            self.deliver(1, ev(e.EV_CFG_LOCK, dev=0x10, fn=1))
            self.deliver(1, ev(99))                       # not encodable: counted, not fatal
            self.readers[1][1](5)
            self.readers[1][1](4)
            self.readers[0][1](3)
        elif self.polls == 3:
            os.kill(os.getpid(), signal.SIGTERM)

    def perf_buffer_consume(self):
        pass

    def cleanup(self):
        pass


class RunLoopTest(unittest.TestCase):
    def setUp(self):
        self.saved = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))

    def tearDown(self):
        signal.signal(signal.SIGINT, self.saved[0])
        signal.signal(signal.SIGTERM, self.saved[1])

    def run_agent(self, argv, bpf=None):
        fake = types.ModuleType("bcc")
        fake.BPF = bpf or FakeBPF
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "t.jsonl")
            with mock.patch.dict(sys.modules, {"bcc": fake}), \
                    mock.patch("os.geteuid", return_value=0), \
                    mock.patch.object(main, "check_kernel", lambda tracefs: None), \
                    mock.patch("os.cpu_count", return_value=2), \
                    mock.patch.object(main.os, "_exit", side_effect=SystemExit(0)), \
                    mock.patch.object(main.catalog_mod.SymbolIndex, "has", lambda self, name: True), \
                    mock.patch.object(main.catalog_mod.SymbolIndex, "modules", lambda self, name: [""]):
                err = io.StringIO()
                with self.assertRaises(SystemExit), mock.patch("sys.stderr", err):
                    main.run(argv + ["-o", out])
                self.stderr = err.getvalue()
            with open(out) as f:
                return [json.loads(l) for l in f]

    def test_header_events_lost_footer(self):
        lines = self.run_agent(["--history", "0"])
        v = validator()
        for d in lines:
            self.assertEqual([], [x.message for x in v.iter_errors(d)], d)
        header, footer = lines[0], lines[-1]
        self.assertEqual(header["type"], "header")
        self.assertEqual(header["schema_version"], 2)
        self.assertEqual(header["buffer"], "perf")    # the stand-in has no ring buffer
        self.assertNotIn("recorder", header)
        # the attach failure becomes a missing entry with its reason, not an error
        miss = dict((m["event"], m["reason"]) for m in header["probes"]["missing"])
        self.assertIn("attach failed", miss["cfg_lock.unlock"])
        body = lines[1:-1]
        self.assertEqual([d["type"] for d in body if d["type"] != "lost"], ["vfio.rw.enter", "vfio.rw.exit", "cfg_lock"])
        lost = dict((d["cpu"], d) for d in body if d["type"] == "lost")
        self.assertEqual(dict((c, d["count"]) for c, d in lost.items()), {0: 3, 1: 9})   # one line per CPU per round
        # bounds: after the last record delivered on that CPU, before the line was written
        self.assertEqual(lost[0]["since"], 1000)
        self.assertEqual(lost[1]["since"], 1000)
        self.assertGreaterEqual(lost[0]["until"], lost[0]["since"])
        self.assertEqual(footer["type"], "footer")
        self.assertEqual(footer["reason"], "SIGTERM")
        self.assertEqual(footer["lost"], 12)
        self.assertEqual(footer["events"], len(body))
        self.assertEqual(footer["undecodable"], 1)
        self.assertNotIn("-DHIST_N", " ".join(FakeBPF.last.cflags))
        self.assertNotIn("filter_on", FakeBPF.last.tables)   # no --device: no filter
        self.assertIn("aertrace-agent: ready", self.stderr)
        self.assertIn("stopped (SIGTERM): 5 events, 12 lost", self.stderr)

    def test_flight_recorder_dumps_history_before_the_trigger(self):
        topo = [{"dev": "0000:00:02.0", "parent": None, "bridge": True, "driver": "pcieport"},
                {"dev": "0000:01:00.0", "parent": "0000:00:02.0", "bridge": False, "driver": "vfio-pci"}]

        class Recording(FakeBPF):
            def perf_buffer_poll(self, timeout=-1):
                self.polls += 1
                if self.polls == 1:
                    # three accesses kept in slot 0 of a 2-entry history: the oldest was overwritten
                    self.hist_head[0] = 3
                    self.history[0] = e.HIST.pack(3, 300, 310, 4, 2, 7, 7, 0x0000, 2, 7, e.F_RET | e.F_VALUE, 1, b"u")
                    self.history[1] = e.HIST.pack(2, 200, 210, 4, 2, 7, 7, 0x0406, 2, 7, e.F_RET | e.F_VALUE, 1, b"u")
                    self.deliver(0, ev(e.EV_AER, dev=0x10, sev=1, flags=e.F_TRIGGER, ts=400))
                    self.deliver(0, ev(e.EV_RW_DONE, fn=7, arg=4, size=2, ret=2, val=0xffff, ts=500,
                                       tlp=[450, 0, 0, 0], flags=e.F_RET | e.F_VALUE | e.F_TRIGGER))
                    self.deliver(0, ev(e.EV_CFG_LOCK, dev=0x10, fn=1, ts=600, flags=e.F_TRIGGER))
                elif self.polls == 2:
                    os.kill(os.getpid(), signal.SIGTERM)
        with mock.patch.object(main.topo_mod, "scan", lambda root: topo):
            lines = self.run_agent(["--device", "01:00.0", "--history", "2", "--tail-ms", "1000"], bpf=Recording)
        v = validator()
        for d in lines:
            self.assertEqual([], [x.message for x in v.iter_errors(d)], d)
        self.assertEqual(lines[0]["recorder"], {"history": 2, "tail_ms": 1000, "devices": ["0000:01:00.0"]})
        self.assertIn("-DHIST_N=2", Recording.last.cflags)
        self.assertIn("-DHIST_SLOTS=1", Recording.last.cflags)
        # the endpoint has slot 0; it and its root port share hierarchy 0
        self.assertEqual(Recording.last.tables["devinfo"].items, {0x0100: (0, 0), 0x0010: (0xffffffff, 0)})
        body = [(d["type"], d["ts"], d.get("history", False)) for d in lines[1:-1]]
        self.assertEqual(body, [("history", 400, False),
                                ("vfio.rw", 200, True),   # one line per access (schema 3)
                                ("vfio.rw", 300, True),
                                ("aer.event", 400, False),
                                ("vfio.rw", 450, False),  # a whole access, at its return
                                ("cfg_lock", 600, False)])                                    # already live
        hist = lines[1]
        self.assertEqual((hist["dev"], hist["records"], hist["dropped"], hist["since"]), ("0000:01:00.0", 2, 1, 200))
        self.assertEqual((lines[2]["value"], lines[2]["exit_ts"], lines[5]["exit_ts"]), (0x0406, 210, 500))
        self.assertEqual(lines[0]["schema_version"], 3)
        footer = lines[-1]
        self.assertEqual(footer["events"], len(lines) - 2)
        self.assertEqual(footer["recorder"]["0000:01:00.0"], {"accesses": {"config": 12}, "command_changes": 1,
                                                              "status_changes": 0, "history_written": 2,
                                                              "history_dropped": 1})

    def test_history_dump_keeps_what_came_after_the_trigger_for_later(self):
        # The agent reaches the trigger (ts 400) late: the kernel has recorded again after the live window
        # (seq 4 at 2 s). The dump writes what returned before the trigger; seq 4 waits for the next trigger (3 s).
        topo = [{"dev": "0000:00:02.0", "parent": None, "bridge": True, "driver": "pcieport"},
                {"dev": "0000:01:00.0", "parent": "0000:00:02.0", "bridge": False, "driver": "vfio-pci"}]

        class Late(FakeBPF):
            def perf_buffer_poll(self, timeout=-1):
                self.polls += 1
                if self.polls == 1:
                    self.hist_head[0] = 4   # 4-entry history, seq 1 overwritten by nothing: all four kept
                    self.history[0] = e.HIST.pack(4, 2 * 10**9, 2 * 10**9 + 10, 4, 2, 7, 7, 0x0407, 2, 7, e.F_RET | e.F_VALUE, 1, b"u")
                    self.history[1] = e.HIST.pack(1, 100, 110, 4, 2, 7, 7, 0x0406, 2, 7, e.F_RET | e.F_VALUE, 1, b"u")
                    self.history[2] = e.HIST.pack(2, 200, 210, 4, 2, 7, 7, 0x0406, 2, 7, e.F_RET | e.F_VALUE, 1, b"u")
                    self.history[3] = e.HIST.pack(3, 300, 310, 4, 2, 7, 7, 0x0406, 2, 7, e.F_RET | e.F_VALUE, 1, b"u")
                    self.deliver(0, ev(e.EV_AER, dev=0x10, sev=1, flags=e.F_TRIGGER, ts=400))
                    self.deliver(0, ev(e.EV_CFG_LOCK, dev=0x10, fn=1, ts=3 * 10**9, flags=e.F_TRIGGER))   # past the tail
                elif self.polls == 2:
                    os.kill(os.getpid(), signal.SIGTERM)
        with mock.patch.object(main.topo_mod, "scan", lambda root: topo):
            lines = self.run_agent(["--device", "01:00.0", "--history", "4", "--tail-ms", "1000"], bpf=Late)
        body = [(d["type"], d["ts"], d.get("history", False)) for d in lines[1:-1]]
        self.assertEqual(body, [("history", 400, False),
                                ("vfio.rw", 100, True), ("vfio.rw", 200, True), ("vfio.rw", 300, True),
                                ("aer.event", 400, False),
                                ("history", 3 * 10**9, False),
                                ("vfio.rw", 2 * 10**9, True),
                                ("cfg_lock", 3 * 10**9, False)])
        self.assertEqual([(d["records"], d["dropped"], d["since"]) for d in lines if d["type"] == "history"],
                         [(3, 0, 100), (1, 0, 2 * 10**9)])
        self.assertEqual(lines[-1]["recorder"]["0000:01:00.0"]["history_written"], 4)
        self.assertEqual(lines[-1]["recorder"]["0000:01:00.0"]["history_dropped"], 0)
        # each dump let the kernel write hierarchy 0's history again (common.h hist_frozen)
        self.assertEqual(Late.last.tables["hist_frozen"].items, {0: 0})

    def test_history_comes_from_the_kernels_snapshot_however_late_the_agent_is(self):
        # The 7.2 failure: the agent seconds behind, several errors queued in the stream. Each trigger's program
        # wrote its hierarchy's history into the stream just before it (F_SNAP): every error gets its own baseline
        # from those copies, whatever the map holds when the agent gets there (here: a later state). A trigger
        # without F_SNAP (the kernel could not copy: ring full, too many slots) is read from the map, as before.
        topo = [{"dev": "0000:00:02.0", "parent": None, "bridge": True, "driver": "pcieport"},
                {"dev": "0000:01:00.0", "parent": "0000:00:02.0", "bridge": False, "driver": "vfio-pci"}]
        S = 10 ** 9

        def entry(seq, ts0, val=0x0406, ts1=None):
            return e.HIST.pack(seq, ts0, ts1 or ts0 + 10, 4, 2, 7, 7, val, 2, 7, e.F_RET | e.F_VALUE, 0, b"u")

        def chunk(ts, head, bank, entries):
            body = b"".join(entries) + bytes(e.HIST.size * (4 - len(entries)))
            return e.HSNAP.pack(ts, head, e.HIST_SNAP_MAGIC, 0, 0, bank, 0, 4, 2) + body

        class Late(FakeBPF):
            def perf_buffer_poll(self, timeout=-1):
                self.polls += 1
                if self.polls == 1:
                    # what the map holds when the agent finally reads: only the last trigger's state
                    self.hist_head[0] = 12
                    self.history[0] = entry(12, 8 * S)
                    self.history[1] = entry(11, 6 * S, ts1=6 * S + 5)
                    # error 1 at 400: seqs 1-3 before it
                    self.deliver_raw(0, chunk(400, 3, 0, [entry(1, 100), entry(2, 200), entry(3, 300)]))
                    self.deliver_raw(0, chunk(400, 3, 1, []))
                    self.deliver(0, ev(e.EV_AER, dev=0x10, sev=1, flags=e.F_TRIGGER | e.F_SNAP, ts=400))
                    # error 2 at 3 s: seqs 5-8 kept, 4 overwritten, 9 taken but not written yet: 2 dropped
                    self.deliver_raw(0, chunk(3 * S, 9, 0, [entry(5, 2 * S), entry(6, 2 * S + 100),
                                                             entry(7, 2 * S + 200), entry(8, 2 * S + 300, val=0)]))
                    self.deliver_raw(0, chunk(3 * S, 9, 1, []))
                    self.deliver(0, ev(e.EV_CFG_LOCK, dev=0x10, fn=1, ts=3 * S, flags=e.F_TRIGGER | e.F_SNAP))
                    # error 3 at 6 s: seq 10 before it, seq 11 returned after it (left for later)
                    self.deliver_raw(0, chunk(6 * S, 11, 0, [entry(10, 5 * S), entry(11, 6 * S, ts1=6 * S + 5)]))
                    self.deliver_raw(0, chunk(6 * S, 11, 1, []))
                    self.deliver(0, ev(e.EV_AER, dev=0x10, sev=1, flags=e.F_TRIGGER | e.F_SNAP, ts=6 * S))
                    # error 4 at 9 s: the kernel could not copy (no F_SNAP): from the map, then released
                    self.deliver(0, ev(e.EV_AER, dev=0x10, sev=1, flags=e.F_TRIGGER, ts=9 * S))
                elif self.polls == 2:
                    os.kill(os.getpid(), signal.SIGTERM)
        with mock.patch.object(main.topo_mod, "scan", lambda root: topo):
            lines = self.run_agent(["--device", "01:00.0", "--history", "4", "--tail-ms", "1000"], bpf=Late)
        v = validator()
        for d in lines:
            self.assertEqual([], [x.message for x in v.iter_errors(d)], d)
        self.assertIn("-DHIST_SNAP", Late.last.cflags)
        self.assertEqual(Late.last.tables["hier_slots"].items[0][0], 1)   # hierarchy 0: one slot, copied
        hist = [(d["ts"], d["records"], d["dropped"], d["since"]) for d in lines if d["type"] == "history"]
        self.assertEqual(hist, [(400, 3, 0, 100), (3 * S, 4, 2, 2 * S), (6 * S, 1, 0, 5 * S), (9 * S, 2, 0, 6 * S)])
        body = [(d["type"], d["ts"]) for d in lines[1:-1] if not d.get("history")]
        self.assertEqual([t for t, _ in body], ["history", "aer.event", "history", "cfg_lock", "history", "aer.event",
                                                "history", "aer.event"])
        h2 = [d for d in lines if d.get("history") and 2 * S <= d["ts"] < 3 * S]
        self.assertEqual([d["value"] for d in h2 if d["type"] == "vfio.rw"], [0x0406, 0x0406, 0x0406, 0])
        self.assertEqual(lines[-1]["recorder"]["0000:01:00.0"]["history_written"], 10)
        self.assertEqual(lines[-1]["recorder"]["0000:01:00.0"]["history_dropped"], 2)
        # only the trigger read from the map released a frozen bank; the copied ones froze nothing
        self.assertEqual(Late.last.tables["hist_frozen"].items, {0: 0})
        self.assertNotIn("undecodable", lines[-1])
        self.assertIn("history dumps: 3 from the kernel's copies at the trigger, 1 read from the map", self.stderr)

    def test_perf_records_of_one_round_are_written_in_time_order_across_cpus(self):
        # bcc reads one CPU's buffer to the end before the next: on 5.10 (--buffer perf, lab) CPU 1's live window
        # kept it busy and CPU 0's records were written 1.2 s late, past the analyzer's reorder window. The records
        # of a round are now written in ts order, whichever buffer held them.
        class TwoCpus(FakeBPF):
            def perf_buffer_poll(self, timeout=-1):
                self.polls += 1
                if self.polls == 1:
                    self.deliver(1, ev(e.EV_CFG_LOCK, dev=0x10, fn=1, ts=1000, cpu=1))
                    self.deliver(1, ev(e.EV_CFG_LOCK, dev=0x10, fn=2, ts=3000, cpu=1))
                    self.deliver(0, ev(e.EV_RW_ENTER, fn=7, arg=4, size=2, ts=900, cpu=0))
                    self.deliver(0, ev(e.EV_RW_EXIT, fn=7, arg=4, size=2, ret=2, val=0x103, ts=2000, cpu=0,
                                       flags=e.F_RET | e.F_VALUE))
                elif self.polls == 2:
                    os.kill(os.getpid(), signal.SIGTERM)
        lines = self.run_agent(["--history", "0"], bpf=TwoCpus)
        body = [(d["type"], d["ts"], d["cpu"]) for d in lines[1:-1]]
        self.assertEqual(body, [("vfio.rw.enter", 900, 0), ("cfg_lock", 1000, 1), ("vfio.rw.exit", 2000, 0),
                                ("cfg_lock", 3000, 1)])

    def test_stop_during_compile_still_ends_with_footer(self):
        class SignalledDuringCompile(FakeBPF):
            def __init__(self, text, cflags):
                FakeBPF.__init__(self, text, cflags)
                os.kill(os.getpid(), signal.SIGINT)     # e.g. the lab giving up while clang runs
        lines = self.run_agent([], bpf=SignalledDuringCompile)
        self.assertEqual(lines[0]["type"], "header")
        self.assertEqual(lines[-1]["type"], "footer")
        self.assertEqual(lines[-1]["reason"], "SIGINT")

    def test_device_filter_fills_the_map(self):
        topo = [{"dev": "0000:00:02.0", "parent": None, "bridge": True},
                {"dev": "0000:01:00.0", "parent": "0000:00:02.0", "bridge": False}]
        with mock.patch.object(main.topo_mod, "scan", lambda root: topo):
            lines = self.run_agent(["--device", "01:00.0"])
        self.assertEqual(lines[0]["filter"]["devices"], ["0000:00:02.0", "0000:01:00.0"])
        self.assertEqual(FakeBPF.last.tables["allowed"].items, {0x0010: 1, 0x0100: 1})
        self.assertEqual(FakeBPF.last.tables["devinfo"].items, {0x0100: (0, 0), 0x0010: (0xffffffff, 0)})
        self.assertEqual(FakeBPF.last.tables["filter_on"].items, {0: 1})


class CompileFailureTest(unittest.TestCase):
    def test_missing_headers_says_which_package(self):
        class Failing(FakeBPF):
            def __init__(self, text, cflags):
                raise Exception("Failed to compile BPF module <text>")
        fake = types.ModuleType("bcc")
        fake.BPF = Failing
        real_exists = os.path.exists

        def exists(p):
            return False if p.startswith("/lib/modules/") or p == "/sys/kernel/kheaders.tar.xz" else real_exists(p)
        with mock.patch.dict(sys.modules, {"bcc": fake}), mock.patch("os.geteuid", return_value=0), \
                mock.patch.object(main, "check_kernel", lambda tracefs: None), \
                mock.patch.object(main.os.path, "exists", exists), \
                mock.patch.object(main.catalog_mod.SymbolIndex, "has", lambda self, name: True):
            with self.assertRaises(main.EnvError) as cm:
                main.run(["--duration", "1"])
        self.assertIn("apt-get install linux-headers-%s" % os.uname().release, str(cm.exception))


if __name__ == "__main__":
    unittest.main()


class HistoryBanksTest(unittest.TestCase):
    """bpfrun.Runner's side of common.h's two history banks: the dump reads both (the seqs order them), and each
    dump releases the bank the oldest undumped trigger froze. MOCK: the maps are FakeTable dicts."""

    def runner(self, n=2):
        from aertrace_agent.bpfrun import Runner
        r = Runner.__new__(Runner)
        r.b = FakeBPF("", [])
        r.hist_n, r.slots, r.hist_mm = n, 1, None
        return r

    def test_history_reads_both_banks_in_seq_order(self):
        r = self.runner()
        rec = lambda seq, ts: e.HIST.pack(seq, ts, ts + 5, 4, 2, 7, 7, 0x0406, 2, 7, e.F_RET | e.F_VALUE, 1, b"u")
        # bank 0 (entries 0-1) frozen with seqs 3 and 4, bank 1 (entries 2-3) recording since: seqs 9 and 10
        r.b.history.update({0: rec(3, 300), 1: rec(4, 400), 2: rec(9, 900), 3: rec(10, 1000)})
        r.b.hist_head[0] = 10
        got, head = r.history(0, 2)
        self.assertEqual([x[0] for x in got], [3, 4, 9, 10])
        self.assertEqual(head, 10)
        self.assertEqual([x[0] for x in r.history(0, 4)[0]], [9, 10])

    def test_each_dump_releases_the_oldest_frozen_bank(self):
        r = self.runner()
        fr = r.b["hist_frozen"]
        bank = r.b["hist_bank"]
        # trigger A froze bank 0 and moved recording to bank 1; trigger B froze bank 1 and could not move
        fr.items.update({0: 1, 1: 1})
        bank.items[0] = 1
        r.unfreeze(0)                                   # A's dump
        self.assertEqual(fr.items, {0: 0, 1: 1})
        r.unfreeze(0)                                   # B's dump (the kernel has not written since)
        self.assertEqual(fr.items, {0: 0, 1: 0})
        # one trigger: bank 1 frozen, recording moved to bank 0
        fr.items.update({2 * 3 + 1: 1})
        bank.items[3] = 0
        r.unfreeze(3)
        self.assertEqual(fr.items[7], 0)
        r.unfreeze(None)                                # the entry for every hierarchy: both of its banks
        self.assertEqual((fr.items[16], fr.items[17]), (0, 0))
