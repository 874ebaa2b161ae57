package dev.aertrace.timeline;

import dev.aertrace.Scenarios;
import dev.aertrace.Tr;
import dev.aertrace.race.AnalyzedEpisode;
import dev.aertrace.race.Outcome;
import dev.aertrace.race.Verdict;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class TimelineTest {

    static Phase phase(Episode ep, Phase.Kind k) {
        return ep.phases().stream().filter(p -> p.kind() == k).findFirst().orElseThrow(() -> new AssertionError("no " + k + " in " + ep.phases()));
    }

    static boolean has(Episode ep, Phase.Kind k) { return ep.phases().stream().anyMatch(p -> p.kind() == k); }

    @Test
    void fatalRecoveryPhasesAndAffectedDevices() {
        Episode ep = Scenarios.fatalQuiet().analyze().only().episode();
        assertEquals(Tr.EP, ep.device());
        assertEquals(Tr.RP, ep.bridge());
        assertEquals(List.of(Tr.RP, Tr.EP), ep.affected());
        assertEquals(1, ep.severity());
        assertEquals(5, ep.result());
        assertEquals(110_660_000L, phase(ep, Phase.Kind.RECOVERY).duration());
        assertEquals(20_000L, phase(ep, Phase.Kind.ERROR_DETECTED).duration());
        Phase reset = phase(ep, Phase.Kind.RESET);
        assertEquals("aer_root_reset", reset.detail());
        assertEquals(Tr.RP, reset.dev());
        assertEquals(109_900_000L, reset.duration());
        assertTrue(has(ep, Phase.Kind.SLOT_RESET) && has(ep, Phase.Kind.RESUME));
        assertFalse(has(ep, Phase.Kind.MMIO_ENABLED));
        assertEquals(2, ep.resets().size(), "aer_root_reset and the nested pci_reset_secondary_bus");
        assertEquals(1, ep.resets().stream().filter(r -> r.depth() == 1).count());
        assertEquals(1, ep.notifications().size());
        assertTrue(ep.gaps().isEmpty());
    }

    @Test
    void correctableErrorIsACleanEpisodeWithoutRecovery() {
        AnalyzedEpisode a = Scenarios.correctable().analyze().only();
        assertEquals(Outcome.CLEAN, a.outcome(), a.verdicts().toString());
        Episode ep = a.episode();
        assertNull(ep.recoveryStart());
        assertEquals(List.of(Phase.Kind.AER), ep.phases().stream().map(Phase::kind).toList());
        assertEquals(1, ep.accesses().size(), "the read 0.5 s later is inside the settle window");
    }

    @Test
    void nonFatalRecoveryWithoutResetIsClean() {
        AnalyzedEpisode a = Scenarios.nonfatal().analyze().only();
        assertEquals(Outcome.CLEAN, a.outcome(), a.verdicts().toString());
        Episode ep = a.episode();
        assertTrue(ep.resets().isEmpty());
        assertEquals(List.of(Phase.Kind.AER, Phase.Kind.RECOVERY, Phase.Kind.ERROR_DETECTED, Phase.Kind.MMIO_ENABLED,
                Phase.Kind.RESUME, Phase.Kind.SETTLE), ep.phases().stream().map(Phase::kind).toList());
        assertFalse(ep.fatal());
    }

    @Test
    void backToBackErrorsAreTwoEpisodesAndAccessesGoToTheRightOne() {
        List<AnalyzedEpisode> eps = Scenarios.backToBack().analyze().episodes();
        assertEquals(2, eps.size());
        Episode first = eps.get(0).episode(), second = eps.get(1).episode();
        assertTrue(first.end() < second.start(), "the first window is cut where the second error starts");
        assertEquals(1, first.accesses().size());
        assertEquals(0x0406L, first.accesses().get(0).value());
        // the second sees the last COMMAND read before it as its "before" value, then its own read
        assertEquals(2, second.accesses().size());
        assertEquals(0L, second.accesses().get(1).value());
    }

    @Test
    void concurrentHierarchiesStaySeparate() {
        List<AnalyzedEpisode> eps = Scenarios.concurrent().analyze().episodes();
        assertEquals(2, eps.size());
        AnalyzedEpisode a = eps.stream().filter(e -> e.episode().device().equals(Tr.EP)).findFirst().orElseThrow();
        AnalyzedEpisode b = eps.stream().filter(e -> e.episode().device().equals("0000:02:00.0")).findFirst().orElseThrow();
        assertEquals(List.of(Tr.RP, Tr.EP), a.episode().affected());
        assertEquals(List.of("0000:00:03.0", "0000:02:00.0"), b.episode().affected());
        assertEquals(Outcome.RACE, a.outcome());
        assertTrue(a.verdicts().stream().anyMatch(v -> v.kind() == Verdict.Kind.ACCESS_DURING_RESET));
        assertEquals(1, b.episode().accesses().size(), "the other hierarchy's read, after its reset");
        assertEquals(Outcome.CLEAN, b.outcome(), b.verdicts().toString());
    }

    @Test
    void traceStartingInsideARecovery() {
        AnalyzedEpisode a = Scenarios.startsMidRecovery().analyze().only();
        assertTrue(a.episode().startedMidRecovery());
        assertEquals(Outcome.INCONCLUSIVE, a.outcome());
        assertTrue(a.verdicts().get(0).sentence().contains("starts in the middle"));
        assertEquals(5, a.episode().result());
    }

    @Test
    void traceEndingInsideARecovery() {
        Tr.Result r = Scenarios.endsMidRecovery().analyze();
        AnalyzedEpisode a = r.only();
        assertTrue(a.episode().endedMidRecovery());
        assertEquals(Outcome.INCONCLUSIVE, a.outcome());
        assertTrue(a.verdicts().get(0).sentence().contains("ends before the recovery finished"));
        // the read seen during the (open) reset is still reported, tentatively
        assertTrue(a.verdicts().stream().anyMatch(v -> v.kind() == Verdict.Kind.ACCESS_DURING_RESET && v.tentative()));
        assertTrue(r.report().hasIssue(dev.aertrace.ingest.Issue.Kind.NO_FOOTER));
    }

    @Test
    void perEpisodeCapIsNotSilent() {
        var d = dev.aertrace.pipeline.Analyzer.Options.defaults();
        var t = d.timeline();
        var small = new dev.aertrace.pipeline.Analyzer.Options(d.reorderWindowNs(), d.reorderMaxEvents(),
                new TimelineBuilder.Options(t.settleNs(), t.preGapNs(), t.maxHoldNs(), 5), d.race());
        List<AnalyzedEpisode> eps = new java.util.ArrayList<>();
        new dev.aertrace.pipeline.Analyzer(small).analyze("cap", new java.io.ByteArrayInputStream(Scenarios.stalled().bytes()), eps::add);
        Episode ep = eps.get(0).episode();
        assertEquals(5, ep.events().size());
        assertTrue(ep.elidedEvents() > 0);
        assertEquals(Outcome.INCONCLUSIVE, eps.get(0).outcome());
        assertTrue(eps.get(0).verdicts().get(0).sentence().contains("per-episode cap"));
    }

    @Test
    void failedRecoveryHasNoResetPhase() {
        Episode ep = Scenarios.recoveryFailed().analyze().only().episode();
        assertEquals(4, ep.result());
        assertFalse(has(ep, Phase.Kind.RESET));
        assertEquals(4, ep.callbacks().get(0).result());
    }
}
