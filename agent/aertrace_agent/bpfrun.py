"""The bcc part: compile, fill the filter, attach, poll. Needs root and python3-bpfcc."""
import ctypes as ct
import os

from .encode import RECORD
from .topology import name_to_key


class Runner(object):
    # Kernel headers assert struct sizes that bcc's BPF-target clang computes differently on some
    # kernels (7.2: sizeof(struct filename) % 64 in linux/fs.h); the probes never use those structs.
    NO_STATIC_ASSERT = ["-D_Static_assert(e,m)="]

    def __init__(self, bpf_mod, text, cflags, extra=()):
        self.BPF = bpf_mod.BPF
        self.b = self.BPF(text=text, cflags=["-D%s" % d for d in cflags] + ["-w"] + list(extra))

    def set_filter(self, devices):
        if not devices:
            return
        allowed = self.b["allowed"]
        for name in devices:
            allowed[allowed.Key(name_to_key(name))] = allowed.Leaf(1)
        on = self.b["filter_on"]
        on[on.Key(0)] = on.Leaf(1)

    def attach(self, chosen):
        # uprobe/uretprobe attachments carry the binary's path (catalog resolution adds it)
        """Attach every chosen candidate; returns (attached_chosen, failed) where failed is a list
        of (chosen entry, reason). A candidate whose attachments fail is detached entirely."""
        ok, failed = [], []
        for c in chosen:
            done = []
            err = None
            for a in c["attach"]:
                kind, fn = a["kind"], a["fn"]
                try:
                    if kind == "kprobe":
                        self.b.attach_kprobe(event=a["symbol"], fn_name=fn)
                    elif kind == "kretprobe":
                        self.b.attach_kretprobe(event=a["symbol"], fn_name=fn)
                    elif kind == "uprobe":
                        self.b.attach_uprobe(name=a["path"], sym=a["symbol"], fn_name=fn)
                    elif kind == "uretprobe":
                        self.b.attach_uretprobe(name=a["path"], sym=a["symbol"], fn_name=fn)
                    elif kind == "tracepoint":
                        # TRACEPOINT_PROBE functions are attached by bcc when it loads the program.
                        if not self._tracepoint_attached(a["tracepoint"]):
                            self.b.attach_tracepoint(tp=a["tracepoint"], fn_name=fn)
                    else:
                        raise ValueError("unknown probe kind %s" % kind)
                    done.append(a)
                except Exception as e:  # bcc raises plain Exception
                    err = "%s %s: attach failed: %s" % (kind, a.get("symbol") or a.get("tracepoint"),
                                                       str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__)
                    break
            if err is None:
                ok.append(c)
                continue
            for a in done:
                try:
                    if a["kind"] == "kprobe":
                        self.b.detach_kprobe(event=a["symbol"])
                    elif a["kind"] == "kretprobe":
                        self.b.detach_kretprobe(event=a["symbol"])
                    elif a["kind"] == "uprobe":
                        self.b.detach_uprobe(name=a["path"], sym=a["symbol"])
                    elif a["kind"] == "uretprobe":
                        self.b.detach_uretprobe(name=a["path"], sym=a["symbol"])
                except Exception:
                    pass
            failed.append((c, err))
        return ok, failed

    def _tracepoint_attached(self, tp):
        fds = getattr(self.b, "tracepoint_fds", {})
        key = tp.encode() if isinstance(tp, str) else tp
        return key in fds or tp in fds

    consume = False

    def open_buffer(self, on_event, on_lost, page_cnt, wakeup=64):
        """Per-CPU perf buffers with a lost callback that knows its CPU (bcc's public API drops it).
        on_event(cpu, record bytes), on_lost(cpu, count)."""
        table = self.b["events"]
        try:
            from bcc.utils import get_online_cpus
            cpus = get_online_cpus()
        except Exception:
            cpus = list(range(os.cpu_count() or 1))
        n = RECORD.size
        string_at = ct.string_at

        def make(cpu):
            def raw(cpu_, data, size):
                on_event(cpu_, string_at(data, n))

            def lost(count):
                on_lost(cpu, count)
            return raw, lost

        opener = getattr(table, "_open_perf_buffer", None)
        if opener is None:
            table.open_perf_buffer(lambda c, d, s: on_event(c, string_at(d, n)), page_cnt=page_cnt,
                                   lost_cb=lambda n: on_lost(0, n))  # CPU unknown here
            return
        # Waking the agent for every record costs the traced program more than the probes do
        # (under TCG, halves a 2 ms read loop's rate): where bcc can read buffers without a wakeup
        # (perf_buffer_consume, bcc >= 0.20) wake only every `wakeup` records and read the rest
        # every poll round.
        can_consume = hasattr(self.b, "perf_buffer_consume")
        for cpu in cpus:
            raw, lost = make(cpu)
            try:
                opener(cpu, raw, page_cnt, lost, wakeup if can_consume else 1)   # bcc >= 0.19
                self.consume = can_consume
            except TypeError:
                opener(cpu, raw, page_cnt, lost)                                   # bcc 0.18 (bullseye)

    def poll(self, timeout_ms):
        self.b.perf_buffer_poll(timeout=timeout_ms)
        if self.consume:
            self.b.perf_buffer_consume()

    def rw_skipped(self):
        """vfio accesses the --rw-window gate counted instead of recording."""
        try:
            return int(self.b["rw_skipped"][0].value)
        except Exception:
            return 0

    def cleanup(self):
        try:
            self.b.cleanup()
        except Exception:
            pass
