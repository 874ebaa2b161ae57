package dev.aertrace.text;

import java.util.Locale;

/**
 * The one spelling of a duration or a time offset in every output (analyze, JSON sentences, timeline, chart,
 * export, compare, fleet): the same stall must read the same number wherever it is printed.
 */
public final class Durations {
    private Durations() {}

    /** "850 ns", "65.0 µs", "132.968 ms", "12.000 s". */
    public static String dur(long ns) {
        // -Long.MIN_VALUE is itself negative: a damaged timestamp must not recurse forever
        if (ns == Long.MIN_VALUE) return "-" + String.format(Locale.ROOT, "%.3f s", -(double) ns / 1e9);
        if (ns < 0) return "-" + dur(-ns);
        if (ns < 10_000) return ns + " ns";
        if (ns < 1_000_000) return String.format(Locale.ROOT, "%.1f µs", ns / 1e3);
        if (ns < 10_000_000_000L) return String.format(Locale.ROOT, "%.3f ms", ns / 1e6);
        return String.format(Locale.ROOT, "%.3f s", ns / 1e9);
    }

    /** Offset of {@code ts} from {@code origin} with its unit, e.g. "+2.000 ms". */
    public static String rel(long origin, long ts) {
        long d = ts - origin;
        return (d < 0 ? "-" : "+") + String.format(Locale.ROOT, "%.3f ms", Math.abs(d) / 1e6);
    }

    /** A signed offset in ms for a column headed "ms", e.g. "+130.870". */
    public static String offsetMs(long ns) {
        return String.format(Locale.ROOT, "%+.3f", ns / 1e6);
    }

    /** A duration in ms for a column headed "ms" ("132.968", the digits {@link #dur} prints); "-" when unknown. */
    public static String ms(double ns) {
        return Double.isFinite(ns) ? String.format(Locale.ROOT, "%.3f", ns / 1e6) : "-";
    }
}
