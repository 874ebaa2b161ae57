"""Decode the probes' binary records (struct event in probes/bpf/common.h) into schema-v1 dicts."""
import ctypes as ct
import os
import re

from .topology import key_to_name

def record_constants(path=None):
    """The record's EV_* (event types), F_* (flags) and NODEV from probes/bpf/common.h, the one place they are
    defined: {name: value}. The decoder below takes them from there (tests/test_encode.py checks every type
    has a name and nothing here redefines them)."""
    path = path or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "probes", "bpf", "common.h")
    with open(path) as f:
        text = f.read()
    return dict((n, int(v, 0)) for n, v in re.findall(r"^#define\s+((?:EV|F)_[A-Z0-9_]+|NODEV)\s+(0x[0-9a-fA-F]+|\d+)\b",
                                                        text, re.M))


globals().update(record_constants())


def snapshot_constants(path=None):
    """HIST_SNAP_MAGIC and SNAP_SLOTS, the history snapshot's (common.h hist_snapshot), from the same file."""
    path = path or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "probes", "bpf", "common.h")
    with open(path) as f:
        return dict((n, int(v, 0)) for n, v in re.findall(r"^#define\s+(HIST_SNAP_MAGIC|SNAP_SLOTS)\s+(0x[0-9a-fA-F]+|\d+)\b",
                                                            f.read(), re.M))


globals().update(snapshot_constants())
QEMU_TYPES = (EV_QEMU_CFG_ENTER, EV_QEMU_CFG_EXIT, EV_QEMU_REGION_ENTER, EV_QEMU_REGION_EXIT, EV_QEMU_VM_STOP,
              EV_QEMU_RUNSTATE, EV_QEMU_RESET)

TYPE_NAMES = {
    EV_AER: "aer.event",
    EV_REC_ENTER: "recovery.enter",
    EV_REC_EXIT: "recovery.exit",
    EV_CB_ENTER: "cb.enter",
    EV_CB_EXIT: "cb.exit",
    EV_RESET_ENTER: "reset.enter",
    EV_RESET_EXIT: "reset.exit",
    EV_VERR_ENTER: "vfio.err_detected.enter",
    EV_VERR_EXIT: "vfio.err_detected.exit",
    EV_EVENTFD: "eventfd.signal",
    EV_IOCTL_ENTER: "vfio.ioctl.enter",
    EV_IOCTL_EXIT: "vfio.ioctl.exit",
    EV_RW_ENTER: "vfio.rw.enter",
    EV_RW_EXIT: "vfio.rw.exit",
    EV_OPEN: "vfio.open",
    EV_CLOSE: "vfio.close",
    EV_URESET_ENTER: "user_reset.enter",
    EV_URESET_EXIT: "user_reset.exit",
    EV_CFG_LOCK: "cfg_lock",
    EV_RW_DONE: "vfio.rw",          # a whole access in one line (schema 3): ts = entry, exit_ts = return
    EV_PCI_HP: "pci.hp_event",
    EV_LINK: "pcie.link_event",
    EV_HP_EVENT: "hotplug.event",
    EV_HP_UNCONF_ENTER: "hotplug.unconfigure.enter",
    EV_HP_UNCONF_EXIT: "hotplug.unconfigure.exit",
    EV_PCI_REMOVE_ENTER: "pci.remove.enter",
    EV_PCI_REMOVE_EXIT: "pci.remove.exit",
    EV_VFIO_REQUEST: "vfio.request",
    EV_VFIO_REMOVE_ENTER: "vfio.remove.enter",
    EV_VFIO_REMOVE_EXIT: "vfio.remove.exit",
    EV_QEMU_CFG_ENTER: "qemu.config.enter",
    EV_QEMU_CFG_EXIT: "qemu.config.exit",
    EV_QEMU_REGION_ENTER: "qemu.region.enter",
    EV_QEMU_REGION_EXIT: "qemu.region.exit",
    EV_QEMU_VM_STOP: "qemu.vm_stop",
    EV_QEMU_RUNSTATE: "qemu.runstate",
    EV_QEMU_RESET: "qemu.system_reset",
    EV_EVENTFD_READ: "eventfd.read",
}

# Event types that (re)open their hierarchy's live window in flight-recorder mode (common.h ev_init).
NOT_TRIGGERS = frozenset((EV_RW_ENTER, EV_RW_EXIT, EV_RW_DONE, EV_IOCTL_ENTER, EV_IOCTL_EXIT, EV_OPEN, EV_CLOSE))

# include/linux/pci.h enum pci_hotplug_event (7.0+)
HP_EVENTS = {0: "LINK_UP", 1: "LINK_DOWN", 2: "CARD_PRESENT", 3: "CARD_NOT_PRESENT"}

CB_NAMES = {1: "error_detected", 2: "mmio_enabled", 3: "slot_reset", 4: "resume"}
CFG_OPS = {1: "lock", 2: "trylock", 3: "unlock"}
HP_HANDLERS = {1: "presence_or_link_change", 2: "button_press", 3: "disable_request"}
# QEMU's qapi/run-state.json enums (RunState unchanged since 2.8, ShutdownCause since 6.0 up to
# 'snapshot-load' in 7.x); the number is always recorded, the name is a convenience
QEMU_RUNSTATES = ["debug", "inmigrate", "internal-error", "io-error", "paused", "postmigrate", "prelaunch",
                  "finish-migrate", "restore-vm", "running", "save-vm", "shutdown", "suspended", "watchdog",
                  "guest-panicked", "colo"]
QEMU_SHUTDOWN_CAUSES = ["none", "host-error", "host-qmp-quit", "host-qmp-system-reset", "host-signal", "host-ui",
                        "guest-shutdown", "guest-reset", "guest-panic", "subsystem-reset", "snapshot-load"]

# include/uapi/linux/vfio.h: _IO(';', 100 + n)
IOCTL_NAMES = {
    0x3b64: "VFIO_GET_API_VERSION",
    0x3b65: "VFIO_CHECK_EXTENSION",
    0x3b66: "VFIO_SET_IOMMU",
    0x3b6b: "VFIO_DEVICE_GET_INFO",
    0x3b6c: "VFIO_DEVICE_GET_REGION_INFO",
    0x3b6d: "VFIO_DEVICE_GET_IRQ_INFO",
    0x3b6e: "VFIO_DEVICE_SET_IRQS",
    0x3b6f: "VFIO_DEVICE_RESET",
    0x3b70: "VFIO_DEVICE_GET_PCI_HOT_RESET_INFO",
    0x3b71: "VFIO_DEVICE_PCI_HOT_RESET",
    0x3b72: "VFIO_DEVICE_QUERY_GFX_PLANE",
    0x3b73: "VFIO_DEVICE_GET_GFX_DMABUF",
    0x3b74: "VFIO_DEVICE_IOEVENTFD",
    0x3b75: "VFIO_DEVICE_FEATURE",
}

REGION_CONFIG = 7


class Event(ct.Structure):
    """Mirror of struct event (probes/bpf/common.h); tests check the two agree."""
    _fields_ = [
        ("ts", ct.c_uint64),
        ("ret", ct.c_int64),
        ("arg", ct.c_uint64),
        ("pid", ct.c_uint32),
        ("tid", ct.c_uint32),
        ("dev", ct.c_uint32),
        ("val", ct.c_uint32),
        ("size", ct.c_uint32),
        ("tlp", ct.c_uint32 * 4),
        ("type", ct.c_uint16),
        ("fn", ct.c_uint8),
        ("state", ct.c_uint8),
        ("flags", ct.c_uint8),
        ("sev", ct.c_uint8),
        ("cpu", ct.c_uint16),
        ("comm", ct.c_char * 16),
        ("driver", ct.c_char * 16),
    ]


def region_name(idx):
    if 0 <= idx <= 5:
        return "bar%d" % idx
    return {6: "rom", 7: "config", 8: "vga"}.get(idx, "region%d" % idx)


def ioctl_name(cmd):
    return IOCTL_NAMES.get(cmd, "0x%x" % cmd)


def _cstr(b):
    return b.split(b"\0", 1)[0].decode("utf-8", "replace")


_FN_RE = re.compile(r"^int u?reset_enter__(\w+)\(struct pt_regs \*ctx\)[^}]*?reset_enter\(ctx, DEV1, (\d+), EV_U?RESET_ENTER\)",
                    re.M | re.S)


def fn_ids(reset_c_source):
    """Function ids used by reset.c, read from its reset_enter__<symbol> functions."""
    return dict((int(m.group(2)), m.group(1)) for m in _FN_RE.finditer(reset_c_source))


class DecodeError(ValueError):
    pass


def decode(ev, cpu, fn_names):
    """One Event -> schema-v1 dict. Raises DecodeError for records that cannot be encoded."""
    t = TYPE_NAMES.get(ev.type)
    if t is None:
        raise DecodeError("unknown event type %d" % ev.type)
    d = {"type": t, "ts": int(ev.ts), "cpu": int(cpu), "pid": int(ev.pid), "tid": int(ev.tid),
         "comm": _cstr(ev.comm)}
    if ev.dev != NODEV:
        d["dev"] = key_to_name(ev.dev)
    elif t != "eventfd.signal" and ev.type not in QEMU_TYPES:
        raise DecodeError("%s without a device" % t)
    f = ev.flags
    ty = ev.type
    if ty == EV_AER:
        d["severity"] = int(ev.sev)
        d["status"] = int(ev.val)
        d["tlp_valid"] = bool(f & F_TLP)
        if f & F_TLP:
            d["tlp"] = [int(x) for x in ev.tlp]
    elif ty == EV_REC_ENTER:
        if f & F_STATE:
            d["state"] = int(ev.state)
    elif ty in (EV_CB_ENTER, EV_CB_EXIT):
        cb = CB_NAMES.get(ev.fn)
        if cb is None:
            raise DecodeError("unknown callback id %d" % ev.fn)
        d["cb"] = cb
        if ty == EV_CB_ENTER:
            d["driver"] = _cstr(ev.driver)
            if f & F_STATE:
                d["state"] = int(ev.state)
        elif f & F_RESULT:
            d["result"] = int(ev.val)
    elif ty in (EV_RESET_ENTER, EV_RESET_EXIT, EV_URESET_ENTER, EV_URESET_EXIT):
        name = fn_names.get(ev.fn)
        if name is None:
            raise DecodeError("unknown reset function id %d" % ev.fn)
        d["fn"] = name
    elif ty == EV_VERR_ENTER:
        d["state"] = int(ev.state)
    elif ty == EV_EVENTFD:
        d["ctx"] = "0x%x" % ev.arg
    elif ty == EV_EVENTFD_READ:
        d["ctx"] = "0x%x" % ev.arg
        # when the read entered (tlp[0..1]): a blocking reader waited there for the signal
        d["entered"] = int(ev.tlp[0]) | int(ev.tlp[1]) << 32
    elif ty in (EV_IOCTL_ENTER, EV_IOCTL_EXIT):
        d["cmd"] = int(ev.val)
        d["cmd_name"] = ioctl_name(ev.val)
    elif ty in (EV_RW_ENTER, EV_RW_EXIT, EV_RW_DONE):
        if ty == EV_RW_DONE:
            # one line for the whole access (schema 3): ts = its entry (tlp[0..1]), exit_ts = its return
            d["ts"] = int(ev.tlp[0]) | int(ev.tlp[1]) << 32
            d["exit_ts"] = int(ev.ts)
        d["region"] = region_name(ev.fn)
        d["offset"] = int(ev.arg)
        d["size"] = int(ev.size)
        d["write"] = bool(f & F_WRITE)
        if f & F_VALUE:
            d["value"] = int(ev.val)
    elif ty == EV_PCI_HP:
        d["event"] = HP_EVENTS.get(ev.val, str(int(ev.val)))
        d["slot"] = _cstr(ev.driver)
    elif ty == EV_LINK:
        d["reason"] = int(ev.arg)
        d["port_type"] = int(ev.tlp[2])
        d["speed"] = int(ev.tlp[0])
        d["max_speed"] = int(ev.tlp[1])
        d["width"] = int(ev.size)
        d["flit_mode"] = int(ev.tlp[3])
        d["link_status"] = int(ev.val)
        d["dllla"] = bool(ev.val & 0x2000)
    elif ty == EV_CFG_LOCK:
        op = CFG_OPS.get(ev.fn)
        if op is None:
            raise DecodeError("unknown cfg_lock op %d" % ev.fn)
        d["op"] = op
    elif ty == EV_HP_EVENT:
        h = HP_HANDLERS.get(ev.fn)
        if h is None:
            raise DecodeError("unknown hotplug handler id %d" % ev.fn)
        d["handler"] = h
        if ev.fn == 1:
            d["events"] = int(ev.val)
    elif ty == EV_HP_UNCONF_ENTER:
        d["presence"] = bool(ev.state)
    elif ty == EV_VFIO_REQUEST:
        d["count"] = int(ev.val)
    elif ty in (EV_QEMU_CFG_ENTER, EV_QEMU_CFG_EXIT, EV_QEMU_REGION_ENTER, EV_QEMU_REGION_EXIT):
        d["offset"] = int(ev.arg)
        d["size"] = int(ev.size)
        d["write"] = bool(f & F_WRITE)
        if f & F_VALUE:
            d["value"] = int(ev.val)
    elif ty in (EV_QEMU_VM_STOP, EV_QEMU_RUNSTATE):
        d["state"] = int(ev.val)
        if ev.val < len(QEMU_RUNSTATES):
            d["state_name"] = QEMU_RUNSTATES[ev.val]
    elif ty == EV_QEMU_RESET:
        d["reason"] = int(ev.val)
        if ev.val < len(QEMU_SHUTDOWN_CAUSES):
            d["reason_name"] = QEMU_SHUTDOWN_CAUSES[ev.val]
    if f & F_RET:
        d["ret"] = int(ev.ret)
    return d


def lost_event(ts, cpu, count, pid, tid, comm, since=None, until=None):
    """since/until: CLOCK_MONOTONIC ns bounds within which every lost record's ts lies, when known."""
    d = {"type": "lost", "ts": int(ts), "cpu": int(cpu), "pid": int(pid), "tid": int(tid),
         "comm": comm, "count": int(count)}
    if since is not None and until is not None:
        d["since"] = int(since)
        d["until"] = int(until)
    return d


# ---- the hot path: raw record bytes -> JSON line ----------------------------
#
# Config reads arrive at tens of thousands per second; building a dict and calling json.dumps for
# each is what limits the agent (under TCG ~7k events/s). Encoder formats vfio.rw lines directly
# from the unpacked record and falls back to decode() + json.dumps for every other type.
# Tests check both paths give the same JSON.

import json as _json
import struct as _struct

RECORD = _struct.Struct("<QqQIIIII4IHBBBBH16s16s4x")   # 4x: tail padding to 8-byte alignment
assert RECORD.size == ct.sizeof(Event)
# A ring buffer record: the kernel's 8-byte header (length with BUSY/DISCARD bits, page offset), then the
# event, padded to 8 bytes. Every record has the same size, so a run of them is unpacked in one call.
RING_RECORD = _struct.Struct("<II" + RECORD.format[1:])
# the same record, unpacking only what a config read's line needs: len, ts, ret, (arg, pid, tid, dev) as one
# bytes object, val, size, entry ts (tlp[0..1] of EV_RW_DONE), type, fn, flags, cpu, comm
RING_FAST = _struct.Struct("<I4xQq20sIIQ8xHBxBxH16s16x4x")
IDENT = _struct.Struct("<QIII")
assert RING_FAST.size == RING_RECORD.size
RING_BUSY = 1 << 31
RING_DISCARD = 1 << 30

# struct hist_t (probes/bpf/common.h): one access kept by the flight recorder.
HIST = _struct.Struct("<QQQQqIIIIBBH4x16s")
# struct hist_snap_t's header: a chunk of a slot's history bank that the trigger's program wrote into the stream
# just before the trigger's record (ts, head, magic, slot, cpu, bank, part, n, parts), then HIST_CHUNK entries.
HSNAP = _struct.Struct("<QQIIHBBHH")


def snap_chunk(hist_n):
    """Entries per history snapshot record for --history hist_n (common.h HIST_CHUNK)."""
    return hist_n if hist_n < 256 else 256


def snap_size(hist_n):
    """Bytes of one history snapshot record (sizeof(struct hist_snap_t)) for --history hist_n."""
    return HSNAP.size + snap_chunk(hist_n) * HIST.size


def parse_snap(buf, hist_n):
    """One history snapshot record (bytes or memoryview, at least snap_size(hist_n) long) -> (ts, cpu, slot, head,
    bank, part, parts, entries): entries are the chunk's HIST tuples that belong to its bank (n of them), written or
    not (seq 0 = never written or being rewritten). Raises DecodeError if it is not one."""
    if len(buf) < snap_size(hist_n):
        raise DecodeError("history snapshot record of %d bytes, expected %d" % (len(buf), snap_size(hist_n)))
    ts, head, magic, slot, cpu, bank, part, n, parts = HSNAP.unpack_from(buf)
    if magic != HIST_SNAP_MAGIC or n > snap_chunk(hist_n):
        raise DecodeError("not a history snapshot record (magic 0x%x, %d entries)" % (magic, n))
    end = HSNAP.size + n * HIST.size
    return ts, cpu, slot, head, bank, part, parts, list(HIST.iter_unpack(buf[HSNAP.size:end]))


class Encoder(object):
    def __init__(self, fn_names):
        self.fn_names = fn_names
        self._comm = {}
        self._dev = {}
        self._region = dict((i, region_name(i)) for i in range(256))
        self._heads = {}

    def _comm_json(self, raw):
        s = self._comm.get(raw)
        if s is None:
            s = _json.dumps(_cstr(raw))
            if len(self._comm) < 4096:
                self._comm[raw] = s
        return s

    def _dev_name(self, key):
        s = self._dev.get(key)
        if s is None:
            s = key_to_name(key)
            self._dev[key] = s
        return s

    def line(self, raw, cpu=None):
        """One record (bytes, RECORD.size long) -> JSON text without the final newline. Raises DecodeError."""
        return self.fields_line(RECORD.unpack_from(raw), 0)

    def fields_line(self, t, i):
        """The same from an unpacked record: t[i:] are RECORD's fields (i = 2 after a ring header)."""
        (ts, ret, arg, pid, tid, dev, val, size, t0, t1, t2, t3, typ, fn, state, flags, sev, cpu,
         comm, driver) = t[i:i + 20] if i else t
        if typ == EV_RW_EXIT or typ == EV_RW_ENTER or typ == EV_RW_DONE:
            if dev == NODEV:
                raise DecodeError("vfio.rw without a device")
            head = ',"cpu":%d,"pid":%d,"tid":%d,"comm":%s,"dev":"%s","region":"%s","offset":%d,"size":%d,"write":%s' % (
                cpu, pid, tid, self._comm_json(comm), self._dev_name(dev), self._region[fn], arg, size,
                "true" if flags & F_WRITE else "false")
            if typ == EV_RW_ENTER:
                if flags & F_VALUE:
                    return '{"type":"vfio.rw.enter","ts":%d%s,"value":%d}' % (ts, head, val)
                return '{"type":"vfio.rw.enter","ts":%d%s}' % (ts, head)
            if typ == EV_RW_DONE:
                # one line for the whole access: ts = its entry, exit_ts = its return (the record's own ts); value =
                # the value written (writes) or returned (config reads), as the enter/exit pair would carry it
                return '{"type":"vfio.rw","ts":%d,"exit_ts":%d%s%s%s}' % (
                    t0 | t1 << 32, ts, head, ',"value":%d' % val if flags & F_VALUE else "",
                    ',"ret":%d' % ret if flags & F_RET else "")
            exit_ = '{"type":"vfio.rw.exit","ts":%d%s' % (ts, head)
            if flags & F_VALUE and not flags & F_WRITE:
                exit_ += ',"value":%d' % val
            if flags & F_RET:
                exit_ += ',"ret":%d' % ret
            return exit_ + "}"
        ev = Event(ts, ret, arg, pid, tid, dev, val, size, (ct.c_uint32 * 4)(t0, t1, t2, t3), typ, fn, state, flags,
                   sev, cpu, comm, driver)
        return _json.dumps(decode(ev, cpu, self.fn_names), separators=(",", ":"))

    def _head(self, key):
        """The part of a config read's line that repeats for a polling reader (pid to write), cached per key
        (ident, comm, fn, size); None for a record without a device (the general path says why)."""
        ident, comm, fn, rsize = key
        arg, pid, tid, dev = IDENT.unpack(ident)
        if dev == NODEV:
            return None
        head = ',"pid":%d,"tid":%d,"comm":%s,"dev":"%s","region":"%s","offset":%d,"size":%d,"write":false' % (
            pid, tid, self._comm_json(comm), self._dev_name(dev), self._region[fn], arg, rsize)
        if len(self._heads) < 65536:
            self._heads[key] = head
        return head

    # a hot config read's line templates, shared by ring_lines (one record at a time) and ring_text (a chunk)
    _T_DONE = '{"type":"vfio.rw","ts":%d,"exit_ts":%d,"cpu":%d%s,"value":%d,"ret":%d}'
    _T_EXIT = '{"type":"vfio.rw.exit","ts":%d,"cpu":%d%s,"value":%d,"ret":%d}'
    _T_ENTER = '{"type":"vfio.rw.enter","ts":%d,"cpu":%d%s}'

    def ring_text(self, buf, n):
        """The bulk of a live stream in one piece: when all n records in buf are config reads of the hot kinds (a
        whole read, a read's entry or its return; no trigger, nothing uncommitted or of another size), returns their
        lines joined by newlines (no final one), exactly ring_lines' lines; otherwise None (nothing consumed: the
        caller decodes the chunk with ring_lines). One % over the chunk's joined templates instead of one per
        record: measured in the lab's TCG guests, formatting was ~60% of the decode (6-10 us of ~10 us per
        record), most of it the per-call cost of %, not the number conversions."""
        heads = self._heads
        size = RING_RECORD.size
        want = size - 8
        mask, hot = F_WRITE | F_VALUE | F_RET | F_TRIGGER, F_VALUE | F_RET
        t_done, t_exit, t_enter = self._T_DONE, self._T_EXIT, self._T_ENTER
        tmpl = []
        tadd = tmpl.append
        args = []
        ext = args.extend
        # a polling reader's records share one key: compared field by field with the last one's (no tuple to build
        # and hash per record: its bytes are new objects each time)
        l_ident = l_comm = l_fn = l_rsize = head = None
        for ln, ts, ret, ident, val, rsize, ent, typ, fn, fl, cpu, comm in RING_FAST.iter_unpack(buf[:n * size]):
            if ln != want:
                return None
            f = fl & mask
            if f == hot and typ == EV_RW_DONE:
                t = t_done
            elif f == hot and typ == EV_RW_EXIT:
                t = t_exit
            elif f == 0 and typ == EV_RW_ENTER:
                t = t_enter
            else:
                return None
            if ident != l_ident or comm != l_comm or fn != l_fn or rsize != l_rsize:
                key = (ident, comm, fn, rsize)
                head = heads.get(key)
                if head is None:
                    head = self._head(key)
                    if head is None:
                        return None
                l_ident, l_comm, l_fn, l_rsize = key
            tadd(t)
            if t is t_done:
                ext((ent, ts, cpu, head, val, ret))
            elif t is t_exit:
                ext((ts, cpu, head, val, ret))
            else:
                ext((ts, cpu, head))
        return "\n".join(tmpl) % tuple(args)

    def ring_lines(self, buf, n):
        """Decodes n ring-buffer records laid out back to back in buf (a memoryview): returns (lines, records
        used, trigger records) and stops before a record the kernel has not committed yet (BUSY). Lines are
        JSON texts; undecodable records come back as DecodeError instances in their place."""
        out = []
        trig = []
        used = 0
        heads = self._heads
        append = out.append
        size = RING_RECORD.size
        want = size - 8
        mask, hot = F_WRITE | F_VALUE | F_RET | F_TRIGGER, F_VALUE | F_RET
        t_done, t_exit, t_enter = self._T_DONE, self._T_EXIT, self._T_ENTER
        # RING_FAST unpacks only the fields a config read's line needs (fewer objects per record), straight into
        # locals (measured natively: 770 -> 550 ns per whole-access record against indexing the tuple); any other
        # record is unpacked again in full from the same place.
        i = -1
        for ln, ts, ret, ident, val, rsize, ent, typ, fn, fl, cpu, comm in RING_FAST.iter_unpack(buf[:n * size]):
            i += 1
            if ln != want:
                # busy, discarded, or a record of another size (a history snapshot, which the reader hands over
                # by itself): stop before it unless it is one of ours discarded
                if ln & RING_BUSY or ln & ~(RING_BUSY | RING_DISCARD) != want:
                    break
                used += 1
                continue
            used += 1
            f = fl & mask
            if f == hot and (typ == EV_RW_DONE or typ == EV_RW_EXIT) or (typ == EV_RW_ENTER and f == 0):
                # the bulk of a live stream: a whole config read (schema 3), or a read's entry (no value) and its
                # return. Everything but the times, cpu, value and ret repeats for a polling reader, so that part of
                # the line is formatted once per key.
                key = (ident, comm, fn, rsize)
                head = heads.get(key)
                if head is None:
                    head = self._head(key)
                if head is not None:
                    if typ == EV_RW_DONE:
                        append(t_done % (ent, ts, cpu, head, val, ret))
                    elif typ == EV_RW_EXIT:
                        append(t_exit % (ts, cpu, head, val, ret))
                    else:
                        append(t_enter % (ts, cpu, head))
                    continue
            try:
                append(self.fields_line(RING_RECORD.unpack_from(buf, i * size), 2))
            except DecodeError as e:
                append(e)
                continue
            if fl & F_TRIGGER:
                trig.append((len(out) - 1, ts, IDENT.unpack(ident)[3], cpu, fl))   # line index, ts, dev, cpu, flags
        return out, used, trig

    def history_lines(self, entries, dev):
        """Flight-recorder entries (HIST tuples, oldest first) of one device -> one `vfio.rw` line per access marked
        "history":true (schema 3; value: written or, for config reads, returned)."""
        name = self._dev_name(dev)
        out = []
        comm_json, regions = self._comm_json, self._region
        for (seq, ts0, ts1, off, ret, pid, tid, val, size, region, flags, cpu, comm) in entries:
            out.append('{"type":"vfio.rw","ts":%d,"exit_ts":%d,"cpu":%d,"pid":%d,"tid":%d,"comm":%s,"dev":"%s","region":"%s",'
                       '"offset":%d,"size":%d,"write":%s,"history":true%s,"ret":%d}' % (
                           ts0, ts1, cpu, pid, tid, comm_json(comm), name, regions[region], off, size,
                           "true" if flags & F_WRITE else "false", ',"value":%d' % val if flags & F_VALUE else "", ret))
        return out
