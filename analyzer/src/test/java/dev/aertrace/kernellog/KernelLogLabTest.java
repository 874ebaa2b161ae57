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

    /**
     * The trace to compare with: the same boot's when the lab recorded one; else (a log recorded with --tracer none,
     * because the agent's compile did not finish under the build machine's load) the committed trace of the same
     * kernel and scenario from another boot — the scenarios are deterministic in what is compared.
     */
    static Path compareWith(Path log) {
        Path same = traceOf(log);
        if (Files.exists(same)) return same;
        String k = log.getParent().getFileName().toString();
        return LAB.resolve(k).resolve(same.getFileName());
    }

    static List<Path> sameBootPairs() throws IOException {
        return pairs().stream().filter(p -> Files.exists(traceOf(p))).filter(KernelLogLabTest::traceHasAerError).toList();
    }

    /** An episode a kernel log can rebuild: an AER error or a recovery (a device loss alone is not read from logs yet). */
    static boolean aer(AnalyzedEpisode a) {
        return a.episode().severity() != null || a.episode().hasRecovery();
    }

    /**
     * The lab keeps the kernel log of every recording beside its trace (lab/record), removals too; a log whose
     * trace holds no AER error (a device removal) has nothing this reader rebuilds yet, so it is not compared.
     */
    static boolean traceHasAerError(Path log) {
        Path t = compareWith(log);
        try {
            return !Files.exists(t) || trace(t).stream().anyMatch(KernelLogLabTest::aer);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /**
     * Logs still compared with another boot's trace of the same kernel and scenario, because their same-boot pair was
     * not re-recorded yet (lab time is shared: every boot compiles the agent under TCG). Each entry is an unmet
     * "same boot" requirement, kept visible here; a pair recorded for one of them makes the test below fail until
     * the entry is removed.
     */
    static final java.util.Set<String> OTHER_BOOT = java.util.Set.of("5.10/fatal-linkfail");

    @Test
    void everyRequiredRecordingIsCommittedWithItsSameBootTrace() {
        for (String r : REQUIRED) {
            Path p = LAB.resolve("kmsg").resolve(r + ".dmesg.gz");
            String again = "re-record with AERTRACE_RECORD_DIR=testdata/lab/kmsg lab/record " + r.replace('/', ' ');
            assertTrue(Files.exists(p), p + " is missing: " + again);
            if (OTHER_BOOT.contains(r)) {
                assertFalse(Files.exists(traceOf(p)), r + " has its same-boot trace now: remove it from OTHER_BOOT");
                assertTrue(Files.exists(compareWith(p)), compareWith(p) + " (a trace to compare with) is missing");
            } else {
                assertTrue(Files.exists(traceOf(p)), traceOf(p) + " (the agent's trace of the log's boot) is missing: " + again);
            }
        }
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
                assertTrue(both.err().contains("counted once, from the trace"), both.err());
            }
        }));
    }

    @TestFactory
    Stream<DynamicTest> theLogAloneGivesTheTracesEpisodes() throws IOException {
        return pairs().stream().filter(KernelLogLabTest::traceHasAerError).map(logPath -> DynamicTest.dynamicTest(LAB.relativize(logPath).toString()
                + (Files.exists(traceOf(logPath)) ? " (same boot)" : " (vs another boot's trace)"), () -> {
            Path tracePath = compareWith(logPath);
            assertTrue(Files.exists(tracePath), "no trace to compare " + logPath + " with");
            List<AnalyzedEpisode> t = trace(tracePath).stream().filter(KernelLogLabTest::aer).toList();
            LogRun l = log(logPath);
            for (Issue i : l.report().issues())
                assertTrue(i.kind().informational(), "real kernel log " + logPath + " has input issue " + i);
            assertFalse(t.isEmpty(), "the trace has no episode");
            assertEquals(t.stream().map(KernelLogLabTest::key).toList(), l.episodes().stream().map(KernelLogLabTest::key).toList(),
                    "episodes (device, severity, reset bridge, result) from the log vs the trace");
            for (AnalyzedEpisode a : l.episodes()) {
                if (!a.episode().hasRecovery()) continue;
                // a log never gives a confident "no race": either inconclusive or the kernel's own failure
                assertTrue(a.outcome() == Outcome.INCONCLUSIVE || a.outcome() == Outcome.RECOVERY_FAILED, a.outcome().toString());
                assertEquals(Verdict.Kind.INCONCLUSIVE, a.verdicts().get(0).kind());
                assertTrue(a.verdicts().get(0).sentence().contains("kernel log"), a.verdicts().get(0).sentence());
            }
            // How far the printk clock is from the trace's CLOCK_MONOTONIC on the same boot (for the README).
            for (int i = 0; i < t.size() && Files.exists(traceOf(logPath)); i++) {
                Episode te = t.get(i).episode(), le = l.episodes().get(i).episode();
                System.out.printf("kernel-log vs trace %s #%d: error at log %+.3f ms from trace; recovery %s ms (log) vs %s ms (trace)%n",
                        LAB.relativize(logPath), i + 1, (le.start() - te.start()) / 1e6,
                        le.recoveryEnd() == null ? "-" : String.format("%.3f", (le.recoveryEnd() - le.start()) / 1e6),
                        te.recoveryEnd() == null ? "-" : String.format("%.3f", (te.recoveryEnd() - te.start()) / 1e6));
            }
        }));
    }
}
