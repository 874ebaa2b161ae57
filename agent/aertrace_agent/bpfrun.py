"""The bcc part: compile, fill the maps, attach, read the buffers. Needs root and python3-bpfcc."""
import ctypes as ct
import mmap
import os
import select
import struct

from .encode import RECORD, RING_RECORD, RING_BUSY, RING_DISCARD, HIST, SNAP_SLOTS
from .topology import name_to_key
from .recorder import HIER_MAX as HIER_ALL   # common.h: the hist_frozen/live_until entry for every hierarchy

U64 = struct.Struct("<Q")
U32 = struct.Struct("<I")
NREG = 10   # common.h: counters per slot (regions 0-8, 9 = any other)
HIST_BANKS = 2   # common.h: history banks per slot (a trigger freezes one, recording goes on in the other)


class RingReader(object):
    """Reads a BPF ring buffer map (kernel 5.8+) directly through its mmap'ed pages: no per-record callback.
    The kernel maps the data area twice in a row, so any run of records is contiguous in memory and a whole
    batch is unpacked with one struct.iter_unpack call (Encoder.ring_lines)."""

    CHUNK = 1024   # records handed to the decoder per call
    on_other = None   # on_other(memoryview): a committed record that is not a struct event (history snapshots)

    def __init__(self, fd, size):
        page = mmap.PAGESIZE
        self.page, self.size, self.mask = page, size, size - 1
        self.cons = mmap.mmap(fd, page, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE, offset=0)
        self.prod = mmap.mmap(fd, page + 2 * size, mmap.MAP_SHARED, mmap.PROT_READ, offset=page)
        self.mv = memoryview(self.prod)
        # The positions are read and written as whole native u64s (memoryview 'Q': one aligned 8-byte load or
        # store). struct's "<Q" packs and unpacks byte by byte: the kernel, on another CPU, could read a torn
        # consumer position (measured: one record "lost" on 6.1 with the 128 MiB ring 1/3 full, the ring
        # looking full for an instant), and a torn producer read could run past what the kernel committed.
        self.cons_pos = memoryview(self.cons)[:8].cast("Q")
        self.prod_pos = self.mv[:8].cast("Q")
        self.ep = select.epoll()
        try:
            self.ep.register(fd, select.EPOLLIN)
        except OSError:
            self.ep = None   # not pollable (a test's memfd): wait() sleeps instead

    def wait(self, timeout_s):
        if self.ep is None:
            import time
            time.sleep(timeout_s)
            return
        try:
            self.ep.poll(timeout_s)
        except InterruptedError:
            pass

    def read(self, on_batch, max_bytes=1 << 22):
        """Hands runs of committed records to on_batch(memoryview, n) -> records used; advances the consumer
        position. Returns the number of records consumed (max_bytes per call bounds the work between polls)."""
        rs = RING_RECORD.size
        cons = self.cons_pos[0]
        prod = self.prod_pos[0]
        done = 0
        while cons < prod and max_bytes > 0:
            off = cons & self.mask
            first = U32.unpack_from(self.mv, self.page + off)[0]
            if first & RING_BUSY:
                break
            ln = first & ~(RING_BUSY | RING_DISCARD)
            if ln != RECORD.size:
                # a record of another size: a history snapshot (common.h hist_snapshot) goes to on_other, read in
                # place before the consumer position moves past it; anything else (or discarded) is skipped by its
                # own length
                if self.on_other is not None and not first & RING_DISCARD:
                    base = self.page + off + 8
                    self.on_other(self.mv[base:base + ln])
                cons += (ln + 8 + 7) & ~7
                self.cons_pos[0] = cons
                max_bytes -= ln
                continue
            # at most CHUNK records per call: the decoder's lines for a whole 4 MiB batch (40k records) kept
            # alive until the write ran at 0.4x the speed of the same work in chunks (agent/README.md)
            n = min((prod - cons) // rs, max_bytes // rs, self.CHUNK)
            if n == 0:
                break
            base = self.page + off
            used = on_batch(self.mv[base:base + n * rs], n)
            cons += used * rs
            done += used
            max_bytes -= used * rs
            self.cons_pos[0] = cons
            if used < n:
                # a record not committed yet, or one of another size: the next pass decides
                nxt = U32.unpack_from(self.mv, self.page + (cons & self.mask))[0]
                if nxt & RING_BUSY:
                    break
        return done


def _unread(ring):
    """(count, first ts, last ts) of the records still in a RingReader's ring, read in place without consuming
    them; the ts of records not committed yet are not known (counted, not bounded)."""
    rs = RING_RECORD.size
    cons = ring.cons_pos[0]
    prod = ring.prod_pos[0]
    count, first, last = 0, None, None
    while cons < prod:
        off = ring.page + (cons & ring.mask)
        hdr = U32.unpack_from(ring.mv, off)[0]
        ln = hdr & ~(RING_BUSY | RING_DISCARD)
        if not hdr & RING_DISCARD:
            count += 1
            if not hdr & RING_BUSY and ln == RECORD.size:
                ts = U64.unpack_from(ring.mv, off + 8)[0]
                first = ts if first is None else min(first, ts)
                last = ts if last is None else max(last, ts)
        cons += (ln + 8 + 7) & ~7 if ln else rs
    return count, first, last


RingReader.unread = _unread


class _ProgLoadOpts(ct.Structure):
    """libbpf's struct bpf_prog_load_opts up to log_buf (libbpf 0.6 to 1.x; sz tells libbpf how far we fill)."""
    _fields_ = [("sz", ct.c_size_t), ("attempts", ct.c_int), ("expected_attach_type", ct.c_uint32),
                ("prog_btf_fd", ct.c_uint32), ("prog_flags", ct.c_uint32), ("prog_ifindex", ct.c_uint32),
                ("kern_version", ct.c_uint32), ("attach_btf_id", ct.c_uint32), ("attach_prog_fd", ct.c_uint32),
                ("attach_btf_obj_fd", ct.c_uint32), ("fd_array", ct.c_void_p), ("func_info", ct.c_void_p),
                ("func_info_cnt", ct.c_uint32), ("func_info_rec_size", ct.c_uint32), ("line_info", ct.c_void_p),
                ("line_info_cnt", ct.c_uint32), ("line_info_rec_size", ct.c_uint32), ("log_level", ct.c_uint32),
                ("log_size", ct.c_uint32), ("log_buf", ct.c_char_p)]


class _BtfInfo(ct.Structure):
    """struct bpf_btf_info (uapi/linux/bpf.h, 5.11+ with name and kernel_btf)."""
    _fields_ = [("btf", ct.c_uint64), ("btf_size", ct.c_uint32), ("id", ct.c_uint32), ("name", ct.c_uint64),
                ("name_len", ct.c_uint32), ("kernel_btf", ct.c_uint32)]


class LibbpfFentry(object):
    """fentry/fexit on a module's function where bcc cannot (bcc < 0.31 resolves kfunc targets in vmlinux's BTF
    only): the program bcc compiled (its instructions, map fds already in place) is loaded through the system's
    libbpf (libbpf.so.1, which bcc itself links) as a TRACING program whose target is the function's id in the
    module's split BTF and the module's kernel BTF object, then attached with a raw tracepoint open, as bcc
    attaches its own kfuncs. module=None: a vmlinux function (the unit test on the host). Raises OSError."""
    BTF_KIND_FUNC = 12
    PROG_TYPE_TRACING = 26
    TRACE_FENTRY, TRACE_FEXIT = 24, 25

    def __init__(self, module, libname="libbpf.so.1"):
        lib = self.lib = ct.CDLL(libname, use_errno=True)
        lib.btf__load_vmlinux_btf.restype = ct.c_void_p
        lib.btf__load_module_btf.restype = ct.c_void_p
        lib.btf__load_module_btf.argtypes = [ct.c_char_p, ct.c_void_p]
        lib.btf__find_by_name_kind.restype = ct.c_int
        lib.btf__find_by_name_kind.argtypes = [ct.c_void_p, ct.c_char_p, ct.c_uint32]
        lib.bpf_prog_load.restype = ct.c_int
        lib.bpf_prog_load.argtypes = [ct.c_int, ct.c_char_p, ct.c_char_p, ct.c_void_p, ct.c_size_t, ct.c_void_p]
        lib.bpf_raw_tracepoint_open.restype = ct.c_int
        lib.bpf_raw_tracepoint_open.argtypes = [ct.c_char_p, ct.c_int]
        lib.bpf_btf_get_next_id.argtypes = [ct.c_uint32, ct.POINTER(ct.c_uint32)]
        lib.bpf_btf_get_fd_by_id.argtypes = [ct.c_uint32]
        lib.bpf_obj_get_info_by_fd.argtypes = [ct.c_int, ct.c_void_p, ct.POINTER(ct.c_uint32)]
        vmlinux = lib.btf__load_vmlinux_btf()
        if not vmlinux:
            raise OSError("libbpf could not load vmlinux BTF")
        self.obj_fd = 0
        if module is None:
            self.btf = vmlinux
        else:
            self.btf = lib.btf__load_module_btf(module.encode(), vmlinux)
            if not self.btf:
                raise OSError("libbpf could not load the BTF of module %s" % module)
            self.obj_fd = self._module_btf_fd(module)
        self.fds = {}   # fn name -> (prog fd, link fd)

    def _module_btf_fd(self, module):
        lib, cur, nxt = self.lib, 0, ct.c_uint32(0)
        while lib.bpf_btf_get_next_id(cur, ct.byref(nxt)) == 0:
            cur = nxt.value
            fd = lib.bpf_btf_get_fd_by_id(cur)
            if fd < 0:
                continue
            name = ct.create_string_buffer(64)
            info = _BtfInfo(name=ct.addressof(name), name_len=64)
            ln = ct.c_uint32(ct.sizeof(info))
            if lib.bpf_obj_get_info_by_fd(fd, ct.byref(info), ct.byref(ln)) == 0 and name.value == module.encode():
                return fd
            os.close(fd)
        raise OSError("no kernel BTF object for module %s" % module)

    def attach(self, b, fn, symbol, exit_):
        """Loads bcc's compiled function fn of BPF object b as fentry (exit_=False) or fexit on symbol, attaches it."""
        tid = self.lib.btf__find_by_name_kind(self.btf, symbol.encode(), self.BTF_KIND_FUNC)
        if tid <= 0:
            raise OSError("%s not in the BTF" % symbol)
        insns = b.dump_func(fn)
        log = ct.create_string_buffer(1 << 16)
        opts = _ProgLoadOpts(sz=ct.sizeof(_ProgLoadOpts), expected_attach_type=self.TRACE_FEXIT if exit_ else self.TRACE_FENTRY,
                             attach_btf_id=tid, attach_btf_obj_fd=self.obj_fd)   # no log: libbpf wants both or neither
        buf = ct.create_string_buffer(insns, len(insns))
        fd = self.lib.bpf_prog_load(self.PROG_TYPE_TRACING, fn[:15].encode(), b"GPL", buf, len(insns) // 8, ct.byref(opts))
        if fd < 0:
            # again with the verifier's log, to say why
            e = ct.get_errno()
            opts.log_level, opts.log_size, opts.log_buf = 1, len(log), ct.cast(log, ct.c_char_p)
            fd2 = self.lib.bpf_prog_load(self.PROG_TYPE_TRACING, fn[:15].encode(), b"GPL", buf, len(insns) // 8, ct.byref(opts))
            if fd2 >= 0:
                fd = fd2
            else:
                tail = log.value.decode("utf-8", "replace").strip().splitlines()[-1:] or [os.strerror(e or -fd)]
                raise OSError("loading %s as %s on %s: %s" % (fn, "fexit" if exit_ else "fentry", symbol, tail[0]))
        link = self.lib.bpf_raw_tracepoint_open(None, fd)
        if link < 0:
            e = ct.get_errno()
            os.close(fd)
            raise OSError("attaching %s to %s: %s" % (fn, symbol, os.strerror(e or -link)))
        self.fds[fn] = (fd, link)

    def detach(self, fn):
        fd, link = self.fds.pop(fn)
        os.close(link)
        os.close(fd)

    def detach_all(self):
        for fn in list(self.fds):
            self.detach(fn)


def libbpf_module_fentry(module, btf_dir="/sys/kernel/btf"):
    """Whether LibbpfFentry can be tried for module: the module's BTF is there and libbpf.so.1 has what it uses."""
    if not os.path.exists(os.path.join(btf_dir, module)):
        return False
    try:
        lib = ct.CDLL("libbpf.so.1")
        return all(hasattr(lib, f) for f in ("btf__load_module_btf", "btf__find_by_name_kind", "bpf_prog_load",
                                              "bpf_raw_tracepoint_open", "bpf_btf_get_next_id"))
    except OSError:
        return False


class Runner(object):
    # Kernel headers assert struct sizes that bcc's BPF-target clang computes differently on some
    # kernels (7.2: sizeof(struct filename) % 64 in linux/fs.h); the probes never use those structs.
    NO_STATIC_ASSERT = ["-D_Static_assert(e,m)="]

    def __init__(self, bpf_mod, text, cflags, extra=()):
        self.BPF = bpf_mod.BPF
        self.b = self.BPF(text=text, cflags=["-D%s" % d for d in cflags] + ["-w"] + list(extra))
        self.ring = None
        self.hist_mm = None
        self.snapshots = "HIST_SNAP" in cflags   # the trigger programs write the history into the stream
        self._lost_prev = None
        self.libbpf = None   # LibbpfFentry, made on the first attachment that needs it

    def set_filter(self, devices):
        if not devices:
            return
        allowed = self.b["allowed"]
        for name in devices:
            allowed[allowed.Key(name_to_key(name))] = allowed.Leaf(1)
        on = self.b["filter_on"]
        on[on.Key(0)] = on.Leaf(1)

    def set_recorder(self, devinfo, hist_n, slots):
        """devinfo: {device name: (slot or None, hierarchy id)}; maps the history array for reading. With HIST_SNAP
        compiled in, tells the trigger programs which slots each hierarchy has (common.h hier_slots): a hierarchy with
        more than SNAP_SLOTS of them (and, for unknown devices, more than SNAP_SLOTS in all) keeps the freeze."""
        t = self.b["devinfo"]
        for name, (slot, hier) in devinfo.items():
            t[t.Key(name_to_key(name))] = t.Leaf(0xffffffff if slot is None else slot, hier)
        self.hist_n, self.slots = hist_n, slots
        if self.snapshots:
            by_hier = {}
            for slot, hier in sorted((s, h) for s, h in devinfo.values() if s is not None):
                by_hier.setdefault(hier, []).append(slot)
            by_hier[HIER_ALL] = sorted(s for s, h in devinfo.values() if s is not None)
            hs = self.b["hier_slots"]
            for hier, ss in by_hier.items():
                n = len(ss) if len(ss) <= SNAP_SLOTS else 0
                ss = (ss + [0] * SNAP_SLOTS)[:SNAP_SLOTS] if n else [0] * SNAP_SLOTS
                hs[hs.Key(hier)] = hs.Leaf(n, (ct.c_uint32 * SNAP_SLOTS)(*ss))
        try:
            fd = self.b["history"].map_fd
            size = slots * HIST_BANKS * hist_n * HIST.size
            size = (size + mmap.PAGESIZE - 1) // mmap.PAGESIZE * mmap.PAGESIZE
            self.hist_mm = memoryview(mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ))
        except Exception:
            self.hist_mm = None   # read entry by entry instead

    def history(self, slot, after):
        """Entries of a slot with seq > after, oldest first, and the slot's head (entries ever written)."""
        head = int(self.b["hist_head"][ct.c_uint32(slot)].value)
        if head <= after:
            return [], head
        n = self.hist_n * HIST_BANKS   # both banks: the seqs say which entries are new and their order
        if self.hist_mm is not None:
            base = slot * n * HIST.size
            entries = HIST.iter_unpack(self.hist_mm[base:base + n * HIST.size])
        else:
            t = self.b["history"]
            entries = (HIST.unpack(bytes(t[t.Key(slot * n + i)])) for i in range(n))
        got = sorted((e for e in entries if after < e[0] <= head), key=lambda e: e[0])
        return got, head

    def unfreeze(self, hier):
        """Lets the kernel write the bank of hierarchy hier's history that the oldest trigger not yet dumped froze
        (common.h hist_frozen, hist_bank) once its history has been written; hier None = the entry that stands for
        every hierarchy. Dumps come in trigger order: with both banks frozen the older is the one recording is not
        pointed at (arm_live moves hist_bank only to a free bank), with one frozen it is that one."""
        t = self.b["hist_frozen"]
        if hier is None:
            for b in range(HIST_BANKS):
                t[t.Key(HIER_ALL * HIST_BANKS + b)] = t.Leaf(0)
            return
        cur = int(self.b["hist_bank"][ct.c_uint32(hier)].value) & 1
        other = hier * HIST_BANKS + (cur ^ 1)
        older = other if int(t[ct.c_uint32(other)].value) else hier * HIST_BANKS + cur
        t[t.Key(older)] = t.Leaf(0)

    def counters(self, slot):
        """({region index: accesses}, command value changes, status value changes) of a slot."""
        rc = self.b["rw_count"]
        acc = {}
        for r in range(NREG):
            v = int(rc[ct.c_uint32(slot * NREG + r)].value)
            if v:
                acc[r] = v
        regs = self.b["regs"][ct.c_uint32(slot)]
        return acc, int(regs.cmd_changes), int(regs.status_changes)

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
                    elif kind in ("kfunc", "kretfunc") and a.get("loader") == "libbpf":
                        if self.libbpf is None:
                            self.libbpf = LibbpfFentry(c["candidate"].get("module"))
                        self.libbpf.attach(self.b, fn, a["symbol"], kind == "kretfunc")
                    elif kind in ("kfunc", "kretfunc"):
                        # so are kfunc__/kretfunc__ functions (fentry/fexit): check that bcc did
                        fds = getattr(self.b, "kfunc_entry_fds" if kind == "kfunc" else "kfunc_exit_fds", {})
                        if fn.encode() not in fds and fn not in fds:
                            raise Exception("bcc did not attach %s" % fn)
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
                    if a.get("loader") == "libbpf":
                        self.libbpf.detach(a["fn"])
                    elif a["kind"] == "kprobe":
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

    def set_attached(self, entries, on):
        """Detaches (on=False) or attaches again the kprobe/kretprobe/kfunc/kretfunc attachments of entries (the
        benches' pause: the programs stay loaded, so no compile). Raises what bcc raises."""
        b = self.b
        for c in entries:
            for a in c["attach"]:
                kind, fn, sym = a["kind"], a["fn"], a.get("symbol")
                if a.get("loader") == "libbpf":
                    self.libbpf.attach(b, fn, sym, kind == "kretfunc") if on else self.libbpf.detach(fn)
                elif kind == "kprobe":
                    b.attach_kprobe(event=sym, fn_name=fn) if on else b.detach_kprobe(event=sym)
                elif kind == "kretprobe":
                    b.attach_kretprobe(event=sym, fn_name=fn) if on else b.detach_kretprobe(event=sym)
                elif kind == "kfunc":
                    b.attach_kfunc(fn_name=fn) if on else b.detach_kfunc(fn_name=fn)
                elif kind == "kretfunc":
                    b.attach_kretfunc(fn_name=fn) if on else b.detach_kretfunc(fn_name=fn)
                else:
                    raise ValueError("cannot pause a %s attachment" % kind)

    def _tracepoint_attached(self, tp):
        fds = getattr(self.b, "tracepoint_fds", {})
        key = tp.encode() if isinstance(tp, str) else tp
        return key in fds or tp in fds

    consume = False
    perf_pending = ()   # perf buffers: records copied in this read round, not yet handed on (open_buffer)
    snapshots = False
    RING_BATCH = 1 << 22   # bytes of records per ring read

    # ---- BPF ring buffer ---------------------------------------------------------------------------
    def open_ring(self, size, on_other=None):
        from bcc.libbcc import lib   # the table object is not needed (bcc < 0.16 would not know the type)
        fd = lib.bpf_table_fd(self.b.module, b"events")
        if fd < 0:
            raise OSError("ring buffer map not found")
        self.ring = RingReader(fd, size)
        self.ring.on_other = on_other

    def ring_lost(self):
        """Records the kernel could not put into the ring since the last call: (count, since, until, cpu)
        or None. since/until bound the dropped records' timestamps (common.h submit_flags)."""
        t = self.b["rb_lost"]
        vals = t.getvalue(t.Key(0))
        counts = [int(v.count) for v in vals]
        prev = self._lost_prev or [0] * len(counts)
        delta = [c - p for c, p in zip(counts, prev)]
        if not any(delta):
            return None
        self._lost_prev = counts
        seen = self.b["lost_seen"]
        seen[seen.Key(0)] = seen.Leaf(*counts)
        since = min(int(vals[i].first) for i, d in enumerate(delta) if d)
        until = max(int(vals[i].last) for i, d in enumerate(delta) if d)
        cpu = max(range(len(delta)), key=lambda i: delta[i])
        # what the ring holds unread now (bcc 0.26 has no ringbuf_query to ask at the refusal itself): near the
        # ring's size, it was full; far below it, the reserve failed for another reason
        self.lost_avail = self.ring.prod_pos[0] - self.ring.cons_pos[0] if self.ring is not None else None
        return sum(delta), since, until, cpu

    # ---- per-CPU perf buffers ------------------------------------------------------------------------
    def open_buffer(self, on_event, on_lost, page_cnt, wakeup=64, on_other=None, other_size=None):
        """Per-CPU perf buffers with a lost callback that knows its CPU (bcc's public API drops it).
        on_event(cpu, record bytes), on_lost(cpu, count); on_other(cpu, bytes): a record of other_size bytes or more
        (a history snapshot; a perf sample's size is the record's rounded up, so sizes are told apart by a bound)."""
        table = self.b["events"]
        try:
            from bcc.utils import get_online_cpus
            cpus = get_online_cpus()
        except Exception:
            cpus = list(range(os.cpu_count() or 1))
        n = RECORD.size
        string_at = ct.string_at
        # bcc reads one CPU's buffer until it finds it empty: while the agent formats each record in its callback,
        # a producer as fast as the agent (a live window under TCG) keeps it on that CPU, and the other CPUs'
        # records wait (5.10 in the lab: one vCPU's records written 1.2 s after the other's, past the analyzer's
        # reorder window). So the callbacks only copy; each round's records are handed on in time order after the
        # read (deliver_pending), at the latest every PERF_DEFER records (memory stays bounded when a producer
        # outruns even the copy). A loss keeps its place after the last record its CPU had before it (on_lost
        # takes that record's ts as the loss's lower bound).
        pending = self.perf_pending = []
        self.perf_on = (on_event, on_other, on_lost)
        last_ts = {}
        unpack = U64.unpack_from

        def make(cpu):
            def raw(cpu_, data, size):
                if other_size is not None and size >= other_size:
                    if on_other is None:
                        return
                    b, kind = string_at(data, other_size), 1
                else:
                    b, kind = string_at(data, n), 0
                ts = last_ts[cpu_] = unpack(b)[0]
                pending.append((ts, cpu_, b, kind))
                if len(pending) >= self.PERF_DEFER:
                    self.deliver_pending()

            def lost(count):
                pending.append((last_ts.get(cpu, 0), cpu, count, 2))
            return raw, lost

        opener = getattr(table, "_open_perf_buffer", None)
        if opener is None:
            raw0, _ = make(0)
            table.open_perf_buffer(raw0, page_cnt=page_cnt, lost_cb=lambda n: on_lost(0, n))  # CPU unknown here
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

    PERF_DEFER = 1 << 16   # records copied in one perf read round before they are handed on regardless

    def deliver_pending(self):
        """Hands the perf records (and losses) read since the last call on, oldest first: every record starts with
        its u64 ts; a history chunk has its trigger's ts and stays before it, as a loss stays after the record
        before it (the sort is stable)."""
        pending = self.perf_pending
        if not pending:
            return
        batch = sorted(pending, key=lambda r: r[0])
        del pending[:]
        on_event, on_other, on_lost = self.perf_on
        for _, cpu, x, kind in batch:
            if kind == 0:
                on_event(cpu, x)
            elif kind == 1:
                on_other(cpu, x)
            else:
                on_lost(cpu, x)

    def poll(self, timeout_ms, on_batch=None):
        if self.ring is not None:
            # Read what is there (bounded, so the caller flushes and counts losses between batches), then
            # sleep unless the bound stopped the read: reading again at once would hand the decoder a few
            # records per call and spin (measured: that cost more CPU per record than the old per-record
            # callback). Wakeups (records without BPF_RB_NO_WAKEUP: errors, recovery, resets) end the
            # sleep at once; region accesses wait for the timeout, a fraction of the ring at any rate.
            if self.ring.read(on_batch, self.RING_BATCH) < self.RING_BATCH // RING_RECORD.size and timeout_ms:
                self.ring.wait(timeout_ms / 1000.0)
                self.ring.read(on_batch, self.RING_BATCH)
            return
        self.b.perf_buffer_poll(timeout=timeout_ms)
        if self.consume:
            self.b.perf_buffer_consume()
        self.deliver_pending()

    def drain(self, on_batch=None):
        """Reads what is buffered without waiting; returns whether there may be more (ring buffer: records
        were read this call)."""
        if self.ring is not None:
            return self.ring.read(on_batch) > 0
        self.poll(0)
        return False

    def cleanup(self):
        try:
            self.b.cleanup()
        except Exception:
            pass
