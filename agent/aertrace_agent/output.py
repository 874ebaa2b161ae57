"""Where the JSON lines go: stdout, a file, or a TCP connection."""
import json
import socket
import sys


class Output(object):
    def __init__(self, stream, closer=None, what="stdout"):
        self.stream = stream
        self._closer = closer
        self.what = what
        self.lines = 0

    def write(self, obj):
        self.stream.write(json.dumps(obj, separators=(",", ":")) + "\n")
        self.lines += 1

    def write_line(self, text):
        self.stream.write(text + "\n")
        self.lines += 1

    def write_lines(self, text, n):
        """n lines joined by newlines, without the final one: one write for a decoded batch."""
        self.stream.write(text + "\n")
        self.lines += n

    def flush(self):
        self.stream.flush()

    def close(self):
        try:
            self.stream.flush()
        finally:
            if self._closer:
                self._closer()


def parse_hostport(s):
    host, sep, port = s.rpartition(":")
    if not sep or not host or not port.isdigit() or not (0 < int(port) < 65536):
        raise ValueError("expected HOST:PORT, got %r" % s)
    return host.strip("[]"), int(port)


def open_output(path=None, connect=None):
    """Raises OSError/ValueError with a message fit for the user."""
    if connect:
        host, port = parse_hostport(connect)
        sock = socket.create_connection((host, port), timeout=10)
        sock.settimeout(None)
        f = sock.makefile("w", encoding="utf-8", buffering=1 << 16)

        def close():
            f.close()
            sock.close()
        return Output(f, close, "tcp %s:%d" % (host, port))
    if path is None or path == "-":
        return Output(sys.stdout, None, "stdout")
    f = open(path, "w", encoding="utf-8", buffering=1 << 16)
    return Output(f, f.close, path)
