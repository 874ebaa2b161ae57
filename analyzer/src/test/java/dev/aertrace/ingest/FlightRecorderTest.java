package dev.aertrace.ingest;

import dev.aertrace.Tr;
import dev.aertrace.race.AnalyzedEpisode;
import dev.aertrace.race.Verdict;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Schema v2: the agent's flight recorder keeps the user's accesses in the kernel and writes them out only when an
 * error begins, marked "history":true, just before the event that began it. They reach back further than the
 * reorder window (here 3.5 s behind the last line already read), and they are the baseline of
 * state-changed-under-user.
 */
public class FlightRecorderTest {
    private static final String CFG = "\"region\":\"config\",\"offset\":4,\"size\":2,\"write\":false";

    private static String rw(String type, long ts, String extra, boolean history) {
        return "{\"type\":\"" + type + "\",\"ts\":" + ts + ",\"cpu\":1,\"pid\":300,\"tid\":300,\"comm\":\"vfio-user\","
                + "\"dev\":\"" + Tr.EP + "\"," + CFG + extra + (history ? ",\"history\":true" : "") + "}";
    }

    /** ioctls streamed at 2.0 and 3.5 s, then the dump: COMMAND read 0x0406 at 1.5 s and 5.9 s, then the fatal error at 6 s. */
    public static String trace(boolean markHistory) {
        Tr t = Tr.lab();
        t.ev("vfio.ioctl.enter", 1_000_000, Tr.USER, Tr.EP, "\"cmd\":15211,\"cmd_name\":\"VFIO_DEVICE_GET_INFO\"");
        t.ev("vfio.ioctl.exit", 1_000_010, Tr.USER, Tr.EP, "\"cmd\":15211,\"cmd_name\":\"VFIO_DEVICE_GET_INFO\",\"ret\":0");
        t.ev("vfio.ioctl.enter", 2_500_000, Tr.USER, Tr.EP, "\"cmd\":15211,\"cmd_name\":\"VFIO_DEVICE_GET_INFO\"");
        t.ev("vfio.ioctl.exit", 2_500_010, Tr.USER, Tr.EP, "\"cmd\":15211,\"cmd_name\":\"VFIO_DEVICE_GET_INFO\",\"ret\":0");
        t.raw("{\"type\":\"history\",\"ts\":6000000000,\"cpu\":0,\"pid\":9,\"tid\":9,\"comm\":\"aertrace-agent\","
                + "\"dev\":\"" + Tr.EP + "\",\"records\":2,\"dropped\":5,\"since\":1500000000}");
        t.raw(rw("vfio.rw.enter", 1_500_000_000L, "", markHistory));
        t.raw(rw("vfio.rw.exit", 1_500_010_000L, ",\"ret\":2,\"value\":1030", markHistory));
        t.raw(rw("vfio.rw.enter", 5_900_000_000L, "", markHistory));
        t.raw(rw("vfio.rw.exit", 5_900_010_000L, ",\"ret\":2,\"value\":1030", markHistory));
        t.fatalRecovery(5_000_000);
        t.cfgRead(5_200_000, 5_200_008, Tr.USER, Tr.EP, 4, 2, 0x0000);
        List<String> lines = new ArrayList<>(List.of(t.text().split("\n")));
        lines.set(0, lines.get(0).replace("\"schema_version\":1", "\"schema_version\":2"));
        lines.add("{\"type\":\"footer\",\"ts\":9000000000,\"events\":" + (lines.size() - 1) + ",\"lost\":0,\"reason\":\"SIGINT\"}");
        return String.join("\n", lines) + "\n";
    }

    @Test
    void historyOlderThanTheWindowIsTheBaselineNotAHole() {
        Tr.Result r = Tr.analyze(trace(true).getBytes());
        assertEquals(2, r.report().header().schemaVersion());
        for (Issue i : r.report().issues()) assertFalse(i.kind().gap(), i.toString());
        assertEquals(1L, r.report().eventsByType().get("history"));
        assertTrue(r.report().unknownTypes().isEmpty(), r.report().unknownTypes().toString());
        AnalyzedEpisode a = r.only();
        List<Verdict> changed = a.verdicts().stream().filter(v -> v.kind() == Verdict.Kind.STATE_CHANGED_UNDER_USER).toList();
        assertEquals(1, changed.size(), a.verdicts().toString());
        assertTrue(changed.get(0).sentence().contains("0x0406") && changed.get(0).sentence().contains("0x0000"));
        assertFalse(changed.get(0).tentative());
        assertTrue(a.verdicts().stream().noneMatch(v -> v.kind() == Verdict.Kind.INCONCLUSIVE), a.verdicts().toString());
    }

    @Test
    void theSameLinesUnmarkedAreOutOfOrder() {
        // without the mark the old access is a line that came too late: a hole, as before schema v2
        Tr.Result r = Tr.analyze(trace(false).getBytes());
        assertTrue(r.report().issues().stream().anyMatch(i -> i.kind() == Issue.Kind.OUT_OF_ORDER), r.report().issues().toString());
    }

    @Test
    void schemaFourIsStillUnknown() {
        Tr.Result r = Tr.analyze(trace(true).replace("\"schema_version\":2", "\"schema_version\":4").getBytes());
        assertTrue(r.report().issues().stream().anyMatch(i -> i.kind() == Issue.Kind.SCHEMA_VERSION));
    }
}
