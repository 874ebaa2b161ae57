package dev.aertrace.timeline;

import dev.aertrace.ingest.Event;
import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/** {@link LastSeen}'s table against the map it replaced (boxed tids, forget all past {@link LastSeen#MAX_TIDS}). */
class LastSeenTest {
    /** The previous implementation, verbatim. */
    static final class Model {
        final Map<Integer, long[]> byTid = new HashMap<>();

        void seen(Event e) {
            long[] v = byTid.get(e.tid());
            if (v == null) {
                if (byTid.size() >= LastSeen.MAX_TIDS) byTid.clear();
                byTid.put(e.tid(), new long[] {e.ts(), e.line()});
            } else if (e.ts() >= v[0]) {
                v[0] = e.ts();
                v[1] = e.line();
            }
        }
    }

    @Test
    void sameAsAMapOfTidsThroughGrowthOverflowAndClear() {
        Random r = new Random(11);
        for (int round = 0; round < 4; round++) {
            LastSeen s = new LastSeen();
            Model m = new Model();
            // few threads, many threads (past the bound: forgotten all at once), negative and zero tids, ts back and forth
            int tids = new int[] {3, 5_000, 200_000, 70_000}[round];
            for (int n = 0; n < 400_000; n++) {
                int tid = r.nextInt(10) == 0 ? -r.nextInt(4) : r.nextInt(tids);
                Event e = new Event.VfioOpen(new Event.Common(r.nextInt(1_000_000), 0, 1, tid, "t", null, n));
                s.seen(e);
                m.seen(e);
                int q = r.nextInt(tids + 4) - 4;
                assertArrayEquals(m.byTid.get(q), s.get(q), "round " + round + " event " + n + " tid " + q);
                if (r.nextInt(100_000) == 0) {
                    s.clear();
                    m.byTid.clear();
                }
            }
            for (int q = -4; q < Math.min(tids, 100_000); q++) assertArrayEquals(m.byTid.get(q), s.get(q), "round " + round + " tid " + q);
        }
    }
}
