package dev.aertrace.race;

import dev.aertrace.pipeline.Analyzer;

import dev.aertrace.ingest.Event;
import dev.aertrace.ingest.Issue;
import dev.aertrace.ingest.SourceReport;
import dev.aertrace.timeline.Access;
import dev.aertrace.timeline.Episode;
import dev.aertrace.timeline.Phase;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The analyzer on real traces recorded by the lab (testdata/lab/KERNEL/SCENARIO.jsonl.gz, see
 * testdata/lab/README.md for the commands that re-create them). A trace the lab has not committed is reported
 * as a failure, never as skipped or passed. {@code -Daertrace.labdir=DIR} points at another recording.
 */
class RealTraceTest {
    static final Path LAB = Path.of(System.getProperty("aertrace.labdir", "../testdata/lab"));
    static final List<String> KERNELS = List.of("5.10", "6.1", "6.12", "7.2");

    record Run(SourceReport report, List<AnalyzedEpisode> episodes) {}

    static Run run(String kernel, String scenario) throws Exception {
        Path p = LAB.resolve(kernel).resolve(scenario + ".jsonl.gz");
        if (!Files.exists(p)) p = LAB.resolve(kernel).resolve(scenario + ".jsonl");
        assertTrue(Files.exists(p), "lab trace " + p + " is missing: testdata/lab/README.md says how to re-record it");
        List<AnalyzedEpisode> eps = new ArrayList<>();
        SourceReport r;
        try (InputStream in = Files.newInputStream(p)) {
            r = new Analyzer().analyze(p.toString(), in, eps::add);
        }
        for (Issue i : r.issues())
            assertTrue(i.kind().informational(), "real trace " + p + " has input issue " + i);
        assertNotNull(r.header(), "header");
        assertNotNull(r.footer(), "footer");
        for (AnalyzedEpisode a : eps)
            for (String line : dev.aertrace.report.TextReport.render(a, 60))
                assertTrue(line.length() <= 80, "text report wider than 80 columns: " + line);
        return new Run(r, eps);
    }

    static AnalyzedEpisode fatalEpisode(Run run) {
        return run.episodes().stream().filter(a -> a.episode().hasRecovery()).findFirst()
                .orElseThrow(() -> new AssertionError("no recovery episode in " + run.episodes()));
    }

    static boolean has(Episode ep, Phase.Kind k) { return ep.phases().stream().anyMatch(p -> p.kind() == k); }

    @TestFactory
    Stream<DynamicTest> fatalRaceYieldsTheRaceNamingConfigReadsInTheResetWindow() {
        return KERNELS.stream().map(k -> DynamicTest.dynamicTest(k, () -> {
            AnalyzedEpisode a = fatalEpisode(run(k, "fatal-race"));
            Episode ep = a.episode();
            assertEquals(Outcome.RACE, a.outcome(), a.verdicts().toString());
            assertEquals(5, ep.result(), "RECOVERED");
            assertTrue(has(ep, Phase.Kind.ERROR_DETECTED) && has(ep, Phase.Kind.RESET) && has(ep, Phase.Kind.RESUME), ep.phases().toString());
            Phase reset = ep.phases().stream().filter(p -> p.kind() == Phase.Kind.RESET).findFirst().orElseThrow();
            Verdict v = a.verdicts().stream().filter(x -> x.kind() == Verdict.Kind.ACCESS_DURING_RESET).findFirst()
                    .orElseThrow(() -> new AssertionError(a.verdicts().toString()));
            assertTrue(v.sentence().contains("cfg read"), v.sentence());
            assertFalse(v.tentative());
            // every config read cited as evidence really overlaps the reset window
            List<Event> reads = v.evidence().stream().filter(e -> e instanceof Event.RwEnter r && "config".equals(r.region())).toList();
            assertFalse(reads.isEmpty());
            for (Event e : reads) {
                Access acc = ep.accesses().stream().filter(x -> x.enter() == e).findFirst().orElseThrow();
                assertTrue(acc.overlaps(reset.start(), reset.end()), acc + " vs " + reset);
            }
        }));
    }

    @TestFactory
    Stream<DynamicTest> failedLinkYieldsRecoveryFailedNamingTheReset() {
        return KERNELS.stream().map(k -> DynamicTest.dynamicTest(k, () -> {
            AnalyzedEpisode a = fatalEpisode(run(k, "fatal-linkfail"));
            // The kernel's return value differs (CAN_RECOVER on 5.10-6.12, RECOVERED on 7.2): the verdict must
            // come from the failed reset itself, which every kernel reports the same way.
            Verdict v = a.verdicts().stream().filter(x -> x.kind() == Verdict.Kind.RECOVERY_FAILED).findFirst()
                    .orElseThrow(() -> new AssertionError(a.verdicts().toString()));
            assertTrue(v.sentence().contains("aer_root_reset on 0000:00:02.0 returned DISCONNECT"), v.sentence());
            assertTrue(v.evidence().stream().anyMatch(e -> e instanceof Event.ResetExit), v.evidence().toString());
            assertTrue(v.evidence().stream().anyMatch(e -> e instanceof Event.RecoveryExit));
        }));
    }

    @TestFactory
    Stream<DynamicTest> userResetDuringRecoveryIsRefusedNotADoubleReset() {
        // The lab's VFIO_DEVICE_RESET during the recovery returns -11 (EAGAIN: pci_try_reset_function cannot take
        // the device lock the recovery holds) and reaches no reset function: the device was not reset twice.
        return KERNELS.stream().map(k -> DynamicTest.dynamicTest(k, () -> {
            AnalyzedEpisode a = fatalEpisode(run(k, "fatal-double-reset"));
            assertTrue(a.verdicts().stream().noneMatch(x -> x.kind() == Verdict.Kind.DOUBLE_RESET), a.verdicts().toString());
            List<Verdict> v = a.verdicts().stream().filter(x -> x.kind() == Verdict.Kind.USER_RESET_REFUSED).toList();
            assertFalse(v.isEmpty(), a.verdicts().toString());
            assertTrue(v.get(0).sentence().contains("VFIO_DEVICE_RESET") && v.get(0).sentence().contains("EAGAIN"), v.get(0).sentence());
            assertFalse(v.get(0).tentative());
            assertTrue(v.get(0).evidence().stream().anyMatch(e -> e instanceof Event.IoctlEnter));
        }));
    }

    @TestFactory
    Stream<DynamicTest> correctableIsCleanWithoutRecovery() {
        return KERNELS.stream().map(k -> DynamicTest.dynamicTest(k, () -> {
            Run run = run(k, "correctable");
            assertFalse(run.episodes().isEmpty());
            for (AnalyzedEpisode a : run.episodes()) {
                assertEquals(Outcome.CLEAN, a.outcome(), a.verdicts().toString());
                assertEquals(2, a.episode().severity());
                assertTrue(a.episode().resets().isEmpty());
            }
        }));
    }

    @TestFactory
    Stream<DynamicTest> nonFatalIsCleanRecoveryWithoutReset() {
        return KERNELS.stream().map(k -> DynamicTest.dynamicTest(k, () -> {
            AnalyzedEpisode a = fatalEpisode(run(k, "nonfatal"));
            Episode ep = a.episode();
            assertEquals(0, ep.severity());
            assertEquals(5, ep.result());
            assertTrue(has(ep, Phase.Kind.ERROR_DETECTED) && has(ep, Phase.Kind.RESUME), ep.phases().toString());
            assertFalse(has(ep, Phase.Kind.RESET), ep.phases().toString());
            assertEquals(Outcome.CLEAN, a.outcome(), a.verdicts().toString());
        }));
    }

    /** 6.1 lab traces (testdata/lab/README.md): the reset cases and a removal, judged by the same rules. */
    @org.junit.jupiter.api.Test
    void labResetRetryRemovalAndOverlapOn61() throws Exception {
        AnalyzedEpisode retry = fatalEpisode(run("6.1", "fatal-reset-retry"));
        assertFalse(retry.verdicts().stream().filter(x -> x.kind() == Verdict.Kind.USER_RESET_REFUSED).toList().isEmpty());
        List<Verdict> d = retry.verdicts().stream().filter(x -> x.kind() == Verdict.Kind.DOUBLE_RESET).toList();
        assertEquals(1, d.size(), retry.verdicts().toString());
        assertTrue(d.get(0).sentence().contains("after the host's recovery") && d.get(0).sentence().contains("pcie_reset_flr"),
                d.get(0).sentence());
        AnalyzedEpisode overlap = fatalEpisode(run("6.1", "fatal-reset-overlap"));
        List<Verdict> o = overlap.verdicts().stream().filter(x -> x.kind() == Verdict.Kind.DOUBLE_RESET).toList();
        assertEquals(1, o.size(), overlap.verdicts().toString());
        assertTrue(o.get(0).sentence().contains("while the host's recovery"), o.get(0).sentence());
        Run removal = run("6.1", "removal-slotoff");
        AnalyzedEpisode loss = removal.episodes().stream().filter(a -> a.verdicts().stream()
                .anyMatch(v -> v.kind() == Verdict.Kind.ALL_ONES_READ)).findFirst().orElseThrow();
        assertFalse(loss.episode().hasRecovery());
        assertTrue(loss.verdicts().stream().anyMatch(v -> v.kind() == Verdict.Kind.DEVICE_REMOVED));
        assertTrue(loss.verdicts().stream().anyMatch(v -> v.kind() == Verdict.Kind.ALL_ONES_READ && !v.tentative()
                && v.sentence().startsWith("108 config reads")), loss.verdicts().toString());
    }
}
