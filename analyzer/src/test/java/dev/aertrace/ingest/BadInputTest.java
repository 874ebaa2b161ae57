package dev.aertrace.ingest;

import dev.aertrace.Scenarios;
import dev.aertrace.Tr;
import dev.aertrace.race.AnalyzedEpisode;
import dev.aertrace.race.Outcome;
import dev.aertrace.race.Verdict;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.zip.GZIPOutputStream;

import static dev.aertrace.Tr.EP;
import static dev.aertrace.Tr.USER;
import static org.junit.jupiter.api.Assertions.*;

/** Every kind of bad input: counted with its line, never a crash, never a confident verdict across a hole. */
class BadInputTest {

    static Issue issue(SourceReport r, Issue.Kind k) {
        return r.issues().stream().filter(i -> i.kind() == k).findFirst()
                .orElseThrow(() -> new AssertionError("no " + k + " in " + r.issues()));
    }

    /** The accessDuringReset race with one extra raw line inserted after line {@code after}. */
    static Tr.Result withLine(int after, String raw) {
        Tr t = Scenarios.accessDuringReset();
        t.text();
        List<String> lines = new java.util.ArrayList<>(t.lines);
        lines.add(after, raw);
        return Tr.analyze((String.join("\n", lines) + "\n").getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void corruptLineInsideTheWindowIsCountedAndMakesItInconclusive() {
        Tr.Result r = withLine(10, "{\"type\":\"vfio.rw.enter\",\"ts\":1000300000,,,}");
        Issue i = issue(r.report(), Issue.Kind.CORRUPT_LINE);
        assertEquals(1, i.count());
        assertEquals(List.of(11L), i.lines());
        AnalyzedEpisode a = r.only();
        assertEquals(Outcome.INCONCLUSIVE, a.outcome());
        assertEquals(11L, a.verdicts().get(0).evidence().get(0).line());
    }

    @Test
    void truncatedLineInTheMiddle() {
        Tr.Result r = withLine(10, "{\"type\":\"vfio.rw.enter\",\"ts\":1000300000,\"cpu\":1,\"pid\":3");
        assertEquals(List.of(11L), issue(r.report(), Issue.Kind.TRUNCATED_LINE).lines());
        assertEquals(Outcome.INCONCLUSIVE, r.only().outcome());
    }

    @Test
    void truncatedLastLineWithoutNewline() {
        Tr t = Scenarios.endsMidRecovery();
        byte[] full = t.bytes();
        byte[] cut = Arrays.copyOf(full, full.length - 20);
        Tr.Result r = Tr.analyze(cut);
        assertEquals(List.of((long) t.lines.size()), issue(r.report(), Issue.Kind.TRUNCATED_LINE).lines());
        assertTrue(r.report().hasIssue(Issue.Kind.NO_FOOTER));
        assertEquals(Outcome.INCONCLUSIVE, r.only().outcome());
    }

    @Test
    void missingHeader() {
        Tr t = Scenarios.accessDuringReset();
        t.text();
        Tr.Result r = Tr.analyze((String.join("\n", t.lines.subList(1, t.lines.size())) + "\n").getBytes(StandardCharsets.UTF_8));
        assertEquals(List.of(1L), issue(r.report(), Issue.Kind.MISSING_HEADER).lines());
        AnalyzedEpisode a = r.only();
        assertEquals(Outcome.INCONCLUSIVE, a.outcome());
        assertTrue(a.verdicts().get(0).sentence().contains("no header"));
        // the race itself is still shown, tentatively
        assertTrue(a.verdicts().stream().anyMatch(v -> v.kind() == Verdict.Kind.ACCESS_DURING_RESET && v.tentative()));
    }

    @Test
    void unknownTypesAndFieldsAreCountedNotFatal() {
        Tr t = Scenarios.accessDuringReset();
        t.text();
        List<String> lines = new java.util.ArrayList<>(t.lines);
        lines.add(5, "{\"type\":\"future.probe\",\"ts\":1000100000,\"cpu\":0,\"pid\":1,\"tid\":1,\"comm\":\"x\",\"whatever\":[1,2]}");
        lines.set(3, lines.get(3).replace("}", ",\"new_field\":{\"a\":1}}"));
        // the newer agent counts its own line in the footer (EVENTS.md: events = every event line written)
        int last = lines.size() - 1;
        java.util.regex.Matcher n = java.util.regex.Pattern.compile("\"events\":(\\d+)").matcher(lines.get(last));
        assertTrue(n.find(), lines.get(last));
        lines.set(last, n.replaceFirst("\"events\":" + (Long.parseLong(n.group(1)) + 1)));
        Tr.Result r = Tr.analyze((String.join("\n", lines) + "\n").getBytes(StandardCharsets.UTF_8));
        assertFalse(r.report().issues().stream().anyMatch(i -> i.kind() == Issue.Kind.FOOTER_MISMATCH), "the footer adds up");
        assertEquals(List.of(6L), issue(r.report(), Issue.Kind.UNKNOWN_TYPE).lines());
        assertEquals(1L, r.report().unknownTypes().get("future.probe"));
        assertEquals(List.of(4L), issue(r.report(), Issue.Kind.UNKNOWN_FIELD).lines());
        assertEquals(1, r.report().unknownFields().size());
        assertEquals(Outcome.RACE, r.only().outcome(), "unknown types are not holes");
    }

    @Test
    void outOfOrderWithinTheWindowIsReordered() {
        Tr t = Scenarios.stalled();
        t.text();
        List<String> lines = new java.util.ArrayList<>(t.lines);
        // swap the cb.enter/cb.exit of error_detected with the neighbouring lines: 20 µs apart, well inside 100 ms
        java.util.Collections.swap(lines, 3, 7);
        Tr.Result r = Tr.analyze((String.join("\n", lines) + "\n").getBytes(StandardCharsets.UTF_8));
        assertFalse(r.report().hasIssue(Issue.Kind.OUT_OF_ORDER));
        assertFalse(r.report().hasIssue(Issue.Kind.UNMATCHED_EXIT), r.report().issues().toString());
        assertEquals(Outcome.RACE, r.only().outcome());
    }

    @Test
    void outOfOrderBeyondTheWindowIsAGap() {
        Tr t = Tr.lab().fatalRecovery(0);
        t.ev("cfg_lock", 1_300_000, 90, EP, "\"op\":\"lock\"");
        t.text();
        // a user read stamped during the reset, written after an event 1.3 s later: beyond the 1 s window
        t.raw("{\"type\":\"vfio.rw.enter\",\"ts\":1001000000,\"cpu\":1,\"pid\":300,\"tid\":300,\"comm\":\"vfio-user\",\"dev\":\"0000:01:00.0\",\"region\":\"config\",\"offset\":4,\"size\":2,\"write\":false}");
        t.raw("{\"type\":\"vfio.rw.exit\",\"ts\":1001004000,\"cpu\":1,\"pid\":300,\"tid\":300,\"comm\":\"vfio-user\",\"dev\":\"0000:01:00.0\",\"region\":\"config\",\"offset\":4,\"size\":2,\"write\":false,\"ret\":2,\"value\":0}");
        t.ev("cfg_lock", 1_400_000, 90, EP, "\"op\":\"unlock\"");
        Tr.Result r = Tr.analyze(t.bytes());
        Issue i = issue(r.report(), Issue.Kind.OUT_OF_ORDER);
        assertEquals(List.of(VerdictLines.line(t, "\"ts\":1001000000"), VerdictLines.line(t, "\"ts\":1001004000")), i.lines());
        AnalyzedEpisode a = r.only();
        assertEquals(Outcome.INCONCLUSIVE, a.outcome());
        assertTrue(a.verdicts().stream().anyMatch(v -> v.kind() == Verdict.Kind.ACCESS_DURING_RESET && v.tentative()));
    }

    @Test
    void duplicateExit() {
        Tr t = Scenarios.fatalQuiet();
        t.text();
        List<String> lines = new java.util.ArrayList<>(t.lines);
        int exit = lines.indexOf(lines.stream().filter(l -> l.contains("reset.exit") && l.contains("aer_root_reset")).findFirst().orElseThrow());
        lines.add(exit + 1, lines.get(exit));
        Tr.Result r = Tr.analyze((String.join("\n", lines) + "\n").getBytes(StandardCharsets.UTF_8));
        assertEquals(List.of((long) exit + 2), issue(r.report(), Issue.Kind.UNMATCHED_EXIT).lines());
        assertEquals(Outcome.INCONCLUSIVE, r.only().outcome());
    }

    @Test
    void missingExit() {
        Tr t = Tr.lab().fatalRecovery(0);
        t.ev("vfio.rw.enter", 1_000, USER, EP, "\"region\":\"config\",\"offset\":4,\"size\":2,\"write\":false");
        t.cfgRead(2_000, 2_010, USER, EP, 6, 2, 0x10);
        t.footer(3_000_000);
        Tr.Result r = Tr.analyze(t.bytes());
        long enter = VerdictLines.line(t, "\"ts\":1001000000");
        assertEquals(List.of(enter), issue(r.report(), Issue.Kind.MISSING_EXIT).lines());
        AnalyzedEpisode a = r.only();
        assertEquals(Outcome.INCONCLUSIVE, a.outcome());
        assertTrue(a.episode().accesses().stream().anyMatch(x -> x.end() == null && x.offset() == 4), "kept as an access without exit");
    }

    @Test
    void otherSchemaVersion() {
        Tr t = Scenarios.accessDuringReset();
        t.text();
        List<String> lines = new java.util.ArrayList<>(t.lines);
        lines.set(0, lines.get(0).replace("\"schema_version\":1", "\"schema_version\":4"));
        Tr.Result r = Tr.analyze((String.join("\n", lines) + "\n").getBytes(StandardCharsets.UTF_8));
        assertEquals(List.of(1L), issue(r.report(), Issue.Kind.SCHEMA_VERSION).lines());
        assertEquals(Outcome.INCONCLUSIVE, r.only().outcome());
        assertTrue(r.only().verdicts().get(0).sentence().contains("schema_version 4"));
    }

    @Test
    void invalidKnownEventIsAHole() {
        Tr.Result r = withLine(10, "{\"type\":\"vfio.rw.exit\",\"ts\":1000300000,\"cpu\":1,\"pid\":300,\"tid\":300,\"comm\":\"u\",\"dev\":\"0000:01:00.0\"}");
        assertEquals(List.of(11L), issue(r.report(), Issue.Kind.INVALID_EVENT).lines());
        assertEquals(Outcome.INCONCLUSIVE, r.only().outcome());
    }

    @Test
    void footerMismatchAndLinesAfterFooter() {
        Tr t = Scenarios.fatalQuiet();
        t.text();
        List<String> lines = new java.util.ArrayList<>(t.lines);
        String footer = lines.get(lines.size() - 1).replaceAll("\"events\":\\d+", "\"events\":99");
        lines.set(lines.size() - 1, footer);
        lines.add("{\"type\":\"cfg_lock\",\"ts\":1009000000,\"cpu\":0,\"pid\":1,\"tid\":1,\"comm\":\"x\",\"dev\":\"0000:01:00.0\",\"op\":\"lock\"}");
        Tr.Result r = Tr.analyze((String.join("\n", lines) + "\n").getBytes(StandardCharsets.UTF_8));
        assertEquals(List.of((long) lines.size() - 1), issue(r.report(), Issue.Kind.FOOTER_MISMATCH).lines());
        assertEquals(List.of((long) lines.size()), issue(r.report(), Issue.Kind.AFTER_FOOTER).lines());
    }

    @Test
    void footerCountingMoreLostThanReportedIsAGap() {
        Tr t = Scenarios.fatalQuiet();
        t.text();
        List<String> lines = new java.util.ArrayList<>(t.lines);
        // the trace ends during the settle window with a footer admitting 5 losses never reported in-stream
        String footer = lines.get(lines.size() - 1).replaceAll("\"ts\":\\d+", "\"ts\":1000500000").replace("\"lost\":0", "\"lost\":5");
        lines.set(lines.size() - 1, footer);
        Tr.Result r = Tr.analyze((String.join("\n", lines) + "\n").getBytes(StandardCharsets.UTF_8));
        assertTrue(r.report().hasIssue(Issue.Kind.FOOTER_MISMATCH));
        assertEquals(Outcome.INCONCLUSIVE, r.only().outcome());
    }

    @Test
    void gzipAndTruncatedGzip() throws Exception {
        byte[] plain = Scenarios.backToBack().bytes();
        ByteArrayOutputStream bo = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(bo)) { gz.write(plain); }
        byte[] gz = bo.toByteArray();
        assertEquals(2, Tr.analyze(gz).episodes().size());
        // deflate blocks are ~tens of KB: cut a big trace's .gz in the middle
        java.nio.file.Path big = java.nio.file.Files.createTempFile("aertrace-big", ".jsonl");
        dev.aertrace.bench.SyntheticTrace.generate(big, 120_000);
        bo.reset();
        try (GZIPOutputStream g2 = new GZIPOutputStream(bo)) { g2.write(java.nio.file.Files.readAllBytes(big)); }
        java.nio.file.Files.delete(big);
        byte[] bigGz = bo.toByteArray();
        Tr.Result cut = Tr.analyze(Arrays.copyOf(bigGz, bigGz.length / 2));
        assertTrue(cut.report().lines() > 5, "what was there is read");
        assertTrue(cut.report().hasIssue(Issue.Kind.TRUNCATED_LINE));
        assertTrue(cut.report().hasIssue(Issue.Kind.NO_FOOTER));
        for (var a : cut.episodes()) assertEquals(Outcome.INCONCLUSIVE, a.outcome());
    }

    @Test
    void emptyAndGarbageInput() {
        Tr.Result empty = Tr.analyze(new byte[0]);
        assertTrue(empty.report().hasIssue(Issue.Kind.EMPTY_INPUT));
        assertTrue(empty.episodes().isEmpty());
        Tr.Result junk = Tr.analyze("\u0000\u0001binary\nnot json at all\n[1,2]\n".getBytes(StandardCharsets.ISO_8859_1));
        assertEquals(3, issue(junk.report(), Issue.Kind.CORRUPT_LINE).count());
        assertEquals(List.of(1L, 2L, 3L), issue(junk.report(), Issue.Kind.CORRUPT_LINE).lines());
    }

    @Test
    void concatenatedTracesAreSegments() {
        byte[] a = Scenarios.accessDuringReset().bytes(), b = Scenarios.fatalQuiet().bytes();
        byte[] both = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, both, a.length, b.length);
        Tr.Result r = Tr.analyze(both);
        assertEquals(2, r.report().segments());
        assertEquals(2, r.episodes().size());
        assertEquals(Outcome.RACE, r.episodes().get(0).outcome());
        assertEquals(Outcome.CLEAN, r.episodes().get(1).outcome());
    }

    /** Shared line lookup. */
    static final class VerdictLines {
        static long line(Tr t, String fragment) {
            t.text();
            for (int i = 0; i < t.lines.size(); i++) if (t.lines.get(i).contains(fragment)) return i + 1;
            throw new AssertionError(fragment);
        }
    }
}
