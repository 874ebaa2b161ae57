"""Decode the probes' binary records (struct event in probes/bpf/common.h) into schema-v1 dicts."""
import ctypes as ct
import re

from .topology import key_to_name

EV_AER = 1
EV_REC_ENTER = 2
EV_REC_EXIT = 3
EV_CB_ENTER = 4
EV_CB_EXIT = 5
EV_RESET_ENTER = 6
EV_RESET_EXIT = 7
EV_VERR_ENTER = 8
EV_VERR_EXIT = 9
EV_EVENTFD = 10
EV_IOCTL_ENTER = 11
EV_IOCTL_EXIT = 12
EV_RW_ENTER = 13
EV_RW_EXIT = 14
EV_OPEN = 15
EV_CLOSE = 16
EV_URESET_ENTER = 17
EV_URESET_EXIT = 18
EV_CFG_LOCK = 19
# device loss (probes/bpf/hotplug.c, vfio.c)
EV_HP_EVENT = 40
EV_HP_UNCONF_ENTER = 41
EV_HP_UNCONF_EXIT = 42
EV_PCI_REMOVE_ENTER = 43
EV_PCI_REMOVE_EXIT = 44
EV_VFIO_REQUEST = 45
EV_VFIO_REMOVE_ENTER = 46
EV_VFIO_REMOVE_EXIT = 47
# QEMU uprobes (probes/bpf/qemu.c): no dev
EV_QEMU_CFG_ENTER = 50
EV_QEMU_CFG_EXIT = 51
EV_QEMU_REGION_ENTER = 52
EV_QEMU_REGION_EXIT = 53
EV_QEMU_VM_STOP = 54
EV_QEMU_RUNSTATE = 55
EV_QEMU_RESET = 56
QEMU_TYPES = (EV_QEMU_CFG_ENTER, EV_QEMU_CFG_EXIT, EV_QEMU_REGION_ENTER, EV_QEMU_REGION_EXIT, EV_QEMU_VM_STOP,
              EV_QEMU_RUNSTATE, EV_QEMU_RESET)

F_RET = 0x01
F_VALUE = 0x02
F_WRITE = 0x04
F_TLP = 0x08
F_STATE = 0x10
F_RESULT = 0x20

NODEV = 0xffffffff

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
}

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
        ("pad", ct.c_uint8 * 2),
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
    elif ty in (EV_IOCTL_ENTER, EV_IOCTL_EXIT):
        d["cmd"] = int(ev.val)
        d["cmd_name"] = ioctl_name(ev.val)
    elif ty in (EV_RW_ENTER, EV_RW_EXIT):
        d["region"] = region_name(ev.fn)
        d["offset"] = int(ev.arg)
        d["size"] = int(ev.size)
        d["write"] = bool(f & F_WRITE)
        if f & F_VALUE:
            d["value"] = int(ev.val)
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
        elif ev.fn == 3:
            d["reason"] = int(ev.val)
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


def lost_event(ts, cpu, count, pid, tid, comm):
    return {"type": "lost", "ts": int(ts), "cpu": int(cpu), "pid": int(pid), "tid": int(tid),
            "comm": comm, "count": int(count)}


# ---- the hot path: raw record bytes -> JSON line ----------------------------
#
# Config reads arrive at tens of thousands per second; building a dict and calling json.dumps for
# each is what limits the agent (under TCG ~7k events/s). Encoder formats vfio.rw lines directly
# from the unpacked record and falls back to decode() + json.dumps for every other type.
# Tests check both paths give the same JSON.

import json as _json
import struct as _struct

RECORD = _struct.Struct("<QqQIIIII4IHBBBB2x16s16s4x")   # 4x: tail padding to 8-byte alignment
assert RECORD.size == ct.sizeof(Event)


class Encoder(object):
    def __init__(self, fn_names):
        self.fn_names = fn_names
        self._comm = {}
        self._dev = {}
        self._region = dict((i, region_name(i)) for i in range(256))

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

    def line(self, raw, cpu):
        """One record (bytes, RECORD.size long) -> JSON text without newline. Raises DecodeError."""
        (ts, ret, arg, pid, tid, dev, val, size, t0, t1, t2, t3, typ, fn, state, flags, sev,
         comm, driver) = RECORD.unpack_from(raw)
        if (typ == EV_RW_EXIT or typ == EV_RW_ENTER) and dev != NODEV:
            s = '{"type":"%s","ts":%d,"cpu":%d,"pid":%d,"tid":%d,"comm":%s,"dev":"%s","region":"%s",' \
                '"offset":%d,"size":%d,"write":%s' % (
                    "vfio.rw.exit" if typ == EV_RW_EXIT else "vfio.rw.enter", ts, cpu, pid, tid,
                    self._comm_json(comm), self._dev_name(dev), self._region[fn], arg, size,
                    "true" if flags & F_WRITE else "false")
            if flags & F_VALUE:
                s += ',"value":%d' % val
            if flags & F_RET:
                s += ',"ret":%d' % ret
            return s + "}"
        return _json.dumps(decode(Event.from_buffer_copy(raw), cpu, self.fn_names), separators=(",", ":"))
