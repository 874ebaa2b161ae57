package dev.aertrace.text;

import org.junit.jupiter.api.Test;

import java.util.Locale;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The integer formatting of durations prints exactly what String.format printed (the goldens depend on it). */
class DurationsTest {
    static String oldDur(long ns) {
        if (ns == Long.MIN_VALUE) return "-" + String.format(Locale.ROOT, "%.3f s", -(double) ns / 1e9);
        if (ns < 0) return "-" + oldDur(-ns);
        if (ns < 10_000) return ns + " ns";
        if (ns < 1_000_000) return String.format(Locale.ROOT, "%.1f µs", ns / 1e3);
        if (ns < 10_000_000_000L) return String.format(Locale.ROOT, "%.3f ms", ns / 1e6);
        return String.format(Locale.ROOT, "%.3f s", ns / 1e9);
    }

    static void same(long ns) {
        assertEquals(oldDur(ns), Durations.dur(ns), "dur " + ns);
        assertEquals(String.format(Locale.ROOT, "%+.3f", ns / 1e6), Durations.offsetMs(ns), "offsetMs " + ns);
        assertEquals((ns < 0 ? "-" : "+") + String.format(Locale.ROOT, "%.3f ms", Math.abs(ns) / 1e6), Durations.rel(0, ns), "rel " + ns);
    }

    @Test
    void sameDigitsAsStringFormat() {
        long[] edges = {0, 1, -1, 499, 500, 501, -500, -499, 9_999, 10_000, 10_049, 10_050, 99_950, 999_949, 999_950,
                999_999, 1_000_000, 1_000_499, 1_000_500, 9_999_999_499L, 9_999_999_500L, 10_000_000_000L, 12_345_678_500_000L,
                999_999_999_999_999L, 1_000_000_000_000_000L, Long.MAX_VALUE, Long.MIN_VALUE, Long.MIN_VALUE + 1, 4_611_686_018_427_387_904L};
        for (long e : edges) same(e);
        Random r = new Random(13);
        for (int i = 0; i < 2_000_000; i++) {
            int digits = 1 + r.nextInt(18);
            long bound = (long) Math.pow(10, digits);
            long v = Math.floorMod(r.nextLong(), bound);
            if (r.nextInt(4) == 0) v = v / 1000 * 1000 + 500; // exact halves
            if (r.nextInt(4) == 0) v = v / 100 * 100 + 50;
            same(r.nextBoolean() ? v : -v);
        }
    }
}
