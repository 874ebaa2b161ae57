package dev.aertrace.compare;

import dev.aertrace.Scenarios;
import dev.aertrace.Tr;
import dev.aertrace.bench.SyntheticTrace;
import dev.aertrace.race.AnalyzedEpisode;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CompareTest {
    private static List<AnalyzedEpisode> synthetic(int n, long seed, String kernel, double resetScale) {
        return Tr.analyze(SyntheticTrace.fatalRace(n, new Random(seed), kernel, resetScale)).episodes();
    }

    private static Comparison.Result compare(Map<String, List<AnalyzedEpisode>> groups) {
        Comparison.Builder b = new Comparison.Builder();
        groups.forEach((g, eps) -> eps.forEach(a -> b.add(g, a)));
        return b.build(0.05, PhaseTester.DEFAULT_MIN_SAMPLES, null);
    }

    @Test
    void twoSetsFromTheSameKernelShowNoDetectableChange() {
        // The false-positive check, on analyzed traces: same generator, different seeds.
        Comparison.Result r = compare(new java.util.LinkedHashMap<>(Map.of(
                "run1", synthetic(20, 11, "6.1.0-x", 1.0), "run2", synthetic(20, 12, "6.1.0-x", 1.0))));
        Comparison.Pair p = r.pairs().get(0);
        assertTrue(p.phases().size() >= 6, p.phases()::toString);
        for (PhaseComparison c : p.phases()) {
            assertEquals(PhaseVerdict.NO_DETECTABLE_CHANGE, c.verdict(), c::toString);
            assertEquals(20, c.baseStats().count(), c::toString);
        }
        assertEquals(0, p.differences(), () -> CompareReport.text(r));
        assertTrue(CompareReport.summary(p).contains("no detectable timing change; no behaviour difference"), CompareReport.summary(p));
    }

    @Test
    void aSlowerResetIsDetectedAndOnlyWhereItIs() {
        var groups = new java.util.LinkedHashMap<String, List<AnalyzedEpisode>>();
        groups.put("6.1.0-x", synthetic(20, 21, "6.1.0-x", 1.0));
        groups.put("6.12.0-y", synthetic(20, 22, "6.12.0-y", 1.6));
        Comparison.Result r = compare(groups);
        Map<String, PhaseComparison> by = r.pairs().get(0).phases().stream()
                .collect(Collectors.toMap(PhaseComparison::phase, c -> c));
        assertEquals(PhaseVerdict.SLOWER, by.get("reset").verdict(), by.get("reset")::toString);
        assertEquals(PhaseVerdict.SLOWER, by.get("recovery").verdict());
        assertTrue(by.get("reset").medianRatio() > 1.3 && by.get("reset").medianRatio() < 2.0, by.get("reset")::toString);
        // Phases the generator did not change stay unflagged.
        for (String p : List.of("error_detected", "slot_reset", "resume", "aer-to-recovery")) {
            assertEquals(PhaseVerdict.NO_DETECTABLE_CHANGE, by.get(p).verdict(), by.get(p)::toString);
        }
        String md = CompareReport.markdown(r);
        assertTrue(md.contains("| reset |") && md.contains("**slower**"), md);
    }

    @Test
    void adjacentComparesEachKernelWithThePreviousOne() {
        Comparison.Builder b = new Comparison.Builder();
        synthetic(10, 31, "5.10.0-x", 1.0).forEach(a -> b.add("5.10", a));
        synthetic(10, 32, "6.1.0-x", 1.0).forEach(a -> b.add("6.1", a));
        synthetic(10, 33, "6.12.0-x", 1.0).forEach(a -> b.add("6.12", a));
        Comparison.Result adj = b.build(0.05, 5, null, true), first = b.build(0.05, 5, null, false);
        assertEquals(List.of("5.10>6.1", "6.1>6.12"), adj.pairs().stream().map(p -> p.baseline() + ">" + p.other()).toList());
        assertEquals(List.of("5.10>6.1", "5.10>6.12"), first.pairs().stream().map(p -> p.baseline() + ">" + p.other()).toList());
        assertTrue(CompareReport.text(adj).contains("each against the one before"), CompareReport.text(adj));
    }

    @Test
    void behaviourDifferencesAreNamed() {
        var groups = new java.util.LinkedHashMap<String, List<AnalyzedEpisode>>();
        groups.put("quiet", Scenarios.fatalQuiet().analyze().episodes());
        groups.put("racy", Scenarios.stalled().analyze().episodes());
        Comparison.Builder b = new Comparison.Builder();
        groups.forEach((g, eps) -> eps.forEach(a -> b.add(g, a)));
        Comparison.Result r = b.build(0.05, 5, null);
        Comparison.Pair p = r.pairs().get(0);
        assertTrue(p.behaviour().stream().anyMatch(v -> v.key().equals("races") && v.kind() == BehaviourDiff.Kind.ONLY_IN_OTHER),
                () -> CompareReport.text(r));
        assertTrue(p.phases().stream().allMatch(c -> c.verdict() == PhaseVerdict.TOO_FEW_SAMPLES || c.verdict() == PhaseVerdict.ABSENT_IN_ONE),
                "one episode per group is never a timing verdict");
        String json = CompareReport.json(r);
        assertTrue(json.contains("\"aertrace_compare\" : 1") && json.contains("\"only-in-other\""), json);
    }
}
