package dev.aertrace.compare;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

class BehaviourDiffTest {
    @Test
    void valuesOnlyInOneGroupAndRateDifferencesAreReported() {
        BehaviourDiff.Tally a = new BehaviourDiff.Tally();
        BehaviourDiff.Tally b = new BehaviourDiff.Tally();
        for (int i = 0; i < 20; i++) {
            a.add(Map.of("result", List.of("RECOVERED"), "order", List.of(i < 18 ? "reset after mmio_enabled" : "no mmio_enabled"),
                    "race", List.of()));
            b.add(Map.of("result", List.of("RECOVERED"), "order", List.of(i < 2 ? "reset after mmio_enabled" : "no mmio_enabled"),
                    "race", i < 3 ? List.of("access during reset", "access during reset") : List.of()));
        }
        Map<String, BehaviourDiff.ValueCount> by = new java.util.HashMap<>();
        new BehaviourDiff(0.05).compare(a, b).forEach(v -> by.put(v.key() + "=" + v.value(), v));
        assertEquals(BehaviourDiff.Kind.SAME, by.get("result=RECOVERED").kind());
        assertFalse(by.get("result=RECOVERED").isDifference());
        assertEquals(BehaviourDiff.Kind.RATE_DIFFERS, by.get("order=reset after mmio_enabled").kind());
        BehaviourDiff.ValueCount race = by.get("race=access during reset");
        assertEquals(BehaviourDiff.Kind.ONLY_IN_OTHER, race.kind());
        assertEquals(3, race.otherCount(), "a value repeated within one episode counts once");
        assertEquals(0, race.baseCount());
        assertEquals(4, by.size());
    }
}
