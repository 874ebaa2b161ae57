#!/usr/bin/python3
"""The tables of agent/bench/cost.sh from its phase file and the agent's trace.

    cost_report.py cost-phases.txt cost.jsonl

A recovery window is a host recovery (aer.event / recovery.enter to recovery.exit) or a reset a user asked
for (user_reset.enter to .exit), extended by 2 s (the analyzer's --settle) after its end. A `lost` line is
inside a window when its [since, until] bounds (schema v2) meet the window; a line without bounds is taken
to be inside every window of its phase (it cannot be placed)."""
import json
import os
import re
import sys

SETTLE = 2 * 10**9
# cost.sh's bench modes (AERTRACE_BENCH_MODES): which of vfio.rw's programs returned at once in a "with" phase
MODES = {0: "full programs", 1: "entry empty", 2: "exit empty", 3: "both empty", 4: "no clock readings"}


def median(xs):
    """of a sorted list: the middle one, or the mean of the middle two (an even count of rounds)"""
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2.0


def per_cpu(ab, folder):
    """The A/B phases per CPU the guest got (agent/bench/vcpu_time.py's vcpu-marks.txt, when it ran on the host):
    reads of a phase (the reader's mark line) / the on-CPU time of the guest's vCPU threads during it."""
    try:
        ns = {}
        for line in open(os.path.join(folder, "vcpu-marks.txt")):
            p = line.split()
            if len(p) == 4 and p[0] == "abmark":
                ns[(p[1], int(p[2]))] = int(p[3])
    except OSError:
        return
    reads = {}
    for iv in set(x[0] for x in ab):
        try:
            marks = [l for l in open(os.path.join(folder, "cost-ab-%s.log" % iv)) if "ev=mark" in l]
        except OSError:
            continue
        for n, l in enumerate(marks, 1):
            m = re.search(r" reads=(\d+)", l)
            if m:
                reads[(iv, n)] = int(m.group(1))

    def rate(iv, n):   # reads per second of vCPU time in the phase that mark n closed
        cpu = ns.get((iv, n), 0) - ns.get((iv, n - 1), 0)
        return reads[(iv, n)] / (cpu / 1e9) if (iv, n) in reads and (iv, n - 1) in ns and cpu > 0 else None

    rows = [(iv, k, rate(iv, mn), rate(iv, ma), mode) for iv, k, _, _, mn, ma, mode in ab if mn]
    rows = [r for r in rows if r[2] and r[3]]
    if not rows:
        return
    print()
    print("The same phases per CPU the guest got (reads / on-CPU time of its vCPU threads, agent/bench/vcpu_time.py):")
    print("| read interval | round | bench mode | reads per vCPU-second without | with | ratio | host ns per read without | added |")
    print("|---|---|---|---|---|---|---|---|")
    for iv, k, cn, ca, mode in rows:
        print("| %s | %d | %s | %.0f | %.0f | %.2f | %.0f | %+.0f |" % (iv, k, MODES.get(mode, mode), cn, ca, ca / cn,
                                                                   1e9 / cn, 1e9 / ca - 1e9 / cn))
    for iv, mode in sorted(set((r[0], r[4]) for r in rows), key=lambda x: (int(x[0]), x[1])):
        sel = [r for r in rows if r[0] == iv and r[4] == mode]
        rs = sorted(r[3] / r[2] for r in sel)
        added = sorted(1e9 / r[3] - 1e9 / r[2] for r in sel)
        print("interval %s, %s, per vCPU-second: median ratio %.2f over %d rounds (min %.2f, max %.2f); "
              "host CPU added per read: median %.0f ns" % (iv, MODES.get(mode, mode), median(rs), len(rs), rs[0],
                                                           rs[-1], median(added)))


def main(phases_path, trace_path):
    base, agent, resets, steady, after, ab = {}, [], [], {}, {}, []
    for line in open(phases_path):
        p = line.split()
        p += [""] * (4 - len(p))   # a phase whose reader gave no rate leaves its fields empty
        if p[0] == "after":
            after[p[1]] = float(p[2] or 0)
        elif p[0] == "steady":
            steady[(p[1], p[2])] = float(p[3]) if len(p) > 3 and p[3] else 0.0
        elif p[0] == "base":
            base[p[1]] = float(p[2] or 0)
        elif p[0] == "agent":
            agent.append((p[1], float(p[2] or 0), int(p[3]), int(p[4]) + 5 * 10**9,
                          int(p[5]) / float(p[6]) / ((int(p[4]) - int(p[3])) / 1e9)))
        elif p[0] == "ab":
            ab.append((p[1], int(p[2]), float(p[3] or 0), float(p[4] or 0),
                       int(p[5]) if len(p) > 6 and p[5] else None, int(p[6]) if len(p) > 6 and p[6] else None,
                       int(p[7]) if len(p) > 7 and p[7] else 0))
        elif p[0] == "reset":
            resets.append((p[1], float(p[2] or 0), int(p[3]), int(p[4])))
    events = []
    footer = header = None
    with open(trace_path) as f:
        for line in f:
            d = json.loads(line)
            if d["type"] == "footer":
                footer = d
            elif d["type"] == "header":
                header = d
            else:
                events.append(d)

    # recovery windows
    windows = []
    open_ = {}
    for d in events:
        t = d["type"]
        if t in ("aer.event", "recovery.enter", "user_reset.enter"):
            open_.setdefault((t.split(".")[0] if t != "aer.event" else "recovery", d["tid"]), d["ts"])
        elif t in ("recovery.exit", "user_reset.exit"):
            k = (t.split(".")[0], d["tid"])
            start = open_.pop(k, None)
            if start is None and k[0] == "recovery":
                start = next((v for (kind, _), v in list(open_.items()) if kind == "recovery"), None)
                open_ = dict((kk, v) for kk, v in open_.items() if kk[0] != "recovery")
            if start is not None:
                windows.append((start, d["ts"] + SETTLE, t.split(".")[0] + ("" if t == "recovery.exit" else " " + d.get("fn", ""))))

    def lost_in(t0, t1):
        total = inside = 0
        for d in events:
            if d["type"] != "lost" or not (t0 <= d["ts"] < t1 + 5 * 10**9):
                continue
            total += d["count"]
            lo, hi = d.get("since"), d.get("until")
            for w0, w1, _ in windows:
                if not (t0 <= w0 < t1):
                    continue
                if lo is None or (lo <= w1 and hi >= w0):
                    inside += d["count"]
                    break
        return total, inside

    def count(t0, t1, pred):
        return sum(1 for d in events if t0 <= d.get("ts", 0) < t1 and pred(d))

    print("buffer: %s, recorder: %s" % (header.get("buffer", "perf"), json.dumps(header.get("recorder"))))
    if ab:
        print("A/B in one reader (vfio.rw probes detached / attached, agent loaded throughout):")
        print("| read interval | round | reads/s without | with | ratio |")
        print("|---|---|---|---|---|")
        for iv, k, rn, ra, _, _, mode in ab:
            print("| %s | %d | %.0f | %.0f | %.2f |%s" % (iv, k, rn, ra, ra / rn if rn else 0,
                                                       " " + MODES.get(mode, str(mode)) if mode else ""))
        for iv, mode in sorted(set((x[0], x[6]) for x in ab), key=lambda x: (int(x[0]), x[1])):
            rs = sorted(x[3] / x[2] for x in ab if x[0] == iv and x[6] == mode and x[2])
            if rs:
                print("interval %s, %s: median ratio %.2f over %d rounds (min %.2f, max %.2f)" % (
                    iv, MODES.get(mode, mode), median(rs), len(rs), rs[0], rs[-1]))
        per_cpu(ab, os.path.dirname(os.path.abspath(phases_path)))
    print("| read interval | reads/s without agent | reads/s with agent | ratio | config reads streamed | events lost | agent CPU (of one CPU) |")
    print("|---|---|---|---|---|---|---|")
    for iv, w, t0, t1, cpu in agent:
        b = base.get(iv, 0)
        lost, _ = lost_in(t0, t1)
        print("| %s us | %.0f | %.0f | %.2f | %d | %d | %.0f%% |" % (
            iv, b, w, w / b if b else 0, count(t0, t1, lambda d: d["type"] in ("vfio.rw.exit", "vfio.rw")), lost, 100 * cpu))
    if steady:
        print()
        print("Steady state (from 4 s into each phase to its end: after the live window vfio's FLR on open arms):")
        print("| read interval | reads/s without agent (before) | with agent | without agent (after) | ratio to before | ratio to after |")
        print("|---|---|---|---|---|---|")
        for iv in sorted(set(k[1] for k in steady), key=lambda x: -int(x)):
            b, w, c = steady.get(("base", iv), 0), steady.get(("agent", iv), 0), steady.get(("after", iv), 0)
            print("| %s us | %.0f | %.0f | %.0f | %.2f | %.2f |" % (iv, b, w, c, w / b if b else 0, w / c if c else 0))
    if resets:
        b = base.get("0", 0)
        print()
        print("| repeat | reads/s flat out, with agent | ratio to flat out without | recovery windows (kind) | "
              "reads streamed in windows | history lines dumped | lost in the phase | lost inside a recovery window |")
        print("|---|---|---|---|---|---|---|---|")
        worst = 0
        for k, r, t0, t1 in resets:
            ws = [w for w in windows if t0 <= w[0] < t1]
            lost, inside = lost_in(t0, t1)
            worst = max(worst, inside)
            inw = count(t0, t1 + 5 * 10**9, lambda d: d["type"] in ("vfio.rw.exit", "vfio.rw") and not d.get("history")
                        and any(w0 <= d["ts"] <= w1 for w0, w1, _ in ws))
            hist = count(0, 1 << 62, lambda d: d.get("history") and t0 <= d["ts"] < t1)
            # each repeat injected a fatal error: a repeat whose recovery is not in the trace was not recorded,
            # whatever the lost lines say (an agent stopped before reading it used to leave no lost line)
            missing = not any(w[2] == "recovery" for w in ws)
            print("| %s | %.0f | %.2f | %s | %d | %d | %d | **%s** |" % (
                k, r, r / b if b else 0, ", ".join("%s %.0f ms" % (w[2], (w[1] - w[0] - SETTLE) / 1e6) for w in ws)
                + (" (its fatal recovery is missing from the trace)" if missing else ""),
                inw, hist, lost, "not recorded" if missing else inside))
            if missing:
                worst = max(worst, 1)
        print("lost inside recovery windows, worst repeat: %d%s" % (
            worst, "" if worst == 0 else " (or a repeat's recovery not recorded)"))
    print("footer:", json.dumps(footer))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
