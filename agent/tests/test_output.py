import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import unittest

from aertrace_agent import output
from tests.util import AGENT_DIR


def listener():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    got = []

    def serve():
        conn, _ = srv.accept()
        with conn:
            buf = b""
            while True:
                b = conn.recv(65536)
                if not b:
                    break
                buf += b
        got.append(buf.decode())
        srv.close()
    t = threading.Thread(target=serve)
    t.start()
    return srv.getsockname()[1], t, got


class OutputTest(unittest.TestCase):
    def test_hostport(self):
        self.assertEqual(output.parse_hostport("10.0.0.5:7070"), ("10.0.0.5", 7070))
        self.assertEqual(output.parse_hostport("[::1]:80"), ("::1", 80))
        for bad in ("nohost", ":80", "h:", "h:x", "h:70000"):
            with self.assertRaises(ValueError):
                output.parse_hostport(bad)

    def test_tcp_stream(self):
        port, t, got = listener()
        out = output.open_output(connect="127.0.0.1:%d" % port)
        out.write({"type": "header", "x": 1})
        out.write_line('{"type":"vfio.open"}')
        out.close()
        t.join(10)
        self.assertEqual(got[0], '{"type":"header","x":1}\n{"type":"vfio.open"}\n')

    def test_file(self):
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "t.jsonl")
            out = output.open_output(p)
            out.write({"a": 1})
            out.close()
            with open(p) as f:
                self.assertEqual(f.read(), '{"a":1}\n')
            self.assertEqual(out.lines, 1)

    def test_refused_connection_raises(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        with self.assertRaises(OSError):
            output.open_output(connect="127.0.0.1:%d" % port)

    def test_cli_dry_run_over_tcp(self):
        port, t, got = listener()
        r = subprocess.run([sys.executable, os.path.join(AGENT_DIR, "aertrace-agent"), "--dry-run",
                            "--connect", "127.0.0.1:%d" % port], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=60)
        t.join(10)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(got[0])["type"], "header")


class CliOutputErrorTest(unittest.TestCase):
    def test_unwritable_output_is_one_line(self):
        r = subprocess.run([sys.executable, os.path.join(AGENT_DIR, "aertrace-agent"), "--dry-run",
                            "-o", "/nonexistent/dir/t.jsonl"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=60)
        self.assertEqual(r.returncode, 2)
        self.assertRegex(r.stderr, r"^aertrace-agent: cannot open output: .*No such file or directory.*\n$")


if __name__ == "__main__":
    unittest.main()
