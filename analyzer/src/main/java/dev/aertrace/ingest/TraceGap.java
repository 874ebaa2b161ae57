package dev.aertrace.ingest;

import java.util.Locale;

/**
 * A span of a trace where events may be missing or misplaced, with time bounds: every event the gap could
 * hide has a timestamp in [{@code from}, {@code to}] (CLOCK_MONOTONIC ns; {@link Long#MIN_VALUE} = "since the
 * trace began", {@link Long#MAX_VALUE} = "until it ended"). {@code cpu} null means any CPU. {@code line} is the
 * line that revealed the gap (a {@code lost} line, an unpaired exit, ...); {@code fromLine}/{@code toLine} are
 * the lines of the events that bound it (0 when the bound is the trace boundary). The rule of evidence
 * (docs/evidence.md) makes every verdict whose time span meets a gap tentative and names the gap.
 */
public record TraceGap(Kind kind, Integer cpu, long from, long to, long line, long fromLine, long toLine,
                       long count, String detail) {

    public enum Kind {
        /** The agent reported lost records (a {@code lost} line). */
        LOSS,
        /** An event arrived later than the reorder window allowed: the stream was put in order without it. */
        LATE,
        /** An exit whose enter is not in the trace. */
        UNMATCHED_EXIT,
        /** An enter whose exit is not in the trace. */
        MISSING_EXIT,
        /** Before the first event: what happened there is not recorded. */
        TRACE_START,
        /** The trace was cut off (no footer): what came after its last event is not recorded. */
        TRACE_END,
        /** An episode held more events than its cap; the rest were not kept. */
        CAP,
        /** An unreadable, truncated or invalid line, or losses the footer counted but no lost line placed. */
        INPUT,
        /**
         * A line of an unknown type inside an open episode or call, at its ts: a newer agent's event or a known one
         * whose type was damaged (probes/EVENTS.md). Hides nothing of other threads: it has a ts and a tid of its own.
         */
        UNKNOWN_TYPE;

        public String id() { return name().toLowerCase(Locale.ROOT).replace('_', '-'); }
    }

    public boolean overlaps(long a, long b) { return from <= b && to >= a; }

    /** One phrase for a sentence, e.g. "lost-events: 26915 records lost on cpu 1 between 123.403 s and the end (line 82126)". */
    public String describe() {
        StringBuilder s = new StringBuilder(kind.id());
        s.append(" (");
        if (kind == Kind.LOSS) s.append(count > 0 ? count + " events lost" : "an unknown number of events lost");
        else if (detail != null) s.append(detail);
        else s.append(kind.id());
        s.append(cpu == null ? " on any cpu" : " on cpu " + cpu);
        s.append(", ").append(bounds());
        if (line > 0) s.append(", line ").append(line);
        s.append(")");
        return s.toString();
    }

    /** "between 123.403103 s and 130.209061 s" on the trace clock. */
    public String bounds() {
        String a = from == Long.MIN_VALUE ? "the trace start" : sec(from);
        String b = to == Long.MAX_VALUE ? "the trace end" : sec(to);
        return "between " + a + " and " + b;
    }

    private static String sec(long ns) { return String.format(Locale.ROOT, "%.6f s", ns / 1e9); }
}
