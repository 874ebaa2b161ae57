package dev.aertrace.report;

import dev.aertrace.Tr;
import dev.aertrace.ingest.Issue;
import dev.aertrace.race.AnalyzedEpisode;
import dev.aertrace.timeline.Access;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * An enter and its exit that a gap keeps apart are both in the trace: the report says they were not paired, not
 * that one is missing. An exit whose enter really is absent still says so. (Session 8: a footer off by one refused
 * every pair of the 6.1 fatal race, and each access read "(enter not in trace)" with its enter on the line before.)
 */
class UnpairedWordingTest {
    static final long COMMAND = 0x0103;

    @Test
    void aPairAcrossALossIsUnpairedNotMissing() {
        Tr t = Tr.lab().fatalRecovery(0)
                .cfgRead(1_000, 1_010, Tr.USER, Tr.EP, 4, 2, COMMAND) // a loss between its enter and exit
                .lost(1_005, 1, 3)
                .raw("{\"type\":\"vfio.rw.exit\",\"ts\":" + 1_500_000 + ",\"cpu\":1,\"pid\":" + Tr.USER + ",\"tid\":" + (Tr.USER + 1)
                        + ",\"comm\":\"vfio-user\",\"dev\":\"" + Tr.EP + "\",\"region\":\"config\",\"offset\":4,\"size\":2,"
                        + "\"write\":false,\"ret\":2,\"value\":259}") // another thread's exit: its enter is nowhere
                .footer(3_000_000);
        Tr.Result r = t.analyze();
        AnalyzedEpisode a = r.only();
        List<Access> read = a.episode().accesses().stream().filter(x -> x.tid() == Tr.USER).toList();
        assertEquals(2, read.size(), read.toString());
        assertTrue(read.stream().allMatch(Access::unpaired), read.toString());
        Access orphan = a.episode().accesses().stream().filter(x -> x.tid() == Tr.USER + 1).findFirst().orElseThrow();
        assertFalse(orphan.unpaired());

        String text = String.join("\n", TextReport.render(a, 400));
        assertTrue(text.contains("cfg read COMMAND/2 (exit unpaired: gap)"), text);
        assertTrue(text.contains("cfg read COMMAND/2 = 0x0103 (enter unpaired: gap)"), text);
        assertTrue(text.contains("GAP vfio.rw.enter unpaired: a gap before its exit"), text);
        assertTrue(text.contains("GAP vfio.rw.exit unpaired: a gap after its enter"), text);
        assertEquals(1, text.split("\\(enter not in trace\\)", -1).length - 1, "only the orphan exit's enter is missing:\n" + text);

        // the orphan's exit is the other unmatched one; only the kept-apart enter lacks its exit
        String detail = r.report().issues().stream().filter(i -> i.kind() == Issue.Kind.MISSING_EXIT).findFirst().orElseThrow().detail();
        assertTrue(detail.matches("vfio\\.rw\\.enter on tid " + Tr.USER + " not paired with its exit at line \\d+: a gap between them.*"), detail);
    }
}
