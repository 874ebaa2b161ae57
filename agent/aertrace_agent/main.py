"""aertrace-agent command line."""
import argparse
import mmap
import os
import signal
import sys
import time

from . import AGENT
from . import catalog as catalog_mod
from . import header as header_mod
from . import topology as topo_mod
from . import recorder as recorder_mod
from .encode import Encoder, lost_event, region_name, RECORD, F_TRIGGER
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
                    "schema-v2 JSON lines (see probes/EVENTS.md).")
    p.add_argument("--device", "-d", action="append", default=[], metavar="DEV",
                   help="only DEV's hierarchy (DEV, devices below it, bridges above it); repeatable; "
                        "filtered in the kernel")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE ('-' = stdout, the default)")
    p.add_argument("--connect", metavar="HOST:PORT", help="stream to a TCP listener instead of a file")
    p.add_argument("--kafka", metavar="BOOTSTRAP[,...]",
                   help="publish the lines to Kafka (key host/boot id; see aertrace_agent/kafka_out.py)")
    p.add_argument("--kafka-topic", default="aertrace.events", metavar="TOPIC", help="Kafka topic (default: %(default)s)")
    p.add_argument("--kafka-spool-mb", type=float, default=64, metavar="MB",
                   help="memory kept for lines while the broker is unreachable; past it lines are dropped and "
                        "counted as lost (default: %(default)s)")
    p.add_argument("--kafka-flush-timeout", type=float, default=30, metavar="SECONDS",
                   help="how long to wait at the end for queued lines to reach the broker (default: %(default)s)")
    p.add_argument("--replay", action="append", default=[], metavar="TRACE",
                   help="publish a recorded trace (.jsonl or .jsonl.gz) to --kafka instead of tracing; no root, no bcc")
    p.add_argument("--as-host", action="append", default=[], metavar="NAME",
                   help="with --replay: publish each trace once per NAME, as if recorded on host NAME; "
                        "{name} and {dir} stand for the trace's file name (without .jsonl.gz) and its folder")
    p.add_argument("--duration", type=float, metavar="SECONDS", help="stop after SECONDS")
    p.add_argument("--events", metavar="LIST", help="comma-separated logical events to attach (default: all in the catalog)")
    p.add_argument("--probes-dir", default=DEFAULT_PROBES, help="folder with catalog.json and bpf/ (default: %(default)s)")
    p.add_argument("--history", type=int, default=512, metavar="N",
                   help="flight recorder: keep each device's last N region reads/writes in the kernel and stream "
                        "them only when an error, recovery, reset or config lock starts on its hierarchy "
                        "(0 = stream every access; default: %(default)s)")
    p.add_argument("--tail-ms", type=float, default=2500, metavar="MS",
                   help="flight recorder: stream every access until MS ms after the last error/recovery/reset "
                        "event of the hierarchy (default: %(default)s, longer than the analyzer's 2 s settle)")
    p.add_argument("--buffer", choices=("auto", "ring", "perf"), default="auto",
                   help="BPF ring buffer (kernel 5.8+, one buffer, read without callbacks) or per-CPU perf "
                        "buffers; auto = ring where the kernel and bcc have it (default)")
    p.add_argument("--no-fentry", action="store_true",
                   help="kprobes only, even where fentry/fexit could be used (to compare their cost)")
    p.add_argument("--qemu", metavar="PATH",
                   help="also trace this QEMU binary (uprobes on its exported vfio/runstate functions, "
                        "e.g. /usr/bin/qemu-system-x86_64): every process running it")
    p.add_argument("--page-cnt", type=int, default=None,
                   help="buffer pages, a power of two: per CPU for perf buffers (default 512), in all for the "
                        "ring buffer (default 8192 = 32 MiB with 4 KiB pages)")
    p.add_argument("--dry-run", action="store_true",
                   help="resolve the catalog and print the header without loading anything (no bcc needed)")
    p.add_argument("--print-source", action="store_true", help="print the BPF program and its defines, then exit")
    p.add_argument("--version", action="version", version=AGENT)
    a = p.parse_args(argv)
    if sum(1 for x in (a.output, a.connect, a.kafka) if x) > 1:
        p.error("-o, --connect and --kafka are exclusive")
    if a.replay and not a.kafka:
        p.error("--replay needs --kafka BOOTSTRAP")
    if a.as_host and not a.replay:
        p.error("--as-host only goes with --replay")
    if a.kafka_spool_mb <= 0 or a.kafka_flush_timeout < 0:
        p.error("--kafka-spool-mb must be > 0 and --kafka-flush-timeout >= 0")
    if a.page_cnt is not None and (a.page_cnt <= 0 or a.page_cnt & (a.page_cnt - 1)):
        p.error("--page-cnt must be a power of two")
    if not (0 <= a.history <= 1 << 16):
        p.error("--history must be between 0 and 65536")
    if not (0 < a.tail_ms <= 3600 * 1000):
        p.error("--tail-ms must be a positive number of milliseconds")
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
    return cat, kernel, chosen, missing, only


def open_out(args):
    if args.kafka:
        from .kafka_out import open_kafka
        return open_kafka(args.kafka, args.kafka_topic, args.kafka_spool_mb, args.kafka_flush_timeout)
    return open_output(args.output, args.connect)


def run_replay(args):
    from . import kafka_out
    for t in args.replay:
        if not os.path.isfile(t):
            raise EnvError("--replay %s: no such file" % t)
    try:
        producer = kafka_out.new_producer(args.kafka, args.kafka_spool_mb)
    except OSError as e:
        raise EnvError(str(e))
    # one producer for every stream: each is its own key, so order holds per host/boot
    total = dropped = 0
    for t in args.replay:
        for host in (args.as_host or [None]):
            if host and "{" in host:
                host = host.format(name=os.path.basename(t).split(".")[0],
                                   dir=os.path.basename(os.path.dirname(os.path.abspath(t))))
            out = kafka_out.KafkaOutput(producer, args.kafka_topic, args.kafka_flush_timeout,
                                        record_headers=[("aertrace.replay", b"1")])
            try:
                n = kafka_out.replay(t, out, host)
            except OSError as e:
                raise EnvError("--replay %s: %s" % (t, e))
            out.flush()
            total += n
            dropped += out.dropped
            err("replayed %s%s: %d lines, %d dropped" % (t, " as " + host if host else "", n, out.dropped))
    left = producer.flush(args.kafka_flush_timeout)
    if left:
        err("%d lines still queued for Kafka after %.0f s (broker unreachable?); they are lost"
            % (left, args.kafka_flush_timeout))
    err("replay done: %d lines, %d dropped, %d undelivered" % (total, dropped, left))
    return EXIT_OK if left == 0 else 1


def run(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.replay:
        return run_replay(args)
    release = os.uname().release
    tracefs = catalog_mod.find_tracefs()
    if not args.print_source and not args.kafka and not args.connect:
        check_output(args.output)

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
        cat, kernel, chosen, missing, only = resolve(args, release, tracefs)
    except OSError as e:
        raise EnvError("cannot read %s: %s" % (getattr(e, "filename", "?"), e.strerror))
    def program(chosen):
        return catalog_mod.defines_for(chosen, kernel) + rec_defines, \
            program_text(args.probes_dir, catalog_mod.probe_files(chosen))
    devinfo, slots = recorder_mod.plan(topology, filt) if args.history else ({}, [])
    recorder = None
    rec_defines = []
    if args.history:
        rec_defines = ["HIST_N=%d" % args.history, "HIST_SLOTS=%d" % max(1, len(slots)),
                       "HIER_MAX=%d" % recorder_mod.HIER_MAX, "TAIL_NS=%dULL" % int(args.tail_ms * 1e6)]
        recorder = {"history": args.history, "tail_ms": args.tail_ms, "devices": list(slots)}
    want_ring = args.buffer == "ring" or (args.buffer == "auto" and kernel.version is not None
                                          and kernel.version >= (5, 8))
    ring_pages = args.page_cnt or 8192
    perf_pages = args.page_cnt or 512
    defines, text = program(chosen)

    if args.print_source:
        d = defines + (["RINGBUF_PAGES=%d" % ring_pages] if want_ring else [])
        sys.stdout.write("/* defines: %s */\n" % " ".join("-D" + x for x in d))
        sys.stdout.write(text)
        return EXIT_OK
    if args.dry_run:
        try:
            out = open_out(args)
        except (OSError, ValueError) as e:
            raise EnvError("cannot open output: %s" % e)
        try:
            out.write(header_mod.build_header(release, header_mod.attached_entries(chosen), missing, topology, filt,
                                              recorder=recorder, buffer="ring" if want_ring else "perf"))
            out.close()
        except OSError as e:
            raise EnvError("cannot write output %s: %s" % (args.output or "-", e.strerror or e))
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
    if want_ring and args.buffer == "auto" and not hasattr(bcc.BPF, "ring_buffer_poll"):
        want_ring = False   # bcc older than 0.16 cannot build a ring buffer map
    fentry = not args.no_fentry and catalog_mod.module_kfunc(bcc, "vfio_pci_core")
    if fentry:
        kernel.features.add("module_kfunc")
        chosen, missing = catalog_mod.resolve(cat, kernel, only)
        defines, text = program(chosen)

    from .bpfrun import Runner
    fn_names = reset_fn_names(args.probes_dir)
    t0 = time.time()
    headers = os.path.exists("/lib/modules/%s/build" % release) or os.path.exists("/sys/kernel/kheaders.tar.xz")

    # 7.x's linux/fs.h asserts a struct size bcc's clang computes differently (probes/README.md): start
    # without the assertions there instead of paying for a failed compile first (minutes under TCG).
    no_assert_first = kernel.version is not None and kernel.version >= (7, 0)

    def compile_(ring):
        d = defines + (["RINGBUF_PAGES=%d" % ring_pages] if ring else [])
        first, second = ((Runner.NO_STATIC_ASSERT, ()) if no_assert_first else ((), Runner.NO_STATIC_ASSERT))
        try:
            r = Runner(bcc, text, d, first)
            if first:
                err("compiled with the kernel headers' static assertions disabled")
            return r
        except Exception:
            if not headers:
                raise
            err("bcc could not compile the probes; retrying with the kernel headers' static assertions %s" % (
                "enabled" if first else "disabled"))
            r = Runner(bcc, text, d, second)
            if second:
                err("compiled with the kernel headers' static assertions disabled")
            return r
    def last_line(e):
        return str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__

    def uses_fentry(chosen):
        return any(a["kind"] in ("kfunc", "kretfunc") for c in chosen for a in c["attach"])
    try:
        try:
            runner = compile_(want_ring)
        except Exception as e:
            if uses_fentry(chosen):
                # fentry needs the module's BTF to match what bcc compiled against: fall back to kprobes
                err("bcc could not load the fentry/fexit probes (%s); using kprobes" % last_line(e))
                kernel.features.discard("module_kfunc")
                chosen, missing = catalog_mod.resolve(cat, kernel, only)
                defines, text = program(chosen)
            elif want_ring and args.buffer == "auto":
                err("bcc could not build the probes with a ring buffer (%s); using perf buffers" % last_line(e))
                want_ring = False
            else:
                raise
            try:
                runner = compile_(want_ring)
            except Exception as e2:
                if not (want_ring and args.buffer == "auto"):
                    raise
                err("bcc could not build the probes with a ring buffer (%s); using perf buffers" % last_line(e2))
                want_ring = False
                runner = compile_(False)
    except Exception as e:
        msg = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        hint = "see bcc's messages above" if headers else \
            "kernel headers missing: apt-get install linux-headers-%s (or modprobe kheaders)" % release
        raise EnvError("bcc could not compile/load the probes (%s): %s" % (msg, hint))
    runner.set_filter(filt)
    if args.history:
        runner.set_recorder(devinfo, args.history, max(1, len(slots)))
    ok, failed = runner.attach(chosen)
    for c, why in failed:
        missing.append({"event": c["event"], "candidates": [a.get("symbol") or a.get("tracepoint")
                                                            for a in c["attach"]], "reason": why})
    if not ok:
        runner.cleanup()
        raise EnvError("no probe could be attached: %s" % "; ".join(w for _, w in failed[:3]))

    try:
        out = open_out(args)
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
    mirror = recorder_mod.LiveMirror(devinfo, int(args.tail_ms * 1e6)) if args.history else None
    dumped = {}          # slot -> last history seq written
    hist_stats = {}      # slot -> [records dumped, records dropped]
    write_line = out.write_line

    def dump_history(ts, dev, cpu):
        """Writes the history of the trigger's hierarchy (what was not written yet) before the trigger."""
        for slot, key in mirror.trigger(ts, dev):
            after = dumped.get(slot, 0)
            entries, head = runner.history(slot, after)
            dropped = max(0, head - after - len(entries))
            dumped[slot] = head
            st = hist_stats.setdefault(slot, [0, 0])
            st[0] += len(entries)
            st[1] += dropped
            if not entries and not dropped:
                continue
            out.write({"type": "history", "ts": int(ts), "cpu": int(cpu), "pid": me_pid, "tid": me_tid,
                       "comm": me_comm, "dev": enc._dev_name(key), "records": len(entries), "dropped": dropped,
                       "since": int(entries[0][1]) if entries else int(ts)})
            for line in enc.history_lines(entries, key):
                write_line(line)
            state["events"] += 1 + 2 * len(entries)

    def emit(line):
        try:
            if "\n" in line:   # a whole access: enter and exit (one message each on Kafka)
                for part in line.split("\n"):
                    write_line(part)
                    state["events"] += 1
                return
            write_line(line)
        except (BrokenPipeError, ConnectionError, OSError) as e:
            if state["stop"] is None:
                state["stop"] = "output closed"
                err("output closed (%s); stopping" % e)
            return
        state["events"] += 1

    def undecodable(e):
        state["undecodable"] += 1
        if state["undecodable"] <= 5:
            err("record not encodable, counted in the footer: %s" % e)

    last_raw = {}   # perf buffers: cpu -> its last record, the lower bound of a loss that follows

    def on_event(cpu, raw):
        # Runs inside bcc's ctypes callback, where an exception would be printed and the record
        # dropped without a count: count every failure instead.
        last_raw[cpu] = raw
        try:
            line = enc.line(raw, cpu)
        except Exception as e:
            undecodable(e)
            return
        if mirror is not None and raw[64] & F_TRIGGER:
            dump_history(RECORD.unpack_from(raw)[0], RECORD.unpack_from(raw)[5], cpu)
        emit(line)

    def on_batch(view, n):
        lines, used, trig = enc.ring_lines(view, n)
        start = 0
        if mirror is not None:
            for i, ts, dev, cpu in trig:
                for x in lines[start:i]:
                    emit(x) if isinstance(x, str) else undecodable(x)
                start = i
                dump_history(ts, dev, cpu)
        for x in lines[start:]:
            emit(x) if isinstance(x, str) else undecodable(x)
        return used

    pending_lost = {}   # cpu -> [count, since], written once per poll round (bcc calls back once per gap)

    def on_lost(cpu, count):
        p = pending_lost.get(cpu)
        if p is None:
            prev = last_raw.get(cpu)
            pending_lost[cpu] = [count, RECORD.unpack_from(prev)[0] if prev is not None else None]
        else:
            p[0] += count

    def write_lost(ts, cpu, count, since, until):
        out.write(lost_event(ts, max(cpu, 0), count, me_pid, me_tid, me_comm, since, until))
        state["events"] += 1
        state["lost"] += count

    def flush_lost():
        if runner.ring is not None:
            r = runner.ring_lost()
            if r:
                write_lost(time.clock_gettime_ns(time.CLOCK_MONOTONIC), r[3], r[0], r[1], r[2])
            return
        if not pending_lost:
            return
        ts = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        for cpu in sorted(pending_lost):
            count, since = pending_lost[cpu]
            write_lost(ts, cpu, count, since, ts)
        pending_lost.clear()

    buffer_kind = "perf"
    if want_ring:
        try:
            runner.open_ring(ring_pages * mmap.PAGESIZE)
            buffer_kind = "ring"
        except Exception as e:
            runner.cleanup()
            raise EnvError("cannot map the BPF ring buffer (%s): run with --buffer perf" % e)
    else:
        runner.open_buffer(on_event, on_lost, perf_pages)
    out.write(header_mod.build_header(release, header_mod.attached_entries(ok), missing, topology, filt,
                                      recorder=recorder, buffer=buffer_kind))
    out.flush()
    n_att = sum(len(c["attach"]) for c in ok)
    err("%d probes for %d logical events attached in %.1f s; %d logical events missing%s; %s buffer%s" % (
        n_att, len(ok), time.time() - t0, len(missing),
        (": " + ", ".join(m["event"] for m in missing)) if missing else "", buffer_kind,
        ", flight recorder %d per device, tail %g ms" % (args.history, args.tail_ms) if args.history else ""))
    err("ready")

    deadline = time.monotonic() + args.duration if args.duration else None
    try:
        while state["stop"] is None:
            runner.poll(100, on_batch)
            flush_lost()
            out.flush()
            if deadline is not None and time.monotonic() >= deadline:
                state["stop"] = "duration"
        drain_until = time.monotonic() + 30
        while runner.drain(on_batch) and time.monotonic() < drain_until:
            pass   # everything already buffered (one poll reads at most 4 MiB of a ring buffer)
        flush_lost()
    except (BrokenPipeError, ConnectionError) as e:
        state["stop"] = "output closed"
        err("output closed (%s); stopping" % e)
    extra = {}
    if state["undecodable"]:
        extra["undecodable"] = state["undecodable"]
    if args.history:
        rec = {}
        for slot, name in enumerate(slots):
            try:
                acc, cmd_ch, st_ch = runner.counters(slot)
            except Exception:
                continue
            hs = hist_stats.get(slot, [0, 0])
            rec[name] = {"accesses": dict((region_name(r) if r < 9 else "other", n) for r, n in sorted(acc.items())),
                         "command_changes": cmd_ch, "status_changes": st_ch,
                         "history_written": hs[0], "history_dropped": hs[1]}
        extra["recorder"] = rec
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


def check_output(path):
    """-o is checked before the BPF compile (a minute under TCG): a typo must not cost that. Appending nothing
    neither truncates an existing file nor leaves a new one behind when it fails."""
    if not path or path == "-":
        return
    try:
        with open(path, "a", encoding="utf-8"):
            pass
    except OSError as e:
        raise EnvError("cannot open output: %s" % e)


def main():
    try:
        return run()
    except EnvError as e:
        err(str(e))
        return EXIT_ENV
    except OSError as e:
        # a write error no handler above expected (a full disk under -o): one line, not a traceback
        err("output or system error: %s%s" % (e.strerror or e, " (%s)" % e.filename if e.filename else ""))
        return EXIT_ENV
    except KeyboardInterrupt:
        return EXIT_OK
