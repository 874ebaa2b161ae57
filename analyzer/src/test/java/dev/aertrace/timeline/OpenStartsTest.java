package dev.aertrace.timeline;

import org.junit.jupiter.api.Test;

import java.util.Random;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** OpenStarts answers as the sorted multiset it replaced, through every change between one and several open. */
class OpenStartsTest {
    @Test
    void agreesWithASortedMultiset() {
        Random r = new Random(5);
        for (int round = 0; round < 2_000; round++) {
            OpenStarts s = new OpenStarts();
            TreeMap<Long, Integer> m = new TreeMap<>();
            for (int i = 0; i < 60; i++) {
                long ts = r.nextInt(6); // few values: duplicates, and removals of what is there and what is not
                if (r.nextInt(3) == 0) {
                    s.add(ts);
                    m.merge(ts, 1, Integer::sum);
                } else {
                    s.remove(ts);
                    m.computeIfPresent(ts, (k, n) -> n > 1 ? n - 1 : null);
                }
                assertEquals(m.isEmpty(), s.isEmpty(), "round " + round + " step " + i);
                if (!m.isEmpty()) assertEquals((long) m.firstKey(), s.min(), "round " + round + " step " + i);
            }
        }
    }
}
