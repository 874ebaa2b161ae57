"""Header and footer lines (schema v3; v2 with --history 0)."""
import socket
import time

from . import AGENT, SCHEMA_VERSION, SCHEMA_VERSION_NO_RECORDER


def clock_pair():
    """(mono_ns, realtime_ns) sampled together: the realtime read bracketed by the
    tightest of a few monotonic pairs."""
    best = None
    for _ in range(5):
        m1 = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        r = time.clock_gettime_ns(time.CLOCK_REALTIME)
        m2 = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        if best is None or m2 - m1 < best[0]:
            best = (m2 - m1, (m1 + m2) // 2, r)
    return best[1], best[2]


def read_boot_id(path="/proc/sys/kernel/random/boot_id"):
    try:
        with open(path, "r") as f:
            return f.read().strip()
    except OSError:
        return ""


def build_header(kernel_release, attached, missing, topology, filter_devices,
                 host=None, boot_id=None, clocks=None, recorder=None, buffer=None):
    mono, real = clocks if clocks else clock_pair()
    h = {
        "type": "header",
        # vfio.rw lines (schema 3) come only from the flight recorder
        "schema_version": SCHEMA_VERSION if recorder is not None else SCHEMA_VERSION_NO_RECORDER,
        "agent": AGENT,
        "host": host if host is not None else socket.gethostname(),
        "kernel": kernel_release,
        "boot_id": boot_id if boot_id is not None else read_boot_id(),
        "mono_ns": int(mono),
        "realtime_ns": int(real),
        "probes": {"attached": list(attached), "missing": list(missing)},
        "filter": {"devices": list(filter_devices)},
        "topology": list(topology),
    }
    if buffer is not None:
        h["buffer"] = buffer
    if recorder is not None:
        h["recorder"] = recorder
    return h


def attached_entries(chosen):
    """Header 'attached' list from resolved candidates: one entry per attachment."""
    out = []
    for c in chosen:
        for a in c["attach"]:
            e = {"event": c["event"], "kind": a["kind"], "symbol": a.get("symbol") or a.get("tracepoint")}
            if a.get("path"):
                e["binary"] = a["path"]   # uprobes: the user-space binary the symbol was resolved in
            if c.get("notes"):
                e["notes"] = list(c["notes"])
            out.append(e)
    return out


def footer(events, lost, reason, extra=None):
    f = {"type": "footer", "ts": time.clock_gettime_ns(time.CLOCK_MONOTONIC), "events": int(events),
         "lost": int(lost), "reason": reason}
    if extra:
        f.update(extra)
    return f
