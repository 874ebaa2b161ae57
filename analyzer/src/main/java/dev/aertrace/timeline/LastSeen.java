package dev.aertrace.timeline;

import dev.aertrace.ingest.Event;

import java.util.Arrays;

/**
 * The last event seen on each thread, {ts, line}: where a gap left by an unpaired enter or exit can begin. Bounded:
 * past {@link #MAX_TIDS} threads it forgets them all, and the bounds fall back to the trace start.
 * <p>
 * Every event passes here (twice: the timeline and the QEMU lanes), so the table is open addressing on the tid in
 * plain arrays: a map of boxed tids cost an Integer and a lookup per event (~1.5% of a run under C1).
 */
public final class LastSeen {
    public static final int MAX_TIDS = 65_536;
    private int[] tids = new int[16];
    private long[] ts = new long[16], lines = new long[16];
    private boolean[] used = new boolean[16];
    private int size;

    public void seen(Event e) {
        Event.Common c = Event.of(e);
        int tid = c.tid();
        int i = find(tid);
        if (used[i]) {
            if (c.ts() >= ts[i]) {
                ts[i] = c.ts();
                lines[i] = c.line();
            }
            return;
        }
        if (size >= MAX_TIDS) {
            clear();
            i = find(tid);
        }
        used[i] = true;
        tids[i] = tid;
        ts[i] = c.ts();
        lines[i] = c.line();
        if (++size * 2 > tids.length) grow();
    }

    /** {ts, line} of the thread's last event, or null when none was seen (or it was forgotten). */
    public long[] get(int tid) {
        int i = find(tid);
        return used[i] ? new long[] {ts[i], lines[i]} : null;
    }

    public void clear() {
        Arrays.fill(used, false);
        size = 0;
    }

    /** The tid's slot, or the empty one where it would go. */
    private int find(int tid) {
        int mask = tids.length - 1;
        int h = tid * 0x9E3779B1;
        int i = (h ^ h >>> 16) & mask;
        while (used[i] && tids[i] != tid) i = (i + 1) & mask;
        return i;
    }

    private void grow() {
        int[] t = tids;
        long[] s = ts, l = lines;
        boolean[] u = used;
        tids = new int[t.length * 2];
        ts = new long[t.length * 2];
        lines = new long[t.length * 2];
        used = new boolean[t.length * 2];
        for (int j = 0; j < t.length; j++)
            if (u[j]) {
                int i = find(t[j]);
                used[i] = true;
                tids[i] = t[j];
                ts[i] = s[j];
                lines[i] = l[j];
            }
    }
}
