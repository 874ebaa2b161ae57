package dev.aertrace.ingest;

import dev.aertrace.Scenarios;
import dev.aertrace.Tr;
import dev.aertrace.race.Outcome;
import dev.aertrace.race.Verdict;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static dev.aertrace.Tr.EP;
import static dev.aertrace.Tr.USER;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The rules the fuzzer's long runs of sessions 6-7 asked for (seeds 304-2844, 304-4138, 306-286, 503-3339 under
 * fuzz-seeds/evidence), each from both sides: the damage is a gap, the real thing it resembles is not.
 */
class DamagedLineRulesTest {

    private static Tr.Result analyze(List<String> lines) {
        return Tr.analyze((String.join("\n", lines) + "\n").getBytes(StandardCharsets.UTF_8));
    }

    private static List<String> lines(Tr t) {
        t.text();
        return new ArrayList<>(t.lines);
    }

    private static int find(List<String> lines, String type) {
        for (int i = 0; i < lines.size(); i++) if (lines.get(i).contains("\"type\":\"" + type + "\"")) return i;
        throw new AssertionError("no " + type + " in " + lines);
    }

    private static Verdict verdict(Tr.Result r, Verdict.Kind k) {
        return r.only().verdicts().stream().filter(v -> v.kind() == k).findFirst()
                .orElseThrow(() -> new AssertionError("no " + k + " in " + r.only().verdicts()));
    }

    /** The footer's events count one more line (a newer agent counts its own types). */
    private static void countOneMore(List<String> lines) {
        int last = lines.size() - 1;
        Matcher n = Pattern.compile("\"events\":(\\d+)").matcher(lines.get(last));
        assertTrue(n.find(), lines.get(last));
        lines.set(last, n.replaceFirst("\"events\":" + (Long.parseLong(n.group(1)) + 1)));
    }

    @Test
    void aThreadSeenWithAnotherPidWithinASecondIsADamagedLine() {
        List<String> lines = lines(Scenarios.accessDuringReset());
        int exit = find(lines, "vfio.rw.exit"); // 4 µs after its enter, same tid
        lines.set(exit, lines.get(exit).replace("\"pid\":" + USER, "\"pid\":1"));
        Tr.Result r = analyze(lines);
        Issue i = BadInputTest.issue(r.report(), Issue.Kind.IMPLAUSIBLE);
        assertEquals(List.of((long) exit + 1), i.lines(), i.toString());
        assertTrue(i.detail().contains("tid " + USER + " with pid 1"), i.detail());
        Verdict v = verdict(r, Verdict.Kind.ACCESS_DURING_RESET);
        assertTrue(v.tentative(), v.sentence());
        assertFalse(v.sentence().contains("pid 1)"), v.sentence());
    }

    /**
     * A read during the reset, and a second read of the same tid 1.5 s later (beyond the 1 s window) whose enter and
     * exit have {@code from} rewritten to {@code to}: the thread's later life, not damage.
     */
    private static void secondReadLaterRewrittenIsNotDamage(String from, String to) {
        Tr t = Tr.lab().fatalRecovery(0).cfgRead(1_000, 1_004, USER, EP, 4, 2, 0x0406);
        List<String> lines = lines(t.cfgRead(1_501_000, 1_501_004, USER, EP, 4, 2, 0x0406).footer(3_000_000));
        int second = lines.size() - 3;
        for (int i = second; i <= second + 1; i++) lines.set(i, lines.get(i).replace(from, to));
        assertTrue(lines.get(second).contains(to) && lines.get(second).contains("\"ts\":2501000000"), lines.get(second));
        Tr.Result r = analyze(lines);
        assertFalse(r.report().hasIssue(Issue.Kind.IMPLAUSIBLE), r.report().issues().toString());
        assertFalse(verdict(r, Verdict.Kind.ACCESS_DURING_RESET).tentative());
    }

    @Test
    void aTidReusedMoreThanASecondLaterIsAnotherThread() {
        // the second read's process: pid 299, the same tid
        secondReadLaterRewrittenIsNotDamage("\"pid\":" + USER, "\"pid\":299");
    }

    /** Long run seeds 503-3339 and 504-4320: one bit flipped in a user call's comm was named in a confident verdict. */
    @Test
    void aThreadSeenWithAnotherNameWithinASecondIsADamagedLine() {
        List<String> lines = lines(Scenarios.accessDuringReset());
        int enter = find(lines, "vfio.rw.enter");
        lines.set(enter, lines.get(enter).replace("\"comm\":\"vfio-user\"", "\"comm\":\"vFio-user\""));
        Tr.Result r = analyze(lines);
        Issue i = BadInputTest.issue(r.report(), Issue.Kind.IMPLAUSIBLE);
        assertEquals(List.of((long) find(lines, "vfio.rw.exit") + 1), i.lines(), i.toString());
        Verdict v = verdict(r, Verdict.Kind.ACCESS_DURING_RESET);
        assertTrue(v.tentative(), v.sentence());
        // which of the two names is the damaged one is unknown: the tentative sentence names the gap with both
        assertTrue(v.sentence().contains("with comm \"vFio-user\"") && v.sentence().contains("comm \"vfio-user\""), v.sentence());
    }

    @Test
    void aThreadRenamedMoreThanASecondLaterIsNotDamage() {
        // the second read's thread after an exec: same tid and pid, another name
        secondReadLaterRewrittenIsNotDamage("\"comm\":\"vfio-user\"", "\"comm\":\"setpci\"");
    }

    /** Long run seed 601 mutant 16604: a bit flip in a user read's dev moved it to a device the header does not list. */
    @Test
    void aDeviceTheHeaderDoesNotListIsAGapAndItsEpisodeNotClean() {
        List<String> lines = lines(Scenarios.accessDuringReset());
        assertTrue(lines.get(0).contains("\"topology\":[{"), "the scenario's header lists its devices: " + lines.get(0));
        int enter = find(lines, "vfio.rw.enter");
        lines.set(enter, lines.get(enter).replace("\"dev\":\"" + EP + "\"", "\"dev\":\"0000:01:00.1\""));
        assertTrue(lines.get(enter).contains("0000:01:00.1"), lines.get(enter));
        Tr.Result r = analyze(lines);
        Issue i = BadInputTest.issue(r.report(), Issue.Kind.UNLISTED_DEVICE);
        assertEquals(List.of((long) enter + 1), i.lines(), i.toString());
        assertTrue(Issue.Kind.UNLISTED_DEVICE.gap());
        for (var ep : r.episodes())
            for (Verdict v : ep.verdicts())
                assertTrue(v.tentative() || v.kind().category == Verdict.Category.INCONCLUSIVE
                        || v.evidence().stream().noneMatch(e -> e.line() == enter + 1), v.sentence());
        assertTrue(verdict(r, Verdict.Kind.ACCESS_DURING_RESET).tentative());
    }

    @Test
    void aRecoveryExitWithoutRetIsDamagedOnlyWhereTheKernelReturnsOne() {
        for (String kernel : new String[] {"6.1.0-test", "5.4.0-test"}) {
            List<String> lines = lines(Scenarios.accessDuringReset());
            lines.set(0, lines.get(0).replace("\"kernel\":\"6.1.0-test\"", "\"kernel\":\"" + kernel + "\""));
            int exit = find(lines, "recovery.exit");
            lines.set(exit, lines.get(exit).replaceFirst(",\"ret\":-?[0-9]+", ""));
            assertFalse(lines.get(exit).contains("\"ret\""), lines.get(exit));
            Tr.Result r = analyze(lines);
            if (kernel.startsWith("6.")) {
                Issue i = BadInputTest.issue(r.report(), Issue.Kind.INVALID_EVENT);
                assertEquals(List.of((long) exit + 1), i.lines(), i.toString());
                assertTrue(i.detail().contains("missing \"ret\""), i.detail());
            } else {
                assertFalse(r.report().hasIssue(Issue.Kind.INVALID_EVENT), r.report().issues().toString()); // < 5.7: void
            }
        }
        assertTrue(EventBuilder.recoveryReturns("5.7.0"));
        assertTrue(EventBuilder.recoveryReturns("10.0-rc1"));
        assertFalse(EventBuilder.recoveryReturns("5.6.19-amd64"));
        assertFalse(EventBuilder.recoveryReturns("4.19.0-27-amd64"));
        assertFalse(EventBuilder.recoveryReturns("unknown"));
        assertFalse(EventBuilder.recoveryReturns(null));
    }

    /**
     * EVENTS.md: an unknown type inside an episode's span may be a known event whose type was damaged (the footer
     * adds up either way), so the verdicts whose span holds it are tentative and name it; the same line outside
     * every episode and call changes nothing (a newer agent's clean trace still exits 0).
     */
    @Test
    void anUnknownTypeInsideAnEpisodeIsAGapOutsideItIsIgnored() {
        for (boolean inside : new boolean[] {true, false}) {
            List<String> lines = lines(Scenarios.accessDuringReset());
            // inside: during the user's read (1,000..1,004 µs), which the host reset spans; outside: 1 s before the error
            long ts = inside ? 1_001_002_000L : 1_000_000L;
            lines.add(inside ? find(lines, "vfio.rw.exit") : 1,
                    "{\"type\":\"future.probe\",\"ts\":" + ts + ",\"cpu\":0,\"pid\":1,\"tid\":1,\"comm\":\"x\"}");
            countOneMore(lines);
            Tr.Result r = analyze(lines);
            assertFalse(r.report().hasIssue(Issue.Kind.FOOTER_MISMATCH), "the footer adds up");
            Verdict v = verdict(r, Verdict.Kind.ACCESS_DURING_RESET);
            if (inside) {
                assertTrue(v.tentative(), v.sentence());
                assertTrue(v.gaps().stream().anyMatch(g -> g.kind() == TraceGap.Kind.UNKNOWN_TYPE
                        && g.detail().contains("unknown type \"future.probe\" at line")), v.gaps().toString());
                // it names itself, and breaks no pair: the user's read keeps its exit
                assertFalse(r.report().hasIssue(Issue.Kind.UNMATCHED_EXIT), r.report().issues().toString());
            } else {
                assertFalse(v.tentative(), v.sentence());
                assertEquals(Outcome.RACE, r.only().outcome());
            }
        }
    }

    @Test
    void anUnknownTypeWithoutATimestampCannotBePlacedAndIsADamagedLine() {
        List<String> lines = lines(Scenarios.accessDuringReset());
        lines.add(find(lines, "vfio.rw.exit"), "{\"type\":\"future.probe\",\"cpu\":0,\"pid\":1,\"tid\":1,\"comm\":\"x\"}");
        countOneMore(lines);
        Tr.Result r = analyze(lines);
        assertTrue(verdict(r, Verdict.Kind.ACCESS_DURING_RESET).tentative());
    }
}
