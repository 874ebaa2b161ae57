#!/usr/bin/python3
"""How many instructions the kernel's verifier walks in each of the agent's programs, natively:

    BCC_KERNEL_SOURCE=DIR /usr/bin/python3 agent/bench/verifier_insns.py [--probes-dir DIR] [--ring|--perf] [-D NAME ...]

Compiles probes/bpf's kprobe files (common.h, reset.c, vfio.c, cfglock.c, hotplug.c, qemu.c: aer.c and link.c need
their tracepoints' formats from the running kernel, which a build host may lack) with every probe define and the
flight recorder's defaults as the agent passes them on a 5.15+ kernel (HIST_N=512, HIST_SNAP, TASK_STASH, ring
buffer), loads every `int NAME(struct pt_regs *ctx)` program as a kprobe program (loading verifies it; nothing is
attached) and prints each one's `verified_insns` from its fdinfo (kernel 5.16+). vfio.rw's fentry variants are not
loaded: their target module (vfio_pci_core) need not be on the build host; the kprobe wrappers run the same
rw_enter/rw_exit. Needs root and bcc. The figure is the load cost (the verifier's work per program, which a TCG
guest pays at every start), not the run-time path."""
import argparse
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from aertrace_agent.bpfrun import Runner                     # noqa: E402
from aertrace_agent.source import program_text              # noqa: E402

FILES = ["reset.c", "vfio.c", "cfglock.c", "hotplug.c", "qemu.c"]
PROBE_DEFINES = ["PROBE_RESET", "PROBE_USER_RESET", "PROBE_VFIO_ERR", "PROBE_EVENTFD", "PROBE_EVENTFD_READ",
                 "PROBE_VFIO_IOCTL", "PROBE_VFIO_RW", "PROBE_VFIO_OPEN", "PROBE_VFIO_REQUEST", "PROBE_VFIO_REMOVE",
                 "VFIO_DEVICE_ARG", "PROBE_CFG_LOCK", "PROBE_HOTPLUG_EVENT", "PROBE_HOTPLUG_UNCONF",
                 "PROBE_PCI_REMOVE", "PROBE_QEMU_CFG", "PROBE_QEMU_REGION", "PROBE_QEMU_RUNSTATE"]
RECORDER = ["HIST_N=512", "HIST_SLOTS=1", "HIER_MAX=8", "TAIL_NS=2500000000ULL", "HIST_SNAP", "TASK_STASH"]


def verified(fd):
    with open("/proc/self/fdinfo/%d" % fd) as f:
        m = re.search(r"verified_insns:\s+(\d+)", f.read())
    return int(m.group(1)) if m else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--probes-dir", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                                         "probes"))
    ap.add_argument("--perf", action="store_true", help="per-CPU perf buffers instead of the ring buffer")
    ap.add_argument("-D", dest="extra", action="append", default=[], help="one more define")
    args = ap.parse_args()
    import bcc
    text = program_text(args.probes_dir, FILES)
    defs = PROBE_DEFINES + RECORDER + ([] if args.perf else ["RINGBUF_PAGES=32768"]) + args.extra
    t0 = time.time()
    r = Runner(bcc, text, defs, Runner.NO_STATIC_ASSERT)
    t1 = time.time()
    names = re.findall(r"^int (\w+)\(struct pt_regs \*ctx\)", text, re.M)
    total, rows = 0, []
    for name in names:
        try:
            fn = r.b.load_func(name, bcc.BPF.KPROBE)
        except Exception as e:   # compiled out by the defines, or refused: say which
            rows.append((name, "not loaded: %s" % str(e).splitlines()[0][:80]))
            continue
        n = verified(fn.fd)
        total += n or 0
        rows.append((name, n))
    t2 = time.time()
    for name, n in rows:
        print("%-28s %s" % (name, n))
    loaded = sum(1 for _, n in rows if isinstance(n, int))
    print("total %d instructions verified in %d programs; compile %.1f s, load %.2f s (kernel %s)" % (
        total, loaded, t1 - t0, t2 - t1, os.uname().release))
    return 0


if __name__ == "__main__":
    sys.exit(main())
