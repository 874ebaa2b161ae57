"""The agent as a command: usage errors, environment errors with their fix, --dry-run, --print-source."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

from tests.util import AGENT_DIR

AGENT = os.path.join(AGENT_DIR, "aertrace-agent")


def run(args, env=None):
    return subprocess.run([sys.executable, AGENT] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=env, timeout=60, universal_newlines=True)


DEVICE_NAMES = os.path.join(os.path.dirname(AGENT_DIR), "testdata", "device-names.tsv")


def device_name_table():
    """(input, normalized list or None) rows of the --device grammar both the agent and `aertrace record` check."""
    rows = []
    with open(DEVICE_NAMES) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("#"):
                continue
            text, want = line.split("\t")
            rows.append((text, None if want == "-" else want.split(",")))
    return rows


class DeviceGrammarTest(unittest.TestCase):
    def test_the_shared_table(self):
        from aertrace_agent.main import parse_args
        rows = device_name_table()
        self.assertGreater(len(rows), 10)
        for text, want in rows:
            if want is None:
                import contextlib
                import io
                with self.assertRaises(SystemExit, msg=repr(text)), contextlib.redirect_stderr(io.StringIO()):
                    parse_args(["--device", text, "--dry-run"])
            else:
                self.assertEqual(parse_args(["--device", text, "--dry-run"]).device, want, repr(text))


class CliTest(unittest.TestCase):
    def test_bad_device_name_is_usage_error(self):
        r = run(["--device", "banana", "--dry-run"])
        self.assertEqual(r.returncode, 2)
        self.assertIn("not a PCI device name", r.stderr)

    def test_unknown_device(self):
        r = run(["--device", "0000:7f:1f.7", "--dry-run"])
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr.strip().count("\n"), 0, r.stderr)    # one line
        self.assertIn("no such PCI device", r.stderr)

    def test_unknown_event(self):
        r = run(["--events", "recovery,nope", "--dry-run"])
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown logical event(s) nope", r.stderr)

    def test_not_root(self):
        # in-process with the effective uid faked: a subprocess as nobody could not read a clone under /root
        from unittest import mock
        from aertrace_agent import main
        with mock.patch("os.geteuid", return_value=1000):
            with self.assertRaises(main.EnvError) as cm:
                main.run(["--duration", "1"])
        self.assertIn("must run as root", str(cm.exception))
        self.assertIn("sudo /usr/bin/python3", str(cm.exception))

    @unittest.skipUnless(os.geteuid() == 0, "the bcc check comes after the root check")
    def test_bcc_missing_says_how_to_install(self):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "bcc.py"), "w") as f:
                f.write("raise ImportError('blocked by test')\n")
            env = dict(os.environ, PYTHONPATH=d)
            r = run(["--duration", "1"], env=env)
        self.assertEqual(r.returncode, 2)
        self.assertIn("bcc Python module not found", r.stderr)
        self.assertRegex(r.stderr, r"apt-get install python3-bpfcc|dnf install bcc-tools python3-bcc")

    def test_dry_run_header(self):
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "h.jsonl")
            r = run(["--dry-run", "-o", out])
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(out) as f:
                lines = f.read().splitlines()
        self.assertEqual(len(lines), 1)
        hd = json.loads(lines[0])
        self.assertEqual(hd["type"], "header")
        self.assertEqual(hd["kernel"], os.uname().release)
        n = len(hd["probes"]["attached"]) + len(hd["probes"]["missing"])
        self.assertGreater(n, 0)

    def test_print_source(self):
        r = run(["--print-source", "--events", "cfg_lock.lock"])
        self.assertEqual(r.returncode, 0, r.stderr)
        first = r.stdout.splitlines()[0]
        self.assertTrue(first.startswith("/* defines:"), first)
        self.assertIn("struct event", r.stdout)
        # the probe file comes with its define, and only the requested event's file is included
        self.assertEqual("PROBE_CFG_LOCK" in first, "int cfg_lock(struct pt_regs *ctx)" in r.stdout)
        self.assertNotIn("vfio_read_enter", r.stdout)

    def test_recorder_options(self):
        r = run(["--dry-run", "--tail-ms", "0"])
        self.assertEqual(r.returncode, 2)
        self.assertIn("--tail-ms must be a positive number", r.stderr)
        r = run(["--dry-run", "--history", "-1"])
        self.assertEqual(r.returncode, 2)
        r = run(["--print-source", "--history", "64", "--tail-ms", "250", "--buffer", "ring", "--page-cnt", "1024"])
        self.assertEqual(r.returncode, 0, r.stderr)
        first = r.stdout.splitlines()[0]
        for d in ("-DHIST_N=64", "-DTAIL_NS=250000000ULL", "-DRINGBUF_PAGES=1024", "-DHIER_MAX=8"):
            self.assertIn(d, first)
        r = run(["--print-source", "--history", "0", "--buffer", "perf"])
        self.assertNotIn("HIST_N", r.stdout.splitlines()[0])
        self.assertNotIn("RINGBUF_PAGES", r.stdout.splitlines()[0])
        r = run(["--dry-run", "--history", "256", "--tail-ms", "3000"])
        h = json.loads(r.stdout)
        self.assertEqual((h["recorder"]["history"], h["recorder"]["tail_ms"]), (256, 3000))
        self.assertEqual(h["schema_version"], 3)   # the flight recorder writes vfio.rw lines
        h0 = json.loads(run(["--dry-run", "--history", "0"]).stdout)
        self.assertNotIn("recorder", h0)
        self.assertEqual(h0["schema_version"], 2)  # everything streamed as enter/exit pairs, as before

    def test_output_and_connect_exclusive(self):
        r = run(["-o", "x", "--connect", "h:1", "--dry-run"])
        self.assertEqual(r.returncode, 2)


if __name__ == "__main__":
    unittest.main()


class OutputErrorTest(unittest.TestCase):
    """Issue 10: a write error is one line and exit 2, not a traceback; -o is checked before the BPF compile."""

    @unittest.skipUnless(os.path.exists("/dev/full"), "needs /dev/full")
    def test_full_device_is_one_line(self):
        r = run(["--dry-run", "-o", "/dev/full"])
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertNotIn("Traceback", r.stderr)
        self.assertIn("cannot write output /dev/full: No space left on device", r.stderr)

    def test_unopenable_output_before_anything_is_loaded(self):
        # no --dry-run: the check must come before the root check and the compile (neither happens here)
        r = run(["-o", "/nonexistent-dir/trace.jsonl"])
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual(r.stderr.strip(), "aertrace-agent: cannot open output: [Errno 2] No such file or directory: "
                                           "'/nonexistent-dir/trace.jsonl'")
