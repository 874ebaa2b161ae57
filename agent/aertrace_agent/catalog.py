"""Resolve the probe catalog (probes/catalog.json) against what this kernel offers.

Inputs are plain data (the parsed catalog, the kallsyms symbol index, the tracepoint set, ...)
so the resolution is testable without a kernel.
"""
import json
import os
import re

# GCC clone suffixes: .isra/.constprop/.part clones may have changed arguments; .cold is a
# fragment of a function body, never an entry point.
_CLONE_RE = re.compile(r"^(?P<base>[A-Za-z0-9_]+?)((\.(isra|constprop|part|cold|llvm|lto_priv)\.?[0-9]*)+)$")


def load_catalog(path):
    with open(path, "r") as f:
        cat = json.load(f)
    if cat.get("catalog_version") != 1:
        raise ValueError("%s: unsupported catalog_version %r" % (path, cat.get("catalog_version")))
    for ev in cat.get("events", []):
        if "event" not in ev or "candidates" not in ev or "file" not in ev:
            raise ValueError("%s: entry without event/file/candidates: %r" % (path, ev))
    return cat


def kernel_version(release):
    """'6.1.0-40-amd64' -> (6, 1); None when unparsable."""
    m = re.match(r"^(\d+)\.(\d+)", release or "")
    if not m:
        return None
    return (int(m.group(1)), int(m.group(2)))


def _ver(s):
    a, b = s.split(".")[:2]
    return (int(a), int(b))


class SymbolIndex(object):
    """Text symbols of /proc/kallsyms: exact names and the clones seen for each base name."""

    def __init__(self):
        self.exact = {}     # name -> list of modules ("" for vmlinux)
        self.clones = {}    # base name -> list of clone names

    @classmethod
    def parse(cls, lines):
        idx = cls()
        for line in lines:
            parts = line.split()
            if len(parts) < 3 or parts[1] not in ("t", "T", "w", "W"):
                continue
            name = parts[2]
            mod = parts[3].strip("[]") if len(parts) > 3 else ""
            m = _CLONE_RE.match(name)
            if m:
                idx.clones.setdefault(m.group("base"), []).append(name)
            else:
                idx.exact.setdefault(name, []).append(mod)
        return idx

    def has(self, name):
        return name in self.exact

    def modules(self, name):
        return self.exact.get(name, [])


def parse_blacklist(lines):
    """/sys/kernel/debug/kprobes/blacklist: '0xstart-0xend\tsymbol' per line."""
    out = set()
    for line in lines:
        parts = line.split()
        if len(parts) >= 2:
            out.add(parts[1])
    return out


def parse_tp_format(text):
    """Field names of a tracefs events/<sys>/<name>/format file."""
    fields = set()
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("field:"):
            continue
        decl = line[len("field:"):].split(";")[0].strip()
        name = decl.split()[-1] if decl else ""
        name = name.split("[")[0]
        if name:
            fields.add(name)
    return fields


class Kernel(object):
    """What the resolver needs to know about the running kernel."""

    def __init__(self, release, symbols, tracepoints=None, tp_formats=None,
                 traceable=None, blacklist=None, modules=None, features=None, user_binaries=None):
        self.release = release
        self.version = kernel_version(release)
        self.symbols = symbols                  # SymbolIndex
        self.tracepoints = tracepoints or set()  # {"ras:aer_event", ...}
        self.tp_formats = tp_formats or {}       # "ras:aer_event" -> set(field names)
        self.traceable = traceable               # available_filter_functions names, or None if unreadable
        self.blacklist = blacklist or set()
        self.modules = modules                   # loaded module names, or None if unknown
        self.features = set(features or ())     # loader features: "module_kfunc" (fentry on module functions)
        # user-space probe targets: role ("qemu") -> (path, set of dynamic function names or an error text)
        self.user_binaries = user_binaries or {}


FEATURE_WHY = {"module_kfunc": "fentry on module functions needs module BTF and bcc >= 0.31 (MODULE_KFUNC_PROBE)",
               "libbpf_fentry": "fentry through libbpf needs the module's BTF and libbpf.so.1"}


def module_kfunc(bcc_mod, module, btf_dir="/sys/kernel/btf"):
    """fentry/fexit on a module's functions: the kernel has trampolines and the module's BTF, and bcc has
    MODULE_KFUNC_PROBE (0.31 has it, checked in trixie's and forky's libbcc; bookworm's 0.26 has not)."""
    try:
        ver = tuple(int(x) for x in bcc_mod.__version__.split(".")[:2])
        return ver >= (0, 31) and bool(bcc_mod.BPF.support_kfunc()) and os.path.exists(os.path.join(btf_dir, module))
    except Exception:
        return False


def _check_candidate(cand, kernel):
    """(ok, reason, notes, attach) for one candidate; attach = the attachments to make
    (optional ones whose symbol is absent are left out)."""
    v = kernel.version
    if v is not None:
        if "min_kernel" in cand and v < _ver(cand["min_kernel"]):
            return False, "kernel %d.%d older than %s (prototype differs)" % (v + (cand["min_kernel"],)), [], []
        if "max_kernel" in cand and v > _ver(cand["max_kernel"]):
            return False, "kernel %d.%d newer than %s (prototype differs)" % (v + (cand["max_kernel"],)), [], []
    feat = cand.get("requires_feature")
    if feat and feat not in kernel.features:
        return False, FEATURE_WHY.get(feat, "needs %s" % feat), [], []
    notes, attach = [], []
    for a in cand["attach"]:
        if a["kind"] in ("uprobe", "uretprobe"):
            role = a.get("binary", "qemu")
            path, syms = kernel.user_binaries.get(role, (None, None))
            if path is None:
                return False, "no %s binary named (--%s PATH)" % (role, role), [], []
            if not isinstance(syms, set):
                return False, "%s: %s" % (path, syms), [], []
            if a["symbol"] not in syms:
                if a.get("optional"):
                    continue
                return False, "%s not in the dynamic symbols of %s" % (a["symbol"], path), [], []
            attach.append(dict(a, path=path))
            continue
        if a["kind"] == "tracepoint":
            tp = a["tracepoint"]
            if tp not in kernel.tracepoints:
                return False, "tracepoint %s not in tracefs" % tp, [], []
            attach.append(a)
            continue
        sym = a["symbol"]
        if a.get("optional") and (not kernel.symbols.has(sym) or sym in kernel.blacklist):
            continue
        if not kernel.symbols.has(sym):
            clones = kernel.symbols.clones.get(sym, [])
            entries = [c for c in clones if ".cold" not in c]
            mod = cand.get("module")
            if entries:
                return False, ("%s only as GCC clone %s (arguments may differ)" % (sym, ", ".join(sorted(entries)))), [], []
            if mod and kernel.modules is not None and mod not in kernel.modules:
                return False, "%s not in /proc/kallsyms: module %s not loaded" % (sym, mod), [], []
            if clones:
                return False, "%s not in /proc/kallsyms (only %s: inlined, cold part left)" % (sym, ", ".join(sorted(clones))), [], []
            return False, "%s not in /proc/kallsyms (inlined or not built)" % sym, [], []
        if sym in kernel.blacklist:
            return False, "%s is on the kprobe blacklist" % sym, [], []
        defs = kernel.symbols.modules(sym)
        if len(defs) > 1:
            notes.append("%s defined %d times in kallsyms (%s)" % (sym, len(defs), ",".join(m or "vmlinux" for m in defs)))
        if kernel.traceable is not None and sym not in kernel.traceable:
            notes.append("%s not in available_filter_functions (kprobe without ftrace)" % sym)
        attach.append(a)
    return True, "", _dedup(notes), attach


def resolve(catalog, kernel, only=None):
    """Choose one candidate per logical event.

    Returns (chosen, missing): chosen is a list of dicts {event, file, candidate, notes},
    missing a list of {event, candidates, reason} in catalog order.
    `only`, when given, is a set of logical event names to consider (the rest are skipped,
    reported as missing with reason 'not requested').
    """
    chosen, missing = [], []
    got = set()
    for ev in catalog["events"]:
        name = ev["event"]
        names = _candidate_names(ev)
        if only is not None and name not in only:
            missing.append({"event": name, "candidates": names, "reason": "not requested (--events)"})
            continue
        req = ev.get("requires")
        if req and req not in got:
            missing.append({"event": name, "candidates": names,
                            "reason": "needs %s, which is not attached" % req})
            continue
        reasons = []
        for cand in ev["candidates"]:
            ok, why, notes, attach = _check_candidate(cand, kernel)
            if ok:
                chosen.append({"event": name, "file": ev["file"], "candidate": cand, "attach": attach,
                               "notes": notes})
                got.add(name)
                break
            reasons.append(why)
        else:
            missing.append({"event": name, "candidates": names, "reason": "; ".join(_dedup(reasons))})
    return chosen, missing


def _candidate_names(ev):
    out = []
    for cand in ev["candidates"]:
        for a in cand["attach"]:
            n = a.get("symbol") or a.get("tracepoint")
            if n not in out:
                out.append(n)
    return out


def _dedup(xs):
    out = []
    for x in xs:
        if x not in out:
            out.append(x)
    return out


def defines_for(chosen, kernel):
    """Compiler defines for the chosen candidates (sorted, without -D)."""
    defs = set()
    for c in chosen:
        cand = c["candidate"]
        defs.update(cand.get("defines", []))
        for a in c["attach"]:
            if a["kind"] == "tracepoint":
                fields = kernel.tp_formats.get(a["tracepoint"], set())
                for field, define in cand.get("format_defines", {}).items():
                    if field in fields:
                        defs.add(define)
    return sorted(defs)


def attachments(chosen):
    """Flat list of (event, kind, target, fn) in attach order."""
    out = []
    for c in chosen:
        for a in c["attach"]:
            out.append((c["event"], a["kind"], a.get("symbol") or a.get("tracepoint"), a["fn"]))
    return out


def probe_files(chosen):
    files = []
    for c in chosen:
        if c["file"] not in files:
            files.append(c["file"])
    return files


# ---- reading the running kernel (paths overridable for tests) ----------------

def find_tracefs(candidates=("/sys/kernel/tracing", "/sys/kernel/debug/tracing")):
    for p in candidates:
        if os.path.isdir(os.path.join(p, "events")):
            return p
    return None


def read_kernel(release, kallsyms="/proc/kallsyms", tracefs=None, blacklist="/sys/kernel/debug/kprobes/blacklist",
                modules="/proc/modules", tracepoints_wanted=()):
    with open(kallsyms, "r") as f:
        symbols = SymbolIndex.parse(f)
    tps, formats, traceable = set(), {}, None
    if tracefs:
        for tp in tracepoints_wanted:
            sysname, evname = tp.split(":", 1)
            fmt = os.path.join(tracefs, "events", sysname, evname, "format")
            if os.path.exists(fmt):
                tps.add(tp)
                try:
                    with open(fmt, "r") as f:
                        formats[tp] = parse_tp_format(f.read())
                except OSError:
                    formats[tp] = set()
        aff = os.path.join(tracefs, "available_filter_functions")
        try:
            with open(aff, "r") as f:
                traceable = set(line.split()[0] for line in f if line.strip())
        except OSError:
            traceable = None
    bl = set()
    try:
        with open(blacklist, "r") as f:
            bl = parse_blacklist(f)
    except OSError:
        pass
    mods = None
    try:
        with open(modules, "r") as f:
            mods = set(line.split()[0] for line in f if line.strip())
    except OSError:
        pass
    return Kernel(release, symbols, tps, formats, traceable, bl, mods)


def tracepoints_in(catalog):
    out = []
    for ev in catalog["events"]:
        for cand in ev["candidates"]:
            for a in cand["attach"]:
                if a["kind"] == "tracepoint" and a["tracepoint"] not in out:
                    out.append(a["tracepoint"])
    return out
