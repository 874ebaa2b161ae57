#!/usr/bin/python3
"""Talk to the nested QEMU's QMP socket from inside the lab guest (qemu-* scenarios).

    qmp.py SOCKET LOG COMMAND [JSON-ARGS]...

Runs each COMMAND in order on one connection and appends one line per reply to LOG with
CLOCK_MONOTONIC ns (the trace's clock), plus every asynchronous event (STOP, RESUME, RESET)
seen meanwhile, so the trace's uprobe events can be matched with what QMP reported.
"""
import json
import socket
import sys
import time


def main():
    sock, log = sys.argv[1], sys.argv[2]
    cmds = sys.argv[3:]
    s = socket.socket(socket.AF_UNIX)
    deadline = time.monotonic() + 30
    while True:
        try:
            s.connect(sock)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    f = s.makefile("rw")
    out = open(log, "a")

    def note(kind, obj):
        out.write("ts=%d %s=%s\n" % (time.monotonic_ns(), kind, json.dumps(obj, separators=(",", ":"))))
        out.flush()

    def call(name, args=None):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        f.write(json.dumps(msg) + "\n")
        f.flush()
        while True:
            r = json.loads(f.readline())
            if "event" in r:
                note("event", r)
                continue
            note("reply", {"cmd": name, "r": r})
            return r

    json.loads(f.readline())  # greeting
    call("qmp_capabilities")
    i = 0
    while i < len(cmds):
        name = cmds[i]
        args = None
        if i + 1 < len(cmds) and cmds[i + 1].startswith("{"):
            args = json.loads(cmds[i + 1])
            i += 1
        if name.startswith("sleep="):
            time.sleep(float(name[6:]))
        else:
            r = call(name, args)
            if name == "query-status":
                print(r.get("return", {}).get("status", "?"))
        i += 1
    # events that arrived after the last reply (e.g. RESUME after cont)
    s.settimeout(0.5)
    try:
        while True:
            line = f.readline()
            if not line:
                break
            note("event", json.loads(line))
    except (socket.timeout, OSError, ValueError):
        pass


if __name__ == "__main__":
    main()
