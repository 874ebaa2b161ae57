package dev.aertrace.compare;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PhaseTesterTest {
    private static final List<String> PHASES = List.of("error_detected", "reset", "slot_reset", "resume", "total");

    /** Log-normal durations around {@code medianNs}, the shape recovery phases have (long right tail). */
    private static double[] sample(Random r, int n, double medianNs) {
        double[] d = new double[n];
        for (int i = 0; i < n; i++) d[i] = medianNs * Math.exp(0.4 * r.nextGaussian());
        return d;
    }

    private static Map<String, double[]> group(Random r, int n, double scale) {
        return Map.of("error_detected", sample(r, n, 40_000 * scale), "reset", sample(r, n, 120_000_000 * scale),
                "slot_reset", sample(r, n, 300_000 * scale), "resume", sample(r, n, 50_000 * scale),
                "total", sample(r, n, 125_000_000 * scale));
    }

    @Test
    void sameDistributionRarelyGivesAVerdict() {
        // False-positive check: 200 comparisons of two 20-episode groups drawn from one distribution.
        // With Holm over 5 phases the family-wise error is at most alpha; allow sampling noise above 5%.
        PhaseTester t = new PhaseTester(0.05, PhaseTester.DEFAULT_MIN_SAMPLES);
        Random r = new Random(42);
        int runs = 200, flagged = 0;
        for (int i = 0; i < runs; i++) {
            List<PhaseComparison> cs = t.compare("A", group(r, 20, 1), "B", group(r, 20, 1), PHASES);
            assertEquals(5, cs.size());
            if (cs.stream().anyMatch(c -> c.verdict() != PhaseVerdict.NO_DETECTABLE_CHANGE)) flagged++;
        }
        assertTrue(flagged <= runs * 0.08, "family-wise false positives: " + flagged + "/" + runs);
    }

    @Test
    void shiftedDistributionGivesTheRightDirection() {
        PhaseTester t = new PhaseTester(0.05, PhaseTester.DEFAULT_MIN_SAMPLES);
        Random r = new Random(7);
        Map<String, double[]> base = group(r, 20, 1);
        Map<String, double[]> slow = group(r, 20, 1);
        slow = Map.of("error_detected", slow.get("error_detected"), "reset", sample(r, 20, 240_000_000),
                "slot_reset", sample(r, 20, 100_000), "resume", slow.get("resume"), "total", slow.get("total"));
        Map<String, PhaseComparison> by = new java.util.HashMap<>();
        t.compare("6.1", base, "6.12", slow, PHASES).forEach(c -> by.put(c.phase(), c));
        assertEquals(PhaseVerdict.SLOWER, by.get("reset").verdict(), by.get("reset")::toString);
        assertEquals(PhaseVerdict.FASTER, by.get("slot_reset").verdict(), by.get("slot_reset")::toString);
        assertTrue(by.get("reset").probOtherLonger() > 0.75, by.get("reset")::toString);
        assertTrue(by.get("reset").medianRatio() > 1.5);
        assertTrue(by.get("reset").adjustedP() >= by.get("reset").pValue());
    }

    @Test
    void tooFewSamplesIsNotNoChange() {
        PhaseTester t = new PhaseTester(0.05, 5);
        List<PhaseComparison> cs = t.compare("a", Map.of("reset", new double[] {1, 2, 3}),
                "b", Map.of("reset", new double[] {100, 200, 300, 400, 500}, "mmio_enabled", new double[] {1, 2, 3, 4, 5}),
                List.of("reset"));
        assertEquals(PhaseVerdict.TOO_FEW_SAMPLES, cs.get(0).verdict());
        assertEquals(3, cs.get(0).baseStats().count());
        assertEquals(PhaseVerdict.ABSENT_IN_ONE, cs.get(1).verdict());
        assertEquals("mmio_enabled", cs.get(1).phase());
    }

    @Test
    void statsAreQuantilesOfTheData() {
        double[] d = new double[101];
        for (int i = 0; i <= 100; i++) d[i] = 100 - i; // unsorted on purpose
        DurationStats s = DurationStats.of(d);
        assertEquals(101, s.count());
        assertEquals(50, s.median(), 1e-9);
        assertEquals(90, s.p90(), 1.0);
        assertEquals(99, s.p99(), 1.0);
        assertEquals(100, s.max(), 0);
        assertEquals(0, s.min(), 0);
    }
}
