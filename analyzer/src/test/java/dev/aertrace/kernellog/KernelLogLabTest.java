package dev.aertrace.kernellog;

import dev.aertrace.ingest.Issue;
import dev.aertrace.ingest.SourceReport;
import dev.aertrace.race.AnalyzedEpisode;
import dev.aertrace.pipeline.Analyzer;
import dev.aertrace.race.Outcome;
import dev.aertrace.race.Verdict;
import dev.aertrace.timeline.Episode;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The post-mortem reader against the agent on the same boot: every kernel log the lab committed
 * (testdata/lab/kmsg/KERNEL/SCENARIO.dmesg.gz, recorded by lab/record beside SCENARIO.jsonl.gz, and any
 * SCENARIO.dmesg.gz beside a trace under testdata/lab/KERNEL/) must give the episodes the trace gives: count,
 * device, severity, reset bridge, result. A recording listed in {@link #REQUIRED} that is missing fails.
 */
class KernelLogLabTest {
    static final Path LAB = Path.of(System.getProperty("aertrace.labdir", "../testdata/lab"));
    static final List<String> KERNELS = List.of("5.10", "6.1", "6.12", "7.2");
    static final List<String> SCENARIOS = List.of("fatal-race", "nonfatal", "fatal-linkfail");
    /** kernel/scenario pairs recorded with their kernel log (lab/record with AERTRACE_RECORD_DIR=testdata/lab/kmsg). */
    static final List<String> REQUIRED = KERNELS.stream().flatMap(k -> SCENARIOS.stream().map(s -> k + "/" + s)).toList();

    record Key(String device, Integer severity, String bridge, String result) {}

    static String result(AnalyzedEpisode a) {
        Episode ep = a.episode();
        if (!ep.hasRecovery()) return "no recovery";
        if (ep.recoveryEnd() == null) return "unfinished";
        boolean failed = a.verdicts().stream().anyMatch(v -> v.kind() == Verdict.Kind.RECOVERY_FAILED);
        return failed ? "failed" : ep.result() != null && ep.result() == 5 ? "recovered" : "result " + ep.result();
    }

    static Key key(AnalyzedEpisode a) {
        Episode ep = a.episode();
        return new Key(ep.device(), ep.severity(), ep.bridge(), result(a));
    }

    static List<AnalyzedEpisode> trace(Path p) throws IOException {
        List<AnalyzedEpisode> out = new ArrayList<>();
        try (InputStream in = Files.newInputStream(p)) {
            new Analyzer().analyze(p.toString(), in, out::add);
        }
        return out;
    }

    record LogRun(SourceReport report, List<AnalyzedEpisode> episodes) {}

    static LogRun log(Path p) throws IOException {
        List<AnalyzedEpisode> out = new ArrayList<>();
        SourceReport r;
        try (InputStream in = Files.newInputStream(p)) {
            r = new KernelLogAnalyzer().analyze(p.toString(), in, out::add);
        }
        return new LogRun(r, out);
    }

    /** Every kernel log with a trace of the same boot beside it. */
    static List<Path> pairs() throws IOException {
        List<Path> out = new ArrayList<>();
        for (Path root : List.of(LAB.resolve("kmsg"), LAB)) {
            if (!Files.isDirectory(root)) continue;
            for (String k : KERNELS) {
                Path d = root.resolve(k);
                if (!Files.isDirectory(d)) continue;
                try (Stream<Path> s = Files.list(d)) {
                    s.filter(p -> p.getFileName().toString().endsWith(".dmesg.gz")).sorted().forEach(out::add);
                }
            }
        }
        return out;
    }

    /** The agent's trace of the same boot, beside the log. */
    static Path traceOf(Path log) {
        String n = log.getFileName().toString();
        return log.resolveSibling(n.substring(0, n.length() - ".dmesg.gz".length()) + ".jsonl.gz");
    }

    static List<Path> sameBootPairs() throws IOException {
        return pairs();
    }

    /** A device-loss episode (no AER error, no recovery: a removal, all-ones reads). */
    static boolean loss(AnalyzedEpisode a) {
        return a.episode().severity() == null && !a.episode().hasRecovery();
    }

    @Test
    void everyRequiredRecordingIsCommittedWithItsSameBootTrace() throws IOException {
        for (String r : REQUIRED) {
            Path p = LAB.resolve("kmsg").resolve(r + ".dmesg.gz");
            String again = "re-record with AERTRACE_RECORD_DIR=testdata/lab/kmsg lab/record " + r.replace('/', ' ');
            assertTrue(Files.exists(p), p + " is missing: " + again);
            assertTrue(Files.exists(traceOf(p)), traceOf(p) + " (the agent's trace of the log's boot) is missing: " + again);
        }
        // every committed kernel log, the topology ones beside testdata/lab/KERNEL/ too, has its own boot's trace
        for (Path p : pairs())
            assertTrue(Files.exists(traceOf(p)), traceOf(p) + " (the agent's trace of the log's boot) is missing: a log is"
                    + " only compared with the trace of its own boot");
    }

    /** Log and trace of the same boot given together, in either order: each error once, the trace's verdicts. */
    @TestFactory
    Stream<DynamicTest> aLogAndItsTraceTogetherDoNotDoubleCount() throws IOException {
        return sameBootPairs().stream().map(logPath -> DynamicTest.dynamicTest(LAB.relativize(logPath).toString(), () -> {
            Path tracePath = traceOf(logPath);
            KernelLogFormatsTest.Cli alone = KernelLogFormatsTest.cli("analyze", "--format", "json", tracePath.toString());
            for (String[] args : List.of(new String[] {logPath.toString(), tracePath.toString()},
                    new String[] {tracePath.toString(), logPath.toString()})) {
                KernelLogFormatsTest.Cli both = KernelLogFormatsTest.cli("analyze", "--format", "json", args[0], args[1]);
                com.fasterxml.jackson.databind.JsonNode a = new com.fasterxml.jackson.databind.ObjectMapper().readTree(alone.out());
                com.fasterxml.jackson.databind.JsonNode b = new com.fasterxml.jackson.databind.ObjectMapper().readTree(both.out());
                assertFalse(a.path("summary").isMissingNode(), alone.out());
                // the log's own events are counted as input; everything about episodes must be the trace's alone
                ((com.fasterxml.jackson.databind.node.ObjectNode) a.path("summary")).remove("events");
                ((com.fasterxml.jackson.databind.node.ObjectNode) b.path("summary")).remove("events");
                assertEquals(a.path("summary"), b.path("summary"), "summary with the log added: " + both.err());
                assertEquals(a.path("episodes").size(), b.path("episodes").size());
                assertEquals(alone.code(), both.code(), both.err());
                // every committed log has an episode (an AER error or a device loss), each the trace's too
                assertFalse(log(logPath).episodes().isEmpty());
                assertTrue(both.err().contains("counted once, from the trace"), both.err());
                assertFalse(both.err().contains("no AER error or recovery found"), both.err());
            }
        }));
    }

    /**
     * The log alone against the agent's trace of the same boot, field by field: every episode, AER errors and device
     * losses alike (the removal scenarios' pciehp and vfio-pci messages). What a kernel log cannot give is said here,
     * not skipped: timings only within the printk clock's resolution (printed below, not compared).
     */
    @TestFactory
    Stream<DynamicTest> theLogAloneGivesTheTracesEpisodes() throws IOException {
        return pairs().stream().map(logPath -> DynamicTest.dynamicTest(LAB.relativize(logPath) + " (same boot)", () -> {
            Path tracePath = traceOf(logPath);
            assertTrue(Files.exists(tracePath), "no trace of the same boot beside " + logPath);
            List<AnalyzedEpisode> all = trace(tracePath);
            assertFalse(all.isEmpty(), "the trace has no episode");
            List<AnalyzedEpisode> t = all;
            LogRun l = log(logPath);
            for (Issue i : l.report().issues())
                assertTrue(i.kind().informational(), "real kernel log " + logPath + " has input issue " + i);
            assertEquals(t.size(), l.episodes().size(), "episode count from the log vs the trace");
            for (int i = 0; i < t.size(); i++) {
                Key tk = key(t.get(i)), lk = key(l.episodes().get(i));
                String at = "episode " + (i + 1) + " of " + LAB.relativize(logPath) + ": ";
                assertEquals(tk.device(), lk.device(), at + "device");
                assertEquals(tk.severity(), lk.severity(), at + "severity");
                assertEquals(tk.bridge(), lk.bridge(), at + "reset bridge");
                assertEquals(tk.result(), lk.result(), at + "result");
            }
            for (AnalyzedEpisode a : l.episodes()) {
                if (!a.episode().hasRecovery()) continue;
                // a log never gives a confident "no race": either inconclusive or the kernel's own failure
                assertTrue(a.outcome() == Outcome.INCONCLUSIVE || a.outcome() == Outcome.RECOVERY_FAILED, a.outcome().toString());
                assertEquals(Verdict.Kind.INCONCLUSIVE, a.verdicts().get(0).kind());
                assertTrue(a.verdicts().get(0).sentence().contains("kernel log"), a.verdicts().get(0).sentence());
            }
            // How far the printk clock is from the trace's CLOCK_MONOTONIC on the same boot (for the README).
            for (int i = 0; i < t.size(); i++) {
                Episode te = t.get(i).episode(), le = l.episodes().get(i).episode();
                System.out.printf("kernel-log vs trace %s #%d: error at log %+.3f ms from trace; recovery %s ms (log) vs %s ms (trace)%n",
                        LAB.relativize(logPath), i + 1, (le.start() - te.start()) / 1e6,
                        le.recoveryEnd() == null ? "-" : String.format("%.3f", (le.recoveryEnd() - le.start()) / 1e6),
                        te.recoveryEnd() == null ? "-" : String.format("%.3f", (te.recoveryEnd() - te.start()) / 1e6));
            }
        }));
    }

    /**
     * The removal scenarios (QMP device_del under a reading vfio user, 6.1 and 7.2): the device-loss episode the log
     * gives is the trace's — named by the lost endpoint, bridge the slot's port, the same removal notices (pciehp's
     * button press on the port, vfio-pci's request to the user) at the same offsets within the log's resolution and
     * the clocks' drift — and it is inconclusive where the trace is confident: the log has no access by the user.
     */
    @TestFactory
    Stream<DynamicTest> aRemovalLogGivesTheTracesDeviceLoss() {
        return Stream.of("6.1", "7.2").map(k -> DynamicTest.dynamicTest(k + "/removal-device-del", () -> {
            AnalyzedEpisode le = removalLog(LAB.resolve(k).resolve("removal-device-del.dmesg.gz"),
                    List.of("slot event (button_press)", "asked the user to release the device"));
            Verdict first = le.verdicts().get(0);
            // what only the 6.1 log has: the removal itself (7.2 prints no "Removing from iommu group")
            assertEquals(k.equals("6.1"), removed(le, "left its IOMMU group") != null);
            assertEquals(k.equals("6.1"), !first.sentence().contains("may still be bound"), first.sentence());
        }));
    }

    /**
     * The surprise removal (the slot's power pulsed off under the reading user; testdata/lab/kmsg/6.1, log and trace of
     * one boot): the post-mortem reader gives the trace's device loss from pciehp's "Card not present", vfio-pci's
     * "Relaying device request" and the IOMMU group removal, at the trace's offsets; it cannot see the all-ones reads
     * the trace counts, and says so instead of a confident verdict.
     */
    @Test
    void aSurpriseRemovalLogGivesTheTracesDeviceLoss() throws IOException {
        Path logPath = LAB.resolve("kmsg/6.1/removal-slotoff.dmesg.gz");
        AnalyzedEpisode le = removalLog(logPath, List.of("slot event (presence_or_link_change)", "asked the user to release the device"));
        assertNotNull(removed(le, "left its IOMMU group"), le.verdicts().toString());
        assertTrue(le.verdicts().stream().noneMatch(v -> v.kind() == Verdict.Kind.ALL_ONES_READ), "a log has no reads");
        assertTrue(trace(traceOf(logPath)).get(0).verdicts().stream().anyMatch(v -> v.kind() == Verdict.Kind.ALL_ONES_READ
                && !v.tentative()), "the trace of the same boot counts the all-ones reads");
    }

    /** The log's device-loss episode, checked against the same boot's trace for each removal step; returned for more. */
    static AnalyzedEpisode removalLog(Path logPath, List<String> steps) throws IOException {
        String k = LAB.relativize(logPath).toString();
        List<AnalyzedEpisode> t = trace(traceOf(logPath));
        List<AnalyzedEpisode> l = log(logPath).episodes();
        assertEquals(1, t.size());
        assertEquals(1, l.size());
        AnalyzedEpisode te = t.get(0), le = l.get(0);
        assertTrue(loss(te) && loss(le));
        assertEquals("0000:01:00.0", le.episode().device());
        assertEquals("0000:00:02.0", le.episode().bridge());
        assertEquals(key(te), key(le));
        assertEquals(Outcome.INCONCLUSIVE, le.outcome());
        Verdict first = le.verdicts().get(0);
        assertEquals(Verdict.Kind.INCONCLUSIVE, first.kind());
        assertTrue(first.sentence().contains("a device loss of 0000:01:00.0") && first.sentence().contains("cannot be told"), first.sentence());
        // the removal steps both have, in the same words, at the same offsets from the episode's start
        for (String step : steps) {
            Verdict tv = removed(te, step), lv = removed(le, step);
            assertNotNull(tv, "trace: " + step);
            assertNotNull(lv, "log: " + step);
            assertEquals(tv.dev(), lv.dev(), step);
            assertFalse(lv.tentative(), lv.sentence());
            long dt = tv.from() - te.episode().start(), dl = lv.from() - le.episode().start();
            System.out.printf("removal %s: %s at +%.3f ms (trace) vs +%.3f ms (log)%n", k, step, dt / 1e6, dl / 1e6);
            assertTrue(Math.abs(dt - dl) < 100_000_000L, step + ": " + dt + " vs " + dl + " ns from the start");
        }
        return le;
    }

    private static Verdict removed(AnalyzedEpisode a, String what) {
        return a.verdicts().stream().filter(v -> v.kind() == Verdict.Kind.DEVICE_REMOVED && v.sentence().contains(what))
                .findFirst().orElse(null);
    }
}
