package dev.aertrace.timeline;

import dev.aertrace.ingest.Event;
import org.junit.jupiter.api.Test;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/** The primitive tid map against java.util.HashMap under random inserts and removals (growth, probe chains). */
class TidMapTest {
    @Test
    void behavesLikeAHashMap() {
        TidMap m = new TidMap();
        Map<Integer, ArrayDeque<Event>> ref = new HashMap<>();
        Random r = new Random(42);
        for (int i = 0; i < 200_000; i++) {
            int tid = r.nextInt(600) * (r.nextBoolean() ? 1 : 4096); // clustered and spread keys
            switch (r.nextInt(3)) {
                case 0 -> {
                    ArrayDeque<Event> d = m.getOrCreate(tid);
                    ref.putIfAbsent(tid, d);
                    assertSame(ref.get(tid), d);
                }
                case 1 -> {
                    m.remove(tid);
                    ref.remove(tid);
                }
                default -> assertSame(ref.get(tid), m.get(tid));
            }
        }
        assertEquals(ref.size(), m.values().size());
        for (Map.Entry<Integer, ArrayDeque<Event>> e : ref.entrySet()) assertSame(e.getValue(), m.get(e.getKey()));
        m.clear();
        assertTrue(m.values().isEmpty());
    }
}
