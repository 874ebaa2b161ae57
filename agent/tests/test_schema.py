"""The agent's header, events, lost lines and footer validate against probes/events.schema.json.

Needs Debian's python3-jsonschema (>= 4, for draft 2020-12)."""
import json
import os
import shutil
import tempfile
import unittest

try:
    import jsonschema
except ImportError:  # the failure message says what to install
    jsonschema = None

from aertrace_agent import catalog as c
from aertrace_agent import encode as e
from aertrace_agent import header as h
from aertrace_agent import topology as t
from tests.test_catalog import CAT, K61, kernel, drop
from tests.test_encode import ev, FN
from tests.util import PROBES, lab_tree


def validator():
    if jsonschema is None or not hasattr(jsonschema, "Draft202012Validator"):
        raise AssertionError("python3-jsonschema >= 4 is needed for this test: apt-get install python3-jsonschema")
    with open(os.path.join(PROBES, "events.schema.json")) as f:
        schema = json.load(f)
    return jsonschema.Draft202012Validator(schema)


def all_event_records():
    """One record of every type the probes produce, with and without optional fields."""
    return [
        ev(e.EV_AER, sev=1, val=0, flags=e.F_TLP, tlp=[1, 2, 3, 4]),
        ev(e.EV_AER, sev=2, val=0x1),
        ev(e.EV_REC_ENTER, state=2, flags=e.F_STATE),
        ev(e.EV_REC_ENTER),
        ev(e.EV_REC_EXIT, ret=5, flags=e.F_RET),
        ev(e.EV_REC_EXIT),
        ev(e.EV_CB_ENTER, fn=1, state=2, flags=e.F_STATE, driver=b"vfio-pci"),
        ev(e.EV_CB_ENTER, fn=3),
        ev(e.EV_CB_EXIT, fn=1, val=3, flags=e.F_RESULT),
        ev(e.EV_CB_EXIT, fn=4),
        ev(e.EV_RESET_ENTER, dev=0x10, fn=1),
        ev(e.EV_RESET_EXIT, dev=0x10, fn=4),
        ev(e.EV_RESET_EXIT, dev=0x10, fn=3, ret=-25, flags=e.F_RET),
        ev(e.EV_VERR_ENTER, state=2, flags=e.F_STATE),
        ev(e.EV_VERR_EXIT, ret=2, flags=e.F_RET),
        ev(e.EV_EVENTFD, arg=0xffff888004a3c000),
        ev(e.EV_EVENTFD, dev=e.NODEV, arg=0x10),
        ev(e.EV_EVENTFD_READ, arg=0xffff888004a3c000, ret=8, flags=e.F_RET, tlp=(0x2345, 0x8f, 0, 0)),
        ev(e.EV_IOCTL_ENTER, val=0x3b6e),
        ev(e.EV_IOCTL_EXIT, val=0x3b6e, ret=0, flags=e.F_RET),
        ev(e.EV_RW_ENTER, fn=7, arg=6, size=2),
        ev(e.EV_RW_ENTER, fn=7, arg=4, size=2, val=0x406, flags=e.F_WRITE | e.F_VALUE),
        ev(e.EV_RW_EXIT, fn=7, arg=0x104, size=4, ret=4, val=0xffffffff, flags=e.F_RET | e.F_VALUE),
        ev(e.EV_RW_EXIT, fn=0, arg=0, size=4, ret=-5, flags=e.F_RET),
        ev(e.EV_RW_DONE, fn=7, arg=4, size=2, ret=2, val=0x0407, tlp=[900, 0, 0, 0], flags=e.F_RET | e.F_VALUE),
        ev(e.EV_RW_DONE, fn=7, arg=4, size=2, ret=2, val=0x0406, tlp=[900, 0, 0, 0],
           flags=e.F_RET | e.F_VALUE | e.F_WRITE),
        ev(e.EV_RW_DONE, fn=0, arg=0x10, size=4, ret=-5, tlp=[5, 1, 0, 0], flags=e.F_RET),
        ev(e.EV_OPEN),
        ev(e.EV_CLOSE),
        ev(e.EV_URESET_ENTER, fn=18),
        ev(e.EV_PCI_HP, dev=0x10, val=1, driver=b"1"),
        ev(e.EV_LINK, dev=0x10, arg=1, val=0x2011, size=1, tlp=[0x15, 0x15, 4, 0]),
        ev(e.EV_URESET_EXIT, fn=18, ret=0, flags=e.F_RET),
        ev(e.EV_CFG_LOCK, fn=1),
        ev(e.EV_CFG_LOCK, fn=2, ret=0, flags=e.F_RET),
        ev(e.EV_CFG_LOCK, fn=3, dev=0x10),
        ev(e.EV_HP_EVENT, fn=1, val=0x8, dev=0x10),
        ev(e.EV_HP_EVENT, fn=2, dev=0x10),
        ev(e.EV_HP_EVENT, fn=3, val=2, dev=0x10),
        ev(e.EV_HP_UNCONF_ENTER, state=0, flags=e.F_STATE, dev=0x10),
        ev(e.EV_HP_UNCONF_EXIT, dev=0x10),
        ev(e.EV_PCI_REMOVE_ENTER),
        ev(e.EV_PCI_REMOVE_EXIT),
        ev(e.EV_VFIO_REQUEST, val=0),
        ev(e.EV_VFIO_REMOVE_ENTER),
        ev(e.EV_VFIO_REMOVE_EXIT),
        ev(e.EV_QEMU_CFG_ENTER, dev=e.NODEV, arg=0x104, size=4),
        ev(e.EV_QEMU_CFG_ENTER, dev=e.NODEV, arg=0x4, size=2, val=0x100, flags=e.F_WRITE | e.F_VALUE),
        ev(e.EV_QEMU_CFG_EXIT, dev=e.NODEV, arg=0x104, size=4, val=0x10, flags=e.F_VALUE),
        ev(e.EV_QEMU_REGION_ENTER, dev=e.NODEV, arg=0x1000, size=4),
        ev(e.EV_QEMU_REGION_EXIT, dev=e.NODEV, arg=0x1000, size=4, val=1, flags=e.F_VALUE),
        ev(e.EV_QEMU_VM_STOP, dev=e.NODEV, val=2),
        ev(e.EV_QEMU_RUNSTATE, dev=e.NODEV, val=99),
        ev(e.EV_QEMU_RESET, dev=e.NODEV, val=3),
    ]


class SchemaTest(unittest.TestCase):
    def setUp(self):
        self.v = validator()
        self.root = tempfile.mkdtemp()
        lab_tree(self.root)

    def tearDown(self):
        shutil.rmtree(self.root)

    def assertValid(self, obj):
        errors = sorted(self.v.iter_errors(obj), key=lambda x: list(x.path))
        self.assertEqual([], ["%s: %s" % (list(x.path), x.message) for x in errors], json.dumps(obj))

    def header(self, devices):
        topo = t.scan(self.root)
        filt = t.hierarchy(topo, devices) if devices else []
        k = kernel("6.1.0-40-amd64", drop(K61, "dpc_reset_link"))
        chosen, missing = c.resolve(CAT, k)
        return h.build_header("6.1.0-40-amd64", h.attached_entries(chosen), missing, topo, filt,
                              host="lab", boot_id="3f1c0d9e-0000-4000-8000-000000000000", clocks=(5, 7))

    def test_header_with_filter(self):
        hd = self.header(["0000:01:00.0"])
        self.assertValid(hd)
        self.assertEqual(hd["filter"]["devices"], ["0000:00:02.0", "0000:01:00.0"])
        self.assertTrue(hd["probes"]["missing"])    # dpc_reset_link was taken out above
        self.assertEqual(hd["mono_ns"], 5)

    def test_header_without_filter(self):
        hd = self.header([])
        self.assertValid(hd)
        self.assertEqual(hd["filter"]["devices"], [])
        self.assertEqual(len(hd["topology"]), 4)

    def test_header_real_clock_and_host(self):
        hd = h.build_header("6.1.0", [], [], [], [])
        self.assertValid(hd)
        self.assertGreater(hd["realtime_ns"], hd["mono_ns"])

    def test_every_event_type(self):
        seen = set()
        for rec in all_event_records():
            d = e.decode(rec, 1, FN)
            self.assertValid(d)
            seen.add(d["type"])
        self.assertEqual(seen, set(e.TYPE_NAMES.values()))

    def test_lost_and_footer(self):
        self.assertValid(e.lost_event(123, 1, 17, 100, 100, "aertrace-agent"))
        self.assertValid(h.footer(10, 17, "SIGINT"))
        self.assertValid(h.footer(0, 0, "duration", {"undecodable": 2, "rw_not_traced": 123456}))
        self.assertTrue(list(self.v.iter_errors(h.footer(0, 0, "x", {"rw_not_traced": -1}))))

    def test_recorder_header_history_and_lost_bounds(self):
        hd = h.build_header("6.1.0", [], [], [], [], recorder={"history": 512, "tail_ms": 2500,
                                                             "devices": ["0000:01:00.0"]}, buffer="ring")
        self.assertValid(hd)
        self.assertEqual(hd["schema_version"], 3)   # the flight recorder writes vfio.rw lines
        self.assertNotIn("recorder", h.build_header("6.1.0", [], [], [], []))
        self.assertValid(e.lost_event(123, 1, 17, 100, 100, "aertrace-agent", 100, 120))
        self.assertNotIn("since", e.lost_event(123, 1, 17, 100, 100, "aertrace-agent"))
        bad = e.lost_event(123, 1, 17, 100, 100, "aertrace-agent", 100, 120)
        del bad["until"]
        self.assertTrue(list(self.v.iter_errors(bad)))   # since without until
        self.assertValid({"type": "history", "ts": 5, "cpu": 0, "pid": 1, "tid": 1, "comm": "a",
                          "dev": "0000:01:00.0", "records": 2, "dropped": 0, "since": 1})
        enc = e.Encoder(FN)
        rec = (1, 100, 200, 4, 2, 7, 8, 0x0407, 2, 7, e.F_RET | e.F_VALUE, 1, b"qemu")
        wr = (2, 300, 310, 4, 2, 7, 8, 0x0406, 2, 7, e.F_RET | e.F_VALUE | e.F_WRITE, 0, b"qemu")
        bar = (3, 400, 420, 0x10, -5, 7, 8, 0, 4, 0, e.F_RET, 1, b"qemu")
        lines = [json.loads(x) for x in enc.history_lines([rec, wr, bar], 0x0100)]
        self.assertEqual([d["type"] for d in lines], ["vfio.rw"] * 3)   # one line per access (schema 3)
        for d in lines:
            self.assertValid(d)
            self.assertTrue(d["history"])
        self.assertEqual([(d["ts"], d["exit_ts"], d.get("value"), d["ret"], d["write"]) for d in lines],
                         [(100, 200, 0x0407, 2, False), (300, 310, 0x0406, 2, True), (400, 420, None, -5, False)])
        self.assertEqual((lines[0]["region"], lines[2]["region"], lines[0]["cpu"], lines[1]["cpu"]), ("config", "bar0", 1, 0))
        self.assertValid(h.footer(10, 0, "SIGINT", {"recorder": {"0000:01:00.0": {
            "accesses": {"config": 5}, "command_changes": 1, "status_changes": 0,
            "history_written": 2, "history_dropped": 0}}}))

    def test_validator_rejects_bad_lines(self):
        # the check above would be worthless if the validator accepted anything
        bad = e.decode(ev(e.EV_RW_EXIT, fn=7, arg=0, size=4, ret=4, flags=e.F_RET), 0, FN)
        del bad["region"]
        self.assertTrue(list(self.v.iter_errors(bad)))
        hd = self.header([])
        del hd["topology"]
        self.assertTrue(list(self.v.iter_errors(hd)))


if __name__ == "__main__":
    unittest.main()
