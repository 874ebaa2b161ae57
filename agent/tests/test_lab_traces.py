"""Real traces recorded by this agent in the lab (testdata/lab/<kernel>/*.jsonl.gz): every line
validates against the schema, headers agree with the catalog, and probes/README.md's proof table is
what those traces show."""
import glob
import gzip
import json
import os
import subprocess
import sys
import unittest

from aertrace_agent import catalog as c

from tests.test_schema import validator
from tests.util import REPO, PROBES

# logical events added after traces were committed (device loss, issue 9/12): a trace recorded
# before them does not mention them; the proof table says "no trace recorded with it yet"
ADDED_LATER = {"hotplug.event", "hotplug.unconfigure", "pci.remove", "vfio.request", "vfio.remove",
               "qemu.config", "qemu.region", "qemu.vm_stop", "qemu.runstate", "qemu.system_reset",
               "eventfd.read"}

TRACES = sorted(glob.glob(os.path.join(REPO, "testdata", "lab", "*", "*.jsonl.gz")))


# logical events added to the catalog with schema version 2
NEW_IN_V2 = {"pci_hp_event", "pcie_link_event"}


class LabTracesTest(unittest.TestCase):
    def test_traces_exist_for_every_kernel(self):
        kernels = set(os.path.basename(os.path.dirname(t)) for t in TRACES)
        self.assertTrue({"5.10", "6.1", "6.12"} <= kernels, "committed lab traces per kernel: %s" % sorted(kernels))

    def test_every_line_validates(self):
        v = validator()
        with open(os.path.join(PROBES, "catalog.json")) as f:
            cat_events = json.load(f)["events"]
            events = set(e["event"] for e in cat_events)
        for path in TRACES:
            with gzip.open(path, "rt") as f:
                lines = f.read().splitlines()
            rel = os.path.relpath(path, REPO)
            header = json.loads(lines[0])
            self.assertEqual(header["type"], "header", rel)
            seen = set(a["event"] for a in header["probes"]["attached"]) | \
                set(m["event"] for m in header["probes"]["missing"])
            # an event catalogued after the trace was recorded is absent from its header only when no
            # candidate of it could have attached on that kernel anyway
            kv = c.kernel_version(header["kernel"])
            later = set(e["event"] for e in cat_events if all(
                "min_kernel" in cd and kv < c._ver(cd["min_kernel"]) for cd in e["candidates"]))
            if header["schema_version"] < 2:
                later |= NEW_IN_V2   # catalogued with schema v2: an older agent did not know them
            later |= ADDED_LATER   # device loss and QEMU events (lab branch): not known to older agents
            self.assertTrue(seen <= events, rel)
            self.assertEqual(events - seen - later, set(), "%s: header does not account for every logical event" % rel)
            last = json.loads(lines[-1])
            self.assertEqual(last["type"], "footer", "%s: no footer" % rel)
            self.assertEqual(last["events"], len(lines) - 2, rel)
            lost = 0
            seen_shapes = {}
            for n, line in enumerate(lines, 1):
                d = json.loads(line)
                # Full schema validation is ~1 ms a line: check every line until its shape (type + field
                # names) has been validated 50 times; every shape, and so every optional field, is covered.
                shape = (d.get("type"), tuple(sorted(d)))
                if seen_shapes.get(shape, 0) < 50:
                    seen_shapes[shape] = seen_shapes.get(shape, 0) + 1
                    errs = list(v.iter_errors(d))
                    self.assertEqual([], [e.message for e in errs], "%s:%d" % (rel, n))
                if d["type"] == "lost":
                    lost += d["count"]
            self.assertEqual(last["lost"], lost, rel)

    def test_unbacked_claim_is_caught(self):
        import importlib.util
        spec = importlib.util.spec_from_file_location("proof", os.path.join(PROBES, "proof.py"))
        proof = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(proof)
        fr = "testdata/lab/6.1/fatal-race.jsonl.gz"
        head = "| logical event | 5.10 (x) | 6.1 (y) | 6.12 (z) |\n|---|---|---|---|\n"
        ok = head + "| `recovery` | - | proven: [fatal-race](../%s) | - |" % fr
        self.assertEqual(proof.unbacked_claims(ok), [])
        # a fatal-race trace has no sysfs reset: claiming it proves pci_reset_function must fail
        wrong = head + "| `user_reset.pci_reset_function` | - | proven: [fatal-race](../%s) | - |" % fr
        self.assertEqual(len(proof.unbacked_claims(wrong)), 1)
        # the agent version a variant cell names must be the linked trace's (fatal-race is agent 0.1.0)
        ok = head + "| `perf buffer` | - | proven: [fatal-race](../%s), agent 0.1.0 | - |" % fr
        self.assertEqual(proof.unbacked_claims(ok), [])
        wrong = head + "| `perf buffer` | - | proven: [fatal-race](../%s), agent 0.5.1 | - |" % fr
        self.assertEqual(len(proof.unbacked_claims(wrong)), 1)

    def test_agent_rows_cite_the_newest_agents_trace(self):
        """The buffer/attach/history rows are about the agent: an agent-0.1 trace that sorts first must not
        stand for them when a newer agent's trace shows the same. "The same": a row's newest agent is the newest
        among the traces whose header has its variant (6.12's newest agent may have run only with --buffer perf:
        its ring-buffer row then cites the agent before)."""
        import importlib.util
        spec = importlib.util.spec_from_file_location("proof", os.path.join(PROBES, "proof.py"))
        proof = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(proof)
        newest = {}
        for path in TRACES:
            with gzip.open(path, "rt") as f:
                h = json.loads(f.readline())
            k = os.path.basename(os.path.dirname(path))
            for row in ("`ring buffer`", "`fentry/fexit`", "`flight recorder history`"):
                has = proof.VARIANTS.get(row.strip("`"), lambda h: True)(h)
                if has:
                    newest[(row, k)] = max(newest.get((row, k), ()), proof.agent_version(h))
        table = proof.table()
        kernels = None
        for line in table.splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if cells[0] == "logical event" and kernels is None:
                kernels = [c.split()[0] for c in cells[1:]]
            if cells[0] not in ("`ring buffer`", "`fentry/fexit`", "`flight recorder history`"):
                continue
            for k, cell in zip(kernels, cells[1:]):
                if cell.startswith("proven:"):
                    v = tuple(int(x) for x in cell.rsplit("agent ", 1)[1].split("."))
                    self.assertEqual(v, newest[(cells[0], k)], "%s on %s: %s" % (cells[0], k, cell))

    def test_readme_proof_table_matches_traces(self):
        r = subprocess.run([sys.executable, os.path.join(PROBES, "proof.py"), "--check",
                            os.path.join(PROBES, "README.md")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True)
        self.assertEqual(r.returncode, 0, r.stdout)


if __name__ == "__main__":
    unittest.main()
