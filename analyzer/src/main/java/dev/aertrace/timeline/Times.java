package dev.aertrace.timeline;

import java.util.Locale;

/** Human spellings of ns durations and offsets. */
public final class Times {
    private Times() {}

    /** "1.234 ms", "12 µs" style, three significant decimals where useful. */
    public static String dur(long ns) {
        // -Long.MIN_VALUE is itself negative: a damaged timestamp must not recurse forever
        if (ns == Long.MIN_VALUE) return "-" + String.format(Locale.ROOT, "%.3f s", -(double) ns / 1e9);
        if (ns < 0) return "-" + dur(-ns);
        if (ns < 10_000) return ns + " ns";
        if (ns < 1_000_000) return String.format(Locale.ROOT, "%.1f µs", ns / 1e3);
        if (ns < 10_000_000_000L) return String.format(Locale.ROOT, "%.3f ms", ns / 1e6);
        return String.format(Locale.ROOT, "%.3f s", ns / 1e9);
    }

    /** Offset of {@code ts} from the episode start in ms, e.g. "+2.000 ms". */
    public static String rel(long origin, long ts) {
        long d = ts - origin;
        return (d < 0 ? "-" : "+") + String.format(Locale.ROOT, "%.3f ms", Math.abs(d) / 1e6);
    }
}
