"""aertrace-agent: loads aertrace's eBPF probes with bcc and streams schema-v3 JSON lines (v2 with --history 0).

Everything except bpfrun.py is pure Python (no bcc, no root) so it can be unit-tested anywhere.
Must stay compatible with Python 3.9 (Debian bullseye's /usr/bin/python3).
"""

VERSION = "0.6.2"
AGENT = "aertrace-agent " + VERSION
SCHEMA_VERSION = 3
# --history 0 (everything streamed as enter/exit pairs, no vfio.rw lines): the version-2 header it always had
SCHEMA_VERSION_NO_RECORDER = 2
