package dev.aertrace.ingest;

import java.util.ArrayList;
import java.util.List;

/**
 * Every gap found in one input, with its time bounds, for the rule of evidence to look up when an episode
 * closes. Written by ingest (losses, unreadable lines, late events) and by the timeline's enter/exit pairing;
 * a gap whose upper bound is not known yet (the next event of its CPU has not been read) stays open, i.e.
 * reaches to the end of the trace, until it is closed. Bounded: gaps that ended before everything still open
 * are pruned, and past {@link #MAX} entries the two oldest merge into one that covers both (coarser, never
 * narrower, so no verdict becomes confident by the merge).
 */
public final class GapLedger {
    public static final int MAX = 16_384;

    /** A gap being built; {@link #close} sets the upper bound once the event that bounds it is read. */
    public static final class Entry {
        TraceGap.Kind kind;
        Integer cpu;
        long from, to = Long.MAX_VALUE, line, fromLine, toLine, count, segment;
        String detail;
        /** Pruned or merged away: no longer in the ledger. */
        boolean gone;

        public void close(long ts, long atLine) {
            if (to != Long.MAX_VALUE) return;
            to = Math.max(ts, from);
            toLine = atLine;
        }

        public boolean open() { return to == Long.MAX_VALUE; }

        public long to() { return to; }

        /** Another late event of the same run: the gap covers it too. */
        public void widen(long ts, long upTo, long atLine) {
            from = Math.min(from, ts);
            to = Math.max(to, upTo);
            toLine = Math.max(toLine, atLine);
            count = Strict.add(count, 1);
        }

        TraceGap snapshot() { return new TraceGap(kind, cpu, from, to, line, fromLine, toLine, count, detail); }
    }

    private final List<Entry> entries = new ArrayList<>();
    /** The subset that can hide events between an enter and its exit (losses, lateness, unreadable lines). */
    private final List<Entry> holes = new ArrayList<>();

    private static boolean hides(TraceGap.Kind k) {
        return k == TraceGap.Kind.LOSS || k == TraceGap.Kind.LATE || k == TraceGap.Kind.INPUT;
    }
    private long lossRecords;
    private long segment;

    /**
     * A trace segment (one header; concatenated traces have several, with unrelated clocks) starts: gaps are
     * filed under it and looked up within it. {@code dropOlder}: forget earlier segments' gaps (the timeline is
     * done with them); a first pass over a file keeps them for the second.
     */
    public void segment(long headerLine, boolean dropOlder) {
        if (dropOlder) {
            entries.removeIf(e -> e.gone = e.segment < headerLine);
            holes.removeIf(e -> e.segment < headerLine);
        }
        segment = headerLine;
    }

    public Entry add(TraceGap.Kind kind, Integer cpu, long from, long to, long line, long fromLine, long toLine,
                     long count, String detail) {
        Entry e = new Entry();
        e.kind = kind;
        e.cpu = cpu;
        e.from = from;
        e.to = to;
        e.line = line;
        e.fromLine = fromLine;
        e.toLine = toLine;
        e.count = count;
        e.detail = detail;
        e.segment = segment;
        if (kind == TraceGap.Kind.LOSS) lossRecords = Strict.add(lossRecords, count);
        if (entries.size() >= MAX) mergeOldest();
        entries.add(e);
        if (hides(kind)) holes.add(e);
        return e;
    }

    /**
     * At the cap: the quarter of this segment's gaps that ended first merge into one gap covering them all
     * (coarser, never narrower); other segments' gaps are dropped (their episodes are closed). Amortised O(1).
     */
    private void mergeOldest() {
        entries.removeIf(e -> e.gone = e.segment != segment);
        holes.removeIf(e -> e.segment != segment);
        if (entries.size() < MAX) return;
        entries.sort(java.util.Comparator.comparingLong(e -> e.to));
        int n = MAX / 4;
        Entry x = entries.get(0);
        for (int i = 1; i < n; i++) {
            Entry y = entries.get(i);
            x.from = Math.min(x.from, y.from);
            x.to = Math.max(x.to, y.to);
            x.fromLine = x.fromLine == 0 || y.fromLine == 0 ? 0 : Math.min(x.fromLine, y.fromLine);
            x.toLine = Math.max(x.toLine, y.toLine);
            x.count = Strict.add(x.count, y.count);
            if (!java.util.Objects.equals(x.cpu, y.cpu)) x.cpu = null;
            if (x.kind != y.kind) x.kind = TraceGap.Kind.INPUT;
        }
        x.detail = n + " gaps merged (more than " + MAX + ")";
        java.util.Set<Entry> gone = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        gone.addAll(entries.subList(1, n));
        for (Entry y : gone) y.gone = true;
        entries.subList(1, n).clear();
        holes.removeIf(gone::contains);
        if (hides(x.kind) && !holes.contains(x)) holes.add(x);
    }

    /** True while {@code e} is in the ledger of the current segment (not pruned, not merged away). */
    public boolean holds(Entry e) {
        return e.segment == segment && !e.gone;
    }

    /** Gaps whose bounds meet [a, b], in the order they were found. */
    public List<TraceGap> overlapping(long a, long b) {
        List<TraceGap> out = new ArrayList<>();
        for (Entry e : entries) if (e.segment == segment && e.from <= b && e.to >= a) out.add(e.snapshot());
        return out;
    }

    /**
     * True when a loss, late delivery or unreadable line could hide events strictly between {@code a} and
     * {@code b}. Runs for every user exit: losses are few, so they are scanned alone, newest first.
     */
    public boolean holeBetween(long a, long b) {
        for (int i = holes.size() - 1; i >= 0; i--) {
            Entry e = holes.get(i);
            if (e.segment == segment && e.to > a && e.from < b) return true;
        }
        return false;
    }

    /**
     * True when one loss, late delivery or unreadable line covers all of [{@code a}, {@code b}]: only then is a
     * gap inside it already named (one that merely meets the span leaves the rest of it unaccounted for).
     */
    public boolean holeCovering(long a, long b) {
        for (int i = holes.size() - 1; i >= 0; i--) {
            Entry e = holes.get(i);
            if (e.segment == segment && e.from <= a && e.to >= b) return true;
        }
        return false;
    }

    /** Drops gaps that ended before {@code ts}: no episode still to come can reach back that far. */
    public void prune(long ts) {
        entries.removeIf(e -> e.gone = e.segment == segment && e.to < ts);
        holes.removeIf(e -> e.segment == segment && e.to < ts);
    }

    /** Total records the agent reported lost (for summaries). */
    public long lossRecords() { return lossRecords; }

    public int size() { return entries.size(); }

    public List<TraceGap> all() {
        List<TraceGap> out = new ArrayList<>();
        for (Entry e : entries) if (e.segment == segment) out.add(e.snapshot());
        return out;
    }
}
