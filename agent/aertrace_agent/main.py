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
from .encode import Encoder, lost_event, region_name, parse_snap, snap_size, DecodeError, RECORD, RING_RECORD, \
    F_TRIGGER, F_SNAP
from .output import open_output
from .source import program_text, reset_fn_names

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_PROBES = os.path.normpath(os.path.join(HERE, "..", "..", "probes"))

EXIT_OK = 0
DRAIN_S = 30   # seconds the stop drain may take after SIGTERM or --duration (see drain_bound)
SNAP_MAX_HISTORY = 4096   # --history up to this: the kernel writes the history into the stream at the trigger
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
    p.add_argument("--no-task-stash", action="store_true",
                   help="keep an access's entry in a hash map by thread id, even where the kernel (5.15+) has "
                        "task-local storage (to compare their cost)")
    p.add_argument("--drain-s", type=float, default=None, metavar="SECONDS",
                   help="at stop, keep writing what is still buffered for at most SECONDS; the rest is written as "
                        "a lost line with its time bounds (default: after SIGINT, everything the kernel recorded "
                        "before the stop, and a second SIGINT stops at once; after SIGTERM or --duration, %g s)"
                   % DRAIN_S)
    p.add_argument("--pause-signals", action="store_true",
                   help="for benchmarks: SIGUSR1 detaches the vfio.rw probes, SIGUSR2 attaches them again (no "
                        "recompile), so one boot can alternate phases with and without them; the paused interval "
                        "is written as a lost line of unknown size (count 0, since/until)")
    p.add_argument("--qemu", metavar="PATH",
                   help="also trace this QEMU binary (uprobes on its exported vfio/runstate functions, "
                        "e.g. /usr/bin/qemu-system-x86_64): every process running it")
    p.add_argument("--page-cnt", type=int, default=None,
                   help="buffer pages, a power of two: per CPU for perf buffers (default 512), in all for the "
                        "ring buffer (default 32768 = 128 MiB with 4 KiB pages)")
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
    if a.drain_s is not None and not (0 <= a.drain_s <= 24 * 3600):
        p.error("--drain-s must be between 0 and 86400 seconds")
    if not (0 < a.tail_ms <= 3600 * 1000):
        p.error("--tail-ms must be a positive number of milliseconds")
    devs = []
    for d in a.device:
        try:
            devs.extend(topo_mod.parse_device_list(d))
        except ValueError as e:
            p.error("--device %r is not a PCI device name like 0000:01:00.0 or 01:00.0" % e.args[0])
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
    """The agent in the stages of bcc's trace.py: resolve (what can be probed here, no bcc) → compile → attach →
    stream → finish (footer). --print-source and --dry-run stop after resolve."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.replay:
        return run_replay(args)
    agent = Agent(args)
    agent.resolve()
    if args.print_source:
        return agent.print_source()
    if args.dry_run:
        return agent.dry_run()
    agent.catch_signals()
    agent.compile()
    agent.attach()
    agent.stream()
    return agent.finish()


class Agent(object):
    def __init__(self, args):
        self.args = args
        # Handled from compile on: a shell starts background jobs with SIGINT ignored, and a stop requested
        # before "ready" must still end the agent (with a footer).
        self.state = {"events": 0, "lost": 0, "undecodable": 0, "stop": None}

    # ---- resolve: the environment, the topology, the catalog, the program text (no bcc, no root needed) ----
    def resolve(self):
        args = self.args
        self.release = os.uname().release
        self.tracefs = catalog_mod.find_tracefs()
        if not args.print_source and not args.kafka and not args.connect:
            check_output(args.output)
        if not args.dry_run and not args.print_source and os.geteuid() != 0:
            raise EnvError("must run as root (loading eBPF programs needs CAP_SYS_ADMIN): "
                           "sudo /usr/bin/python3 %s ..." % sys.argv[0])
        self.topology = topo_mod.scan("/sys")
        self.filt = []
        if args.device:
            try:
                self.filt = topo_mod.hierarchy(self.topology, args.device)
            except KeyError as e:
                raise EnvError("--device %s: no such PCI device in /sys/bus/pci/devices (lspci -D lists them)" % e.args[0])
        try:
            self.cat, self.kernel, self.chosen, self.missing, self.only = resolve(args, self.release, self.tracefs)
        except OSError as e:
            raise EnvError("cannot read %s: %s" % (getattr(e, "filename", "?"), e.strerror))
        self.devinfo, self.slots = recorder_mod.plan(self.topology, self.filt) if args.history else ({}, [])
        self.recorder = None
        self.rec_defines = []
        if args.history:
            self.rec_defines = ["HIST_N=%d" % args.history, "HIST_SLOTS=%d" % max(1, len(self.slots)),
                                "HIER_MAX=%d" % recorder_mod.HIER_MAX, "TAIL_NS=%dULL" % int(args.tail_ms * 1e6)]
            if args.history <= SNAP_MAX_HISTORY:
                # the trigger writes the history into the stream itself (common.h hist_snapshot): 2 banks of N
                # entries per slot, at most 2 x 4096 x 80 bytes; longer histories keep the freeze
                self.rec_defines.append("HIST_SNAP")
            self.recorder = {"history": args.history, "tail_ms": args.tail_ms, "devices": list(self.slots)}
        self.want_ring = args.buffer == "ring" or (args.buffer == "auto" and self.kernel.version is not None
                                                   and self.kernel.version >= (5, 8))
        # 128 MiB: a live window of a guest polling flat out is hundreds of thousands of records, which the agent
        # writes slower than they come (agent/README.md "Measured cost": 32 MiB lost records inside the windows)
        self.ring_pages = args.page_cnt or 32768
        # task-local storage in tracing programs: 5.12; from 5.15 (the next LTS) to stay off its early fixes
        self.task_stash = not args.no_task_stash and self.kernel.version is not None and self.kernel.version >= (5, 15)
        self.perf_pages = args.page_cnt or 512
        self._program()

    def _program(self):
        self.defines = catalog_mod.defines_for(self.chosen, self.kernel) + self.rec_defines
        # benches only (agent/bench/cost.sh): e.g. BENCH_RW_EMPTY, vfio.rw's programs returning at once
        self.defines += [d for d in os.environ.get("AERTRACE_BENCH_DEFINES", "").split(",") if d.startswith("BENCH_")]
        if self.task_stash and any(c["event"] == "vfio.rw" for c in self.chosen):
            self.defines.append("TASK_STASH")
        self.text = program_text(self.args.probes_dir, catalog_mod.probe_files(self.chosen))

    def _reresolve(self):
        self.chosen, self.missing = catalog_mod.resolve(self.cat, self.kernel, self.only)
        self._program()

    def print_source(self):
        d = self.defines + (["RINGBUF_PAGES=%d" % self.ring_pages] if self.want_ring else [])
        sys.stdout.write("/* defines: %s */\n" % " ".join("-D" + x for x in d))
        sys.stdout.write(self.text)
        return EXIT_OK

    def dry_run(self):
        try:
            out = open_out(self.args)
        except (OSError, ValueError) as e:
            raise EnvError("cannot open output: %s" % e)
        try:
            out.write(header_mod.build_header(self.release, header_mod.attached_entries(self.chosen), self.missing,
                                              self.topology, self.filt, recorder=self.recorder,
                                              buffer="ring" if self.want_ring else "perf"))
            out.close()
        except OSError as e:
            raise EnvError("cannot write output %s: %s" % (self.args.output or "-", e.strerror or e))
        return EXIT_OK

    def catch_signals(self):
        def on_signal(signum, frame):
            if self.state["stop"] is not None:
                self.state["force"] = True   # a second signal: stop draining now
                return
            self.state["stop"] = "SIGINT" if signum == signal.SIGINT else "SIGTERM"

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        if self.args.pause_signals:
            def on_pause(signum, frame):
                self.state["pause"] = signum == signal.SIGUSR1

            signal.signal(signal.SIGUSR1, on_pause)
            signal.signal(signal.SIGUSR2, on_pause)

    # ---- compile: bcc, with the fallbacks a kernel or bcc version needs --------------------------------------
    def compile(self):
        args, kernel = self.args, self.kernel
        bcc = import_bcc()
        check_kernel(self.tracefs)
        if not self.chosen:
            raise EnvError("no probe of the catalog can be attached on %s: %s" % (
                self.release, "; ".join("%s: %s" % (m["event"], m["reason"]) for m in self.missing[:3])))
        if self.want_ring and args.buffer == "auto" and not hasattr(bcc.BPF, "ring_buffer_poll"):
            self.want_ring = False   # bcc older than 0.16 cannot build a ring buffer map
        if not args.no_fentry and catalog_mod.module_kfunc(bcc, "vfio_pci_core"):
            kernel.features.add("module_kfunc")
            self._reresolve()
        elif not args.no_fentry and hasattr(bcc.BPF, "dump_func"):
            from .bpfrun import libbpf_module_fentry
            if libbpf_module_fentry("vfio_pci_core"):
                kernel.features.add("libbpf_fentry")
                self._reresolve()

        from .bpfrun import Runner
        self.fn_names = reset_fn_names(args.probes_dir)
        self.t0 = time.time()
        headers = os.path.exists("/lib/modules/%s/build" % self.release) or os.path.exists("/sys/kernel/kheaders.tar.xz")
        # 7.x's linux/fs.h asserts a struct size bcc's clang computes differently (probes/README.md): start
        # without the assertions there instead of paying for a failed compile first (minutes under TCG).
        no_assert_first = kernel.version is not None and kernel.version >= (7, 0)

        def compile_(ring):
            d = self.defines + (["RINGBUF_PAGES=%d" % self.ring_pages] if ring else [])
            first, second = ((Runner.NO_STATIC_ASSERT, ()) if no_assert_first else ((), Runner.NO_STATIC_ASSERT))
            try:
                r = Runner(bcc, self.text, d, first)
                if first:
                    err("compiled with the kernel headers' static assertions disabled")
                return r
            except Exception:
                if not headers:
                    raise
                err("bcc could not compile the probes; retrying with the kernel headers' static assertions %s" % (
                    "enabled" if first else "disabled"))
                r = Runner(bcc, self.text, d, second)
                if second:
                    err("compiled with the kernel headers' static assertions disabled")
                return r

        def last_line(e):
            return str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__

        uses_fentry = any(a["kind"] in ("kfunc", "kretfunc") for c in self.chosen for a in c["attach"])

        def without_task_stash(e):
            # a kernel or bcc that refuses task storage in these programs: the hash map instead
            err("bcc could not load the probes with task-local storage (%s); using a hash map" % last_line(e))
            self.task_stash = False
            self._program()
            return compile_(self.want_ring)

        try:
            try:
                self.runner = compile_(self.want_ring)
            except Exception as e:
                first_error = e
                self.runner = None
                if "TASK_STASH" in self.defines:
                    try:
                        self.runner = without_task_stash(e)
                    except Exception as e3:
                        first_error = e3
            else:
                first_error = None
            if self.runner is None:
                e = first_error
                if uses_fentry:
                    # fentry needs the module's BTF to match what bcc compiled against: fall back to kprobes
                    err("bcc could not load the fentry/fexit probes (%s); using kprobes" % last_line(e))
                    kernel.features.discard("module_kfunc")
                    kernel.features.discard("libbpf_fentry")
                    self._reresolve()
                elif self.want_ring and args.buffer == "auto":
                    err("bcc could not build the probes with a ring buffer (%s); using perf buffers" % last_line(e))
                    self.want_ring = False
                else:
                    raise e
                try:
                    self.runner = compile_(self.want_ring)
                except Exception as e2:
                    if not (self.want_ring and args.buffer == "auto"):
                        raise
                    err("bcc could not build the probes with a ring buffer (%s); using perf buffers" % last_line(e2))
                    self.want_ring = False
                    self.runner = compile_(False)
        except Exception as e:
            hint = "see bcc's messages above" if headers else \
                "kernel headers missing: apt-get install linux-headers-%s (or modprobe kheaders)" % self.release
            raise EnvError("bcc could not compile/load the probes (%s): %s" % (last_line(e), hint))

    # ---- attach: the maps the probes read, then the probes -----------------------------------------------------
    def attach(self):
        runner, args = self.runner, self.args
        runner.set_filter(self.filt)
        if args.history:
            runner.set_recorder(self.devinfo, args.history, max(1, len(self.slots)))
        self.ok, failed = runner.attach(self.chosen)
        if any(a.get("loader") == "libbpf" for c, _ in failed for a in c["attach"]):
            # fentry through libbpf refused (verifier, BTF, trampoline): the kprobe variant is compiled alongside
            c, why = next((c, w) for c, w in failed if any(a.get("loader") == "libbpf" for a in c["attach"]))
            err("fentry/fexit through libbpf failed for %s (%s); using kprobes" % (c["event"], why))
            self.kernel.features.discard("libbpf_fentry")
            again, _ = catalog_mod.resolve(self.cat, self.kernel, self.only)
            alt = [x for x in again if x["event"] == c["event"]]
            ok2, failed2 = runner.attach(alt)
            self.ok += ok2
            failed = [(x, w) for x, w in failed if x is not c] + failed2
        for c, why in failed:
            self.missing.append({"event": c["event"], "candidates": [a.get("symbol") or a.get("tracepoint")
                                                                     for a in c["attach"]], "reason": why})
        if not self.ok:
            runner.cleanup()
            raise EnvError("no probe could be attached: %s" % "; ".join(w for _, w in failed[:3]))
        try:
            self.out = open_out(args)
        except (OSError, ValueError) as e:
            runner.cleanup()
            raise EnvError("cannot open output: %s" % e)

    # ---- stream: decode records into lines until stopped, then drain what is buffered --------------------------
    def stream(self):
        args, runner, out, state = self.args, self.runner, self.out, self.state
        rec = Recording(self)
        buffer_kind = "perf"
        snaps = args.history and "HIST_SNAP" in self.defines
        if self.want_ring:
            try:
                runner.open_ring(self.ring_pages * mmap.PAGESIZE, rec.on_snap if snaps else None)
                buffer_kind = "ring"
            except Exception as e:
                runner.cleanup()
                raise EnvError("cannot map the BPF ring buffer (%s): run with --buffer perf" % e)
        elif snaps:
            runner.open_buffer(rec.on_event, rec.on_lost, self.perf_pages, on_other=lambda cpu, raw: rec.on_snap(raw),
                               other_size=snap_size(args.history))
        else:
            runner.open_buffer(rec.on_event, rec.on_lost, self.perf_pages)
        out.write(header_mod.build_header(self.release, header_mod.attached_entries(self.ok), self.missing,
                                          self.topology, self.filt, recorder=self.recorder, buffer=buffer_kind))
        out.flush()
        n_att = sum(len(c["attach"]) for c in self.ok)
        err("%d probes for %d logical events attached in %.1f s; %d logical events missing%s; %s buffer%s" % (
            n_att, len(self.ok), time.time() - self.t0, len(self.missing),
            (": " + ", ".join(m["event"] for m in self.missing)) if self.missing else "", buffer_kind,
            ", flight recorder %d per device, tail %g ms" % (args.history, args.tail_ms) if args.history else "")
            + (", vfio.rw stash: %s" % ("task storage" if "TASK_STASH" in self.defines else "hash map")
               if any(c["event"] == "vfio.rw" for c in self.ok) else "")
            + "".join(", bench define %s" % d for d in self.defines if d.startswith("BENCH_")))
        err("ready")

        deadline = time.monotonic() + args.duration if args.duration else None
        try:
            while state["stop"] is None:
                if state.get("pause") and args.pause_signals:
                    self.paused(rec)
                    continue
                runner.poll(100, rec.on_batch)
                rec.flush_lost()
                out.flush()
                if deadline is not None and time.monotonic() >= deadline:
                    state["stop"] = "duration"
            self.drain_at_stop(rec)
            rec.flush_lost()
            if runner.ring is not None:
                # An agent far behind (an emulated guest streaming flat out) stops with records it never read:
                # they are a hole, said as one (measured: 7.2 in the lab, minutes of backlog at SIGINT).
                count, since, until = runner.ring.unread()
                if count:
                    now = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
                    rec.write_lost(now, -1, count, since if since is not None else now, until if until is not None else now)
                    err("stopped with %d records not read yet (%s): written as a lost line"
                        % (count, "a second signal" if state.get("force") else "drain bounded to %g s" % self.drain_bound()))
        except (BrokenPipeError, ConnectionError) as e:
            state["stop"] = "output closed"
            err("output closed (%s); stopping" % e)
        self.hist_stats = rec.hist_stats
        if args.history:
            err("history dumps: %d from the kernel's copies at the trigger, %d read from the map" % tuple(rec.hist_src))

    def drain_bound(self):
        """Seconds the stop drain may take: --drain-s, else none after SIGINT (a person who can press Ctrl-C again),
        else DRAIN_S (a service manager stops with SIGTERM and kills after its own timeout)."""
        if self.args.drain_s is not None:
            return self.args.drain_s
        return None if self.state["stop"] == "SIGINT" else DRAIN_S

    def drain_at_stop(self, rec):
        """Writes what the kernel recorded before the stop. A flight recorder that fell behind (measured: an emulated
        guest writing a flat-out live window, minutes behind) would otherwise drop exactly the recoveries it recorded
        last; records that arrive after the stop are not waited for (the user may still be reading flat out)."""
        runner, state = self.runner, self.state
        bound = self.drain_bound()
        t0 = time.monotonic()
        target = runner.ring.prod_pos[0] if runner.ring is not None else None
        said = t0
        while not state.get("force") and (bound is None or time.monotonic() - t0 < bound):
            if target is not None and runner.ring.cons_pos[0] >= target:
                break
            if not runner.drain(rec.on_batch):
                break   # everything buffered is read (one poll reads at most 4 MiB of a ring buffer)
            if target is not None and time.monotonic() - said >= 10:
                said = time.monotonic()
                left = (target - runner.ring.cons_pos[0]) // RING_RECORD.size
                err("stopping: %d records recorded before the stop still to write%s" % (
                    left, "; signal again to stop now (the rest becomes a lost line)" if bound is None else ""))
                self.out.flush()

    def paused(self, rec):
        """--pause-signals: vfio.rw detached until SIGUSR2 (or a stop); the agent only sleeps meanwhile, so the
        phase measures the user without the probes and without the agent's own work. The hole is a lost line of
        unknown size bounded by the detach and the re-attach."""
        runner, state = self.runner, self.state
        hot = [c for c in self.ok if c["event"] == "vfio.rw"]
        runner.set_attached(hot, False)
        since = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        while runner.drain(rec.on_batch):
            pass
        rec.flush_lost()
        self.out.flush()
        err("vfio.rw detached (SIGUSR1)")
        while state.get("pause") and state["stop"] is None:
            time.sleep(0.2)
        mode = self.next_bench_mode()
        runner.set_attached(hot, True)
        until = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        rec.write_lost(until, 0, 0, since, until)
        err("vfio.rw attached again" + ("" if mode is None else " (bench mode %d)" % mode))

    def next_bench_mode(self):
        """Benches only (BENCH_MODES compiled in, agent/bench/cost.sh): the mode for the phase about to start, read
        from the file AERTRACE_BENCH_MODE_FILE names (bit 0 = vfio.rw's entry program returns at once, bit 1 = its
        exit program does, bit 2 = neither reads the clock; 0 if the file is missing) and written to the programs'
        bench_mode map; None without BENCH_MODES."""
        if "BENCH_MODES" not in self.defines:
            return None
        try:
            with open(os.environ.get("AERTRACE_BENCH_MODE_FILE", "")) as f:
                mode = int(f.read().strip() or 0)
        except (OSError, ValueError):
            mode = 0
        t = self.runner.b["bench_mode"]
        t[t.Key(0)] = t.Leaf(mode)
        return mode

    # ---- finish: the footer (totals, the recorder's counters) ---------------------------------------------------
    def finish(self):
        args, state = self.args, self.state
        extra = {}
        if state["undecodable"]:
            extra["undecodable"] = state["undecodable"]
        if args.history:
            recs = {}
            for slot, name in enumerate(self.slots):
                try:
                    acc, cmd_ch, st_ch = self.runner.counters(slot)
                except Exception:
                    continue
                hs = self.hist_stats.get(slot, [0, 0])
                recs[name] = {"accesses": dict((region_name(r) if r < 9 else "other", n) for r, n in sorted(acc.items())),
                              "command_changes": cmd_ch, "status_changes": st_ch,
                              "history_written": hs[0], "history_dropped": hs[1]}
            extra["recorder"] = recs
        try:
            self.out.write(header_mod.footer(state["events"], state["lost"], state["stop"], extra))
            self.out.close()
        except (BrokenPipeError, ConnectionError, OSError):
            pass   # the reader went away: nowhere to put the footer
        err("stopped (%s): %d events, %d lost" % (state["stop"], state["events"], state["lost"]))
        # bcc's cleanup detaches probe by probe (seconds under TCG); the kernel drops perf-event kprobes
        # and their programs when the process exits, so skip it.
        sys.stderr.flush()
        os._exit(EXIT_OK)


class Recording(object):
    """The stream stage's record handling: records to lines, the flight recorder's history dumped before the
    record that triggered it, loss accounting (ring buffer: the kernel's count with bounds; perf buffers: per
    CPU from bcc's callbacks)."""

    def __init__(self, agent):
        self.agent = agent
        self.runner, self.out, self.state, args = agent.runner, agent.out, agent.state, agent.args
        self.me_pid = self.me_tid = os.getpid()
        try:
            with open("/proc/self/comm") as f:
                self.me_comm = f.read().strip()
        except OSError:
            self.me_comm = "aertrace-agent"
        self.enc = Encoder(agent.fn_names)
        self.mirror = recorder_mod.LiveMirror(agent.devinfo, int(args.tail_ms * 1e6)) if args.history else None
        self.dumped = {}          # slot -> last history seq written
        self.snaps = {}           # (trigger ts, cpu) -> {slot: [head, {(bank, part): entries}]}: history snapshots
        self.hist_n = args.history
        self.hist_src = [0, 0]    # triggers whose history came from the kernel's copies, from the map (said at stop)
        self.slot_keys = dict((i, topo_mod.name_to_key(n)) for i, n in enumerate(getattr(agent, "slots", ())))
        self.hist_stats = {}      # slot -> [records dumped, records dropped]
        self.write_line = self.out.write_line
        self.write_lines = getattr(self.out, "write_lines", None)   # Kafka: one message per line
        self.last_raw = {}        # perf buffers: cpu -> its last record, the lower bound of a loss that follows
        self.pending_lost = {}    # cpu -> [count, since], written once per poll round (bcc calls back once per gap)
        self.ring_losses = 0      # ring buffer refusals said on stderr (bounded)

    SNAPS_KEPT = 64   # history snapshots waiting for their trigger's record (it follows them within a poll round)

    def on_snap(self, raw):
        """A chunk of a history snapshot (common.h hist_snapshot), kept until its trigger's record comes: the trigger
        has the same ts and cpu and follows its chunks in the stream."""
        try:
            ts, cpu, slot, head, bank, part, parts, entries = parse_snap(raw, self.hist_n)
        except DecodeError as e:
            self.undecodable(e)
            return
        snap = self.snaps.get((ts, cpu))
        if snap is None:
            if len(self.snaps) >= self.SNAPS_KEPT:
                # its trigger never came (its record lost, counted as lost): the oldest goes
                self.snaps.pop(next(iter(self.snaps)))
            snap = self.snaps[(ts, cpu)] = {}
        s = snap.setdefault(slot, [0, {}])
        s[0] = max(s[0], head)
        s[1][(bank, part)] = entries

    def snap_history(self, snap, slot, after):
        """(entries with seq > after, oldest first; head) of a slot from its snapshot, as Runner.history reads them
        from the map: chunks that did not arrive leave their seqs to be counted as dropped."""
        head, chunks = snap
        got = sorted((e for c in chunks.values() for e in c if after < e[0] <= head), key=lambda e: e[0])
        return got, head

    def dump_history(self, ts, dev, cpu, flags=0):
        """Writes the history of the trigger's hierarchy (what was not written yet) before the trigger.

        With F_SNAP the trigger's program wrote the history into the stream just before the trigger (the snapshot,
        taken at the trigger however far behind the agent is); without it (an older probe set, a full ring, a
        hierarchy with more slots than the kernel copies) the kernel froze the history and the agent reads it from
        the map, late. Only the accesses that returned before the trigger: behind a backlog (a flat-out window written
        by Python in an emulated guest) the agent reaches the trigger seconds later, when the kernel may already be
        recording again after the window. Those later accesses stay in the history for the next dump (or are counted
        as dropped when overwritten); written here they would be dated after the trigger and take the place of the
        baseline before it."""
        slots = self.mirror.trigger(ts, dev)
        snap = self.snaps.pop((ts, cpu), None)
        if flags & F_SNAP and snap:
            # the kernel's decision (it went live here) is the one that counts: the slots it copied
            slots = sorted((s, self.slot_keys[s]) for s in snap if s in self.slot_keys)
        if slots:
            self.hist_src[0 if flags & F_SNAP and snap else 1] += 1
        for slot, key in slots:
            after = self.dumped.get(slot, 0)
            if flags & F_SNAP and snap:
                entries, head = self.snap_history(snap[slot], slot, after)
            else:
                entries, head = self.runner.history(slot, after)
            n = 0
            while n < len(entries) and entries[n][2] < ts:   # entries: seq order; [2] = return ts
                n += 1
            # the last seq dealt with: everything up to the first access after the trigger
            upto = entries[n][0] - 1 if n < len(entries) else head
            entries = entries[:n]
            dropped = max(0, upto - after - len(entries))
            self.dumped[slot] = upto
            st = self.hist_stats.setdefault(slot, [0, 0])
            st[0] += len(entries)
            st[1] += dropped
            if not entries and not dropped:
                continue
            self.out.write({"type": "history", "ts": int(ts), "cpu": int(cpu), "pid": self.me_pid, "tid": self.me_tid,
                            "comm": self.me_comm, "dev": self.enc._dev_name(key), "records": len(entries),
                            "dropped": dropped, "since": int(entries[0][1]) if entries else int(ts)})
            for line in self.enc.history_lines(entries, key):
                self.write_line(line)
            self.state["events"] += 1 + len(entries)
        if flags & F_SNAP:
            return   # nothing was frozen
        for h in self.mirror.went_live:
            try:
                self.runner.unfreeze(h)
            except Exception as e:   # a kernel without the map (older probes) or bcc refusing the write
                if not self.state.get("unfreeze_err"):
                    self.state["unfreeze_err"] = True
                    err("could not let the kernel record history again (%s): accesses are counted as dropped" % e)

    def output_closed(self, e):
        if self.state["stop"] is None:
            self.state["stop"] = "output closed"
            err("output closed (%s); stopping" % e)

    def emit(self, line):
        try:
            self.write_line(line)
        except (BrokenPipeError, ConnectionError, OSError) as e:
            self.output_closed(e)
            return
        self.state["events"] += 1

    def write_chunk(self, text, k):
        """k lines joined by newlines, in one write (the bulk of a live stream)."""
        try:
            self.write_lines(text, k)
        except (BrokenPipeError, ConnectionError, OSError) as e:
            self.output_closed(e)
            return
        self.state["events"] += k

    def undecodable(self, e):
        self.state["undecodable"] += 1
        if self.state["undecodable"] <= 5:
            err("record not encodable, counted in the footer: %s" % e)

    def on_event(self, cpu, raw):
        # Runs inside bcc's ctypes callback, where an exception would be printed and the record
        # dropped without a count: count every failure instead.
        self.last_raw[cpu] = raw
        try:
            line = self.enc.line(raw, cpu)
        except Exception as e:
            self.undecodable(e)
            return
        if self.mirror is not None and raw[64] & F_TRIGGER:
            t = RECORD.unpack_from(raw)
            self.dump_history(t[0], t[5], cpu, raw[64])
        self.emit(line)

    def on_batch(self, view, n):
        if self.write_lines is not None:
            # the bulk of a live stream (config reads only, as a flat-out reader makes them): one format and one
            # write for the chunk (Encoder.ring_text); any other chunk is decoded line by line below
            text = self.enc.ring_text(view, n)
            if text is not None:
                self.write_chunk(text, n)
                return n
        lines, used, trig = self.enc.ring_lines(view, n)
        emit, undecodable = self.emit, self.undecodable
        if self.write_lines is not None and not trig and lines:
            # the bulk of a live stream: one write for the chunk
            try:
                text = "\n".join(lines)
            except TypeError:
                text = None   # an undecodable record among them: line by line below
            if text is not None:
                self.write_chunk(text, len(lines))
                return used
        start = 0
        if self.mirror is not None:
            for i, ts, dev, cpu, flags in trig:
                for x in lines[start:i]:
                    emit(x) if isinstance(x, str) else undecodable(x)
                start = i
                self.dump_history(ts, dev, cpu, flags)
        for x in lines[start:]:
            emit(x) if isinstance(x, str) else undecodable(x)
        return used

    def on_lost(self, cpu, count):
        p = self.pending_lost.get(cpu)
        if p is None:
            prev = self.last_raw.get(cpu)
            self.pending_lost[cpu] = [count, RECORD.unpack_from(prev)[0] if prev is not None else None]
        else:
            p[0] += count

    def write_lost(self, ts, cpu, count, since, until):
        self.out.write(lost_event(ts, max(cpu, 0), count, self.me_pid, self.me_tid, self.me_comm, since, until))
        self.state["events"] += 1
        self.state["lost"] += count

    def flush_lost(self):
        if self.runner.ring is not None:
            r = self.runner.ring_lost()
            if r:
                self.write_lost(time.clock_gettime_ns(time.CLOCK_MONOTONIC), r[3], r[0], r[1], r[2])
                avail = getattr(self.runner, "lost_avail", None)
                if avail is not None and self.ring_losses < 20:
                    self.ring_losses += 1
                    err("the ring buffer refused %d records; when the agent saw it the ring held %.1f MiB unread of %.1f MiB"
                        % (r[0], avail / 2.0 ** 20, self.runner.ring.size / 2.0 ** 20))
            return
        if not self.pending_lost:
            return
        ts = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        for cpu in sorted(self.pending_lost):
            count, since = self.pending_lost[cpu]
            self.write_lost(ts, cpu, count, since, ts)
        self.pending_lost.clear()


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
