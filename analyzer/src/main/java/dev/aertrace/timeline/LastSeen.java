package dev.aertrace.timeline;

import dev.aertrace.ingest.Event;

import java.util.HashMap;
import java.util.Map;

/**
 * The last event seen on each thread, {ts, line}: where a gap left by an unpaired enter or exit can begin. Bounded:
 * past {@link #MAX_TIDS} threads it forgets them all, and the bounds fall back to the trace start.
 */
public final class LastSeen {
    public static final int MAX_TIDS = 65_536;
    private final Map<Integer, long[]> byTid = new HashMap<>();

    public void seen(Event e) {
        long[] v = byTid.get(e.tid());
        if (v == null) {
            if (byTid.size() >= MAX_TIDS) byTid.clear();
            byTid.put(e.tid(), new long[] {e.ts(), e.line()});
        } else if (e.ts() >= v[0]) {
            v[0] = e.ts();
            v[1] = e.line();
        }
    }

    /** {ts, line} of the thread's last event, or null when none was seen (or it was forgotten). */
    public long[] get(int tid) { return byTid.get(tid); }

    public void clear() { byTid.clear(); }
}
