package dev.aertrace.ingest;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;

/**
 * Puts time bounds on the gaps ingest finds, in file order (before the reorder stage), into a {@link GapLedger}.
 *
 * <p>A {@code lost} line with {@code since}/{@code until} is taken as it says. Without them (schema-v1 agents up
 * to 0.1.0) its timestamp is when the agent wrote it, not where the records were lost, and the bounds come from
 * how that agent reads its perf buffers (docs/evidence.md): bcc hands a CPU's records and its PERF_RECORD_LOST
 * markers over in ring order, but the agent buffers the loss counts and writes one {@code lost} line per CPU at
 * the end of each poll round, after every record of that round; a round reads each CPU's ring at most twice
 * (perf_buffer_poll, then perf_buffer_consume), and a read runs until the ring is empty. So the lost records of
 * CPU X lie after the last CPU-X event written before the previous round's {@code lost} lines and before the
 * CPU-X block preceding the last two CPU-X blocks, whichever is later, and before the first CPU-X event written
 * after the line (the footer, or the end of the trace, if none follows).
 *
 * <p>Also here: unreadable/invalid lines (any CPU, from the oldest per-CPU position to the next event of every
 * CPU), losses the footer counts but no line placed (anywhere), the trace start, and a missing footer. State is
 * a few longs per CPU.
 */
public final class GapTracker implements TraceListener {
    private static final int MAX_CPUS = 4096;

    private final GapLedger ledger;
    private final TraceListener out;

    /** Per CPU, in file order: last event ts and line; ts of the last event before the last / second-last block. */
    private long[] lastTs = new long[0], lastLine = new long[0], beforeBlock1 = new long[0], beforeBlock2 = new long[0];
    private long[] lineBefore1 = new long[0], lineBefore2 = new long[0];
    /** lastTs/lastLine of every CPU when the previous poll round's lost lines were written (MIN = none). */
    private long[] prevRoundTs = new long[0], prevRoundLine = new long[0], curRoundTs = new long[0], curRoundLine = new long[0];
    private int lastCpu = -2;
    private boolean lastWasLost;
    private boolean sawEvent;
    private long maxTs = Long.MIN_VALUE;
    private long maxLine;
    private boolean footer;

    /** A gap waiting for its upper bound: the next event of each CPU in {@code cpus}; hi = the latest so far. */
    private static final class Pending {
        final GapLedger.Entry entry;
        final BitSet cpus;
        long hi = Long.MIN_VALUE, hiLine;
        /** An unreadable line's gap: the first event after it also bounds it, 1 s on (see {@link #hole}). */
        boolean lateBound;

        Pending(GapLedger.Entry entry, BitSet cpus) {
            this.entry = entry;
            this.cpus = cpus;
        }
    }

    private final List<Pending> pending = new ArrayList<>();

    /** Bounded: past this many, the oldest waiting gap is left open (reaching to the trace end: coarser, not wrong). */
    private static final int MAX_PENDING = 1024;

    private void await(GapLedger.Entry e, BitSet cpus) {
        if (pending.size() >= MAX_PENDING) pending.remove(0);
        pending.add(new Pending(e, cpus));
    }

    public GapTracker(GapLedger ledger, TraceListener out) {
        this.ledger = ledger;
        this.out = out;
    }

    private void grow(int cpu) {
        int n = Math.max(cpu + 1, lastTs.length * 2);
        int old = lastTs.length;
        lastTs = grown(lastTs, n);
        lastLine = grown(lastLine, n);
        beforeBlock1 = grown(beforeBlock1, n);
        beforeBlock2 = grown(beforeBlock2, n);
        lineBefore1 = grown(lineBefore1, n);
        lineBefore2 = grown(lineBefore2, n);
        prevRoundTs = grown(prevRoundTs, n);
        prevRoundLine = grown(prevRoundLine, n);
        curRoundTs = grown(curRoundTs, n);
        curRoundLine = grown(curRoundLine, n);
        for (long[] a : new long[][] {lastTs, beforeBlock1, beforeBlock2, prevRoundTs, curRoundTs})
            Arrays.fill(a, old, n, Long.MIN_VALUE);
    }

    private static long[] grown(long[] a, int n) { return Arrays.copyOf(a, n); }

    private static int slot(int cpu) { return cpu < 0 || cpu >= MAX_CPUS ? MAX_CPUS : cpu; }

    /**
     * An event this much older than one before it in the file is a named problem and a gap over the span between
     * (TraceReader names it): the lab's buffers are read at most ~0.4 s apart (testdata/lab), so this is a buffer
     * read seconds late (field traces under load: up to 18 s, next to losses) or a damaged timestamp, and no reader
     * can tell which. Either way what happened in that span is not known in order.
     */
    public static final long PLAUSIBLE_LATE_NS = 1_000_000_000L;

    /** The segment's trace-start gap, narrowed to the oldest early event. */
    private GapLedger.Entry start;

    /** The jump gap being widened while events keep arriving that far back; null after an in-order stretch. */
    private GapLedger.Entry jump;

    @Override
    public void header(TraceHeader h) {
        // A segment without a footer was cut off: its end is a gap, filed under it before the next one starts.
        // Where it broke is not known (a damaged line may have become this header): from the oldest CPU position.
        if (sawEvent && !footer) {
            long from = maxTs, fromLine = maxLine;
            for (int i = 0; i < lastTs.length; i++)
                if (lastTs[i] != Long.MIN_VALUE && lastTs[i] < from) {
                    from = lastTs[i];
                    fromLine = lastLine[i];
                }
            ledger.add(TraceGap.Kind.TRACE_END, null, from, Long.MAX_VALUE, h.line(), fromLine, 0, 0,
                    "the segment was cut off (a header follows without a footer)");
        }
        jump = null;
        historyMax = Long.MIN_VALUE;
        out.header(h); // the timeline closes the previous segment's episodes first
        ledger.segment(h.line(), false);
        lastTs = lastLine = beforeBlock1 = beforeBlock2 = lineBefore1 = lineBefore2 = new long[0];
        prevRoundTs = prevRoundLine = curRoundTs = curRoundLine = new long[0];
        lastCpu = -2;
        lastWasLost = false;
        sawEvent = false;
        start = null;
        maxTs = Long.MIN_VALUE;
        footer = false;
        pending.clear();
    }

    @Override
    public void event(Event e) {
        if (e instanceof Event.Lost l) lost(l);
        else if (e instanceof Event.Gap g) hole(g);
        else seen(e);
        out.event(e);
    }

    /**
     * A one-line access's enter: its line sits at its exit, which {@link #event} sees next, so it is no CPU's
     * position and never late. But the agent was recording when the access entered (the exit program finds the
     * enter's record), so the trace's start lies before it.
     */
    @Override
    public void wholeEnter(Event e) {
        started(e.ts(), e.line());
        out.event(e);
    }

    private void started(long ts, long line) {
        if (!sawEvent) {
            sawEvent = true;
            start = ledger.add(TraceGap.Kind.TRACE_START, null, Long.MIN_VALUE, ts - 1, line, 0, line, 0,
                    "before the first event");
        } else if (start != null && ts <= start.to && ledger.holds(start) && start.to - ts < PLAUSIBLE_LATE_NS) {
            // The agent was recording at every event's time: the start is before the oldest early event, not the
            // first line (another CPU's records may come first). Two early lines swapped made one slice's episode
            // confident and the other's tentative (long run, seed 602 mutant 36965).
            start.to = ts - 1;
            start.toLine = line;
        }
    }

    private void seen(Event e) {
        Event.Common k = Event.of(e);
        long ts = k.ts(), line = k.line();
        if (historyMax != Long.MIN_VALUE) { // the dump ended: its records precede this event
            historyJump(ts, line, historyMax, historyMaxLine);
            historyMax = Long.MIN_VALUE;
        }
        int c = slot(k.cpu());
        if (c >= lastTs.length) grow(c);
        started(ts, line);
        if (c != lastCpu) { // a new block of this CPU's records starts
            beforeBlock2[c] = beforeBlock1[c];
            lineBefore2[c] = lineBefore1[c];
            beforeBlock1[c] = lastTs[c];
            lineBefore1[c] = lastLine[c];
            lastCpu = c;
        }
        lastTs[c] = ts;
        lastLine[c] = line;
        if (maxTs != Long.MIN_VALUE && ts < maxTs && maxTs - ts > PLAUSIBLE_LATE_NS) {
            if (jump != null && ledger.holds(jump) && jump.to() >= ts) jump.widen(ts, maxTs, line);
            else jump = ledger.add(TraceGap.Kind.LATE, null, ts, maxTs, line, line, maxLine, 1,
                    "an event more than 1 s older than one before it in the file: a buffer read late or a damaged timestamp");
        } else if (jump != null && ts > jump.to()) jump = null;
        if (ts > maxTs) maxTs = ts;
        maxLine = line;
        lastWasLost = false;
        if (!pending.isEmpty()) {
            for (int i = pending.size() - 1; i >= 0; i--) {
                Pending p = pending.get(i);
                if (p.lateBound) {
                    p.lateBound = false;
                    long late = ts > Long.MAX_VALUE - PLAUSIBLE_LATE_NS ? Long.MAX_VALUE : ts + PLAUSIBLE_LATE_NS;
                    if (late > p.hi) {
                        p.hi = late;
                        p.hiLine = line;
                    }
                }
                if (!p.cpus.get(c)) continue;
                p.cpus.clear(c);
                if (ts > p.hi) {
                    p.hi = ts;
                    p.hiLine = line;
                }
                if (p.cpus.isEmpty()) { // until then it stays open: reaches to the end of the trace
                    p.entry.close(p.hi, p.hiLine);
                    pending.remove(i);
                }
            }
        }
    }

    private void lost(Event.Lost l) {
        if (!lastWasLost) { // the first lost line of a poll round: the round before ended at the previous one
            prevRoundTs = curRoundTs;
            prevRoundLine = curRoundLine;
            curRoundTs = lastTs.clone();
            curRoundLine = lastLine.clone();
        }
        lastWasLost = true;
        Integer cpu = l.anyCpu() ? null : l.common().cpu();
        if (l.since() != null && l.until() != null) {
            ledger.add(TraceGap.Kind.LOSS, cpu, l.since(), Math.max(l.since(), l.until()), l.line(), 0, 0, l.count(),
                    "bounds given by the agent");
            return;
        }
        if (cpu == null) { // a shared buffer: between this line's predecessor round and the next event of any CPU
            long from = Long.MIN_VALUE, fromLine = 0;
            for (int i = 0; i < prevRoundTs.length; i++)
                if (prevRoundTs[i] != Long.MIN_VALUE && (from == Long.MIN_VALUE || prevRoundTs[i] < from)) {
                    from = prevRoundTs[i];
                    fromLine = prevRoundLine[i];
                }
            if (l.since() != null) from = l.since();
            GapLedger.Entry e = ledger.add(TraceGap.Kind.LOSS, null, from, Long.MAX_VALUE, l.line(), fromLine, 0, l.count(),
                    "bounds inferred from the file order");
            BitSet all = new BitSet();
            for (int i = 0; i < lastTs.length; i++) if (lastTs[i] != Long.MIN_VALUE) all.set(i);
            if (l.until() != null) e.to = l.until();
            else if (!all.isEmpty()) await(e, all);
            return;
        }
        int c = slot(cpu);
        if (c >= lastTs.length) grow(c);
        // Lower bound: the later of the previous round's end and the block before this CPU's last two blocks.
        long from = Long.MIN_VALUE, fromLine = 0;
        if (c < prevRoundTs.length && prevRoundTs[c] != Long.MIN_VALUE) {
            from = prevRoundTs[c];
            fromLine = prevRoundLine[c];
        }
        if (beforeBlock2[c] != Long.MIN_VALUE && beforeBlock2[c] > from) {
            from = beforeBlock2[c];
            fromLine = lineBefore2[c];
        }
        // A block is only closed by another CPU's events: if this CPU's last block runs up to this line, the one
        // before it (beforeBlock1) is the round's second read at the earliest, so beforeBlock2 stands.
        if (l.since() != null) from = l.since();
        GapLedger.Entry e = ledger.add(TraceGap.Kind.LOSS, cpu, from, Long.MAX_VALUE, l.line(), fromLine, 0, l.count(),
                "bounds inferred from the file order");
        if (l.until() != null) e.to = Math.max(from, l.until());
        else {
            BitSet one = new BitSet();
            one.set(c);
            await(e, one);
        }
    }

    private void hole(Event.Gap g) {
        if (g.kind() == Event.GapKind.LOST_EVENTS) { // the footer counted losses no line placed: anywhere
            ledger.add(TraceGap.Kind.INPUT, null, Long.MIN_VALUE, Long.MAX_VALUE, g.line(), 0, 0, 0, g.detail());
            return;
        }
        if (g.kind() == Event.GapKind.OUT_OF_ORDER) return; // the reorder stage records lateness itself
        if (g.kind() == Event.GapKind.UNKNOWN_TYPE) return; // placed by the timeline: a gap only inside an episode or call
        // An unreadable line could have been any CPU's next event: from the oldest CPU position to the next event
        // of every CPU. Or the record of a CPU not seen before (or after) it, which may lag the others by up to
        // PLAUSIBLE_LATE_NS without a time jump: so also from 1 s before the newest event, and to 1 s after the
        // first event that follows. A user read cut by invalid UTF-8 as CPU 0's only line was bounded by CPU 1's
        // next event, 9 ms before the read, and a confident access-during-reset counted one access of two (long
        // run, seed 601 mutant 31235).
        long from = maxTs == Long.MIN_VALUE ? Long.MIN_VALUE : maxTs - PLAUSIBLE_LATE_NS, fromLine = maxTs == Long.MIN_VALUE ? 0 : maxLine;
        BitSet all = new BitSet();
        for (int i = 0; i < lastTs.length; i++) {
            if (lastTs[i] == Long.MIN_VALUE) continue;
            all.set(i);
            if (from == Long.MIN_VALUE || lastTs[i] < from) {
                from = lastTs[i];
                fromLine = lastLine[i];
            }
        }
        if (g.kind() == Event.GapKind.THREAD_MISMATCH && (from == Long.MIN_VALUE || g.ts() < from)) {
            from = g.ts(); // the thread's other sighting may be the damaged line
            fromLine = 0;
        }
        GapLedger.Entry e = ledger.add(TraceGap.Kind.INPUT, null, from, Long.MAX_VALUE, g.line(), fromLine, 0, 0, g.detail());
        if (!all.isEmpty()) {
            await(e, all);
            pending.get(pending.size() - 1).lateBound = true;
        }
    }

    @Override
    public void footer(TraceFooter f) {
        footer = true;
        // Nothing can have been lost after the agent wrote its footer.
        for (Pending p : pending) p.entry.close(Math.max(Math.max(f.ts(), p.hi), p.entry.from), f.line());
        pending.clear();
        out.footer(f);
    }

    /**
     * Flight-recorder history (schema v2) is older than the lines around it by design: not a CPU's stream. But a
     * dump is written oldest first and precedes the error that caused it (EVENTS.md), so within a dump, and for
     * the first live event after it, a step back of more than {@link #PLAUSIBLE_LATE_NS} is a damaged timestamp
     * like any other time jump: without its dump marker (whose [since, ts] ingest checks) a record moved by
     * seconds would otherwise move the episode's evidence unseen (fuzz long run, seed 104 mutant 3365).
     */
    @Override
    public void history(Event e) {
        historyMax = historyJump(e.ts(), e.line(), historyMax, historyMaxLine);
        if (e.ts() >= historyMax) historyMaxLine = e.line();
        historyMax = Math.max(historyMax, e.ts());
        out.history(e);
    }

    @Override
    public void historyDump() {
        historyMax = Long.MIN_VALUE; // each dump (one per device) is oldest first on its own
        out.historyDump();
    }

    /** Newest history record of the dump being read, and its line; MIN_VALUE outside a dump. */
    private long historyMax = Long.MIN_VALUE, historyMaxLine;
    private GapLedger.Entry historyGap;

    /** Files (or widens) the gap when {@code ts} lies more than 1 s before {@code max}; returns {@code max}. */
    private long historyJump(long ts, long line, long max, long maxLine) {
        if (max == Long.MIN_VALUE || max - ts <= PLAUSIBLE_LATE_NS) return max;
        if (historyGap != null && ledger.holds(historyGap) && historyGap.to() >= ts) historyGap.widen(ts, max, line);
        else historyGap = ledger.add(TraceGap.Kind.LATE, null, ts, max, line, line, maxLine, 1,
                "a flight-recorder record more than 1 s newer than the record or event after it: a damaged timestamp");
        return max;
    }

    @Override
    public void advance(long ts) { out.advance(ts); }

    @Override
    public void end() {
        if (sawEvent && !footer)
            ledger.add(TraceGap.Kind.TRACE_END, null, maxTs, Long.MAX_VALUE, maxLine, maxLine, 0, 0,
                    "the trace was cut off after its last event");
        out.end();
    }
}
