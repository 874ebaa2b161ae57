"""aertrace-agent: loads aertrace's eBPF probes with bcc and streams schema-v2 JSON lines.

Everything except bpfrun.py is pure Python (no bcc, no root) so it can be unit-tested anywhere.
Must stay compatible with Python 3.9 (Debian bullseye's /usr/bin/python3).
"""

VERSION = "0.5.1"
AGENT = "aertrace-agent " + VERSION
SCHEMA_VERSION = 2
