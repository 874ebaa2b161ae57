import ctypes as ct
import os
import re
import unittest

from aertrace_agent import encode as e
from aertrace_agent.source import reset_fn_names, program_text
from tests.util import PROBES

CTYPES = {"u64": ct.c_uint64, "s64": ct.c_int64, "u32": ct.c_uint32, "u16": ct.c_uint16, "u8": ct.c_uint8,
          "char": ct.c_char}


def c_struct_fields():
    with open(os.path.join(PROBES, "bpf", "common.h")) as f:
        text = f.read()
    body = re.search(r"struct event \{(.*?)\};", text, re.S).group(1)
    fields = []
    for line in body.splitlines():
        line = line.split("/*")[0].strip()
        if not line:
            continue
        m = re.match(r"(\w+)\s+(\w+)(?:\[(\d+)\])?;", line)
        fields.append((m.group(2), m.group(1), int(m.group(3)) if m.group(3) else None))
    return fields


def ev(type_, dev=0x0100, **kw):
    x = e.Event()
    x.ts, x.pid, x.tid, x.type, x.dev, x.comm = 1000, 42, 43, type_, dev, b"vfio-user"
    for k, v in kw.items():
        if k == "tlp":
            for i, w in enumerate(v):
                x.tlp[i] = w
        else:
            setattr(x, k, v)
    return x


FN = reset_fn_names(PROBES)


class StructTest(unittest.TestCase):
    def test_ctypes_mirror_matches_c(self):
        cf = c_struct_fields()
        self.assertEqual([f[0] for f in cf], [f[0] for f in e.Event._fields_])
        for (name, ctype, n), (pname, ptype) in zip(cf, e.Event._fields_):
            want = CTYPES[ctype] * n if n else CTYPES[ctype]
            self.assertEqual(ct.sizeof(want), ct.sizeof(ptype), name)
        self.assertEqual(ct.sizeof(e.Event), 104)

    def test_event_type_numbers_match_c(self):
        with open(os.path.join(PROBES, "bpf", "common.h")) as f:
            defs = dict((n, int(v)) for n, v in re.findall(r"#define (EV_\w+)\s+(\d+)", f.read()))
        self.assertEqual(len(defs), len(e.TYPE_NAMES))
        for name, val in defs.items():
            self.assertEqual(getattr(e, name), val, name)
            self.assertIn(val, e.TYPE_NAMES, "%s has no schema name in encode.TYPE_NAMES" % name)

    def test_constants_have_one_source(self):
        # common.h defines them; encode.py reads them from there and must not define its own (issue 14)
        with open(e.__file__) as f:
            own = re.findall(r"^((?:EV|F)_\w+|NODEV)\s*=", f.read(), re.M)
        self.assertEqual(own, [])
        with open(os.path.join(PROBES, "bpf", "common.h")) as f:
            text = f.read()
        self.assertEqual(e.record_constants(os.path.join(PROBES, "bpf", "common.h")),
                         dict((n, int(v, 0)) for n, v in re.findall(r"#define ((?:EV|F)_\w+|NODEV)\s+(\w+)", text)))

    def test_flags_match_c(self):
        with open(os.path.join(PROBES, "bpf", "common.h")) as f:
            defs = dict((n, int(v, 16)) for n, v in re.findall(r"#define (F_\w+)\s+(0x[0-9a-f]+)", f.read()))
        for name, val in defs.items():
            self.assertEqual(getattr(e, name), val, name)


class FnIdsTest(unittest.TestCase):
    def test_reset_ids(self):
        self.assertEqual(FN[1], "aer_root_reset")
        self.assertEqual(FN[7], "pcie_reset_flr")
        self.assertEqual(FN[18], "pci_reset_bus")
        self.assertEqual(len(set(FN.values())), len(FN))

    def test_exit_uses_the_id_of_its_entry(self):
        with open(os.path.join(PROBES, "bpf", "reset.c")) as f:
            text = f.read()
        self.assertEqual(len(FN), 11)
        for fid, name in FN.items():
            self.assertRegex(text, r"int u?reset_exit__%s\(struct pt_regs \*ctx\) \{ return reset_exit\(ctx, %d, " % (name, fid))


class DecodeTest(unittest.TestCase):
    def test_aer_with_tlp(self):
        d = e.decode(ev(e.EV_AER, sev=1, val=0x10, flags=e.F_TLP, tlp=[1, 2, 3, 0xffffffff]), 1, FN)
        self.assertEqual(d, {"type": "aer.event", "ts": 1000, "cpu": 1, "pid": 42, "tid": 43, "comm": "vfio-user",
                             "dev": "0000:01:00.0", "severity": 1, "status": 0x10, "tlp_valid": True,
                             "tlp": [1, 2, 3, 0xffffffff]})

    def test_aer_without_tlp(self):
        d = e.decode(ev(e.EV_AER, sev=0, val=0x1000), 0, FN)
        self.assertFalse(d["tlp_valid"])
        self.assertNotIn("tlp", d)

    def test_recovery(self):
        self.assertEqual(e.decode(ev(e.EV_REC_ENTER, state=2, flags=e.F_STATE), 0, FN)["state"], 2)
        self.assertNotIn("state", e.decode(ev(e.EV_REC_ENTER), 0, FN))
        self.assertEqual(e.decode(ev(e.EV_REC_EXIT, ret=5, flags=e.F_RET), 0, FN)["ret"], 5)
        self.assertNotIn("ret", e.decode(ev(e.EV_REC_EXIT), 0, FN))

    def test_callbacks(self):
        d = e.decode(ev(e.EV_CB_ENTER, fn=1, state=2, flags=e.F_STATE, driver=b"vfio-pci"), 0, FN)
        self.assertEqual((d["cb"], d["driver"], d["state"]), ("error_detected", "vfio-pci", 2))
        d = e.decode(ev(e.EV_CB_ENTER, fn=4), 0, FN)
        self.assertEqual((d["cb"], d["driver"]), ("resume", ""))
        self.assertNotIn("state", d)
        d = e.decode(ev(e.EV_CB_EXIT, fn=2, val=2, flags=e.F_RESULT), 0, FN)
        self.assertEqual((d["cb"], d["result"]), ("mmio_enabled", 2))
        self.assertNotIn("result", e.decode(ev(e.EV_CB_EXIT, fn=3), 0, FN))

    def test_resets(self):
        d = e.decode(ev(e.EV_RESET_ENTER, dev=0x10, fn=1), 0, FN)
        self.assertEqual((d["type"], d["dev"], d["fn"]), ("reset.enter", "0000:00:02.0", "aer_root_reset"))
        d = e.decode(ev(e.EV_RESET_EXIT, dev=0x10, fn=3, ret=-25, flags=e.F_RET), 0, FN)
        self.assertEqual((d["fn"], d["ret"]), ("pci_bus_error_reset", -25))
        d = e.decode(ev(e.EV_URESET_EXIT, fn=16, ret=0, flags=e.F_RET), 0, FN)
        self.assertEqual((d["type"], d["fn"], d["ret"]), ("user_reset.exit", "pci_try_reset_function", 0))

    def test_vfio_err_and_eventfd(self):
        self.assertEqual(e.decode(ev(e.EV_VERR_ENTER, state=2, flags=e.F_STATE), 0, FN)["state"], 2)
        self.assertEqual(e.decode(ev(e.EV_VERR_EXIT, ret=2, flags=e.F_RET), 0, FN)["ret"], 2)
        d = e.decode(ev(e.EV_EVENTFD, arg=0xffff888004a3c000), 0, FN)
        self.assertEqual(d["ctx"], "0xffff888004a3c000")
        self.assertEqual(d["dev"], "0000:01:00.0")
        self.assertNotIn("dev", e.decode(ev(e.EV_EVENTFD, dev=e.NODEV, arg=1), 0, FN))

    def test_eventfd_read(self):
        # the user's read of the error eventfd: ret, and when it entered (a blocking reader waits for the signal)
        d = e.decode(ev(e.EV_EVENTFD_READ, arg=0xffff888004a3c000, ret=8, flags=e.F_RET, tlp=(0x2345, 0x8f, 0, 0)), 0, FN)
        self.assertEqual((d["type"], d["dev"], d["ctx"], d["ret"], d["entered"]),
                         ("eventfd.read", "0000:01:00.0", "0xffff888004a3c000", 8, 0x8f00002345))

    def test_ioctl(self):
        d = e.decode(ev(e.EV_IOCTL_ENTER, val=0x3b6f), 0, FN)
        self.assertEqual((d["cmd"], d["cmd_name"]), (0x3b6f, "VFIO_DEVICE_RESET"))
        d = e.decode(ev(e.EV_IOCTL_EXIT, val=0x3b6e, ret=-22, flags=e.F_RET), 0, FN)
        self.assertEqual((d["cmd_name"], d["ret"]), ("VFIO_DEVICE_SET_IRQS", -22))
        self.assertEqual(e.decode(ev(e.EV_IOCTL_ENTER, val=0x1234), 0, FN)["cmd_name"], "0x1234")

    def test_rw(self):
        d = e.decode(ev(e.EV_RW_EXIT, fn=7, arg=4, size=2, ret=2, val=0, flags=e.F_RET | e.F_VALUE), 0, FN)
        self.assertEqual((d["region"], d["offset"], d["size"], d["write"], d["ret"], d["value"]),
                         ("config", 4, 2, False, 2, 0))
        d = e.decode(ev(e.EV_RW_EXIT, fn=7, arg=0x104, size=4, ret=4, val=0xffffffff, flags=e.F_RET | e.F_VALUE), 0, FN)
        self.assertEqual(d["value"], 0xffffffff)   # all-ones reads stay visible
        d = e.decode(ev(e.EV_RW_ENTER, fn=7, arg=4, size=2, val=0x0406, flags=e.F_WRITE | e.F_VALUE), 0, FN)
        self.assertEqual((d["write"], d["value"]), (True, 0x0406))
        d = e.decode(ev(e.EV_RW_ENTER, fn=2, arg=0x10, size=4), 0, FN)
        self.assertEqual((d["region"], d["write"]), ("bar2", False))
        self.assertNotIn("value", d)
        self.assertEqual(e.decode(ev(e.EV_RW_ENTER, fn=6), 0, FN)["region"], "rom")
        self.assertEqual(e.decode(ev(e.EV_RW_ENTER, fn=8), 0, FN)["region"], "vga")
        self.assertEqual(e.decode(ev(e.EV_RW_ENTER, fn=11), 0, FN)["region"], "region11")

    def test_cfg_lock(self):
        self.assertEqual(e.decode(ev(e.EV_CFG_LOCK, fn=1), 0, FN)["op"], "lock")
        d = e.decode(ev(e.EV_CFG_LOCK, fn=2, ret=1, flags=e.F_RET), 0, FN)
        self.assertEqual((d["op"], d["ret"]), ("trylock", 1))
        self.assertEqual(e.decode(ev(e.EV_CFG_LOCK, fn=3), 0, FN)["op"], "unlock")

    def test_open_close(self):
        self.assertEqual(e.decode(ev(e.EV_OPEN), 0, FN)["type"], "vfio.open")
        self.assertEqual(e.decode(ev(e.EV_CLOSE), 0, FN)["type"], "vfio.close")

    def test_bad_records(self):
        for bad in (ev(99), ev(e.EV_CB_ENTER, fn=9), ev(e.EV_RESET_ENTER, fn=99), ev(e.EV_CFG_LOCK, fn=0),
                    ev(e.EV_REC_ENTER, dev=e.NODEV)):
            with self.assertRaises(e.DecodeError):
                e.decode(bad, 0, FN)

    def test_comm_truncated_at_nul(self):
        x = ev(e.EV_OPEN)
        x.comm = b"abc"
        self.assertEqual(e.decode(x, 0, FN)["comm"], "abc")


class SourceTest(unittest.TestCase):
    def test_program_text_only_selected_files(self):
        t = program_text(PROBES, ["cfglock.c"])
        self.assertIn("struct event", t)
        self.assertIn("cfg_trylock_exit", t)
        self.assertNotIn("vfio_read_enter", t)

    def test_unknown_file(self):
        with self.assertRaises(ValueError):
            program_text(PROBES, ["nope.c"])


if __name__ == "__main__":
    unittest.main()


class EncoderTest(unittest.TestCase):
    """The fast path must produce exactly what decode() + json.dumps produce."""

    def test_fast_path_agrees_with_decode(self):
        import json
        from tests.test_schema import all_event_records
        enc = e.Encoder(FN)
        recs = all_event_records()
        x = ev(e.EV_RW_EXIT, fn=7, arg=4, size=2, ret=2, val=0x0103, flags=e.F_RET | e.F_VALUE)
        x.comm = b'we"ird\\'   # JSON escaping of comm
        recs.append(x)
        for rec in recs:
            rec.cpu = 3   # the record says which CPU (a ring buffer does not)
            raw = bytes(rec)
            self.assertEqual(json.loads(enc.line(raw)), e.decode(rec, 3, FN))

    def test_ring_batch_agrees_with_record_by_record(self):
        import json
        from tests.test_schema import all_event_records
        enc = e.Encoder(FN)
        # a read's entry before its head is cached and after; an exit without F_RET and a write's entry take the
        # general path: every one must read as the record-by-record encoder writes it
        recs = all_event_records() + [ev(e.EV_RW_ENTER, fn=7, arg=6, size=2)] + \
            [ev(e.EV_RW_EXIT, fn=7, arg=4, size=2, ret=2, val=v, flags=e.F_RET | e.F_VALUE) for v in (0x0406, 0x0406, 0)] + \
            [ev(e.EV_RW_ENTER, fn=7, arg=4, size=2), ev(e.EV_RW_EXIT, fn=7, arg=4, size=2, val=3),
             ev(e.EV_RW_ENTER, fn=7, arg=4, size=2, val=3, flags=e.F_WRITE | e.F_VALUE)]
        # whole config reads (the fast path, before and after their head is cached) and a whole write (general path)
        recs += [ev(e.EV_RW_DONE, fn=7, arg=4, size=2, ret=2, val=v, tlp=[7, 0, 0, 0], flags=e.F_RET | e.F_VALUE)
                 for v in (0x0406, 0x0407)]
        recs.append(ev(e.EV_RW_DONE, fn=7, arg=4, size=2, ret=2, val=3, tlp=[7, 0, 0, 0],
                       flags=e.F_RET | e.F_VALUE | e.F_WRITE))
        recs.append(ev(e.EV_RW_DONE, fn=7, arg=4, size=2, ret=2, val=0xffff, tlp=[5, 1, 0, 0],
                       flags=e.F_RET | e.F_VALUE | e.F_TRIGGER))
        recs.append(ev(99))
        ring = bytearray()
        for i, r in enumerate(recs):
            r.cpu = i % 3
            ring += e.RING_RECORD.pack(e.RECORD.size, 0, *e.RECORD.unpack(bytes(r)))
        busy = bytearray(ring[:e.RING_RECORD.size])
        busy[3] |= 0x80                    # a record the kernel has not committed: the batch ends before it
        lines, used, trig = enc.ring_lines(memoryview(bytes(ring + busy + ring)), 2 * len(recs) + 1)
        self.assertEqual(used, len(recs))
        self.assertIsInstance(lines[-1], e.DecodeError)
        for r, line in zip(recs[:-1], lines):
            want = enc.line(bytes(r))
            self.assertEqual(line, want)
        done = json.loads(lines[-2])   # a whole access, one line: ts = its entry, exit_ts = its return
        self.assertEqual((done["type"], done["ts"], done["exit_ts"], done["value"], done["ret"]),
                         ("vfio.rw", (1 << 32) + 5, 1000, 0xffff, 2))
        self.assertEqual(trig, [(len(recs) - 2, 1000, 0x0100, (len(recs) - 2) % 3, e.F_RET | e.F_VALUE | e.F_TRIGGER)])

    def test_ring_text_is_ring_lines_joined_or_none(self):
        def ring(recs):
            b = bytearray()
            for i, r in enumerate(recs):
                r.cpu = i % 2
                b += e.RING_RECORD.pack(e.RECORD.size, 0, *e.RECORD.unpack(bytes(r)))
            return b
        hot = F = e.F_RET | e.F_VALUE
        recs = []
        for i in range(6):   # two readers (keys), whole reads and enter/exit pairs, heads new and cached
            recs.append(ev(e.EV_RW_DONE, ts=2000 + i, fn=7, arg=4, size=2, ret=2, val=0x100 + i, tlp=[1990 + i, 1, 0, 0],
                           flags=hot))
            recs.append(ev(e.EV_RW_ENTER, ts=3000 + i, fn=7, arg=6, size=2, pid=50, tid=51))
            recs.append(ev(e.EV_RW_EXIT, ts=3001 + i, fn=7, arg=6, size=2, ret=2, val=i, flags=F, pid=50, tid=51))
        buf = ring(recs)
        want = e.Encoder(FN).ring_lines(memoryview(bytes(buf)), len(recs))[0]
        enc = e.Encoder(FN)
        self.assertEqual(enc.ring_text(memoryview(bytes(buf)), len(recs)), "\n".join(want))
        self.assertEqual(enc.ring_text(memoryview(bytes(buf)), len(recs)), "\n".join(want))   # heads cached now
        self.assertEqual(enc.ring_text(memoryview(bytes(buf)), 1), want[0])
        # anything but the hot kinds: None, and the caller decodes the chunk line by line
        others = [ev(e.EV_RW_DONE, fn=7, arg=4, size=2, ret=2, val=3, flags=hot | e.F_WRITE),
                  ev(e.EV_RW_DONE, fn=7, arg=4, size=2, ret=2, val=0xffff, flags=hot | e.F_TRIGGER),
                  ev(e.EV_RW_EXIT, fn=7, arg=4, size=2, val=3),
                  ev(e.EV_RW_ENTER, fn=7, arg=4, size=2, val=3, flags=e.F_WRITE | e.F_VALUE),
                  ev(e.EV_RW_DONE, fn=7, arg=4, size=2, ret=2, val=3, flags=hot, dev=e.NODEV),
                  ev(e.EV_RESET_ENTER, fn=1), ev(99)]
        for x in others:
            b = ring(recs[:3] + [x] + recs[3:6])
            self.assertIsNone(enc.ring_text(memoryview(bytes(b)), 7), x.type)
        busy = bytearray(buf)
        busy[3 * e.RING_RECORD.size + 3] |= 0x80   # the 4th record not committed yet
        self.assertIsNone(enc.ring_text(memoryview(bytes(busy)), len(recs)))
        other = bytearray(buf)
        other[3 * e.RING_RECORD.size] += 8          # the 4th record of another size (a history snapshot)
        self.assertIsNone(enc.ring_text(memoryview(bytes(other)), len(recs)))

    def test_hotplug_disable_request_has_no_reason(self):
        # pciehp_handle_disable_request(ctrl) has one argument: the record's val is not a reason
        d = e.decode(ev(e.EV_HP_EVENT, fn=3, val=0x1234, dev=0x10), 0, FN)
        self.assertEqual(d["handler"], "disable_request")
        self.assertNotIn("reason", d)

    def test_bad_record_raises(self):
        with self.assertRaises(e.DecodeError):
            e.Encoder(FN).line(bytes(ev(99)), 0)
