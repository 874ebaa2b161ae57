package dev.aertrace.compare;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BehaviourDiffTest {
    @Test
    void valuesOnlyInOneGroupAndRateDifferencesAreReported() {
        BehaviourDiff.Tally a = new BehaviourDiff.Tally();
        BehaviourDiff.Tally b = new BehaviourDiff.Tally();
        for (int i = 0; i < 20; i++) {
            a.add(Map.of("cb", List.of("error_detected"), "result", List.of("RECOVERED"), "order", List.of(i < 18 ? "reset after mmio_enabled" : "no mmio_enabled"),
                    "race", List.of()));
            b.add(Map.of("cb", List.of("error_detected"), "order", List.of(i < 2 ? "reset after mmio_enabled" : "no mmio_enabled"),
                    "race", i < 3 ? List.of("access during reset", "access during reset") : List.of(),
                    "result", List.of(i < 9 ? "RECOVERED" : "DISCONNECT")));
        }
        Map<String, BehaviourDiff.ValueCount> by = new java.util.HashMap<>();
        new BehaviourDiff(0.05).compare(a, b).forEach(v -> by.put(v.key() + "=" + v.value(), v));
        assertEquals(BehaviourDiff.Kind.RATE_DIFFERS, by.get("result=RECOVERED").kind(), "20/20 against 9/20");
        assertTrue(by.get("result=RECOVERED").isDifference());
        assertEquals(BehaviourDiff.Kind.SAME, by.get("cb=error_detected").kind());
        assertFalse(by.get("cb=error_detected").isDifference());
        assertEquals(BehaviourDiff.Kind.RATE_DIFFERS, by.get("order=reset after mmio_enabled").kind());
        BehaviourDiff.ValueCount race = by.get("race=access during reset");
        assertEquals(BehaviourDiff.Kind.ONLY_IN_OTHER, race.kind());
        assertEquals(3, race.otherCount(), "a value repeated within one episode counts once");
        assertEquals(0, race.baseCount());
        assertFalse(race.isDifference(), "3/20 against 0/20 is named but not significant (Fisher p=0.23)");
        assertTrue(race.isNote());
        assertEquals(0.2308, race.pValue(), 1e-3);
        BehaviourDiff.ValueCount disc = by.get("result=DISCONNECT");
        assertEquals(BehaviourDiff.Kind.ONLY_IN_OTHER, disc.kind());
        assertTrue(disc.isDifference(), "11/20 against 0/20 is: p=" + disc.pValue());
        assertEquals(6, by.size());
    }
}
