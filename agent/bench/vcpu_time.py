#!/usr/bin/python3
"""Host side of agent/bench/cost.sh's A/B phases: the host CPU time the lab guest's vCPUs got at each phase mark.

    agent/bench/vcpu_time.py OUTDIR &       # on the host, beside: lab/run shell --out OUTDIR -- ... cost.sh

A guest's read rate is the wall-clock rate of an emulated CPU that the host shares with other work: on this
2-core build host the guest's vCPU threads get whatever the other helpers' builds leave them, and that moves
by more than the agent's cost between two phases seconds apart. The CPU time the vCPU threads actually ran
(their schedstat) does not: reads divided by it is the reader's rate on a host that gave the guest a whole CPU.

cost.sh appends a line to OUTDIR/ab-marks.txt just before it marks a phase of its A/B reader; this script
polls that file every 10 ms and writes, per new line, the line and the summed on-CPU ns of the QEMU process's
threads (see vcpu_ns) to OUTDIR/vcpu-marks.txt. It exits when the QEMU process does."""
import os
import sys
import time


def find_qemu(out):
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            argv = open("/proc/%s/cmdline" % pid, "rb").read().split(b"\0")
        except OSError:
            continue
        if argv and b"qemu-system" in os.path.basename(argv[0]) and any(out.encode() in a for a in argv):
            return int(pid)
    return None


def vcpu_ns(pid):
    """On-CPU ns of the vCPU threads when QEMU names them (-name debug-threads=on), else of all its threads
    (the lab's QEMU does not name them; its other threads — main loop, 9p, RCU — are the guest's cost too)."""
    named, total = 0, 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            ns = int(open("/proc/%d/task/%s/schedstat" % (pid, tid)).read().split()[0])
            total += ns
            if open("/proc/%d/task/%s/comm" % (pid, tid)).read().startswith("CPU "):
                named += ns
        except (OSError, ValueError, IndexError):
            continue
    return named or total


def main(out):
    out = os.path.abspath(out)
    marks, result = os.path.join(out, "ab-marks.txt"), os.path.join(out, "vcpu-marks.txt")
    pid = None
    deadline = time.monotonic() + 3600
    while pid is None and time.monotonic() < deadline:
        pid = find_qemu(out)
        time.sleep(0.5)
    if pid is None:
        sys.exit("vcpu_time: no QEMU process with %s in its command line" % out)
    try:   # lines written before this script found QEMU cannot be timed
        done = len(open(marks).read().split("\n")) - 1
    except OSError:
        done = 0
    with open(result, "a") as w:
        while os.path.exists("/proc/%d" % pid):
            try:
                lines = open(marks).read().split("\n")
            except OSError:
                lines = []
            complete = lines[:-1]   # the last is empty or still being written
            if len(complete) > done:
                ns = vcpu_ns(pid)
                for line in complete[done:]:
                    w.write("%s %d\n" % (line, ns))
                w.flush()
                done = len(complete)
            time.sleep(0.01)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
