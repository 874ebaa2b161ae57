package dev.aertrace.text;

import java.util.Locale;

/**
 * The one spelling of a duration or a time offset in every output (analyze, JSON sentences, timeline, chart,
 * export, compare, fleet): the same stall must read the same number wherever it is printed.
 *
 * <p>Integer nanoseconds are formatted with integer arithmetic: the same digits String.format("%.3f", ns / 1e6)
 * prints (half-up on the exact decimal, which is what the double's shortest digits are below 10^15 ns), at a
 * fraction of its cost — it was a fifth of the text report's CPU. {@code DurationsTest} holds the two equal.
 */
public final class Durations {
    private Durations() {}

    /** Below this magnitude (11.6 days) ns / 10^k is a decimal the double keeps exactly enough: integer formatting applies. */
    static final long EXACT = 1_000_000_000_000_000L;

    /** "850 ns", "65.0 µs", "132.968 ms", "12.000 s". */
    public static String dur(long ns) {
        // -Long.MIN_VALUE is itself negative: a damaged timestamp must not recurse forever
        if (ns == Long.MIN_VALUE) return "-" + String.format(Locale.ROOT, "%.3f s", -(double) ns / 1e9);
        if (ns < 0) return "-" + dur(-ns);
        if (ns < 10_000) return ns + " ns";
        if (ns < 1_000_000) return fixed(ns, 100, 1) + " µs";
        if (ns < 10_000_000_000L) return fixed(ns, 1000, 3) + " ms";
        if (ns < EXACT) return fixed(ns, 1_000_000, 3) + " s";
        return String.format(Locale.ROOT, "%.3f s", ns / 1e9);
    }

    /** Offset of {@code ts} from {@code origin} with its unit, e.g. "+2.000 ms". */
    public static String rel(long origin, long ts) {
        long d = ts - origin;
        return (d < 0 ? "-" : "+") + msDigits(Math.abs(d)) + " ms";
    }

    /** A signed offset in ms for a column headed "ms", e.g. "+130.870". */
    public static String offsetMs(long ns) {
        if (ns == Long.MIN_VALUE || Math.abs(ns) >= EXACT) return String.format(Locale.ROOT, "%+.3f", ns / 1e6);
        return (ns < 0 ? "-" : "+") + fixed(Math.abs(ns), 1000, 3);
    }

    /** |ns| in ms with three decimals ("%.3f" of ns / 1e6; Long.MIN_VALUE's magnitude as the double it was). */
    private static String msDigits(long abs) {
        return abs >= 0 && abs < EXACT ? fixed(abs, 1000, 3) : String.format(Locale.ROOT, "%.3f", abs / 1e6);
    }

    /** A duration in ms for a column headed "ms" ("132.968", the digits {@link #dur} prints); "-" when unknown. */
    public static String ms(double ns) {
        return Double.isFinite(ns) ? String.format(Locale.ROOT, "%.3f", ns / 1e6) : "-";
    }

    /**
     * {@code n} in units of {@code step} · 10^decimals, with {@code decimals} (1 or 3) decimals, rounded half-up:
     * fixed(132_967_500, 1000, 3) = "132.968". For 0 <= n < {@link #EXACT}.
     */
    static String fixed(long n, long step, int decimals) {
        long q = n / step, r = n % step;
        if (2 * r >= step) q++;
        long scale = decimals == 1 ? 10 : 1000;
        long whole = q / scale, frac = q % scale;
        StringBuilder sb = new StringBuilder(24).append(whole).append('.');
        if (decimals == 3 && frac < 100) sb.append(frac < 10 ? "00" : "0");
        return sb.append(frac).toString();
    }
}
