"""aertrace-agent command line."""
import argparse
import os
import signal
import sys
import time

from . import AGENT
from . import catalog as catalog_mod
from . import header as header_mod
from . import topology as topo_mod
from .encode import Encoder, lost_event
from .output import open_output
from .source import program_text, reset_fn_names

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_PROBES = os.path.normpath(os.path.join(HERE, "..", "..", "probes"))

EXIT_OK = 0
EXIT_ENV = 2


class EnvError(Exception):
    """A problem the user fixes: printed as one line, exit code 2."""


def err(msg):
    sys.stderr.write("aertrace-agent: %s\n" % msg)
    sys.stderr.flush()


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="aertrace-agent",
        description="Trace PCIe AER recovery and vfio-pci user access with eBPF; writes aertrace "
                    "schema-v1 JSON lines (see probes/EVENTS.md).")
    p.add_argument("--device", "-d", action="append", default=[], metavar="DEV",
                   help="only DEV's hierarchy (DEV, devices below it, bridges above it); repeatable; "
                        "filtered in the kernel")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE ('-' = stdout, the default)")
    p.add_argument("--connect", metavar="HOST:PORT", help="stream to a TCP listener instead of a file")
    p.add_argument("--duration", type=float, metavar="SECONDS", help="stop after SECONDS")
    p.add_argument("--events", metavar="LIST", help="comma-separated logical events to attach (default: all in the catalog)")
    p.add_argument("--probes-dir", default=DEFAULT_PROBES, help="folder with catalog.json and bpf/ (default: %(default)s)")
    p.add_argument("--rw-window", type=float, metavar="MS",
                   help="record vfio region reads/writes only during error/reset activity on the filtered devices "
                        "and MS ms after it; the others are counted (footer rw_not_traced), not recorded")
    p.add_argument("--qemu", metavar="PATH",
                   help="also trace this QEMU binary (uprobes on its exported vfio/runstate functions, "
                        "e.g. /usr/bin/qemu-system-x86_64): every process running it")
    p.add_argument("--page-cnt", type=int, default=512,
                   help="perf buffer pages per CPU, a power of two (default: %(default)s)")
    p.add_argument("--dry-run", action="store_true",
                   help="resolve the catalog and print the header without loading anything (no bcc needed)")
    p.add_argument("--print-source", action="store_true", help="print the BPF program and its defines, then exit")
    p.add_argument("--version", action="version", version=AGENT)
    a = p.parse_args(argv)
    if a.output and a.connect:
        p.error("-o and --connect are exclusive")
    if a.page_cnt <= 0 or a.page_cnt & (a.page_cnt - 1):
        p.error("--page-cnt must be a power of two")
    if a.rw_window is not None and not (0 < a.rw_window <= 3600 * 1000):
        p.error("--rw-window must be a positive number of milliseconds")
    devs = []
    for d in a.device:
        for part in d.split(","):
            n = topo_mod.normalize_name(part)
            if n is None:
                p.error("--device %r is not a PCI device name like 0000:01:00.0" % part)
            devs.append(n)
    a.device = devs
    return a


def distro_install_hint(os_release="/etc/os-release"):
    ids = ""
    try:
        with open(os_release) as f:
            for line in f:
                if line.startswith("ID=") or line.startswith("ID_LIKE="):
                    ids += " " + line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    if any(x in ids for x in ("debian", "ubuntu")):
        return "apt-get install python3-bpfcc"
    if any(x in ids for x in ("rhel", "fedora", "centos")):
        return "dnf install bcc-tools python3-bcc"
    return "install bcc's Python module (Debian/Ubuntu: apt-get install python3-bpfcc; RHEL/Fedora: dnf install bcc-tools python3-bcc)"


def import_bcc():
    try:
        import bcc
        return bcc
    except ImportError:
        hint = distro_install_hint()
        extra = ""
        if os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3") and os.path.exists("/usr/bin/python3"):
            extra = " and run the agent with /usr/bin/python3 (this is %s)" % sys.executable
        raise EnvError("bcc Python module not found: %s%s" % (hint, extra))


def check_kernel(tracefs):
    if not os.path.exists("/proc/sys/kernel/unprivileged_bpf_disabled") and not os.path.exists("/sys/fs/bpf"):
        raise EnvError("this kernel has no BPF syscall (CONFIG_BPF_SYSCALL): boot a kernel with BPF and kprobes enabled")
    if tracefs is None:
        raise EnvError("tracefs not found: mount -t tracefs nodev /sys/kernel/tracing "
                       "(or mount -t debugfs nodev /sys/kernel/debug)")
    if not os.path.exists(os.path.join(tracefs, "kprobe_events")):
        raise EnvError("this kernel has no kprobe events (CONFIG_KPROBES, CONFIG_KPROBE_EVENTS): "
                       "boot a kernel with kprobes enabled")


def resolve(args, release, tracefs):
    cat = catalog_mod.load_catalog(os.path.join(args.probes_dir, "catalog.json"))
    kernel = catalog_mod.read_kernel(release, tracefs=tracefs,
                                     tracepoints_wanted=catalog_mod.tracepoints_in(cat))
    only = None
    if args.events:
        only = set(x.strip() for x in args.events.split(",") if x.strip())
        known = set(e["event"] for e in cat["events"])
        bad = sorted(only - known)
        if bad:
            raise EnvError("--events: unknown logical event(s) %s (known: %s)" % (", ".join(bad), ", ".join(sorted(known))))
    if args.qemu:
        from .elfsyms import dynamic_functions, ElfError
        path = os.path.realpath(args.qemu)
        try:
            kernel.user_binaries["qemu"] = (path, dynamic_functions(path))
        except (OSError, ElfError) as e:
            raise EnvError("--qemu %s: %s" % (args.qemu, e))
    chosen, missing = catalog_mod.resolve(cat, kernel, only)
    return cat, kernel, chosen, missing


def run(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    release = os.uname().release
    tracefs = catalog_mod.find_tracefs()

    if not args.dry_run and not args.print_source and os.geteuid() != 0:
        raise EnvError("must run as root (loading eBPF programs needs CAP_SYS_ADMIN): "
                       "sudo /usr/bin/python3 %s ..." % sys.argv[0])

    topology = topo_mod.scan("/sys")
    filt = []
    if args.device:
        try:
            filt = topo_mod.hierarchy(topology, args.device)
        except KeyError as e:
            raise EnvError("--device %s: no such PCI device in /sys/bus/pci/devices (lspci -D lists them)" % e.args[0])

    try:
        cat, kernel, chosen, missing = resolve(args, release, tracefs)
    except OSError as e:
        raise EnvError("cannot read %s: %s" % (getattr(e, "filename", "?"), e.strerror))
    defines = catalog_mod.defines_for(chosen, kernel)
    if args.rw_window is not None:
        defines.append("RW_WINDOW_NS=%dULL" % int(args.rw_window * 1e6))
    text = program_text(args.probes_dir, catalog_mod.probe_files(chosen))

    if args.print_source:
        sys.stdout.write("/* defines: %s */\n" % " ".join("-D" + d for d in defines))
        sys.stdout.write(text)
        return EXIT_OK
    if args.dry_run:
        try:
            out = open_output(args.output, args.connect)
        except (OSError, ValueError) as e:
            raise EnvError("cannot open output: %s" % e)
        out.write(header_mod.build_header(release, header_mod.attached_entries(chosen), missing, topology, filt,
                                          rw_window_ms=args.rw_window))
        out.close()
        return EXIT_OK

    # Handle SIGINT/SIGTERM from here on, also during the long compile: a shell starts background jobs
    # with SIGINT ignored, and a stop requested before "ready" must still end the agent (with a footer).
    state = {"events": 0, "lost": 0, "undecodable": 0, "stop": None}

    def on_signal(signum, frame):
        state["stop"] = "SIGINT" if signum == signal.SIGINT else "SIGTERM"

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    bcc = import_bcc()
    check_kernel(tracefs)
    if not chosen:
        raise EnvError("no probe of the catalog can be attached on %s: %s" % (
            release, "; ".join("%s: %s" % (m["event"], m["reason"]) for m in missing[:3])))

    from .bpfrun import Runner
    fn_names = reset_fn_names(args.probes_dir)
    t0 = time.time()
    headers = os.path.exists("/lib/modules/%s/build" % release) or os.path.exists("/sys/kernel/kheaders.tar.xz")
    try:
        try:
            runner = Runner(bcc, text, defines)
        except Exception:
            if not headers:
                raise
            err("bcc could not compile the probes; retrying with the kernel headers' static assertions disabled")
            runner = Runner(bcc, text, defines, Runner.NO_STATIC_ASSERT)
            err("compiled with the kernel headers' static assertions disabled")
    except Exception as e:
        msg = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        hint = "see bcc's messages above" if headers else \
            "kernel headers missing: apt-get install linux-headers-%s (or modprobe kheaders)" % release
        raise EnvError("bcc could not compile/load the probes (%s): %s" % (msg, hint))
    runner.set_filter(filt)
    ok, failed = runner.attach(chosen)
    for c, why in failed:
        missing.append({"event": c["event"], "candidates": [a.get("symbol") or a.get("tracepoint")
                                                            for a in c["attach"]], "reason": why})
    if not ok:
        runner.cleanup()
        raise EnvError("no probe could be attached: %s" % "; ".join(w for _, w in failed[:3]))

    try:
        out = open_output(args.output, args.connect)
    except (OSError, ValueError) as e:
        runner.cleanup()
        raise EnvError("cannot open output: %s" % e)

    me_pid, me_tid = os.getpid(), os.getpid()
    try:
        with open("/proc/self/comm") as f:
            me_comm = f.read().strip()
    except OSError:
        me_comm = "aertrace-agent"

    enc = Encoder(fn_names)

    def on_event(cpu, raw):
        # Runs inside bcc's ctypes callback, where an exception would be printed and the record
        # dropped without a count: count every failure instead.
        try:
            line = enc.line(raw, cpu)
        except Exception as e:
            state["undecodable"] += 1
            if state["undecodable"] <= 5:
                err("record not encodable, counted in the footer: %s" % e)
            return
        try:
            out.write_line(line)
        except (BrokenPipeError, ConnectionError, OSError) as e:
            if state["stop"] is None:
                state["stop"] = "output closed"
                err("output closed (%s); stopping" % e)
            return
        state["events"] += 1

    pending_lost = {}   # cpu -> count, written once per poll round (bcc calls back once per gap)

    def on_lost(cpu, count):
        pending_lost[cpu] = pending_lost.get(cpu, 0) + count

    def flush_lost():
        if not pending_lost:
            return
        ts = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        for cpu in sorted(pending_lost):
            count = pending_lost[cpu]
            out.write(lost_event(ts, max(cpu, 0), count, me_pid, me_tid, me_comm))
            state["events"] += 1
            state["lost"] += count
        pending_lost.clear()

    runner.open_buffer(on_event, on_lost, args.page_cnt)
    out.write(header_mod.build_header(release, header_mod.attached_entries(ok), missing, topology, filt,
                                      rw_window_ms=args.rw_window))
    out.flush()
    n_att = sum(len(c["attach"]) for c in ok)
    err("%d probes for %d logical events attached in %.1f s; %d logical events missing%s" % (
        n_att, len(ok), time.time() - t0, len(missing),
        (": " + ", ".join(m["event"] for m in missing)) if missing else ""))
    err("ready")

    deadline = time.monotonic() + args.duration if args.duration else None
    try:
        while state["stop"] is None:
            runner.poll(100)
            flush_lost()
            out.flush()
            if deadline is not None and time.monotonic() >= deadline:
                state["stop"] = "duration"
        runner.poll(0)   # drain what is already buffered
        flush_lost()
    except (BrokenPipeError, ConnectionError) as e:
        state["stop"] = "output closed"
        err("output closed (%s); stopping" % e)
    extra = {}
    if state["undecodable"]:
        extra["undecodable"] = state["undecodable"]
    if args.rw_window is not None:
        extra["rw_not_traced"] = runner.rw_skipped()
    try:
        out.write(header_mod.footer(state["events"], state["lost"], state["stop"], extra))
        out.close()
    except (BrokenPipeError, ConnectionError, OSError):
        pass   # the reader went away: nowhere to put the footer
    err("stopped (%s): %d events, %d lost" % (state["stop"], state["events"], state["lost"]))
    # bcc's cleanup detaches probe by probe (seconds under TCG); the kernel drops perf-event kprobes
    # and their programs when the process exits, so skip it.
    sys.stderr.flush()
    os._exit(EXIT_OK)


def main():
    try:
        return run()
    except EnvError as e:
        err(str(e))
        return EXIT_ENV
    except KeyboardInterrupt:
        return EXIT_OK
