package dev.aertrace.timeline;

import java.util.TreeMap;

/**
 * The start times of one device's open user operations, a multiset with its minimum (what
 * {@link Pairing#hasOpenAccess} asks). One open at a time is the common case — a polling thread opens and closes an
 * access per read — and a sorted map cost a boxed key and a tree node per access: that one is kept inline, and a
 * map only while several are open (it stays one until emptied, then the inline slot serves again).
 */
final class OpenStarts {
    private long one;
    private boolean hasOne;
    private TreeMap<Long, Integer> many;

    void add(long ts) {
        if (many != null) many.merge(ts, 1, Integer::sum);
        else if (!hasOne) {
            one = ts;
            hasOne = true;
        } else {
            many = new TreeMap<>();
            many.put(one, 1);
            many.merge(ts, 1, Integer::sum);
            hasOne = false;
        }
    }

    /** Removes one occurrence of {@code ts}, if there is one. */
    void remove(long ts) {
        if (many != null) {
            many.computeIfPresent(ts, (k, n) -> n > 1 ? n - 1 : null);
            if (many.isEmpty()) many = null;
        } else if (hasOne && one == ts) hasOne = false;
    }

    boolean isEmpty() { return many == null && !hasOne; }

    /** The earliest start; only when not empty. */
    long min() { return many != null ? many.firstKey() : one; }
}
