package dev.aertrace.qemu;

import dev.aertrace.timeline.QemuLane;
import dev.aertrace.ingest.Diagnostics;
import dev.aertrace.ingest.Event;
import dev.aertrace.ingest.GapLedger;
import dev.aertrace.ingest.Issue;
import dev.aertrace.ingest.QemuEvents;
import dev.aertrace.ingest.TraceFooter;
import dev.aertrace.ingest.TraceGap;
import dev.aertrace.ingest.TraceHeader;
import dev.aertrace.ingest.TraceListener;
import dev.aertrace.race.AnalyzedEpisode;
import dev.aertrace.race.Outcome;
import dev.aertrace.race.Verdict;
import dev.aertrace.timeline.Episode;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * The QEMU lane of one input: sits between the reorder stage and the timeline ({@link #tap}), pairs QEMU's
 * uprobe events per thread, notes which process holds which device (its own vfio events), and when the timeline
 * closes an episode adds what the QEMU processes holding its devices did ({@link #join}) with the verdicts that
 * follow ({@link QemuVerdicts}). Kept apart from the host timeline: a trace without QEMU events passes through
 * untouched.
 *
 * <p>Pairing follows the rule of evidence (docs/evidence.md): a guest access's enter and exit are paired by
 * thread, function and identity (offset, size, direction), never across a loss, late delivery or unreadable line;
 * an exit without its enter and an enter whose exit is lost are gaps in the ledger, so every verdict whose span
 * they meet, host or QEMU, is tentative. Memory: QEMU processes ({@link #MAX_PROCS}), the guest accesses of the
 * last {@link #RETAIN_NS} per process (at most {@link #MAX_ACCESSES}; older ones dropped and counted), open
 * accesses per thread, and which devices each process's vfio events named.
 */
public final class QemuLanes {
    static final long RETAIN_NS = 60_000_000_000L;
    static final int MAX_ACCESSES = 20_000;
    static final int MAX_STATES = 1_000;
    static final int MAX_PROCS = 16;
    static final int MAX_PIDS = 4_096;
    static final int MAX_TIDS = 65_536;
    /** Accesses kept per lane in the report (the rest counted). */
    static final int MAX_LANE_ACCESSES = 2_000;
    /** Guest accesses before the episode shown in its lane: what the guest was doing when the error came. */
    static final int BEFORE = 2;

    private final GapLedger ledger;
    private final Diagnostics diag;
    private int schema = 1;
    private long now = Long.MIN_VALUE;

    /** pid → device → the first of the process's own vfio events naming it (the join's evidence). */
    private final Map<Integer, Map<String, Event>> holds = new HashMap<>();
    private final Map<Integer, Proc> procs = new LinkedHashMap<>();
    /** (tid, space) → the guest access QEMU is serving on that thread. */
    private final Map<Long, Open> open = new HashMap<>();
    /** Last event per thread (bounded): the lower bound of the gap an exit without its enter reveals. */
    private final dev.aertrace.timeline.LastSeen lastByTid = new dev.aertrace.timeline.LastSeen();

    public QemuLanes(GapLedger ledger, Diagnostics diag) {
        this.ledger = ledger;
        this.diag = diag;
    }

    private static final class Proc {
        final int pid;
        String comm;
        final ArrayDeque<QemuLane.GuestAccess> accesses = new ArrayDeque<>();
        final ArrayDeque<QemuEvents.RunState> states = new ArrayDeque<>();
        final ArrayDeque<QemuEvents.SystemReset> resets = new ArrayDeque<>();
        final ArrayDeque<Event.EventfdRead> reads = new ArrayDeque<>();
        /** Accesses dropped by the cap (not by age): count and time bounds. */
        long dropped, droppedFrom = Long.MAX_VALUE, droppedTo = Long.MIN_VALUE;
        long lastTs;

        Proc(int pid) { this.pid = pid; }
    }

    private static final class Open {
        final QemuEvents.AccessEnter enter;
        final List<Event> device = new ArrayList<>(2);
        boolean passed;
        String dev;

        Open(QemuEvents.AccessEnter enter) { this.enter = enter; }
    }

    /** The listener to put in front of {@code next} (the timeline): sees every event first, forwards all. */
    public TraceListener tap(TraceListener next) {
        return new TraceListener() {
            @Override public void header(TraceHeader h) {
                segment(h);
                next.header(h);
            }

            @Override public void event(Event e) {
                observe(e, false);
                next.event(e);
            }

            @Override public void history(Event e) {
                observe(e, true);
                next.history(e);
            }

            @Override public void footer(TraceFooter f) { next.footer(f); }

            @Override public void advance(long ts) { next.advance(ts); }

            @Override public void end() {
                finish();
                next.end();
            }
        };
    }

    private void segment(TraceHeader h) {
        finish(); // the previous segment's open accesses end with it
        holds.clear();
        lastPid = -1;
        lastDev = null;
        procs.clear();
        lastByTid.clear();
        now = Long.MIN_VALUE;
        schema = h.schemaVersion();
    }

    // ------------------------------------------------------------------------------------------ stream

    private void observe(Event e, boolean history) {
        if (e instanceof Event.Gap || e instanceof Event.Lost) return; // the ledger has them
        if (!history && e.ts() > now) now = e.ts();
        if (e instanceof Event.Qemu q) qemu(q);
        else if (e instanceof Event.EventfdRead r) { // only a process known as QEMU (uprobe events first): not a plain vfio user
            Proc p = history ? null : procs.get(r.common().pid());
            if (p != null && p.reads.size() >= MAX_STATES) p.reads.removeFirst();
            if (p != null) p.reads.addLast(r);
        } else {
            String dev = e.dev();
            int pid = e.common().pid();
            // The hot path (every vfio access of a polling user): the same process and device as last time costs a compare.
            if (dev != null && pid > 0 && (pid != lastPid || !dev.equals(lastDev)) && (e instanceof Event.RwEnter
                    || e instanceof Event.RwExit || e instanceof Event.IoctlEnter || e instanceof Event.VfioOpen
                    || e instanceof Event.UserResetEnter)) {
                hold(pid, dev, e);
                lastPid = pid;
                lastDev = dev;
            }
            if (!history && !open.isEmpty() && (e instanceof Event.RwEnter || e instanceof Event.RwExit)) {
                // QEMU's own vfio read/write inside a guest access on the same thread: the access reached the device.
                for (int sp = 0; sp < 2; sp++) {
                    Open o = open.get(key(e.tid(), sp));
                    if (o == null) continue;
                    o.passed = true;
                    if (o.dev == null) o.dev = dev;
                    if (o.device.size() < 4) o.device.add(e);
                }
            }
        }
        if (!history) seenTid(e);
    }

    private int lastPid = -1;
    private String lastDev;

    private void hold(int pid, String dev, Event e) {
        Map<String, Event> m = holds.get(pid);
        if (m == null) {
            if (holds.size() >= MAX_PIDS) { // forget: later events of a process name its device again
                holds.clear();
                lastPid = -1;
            }
            holds.put(pid, m = new HashMap<>(2));
        }
        if (m.size() < 64) m.putIfAbsent(dev, e);
    }

    private void seenTid(Event e) {
        lastByTid.seen(e);
    }

    private static long key(int tid, int space) { return ((long) tid << 1) | space; }

    private Proc proc(Event e) {
        Proc p = procs.get(e.common().pid());
        if (p == null) {
            if (procs.size() >= MAX_PROCS) { // the quietest process goes (its lane is then empty, never wrong: it is not joined)
                Integer quiet = null;
                long q = Long.MAX_VALUE;
                for (Proc x : procs.values()) if (x.lastTs < q) { q = x.lastTs; quiet = x.pid; }
                procs.remove(quiet);
            }
            procs.put(e.common().pid(), p = new Proc(e.common().pid()));
        }
        p.comm = e.common().comm();
        p.lastTs = Math.max(p.lastTs, e.ts());
        return p;
    }

    private void qemu(Event.Qemu q) {
        Proc p = proc(q);
        if (q instanceof QemuEvents.AccessEnter en) {
            long k = key(en.tid(), en.space().ordinal());
            Open prev = open.remove(k);
            if (prev != null) { // QEMU serves one access per thread at a time: the open one lost its exit
                missingExit(prev.enter, en.ts(), en.line());
                add(p, access(prev, null));
            }
            if (open.size() >= MAX_TIDS) open.clear();
            open.put(k, new Open(en));
        } else if (q instanceof QemuEvents.AccessExit x) {
            Open o = open.remove(key(x.tid(), x.space().ordinal()));
            if (o == null) {
                unmatchedExit(x);
                return;
            }
            QemuEvents.AccessEnter en = o.enter;
            if (en.offset() != x.offset() || en.size() != x.size() || en.write() != x.write()) {
                missingExit(en, x.ts(), x.line());
                add(p, access(o, null));
                unmatchedExit(x);
                return;
            }
            if (ledger.holeBetween(en.ts(), x.ts())) { // never paired across a loss: one access that never was
                missingExit(en, x.ts(), x.line());
                add(p, access(o, null));
                unmatchedExit(x);
                return;
            }
            add(p, access(o, x));
        } else if (q instanceof QemuEvents.RunState s) {
            if (p.states.size() >= MAX_STATES) p.states.removeFirst();
            p.states.addLast(s);
        } else if (q instanceof QemuEvents.SystemReset r) {
            if (p.resets.size() >= MAX_STATES) p.resets.removeFirst();
            p.resets.addLast(r);
        }
    }

    /**
     * {@code exit} null: the exit is not in the trace. Emulated is decided at the join (the flight recorder
     * streams vfio accesses only while a hierarchy is live): here a complete access without a vfio access inside
     * is {@link QemuLane.Served#EMULATED}, provisionally.
     */
    private static QemuLane.GuestAccess access(Open o, QemuEvents.AccessExit x) {
        QemuEvents.AccessEnter en = o.enter;
        QemuLane.Served s = o.passed ? QemuLane.Served.PASSED : x == null ? QemuLane.Served.UNKNOWN : QemuLane.Served.EMULATED;
        Long value = en.write() ? en.value() : x != null ? x.value() : null;
        return new QemuLane.GuestAccess(en.space(), en.tid(), en.ts(), x == null ? null : x.ts(), en.offset(), en.size(),
                en.write(), value, s, o.dev, en, x, List.copyOf(o.device));
    }

    private void add(Proc p, QemuLane.GuestAccess a) {
        while (!p.accesses.isEmpty() && p.accesses.peekFirst().start() < now - RETAIN_NS) p.accesses.removeFirst();
        if (p.accesses.size() >= MAX_ACCESSES) {
            QemuLane.GuestAccess d = p.accesses.removeFirst();
            p.dropped++;
            p.droppedFrom = Math.min(p.droppedFrom, d.start());
            p.droppedTo = Math.max(p.droppedTo, d.end() != null ? d.end() : d.start());
        }
        p.accesses.addLast(a);
    }

    private void missingExit(Event enter, long seenTs, long seenLine) {
        diag.issue(Issue.Kind.MISSING_EXIT, enter.line(), enter.type() + " on tid " + enter.tid() + " never exited");
        if (!ledger.holeBetween(enter.ts() - 1, Math.max(enter.ts(), seenTs) + 1))
            ledger.add(TraceGap.Kind.MISSING_EXIT, enter.common().cpu(), enter.ts(), Math.max(enter.ts(), seenTs), enter.line(),
                    enter.line(), seenLine, 0, enter.type() + " on tid " + enter.tid() + " without its exit");
    }

    private void unmatchedExit(Event exit) {
        diag.issue(Issue.Kind.UNMATCHED_EXIT, exit.line(), exit.type() + " on tid " + exit.tid() + " without "
                + exit.type().replace(".exit", ".enter"));
        long[] last = lastByTid.get(exit.tid());
        long from = last != null && last[0] <= exit.ts() ? last[0] : Long.MIN_VALUE;
        if (!ledger.holeBetween(from == Long.MIN_VALUE ? exit.ts() - 1 : from - 1, exit.ts() + 1))
            ledger.add(TraceGap.Kind.UNMATCHED_EXIT, exit.common().cpu(), from, exit.ts(), exit.line(),
                    last != null ? last[1] : 0, exit.line(), 0, exit.type() + " on tid " + exit.tid() + " without its enter");
    }

    /** Accesses still open when the input (or segment) ends: no exit, nothing lost (the trace just ended). */
    private void finish() {
        for (Map.Entry<Long, Open> e : open.entrySet()) {
            Open o = e.getValue();
            Proc p = procs.get(o.enter.common().pid());
            if (p != null) add(p, access(o, null));
        }
        open.clear();
    }

    // ------------------------------------------------------------------------------------------ join

    /**
     * The episode with the lanes of the QEMU processes that hold one of its affected devices, and their verdicts;
     * unchanged when there are none.
     */
    public AnalyzedEpisode join(AnalyzedEpisode a) {
        if (procs.isEmpty()) return a;
        Episode ep = a.episode();
        List<QemuLane> lanes = new ArrayList<>();
        List<List<TraceGap>> extras = new ArrayList<>();
        for (Proc p : procs.values()) {
            Map<String, Event> held = holds.get(p.pid);
            if (held == null) continue;
            TreeSet<String> mine = new TreeSet<>();
            Event by = null;
            for (Map.Entry<String, Event> h : held.entrySet()) {
                if (!ep.affected().contains(h.getKey())) continue;
                mine.add(h.getKey());
                if (by == null || h.getValue().line() < by.line()) by = h.getValue();
            }
            if (mine.isEmpty()) continue;
            List<TraceGap> extra = new ArrayList<>();
            lanes.add(lane(p, ep, List.copyOf(mine), held.size(), by, extra));
            extras.add(extra);
        }
        if (lanes.isEmpty()) return a;
        List<Verdict> vs = new ArrayList<>(a.verdicts());
        List<Verdict> added = new ArrayList<>();
        for (int i = 0; i < lanes.size(); i++) added.addAll(QemuVerdicts.of(a, lanes.get(i), extras.get(i)));
        vs.addAll(added);
        Outcome o = a.outcome();
        // The same order as the host's verdicts: a confident race wins; a stopped VM is a failed recovery for the guest.
        if (added.stream().anyMatch(v -> v.kind().category == Verdict.Category.RACE && !v.tentative())) o = Outcome.RACE;
        else if (o == Outcome.CLEAN && added.stream().anyMatch(v -> v.kind().category == Verdict.Category.RECOVERY))
            o = Outcome.RECOVERY_FAILED;
        return new AnalyzedEpisode(ep, List.copyOf(vs), o, List.copyOf(lanes));
    }

    private QemuLane lane(Proc p, Episode ep, List<String> mine, int heldCount, Event by, List<TraceGap> extra) {
        long from = ep.start(), to = ep.end();
        List<QemuLane.GuestAccess> in = new ArrayList<>();
        ArrayDeque<QemuLane.GuestAccess> before = new ArrayDeque<>();
        long elided = 0;
        String only = heldCount == 1 && mine.size() == 1 ? mine.get(0) : null;
        for (QemuLane.GuestAccess x : p.accesses) {
            if (x.dev() != null && !mine.contains(x.dev())) continue;
            if (x.start() > to) continue;
            boolean inside = x.end() == null ? x.start() >= from : x.end() >= from;
            if (!inside) {
                before.addLast(x);
                if (before.size() > BEFORE) before.removeFirst();
                continue;
            }
            if (in.size() >= MAX_LANE_ACCESSES) {
                elided++;
                continue;
            }
            in.add(x);
        }
        List<QemuLane.GuestAccess> kept = new ArrayList<>(before);
        kept.addAll(in);
        List<QemuLane.GuestAccess> out = new ArrayList<>(kept.size());
        for (QemuLane.GuestAccess x : kept) out.add(settle(x, from, to, only));
        long laneFrom = out.isEmpty() ? from : Math.min(from, out.get(0).start());
        if (p.dropped > 0 && p.droppedTo >= laneFrom)
            extra.add(new TraceGap(TraceGap.Kind.CAP, null, p.droppedFrom, p.droppedTo, 0, 0, 0, p.dropped,
                    p.dropped + " guest accesses of QEMU pid " + p.pid + " beyond the lane's cap of " + MAX_ACCESSES + " not kept"));
        if (elided > 0)
            extra.add(new TraceGap(TraceGap.Kind.CAP, null, in.get(in.size() - 1).start(), to, 0, 0, 0, elided,
                    elided + " guest accesses beyond the report's cap of " + MAX_LANE_ACCESSES + " per lane not shown"));
        List<QemuEvents.RunState> states = new ArrayList<>();
        QemuEvents.RunState last = null;
        for (QemuEvents.RunState s : p.states) {
            if (s.ts() < from) last = s; // the state the VM was in when the error came
            else if (s.ts() <= to) states.add(s);
        }
        if (last != null) states.add(0, last);
        List<QemuEvents.SystemReset> resets = new ArrayList<>();
        for (QemuEvents.SystemReset r : p.resets) if (r.ts() >= from && r.ts() <= to) resets.add(r);
        List<Event.EventfdRead> reads = p.reads.stream() // its reads of the error eventfd vfio signalled (eventfd.read)
                .filter(r -> r.ts() >= from && r.ts() <= to && (r.dev() == null || mine.contains(r.dev()))).toList();
        out.sort(Comparator.comparingLong(QemuLane.GuestAccess::start));
        return new QemuLane(p.pid, p.comm, mine, by, laneFrom, to, List.copyOf(out), elided + (p.dropped > 0 && p.droppedTo >= laneFrom ? p.dropped : 0),
                List.copyOf(states), List.copyOf(resets), List.copyOf(reads));
    }

    /**
     * The provisional EMULATED becomes final only where the trace streams every vfio access: always in schema 1,
     * inside an episode (the flight recorder's live window covers it) in schema 2. The device of an emulated access
     * is the one the process holds when it holds only one.
     */
    private QemuLane.GuestAccess settle(QemuLane.GuestAccess x, long from, long to, String only) {
        QemuLane.Served s = x.served();
        if (s == QemuLane.Served.EMULATED && schema >= 2 && (x.start() < from || x.end() == null || x.end() > to))
            s = QemuLane.Served.UNKNOWN;
        String dev = x.dev() != null ? x.dev() : only;
        if (s == x.served() && java.util.Objects.equals(dev, x.dev())) return x;
        return new QemuLane.GuestAccess(x.space(), x.tid(), x.start(), x.end(), x.offset(), x.size(), x.write(), x.value(), s,
                dev, x.enter(), x.exit(), x.device());
    }

}
