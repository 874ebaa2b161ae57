package dev.aertrace.qemu;

import dev.aertrace.timeline.QemuLane;
import dev.aertrace.Tr;
import dev.aertrace.ingest.Issue;
import dev.aertrace.ingest.TraceGap;
import dev.aertrace.race.AnalyzedEpisode;
import dev.aertrace.pipeline.Analyzer;
import dev.aertrace.race.Outcome;
import dev.aertrace.race.Verdict;
import dev.aertrace.report.TextReport;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.GZIPInputStream;

import static dev.aertrace.Tr.EP;
import static dev.aertrace.Tr.RP;
import static dev.aertrace.Tr.USER;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The QEMU lane over the real lab trace (Debian's QEMU 7.2 inside the 6.1 lab guest owning the vfio device, a
 * nested guest polling its config space; QEMU stopped the VM on the error notification) and over hand-written
 * traces for what that recording does not show (a guest access during the host reset, gaps, a resumed VM).
 */
class QemuLaneTest {
    static final Path REAL = Path.of("..", "testdata", "lab", "6.1", "qemu-fatal.jsonl.gz");
    static final int VCPU = USER + 1;

    static List<String> realLines() throws IOException {
        try (InputStream in = new GZIPInputStream(Files.newInputStream(REAL))) {
            return new ArrayList<>(List.of(new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")));
        }
    }

    static Tr.Result analyze(List<String> lines) {
        return Tr.analyze((String.join("\n", lines) + "\n").getBytes(StandardCharsets.UTF_8));
    }

    static List<Verdict> of(AnalyzedEpisode a, Verdict.Kind k) {
        return a.verdicts().stream().filter(v -> v.kind() == k).toList();
    }

    @Test
    void realTraceVmStoppedAlthoughTheHostRecovered() throws IOException {
        List<AnalyzedEpisode> eps = Analyzer.analyzeAll(REAL);
        assertEquals(1, eps.size());
        AnalyzedEpisode a = eps.get(0);
        assertEquals(1, a.qemu().size());
        QemuLane l = a.qemu().get(0);
        assertEquals(1681, l.pid());
        assertEquals(List.of(EP), l.devices());
        assertEquals("vfio.open", l.joinedBy().type());
        assertEquals(2, l.joinedBy().line());
        // The nested guest's last polls before the error: each read passed to the device (QEMU's own vfio read inside).
        assertEquals(2, l.accesses().size());
        for (QemuLane.GuestAccess x : l.accesses()) {
            assertEquals(QemuLane.Served.PASSED, x.served());
            assertEquals(EP, x.dev());
            assertEquals(1702, x.tid());
            assertTrue(x.end() < a.episode().start());
        }
        assertEquals(0x00100103L, l.accesses().get(0).value()); // COMMAND/STATUS as the guest got it
        List<Verdict> stop = of(a, Verdict.Kind.VM_STOPPED);
        assertEquals(1, stop.size());
        Verdict v = stop.get(0);
        assertFalse(v.tentative(), v.sentence());
        // (re-recorded with the eventfd.read probe: QEMU's read of the error eventfd is in the sentence and the evidence)
        assertTrue(v.sentence().contains("stopped the VM at +29.040 ms with vm_stop(internal-error), 27.827 ms after vfio"
                + " signalled the error on 0000:01:00.0 (eventfd at +1.214 ms; QEMU read the error notification at +2.335 ms),"
                + " while the host's aer_root_reset on 0000:00:02.0 was still running; the host recovered the device at"
                + " +155.384 ms (RECOVERED)"), v.sentence());
        assertTrue(v.sentence().contains("still stopped at the end of the episode"), v.sentence());
        List<Long> lines = v.evidence().stream().map(e -> e.line()).toList();
        assertTrue(lines.containsAll(List.of(2482L, 2486L, 2488L, 2495L, 2496L, 2506L)), lines.toString());
        assertEquals(Outcome.RECOVERY_FAILED, a.outcome());
        assertTrue(of(a, Verdict.Kind.GUEST_ACCESS_DURING_RESET).isEmpty()); // the guest did not touch it during the reset
        // Every QEMU enter/exit of the recording pairs: no gap came from the lane.
        List<Issue> issues = new ArrayList<>();
        new Analyzer().analyze("real", () -> Files.newInputStream(REAL), x -> {}).issues().forEach(issues::add);
        assertTrue(issues.stream().noneMatch(i -> i.kind() == Issue.Kind.MISSING_EXIT || i.kind() == Issue.Kind.UNMATCHED_EXIT
                || i.kind() == Issue.Kind.INVALID_EVENT), issues.toString());
    }

    @Test
    void realTraceQemuEventsAreTypedNotUnknown() throws IOException {
        var r = new Analyzer().analyze("real", () -> Files.newInputStream(REAL), x -> {});
        assertTrue(r.unknownTypes().isEmpty(), r.unknownTypes().toString());
        assertTrue(r.unknownFields().isEmpty(), r.unknownFields().toString());
        assertEquals(988L, r.eventsByType().get("qemu.config.enter"));
        assertEquals(1L, r.eventsByType().get("qemu.vm_stop"));
        assertEquals(3L, r.eventsByType().get("qemu.system_reset"));
    }

    @Test
    void realTraceWithALossBetweenNotificationAndStopIsTentative() throws IOException {
        List<String> lines = realLines();
        // A loss the agent bounded between the eventfd signal (+1.214 ms) and vm_stop (+29.040 ms).
        int at = lines.indexOf(lines.stream().filter(s -> s.startsWith("{\"type\":\"qemu.vm_stop\"")).findFirst().orElseThrow());
        lines.add(at, "{\"type\":\"lost\",\"ts\":388650000000,\"cpu\":1,\"count\":3,\"since\":388630000000,\"until\":388650000000}");
        String foot = lines.get(lines.size() - 1);
        lines.set(lines.size() - 1, foot.replace("\"events\":3890,\"lost\":0", "\"events\":3891,\"lost\":3"));
        AnalyzedEpisode a = analyze(lines).only();
        Verdict v = of(a, Verdict.Kind.VM_STOPPED).get(0);
        assertTrue(v.tentative());
        assertFalse(v.sentence().contains("+29.040"), v.sentence()); // no time a gap could have changed
        assertFalse(v.sentence().contains("27.827"), v.sentence());
        assertTrue(v.sentence().contains("the host recovered the device (RECOVERED)"), v.sentence());
        assertTrue(v.gaps().stream().anyMatch(g -> g.kind() == TraceGap.Kind.LOSS));
        assertEquals(Outcome.INCONCLUSIVE, a.outcome());
    }

    @Test
    void reportTextShowsTheLane() throws IOException {
        AnalyzedEpisode a = Analyzer.analyzeAll(REAL).get(0);
        List<String> out = TextReport.render(a, 200);
        String all = String.join("\n", out);
        for (String l : out) assertTrue(l.length() <= TextReport.WIDTH, l);
        assertTrue(all.contains("qemu: pid 1681 (qemu-system-x86) holds 0000:01:00.0"), all);
        assertTrue(all.contains("qemu vm       vm_stop(internal-error) pid 1681"), all);
        assertTrue(all.contains("qemu 01:00.0  cfg read COMMAND/4 = 0x00100103 → device tid 1702"), all);
    }

    // ------------------------------------------------------------------------------ hand-written

    /** QEMU's side in a hand-written trace: pid USER (its vfio events name EP), vCPU thread VCPU. */
    static Tr qemuOwned() {
        return Tr.lab().ev("vfio.open", 10, USER, EP, "");
    }

    static Tr guestRead(Tr t, double us, double endUs, int off, int size, long value, boolean passed) {
        return guestRead(t, VCPU, us, endUs, off, size, value, passed);
    }

    /** A guest config read QEMU serves on {@code tid}: passed to the device (its vfio read inside) or emulated. */
    static Tr guestRead(Tr t, int tid, double us, double endUs, int off, int size, long value, boolean passed) {
        String f = "\"offset\":" + off + ",\"size\":" + size + ",\"write\":false";
        t.ev("qemu.config.enter", us, tid, null, f);
        if (passed) t.cfgRead(us + 5, endUs - 5, tid, EP, off, size, value);
        return t.ev("qemu.config.exit", endUs, tid, null, f + ",\"value\":" + value);
    }

    static Tr vmStop(Tr t, double us) {
        t.ev("qemu.vm_stop", us, USER, null, "\"state\":2,\"state_name\":\"internal-error\"");
        return t.ev("qemu.runstate", us + 1, USER, null, "\"state\":2,\"state_name\":\"internal-error\"");
    }

    @Test
    void guestAccessPassedToTheDeviceDuringTheHostReset() {
        Tr t = qemuOwned();
        t.fatalRecovery(1_000);                      // aer_root_reset 1200 … 111100 µs, config space locked 1210 … 111000
        guestRead(t, 3_000, 111_050, 4, 2, 0x0000, true); // held by the lock, returned 0 to the guest
        guestRead(t, VCPU + 1, 3_500, 3_600, 0x40, 4, 0x1234, false); // another vCPU: served from QEMU's emulated copy
        vmStop(t, 5_000);
        AnalyzedEpisode a = t.footer(3_000_000).analyze().only();
        List<Verdict> g = of(a, Verdict.Kind.GUEST_ACCESS_DURING_RESET);
        assertEquals(1, g.size(), a.verdicts().toString());
        Verdict v = g.get(0);
        assertFalse(v.tentative());
        assertTrue(v.sentence().contains("1 guest access to 0000:01:00.0 through QEMU (pid 300, vfio-user) on thread 301"
                + " went to the device (QEMU's own vfio access) while the host's aer_root_reset was resetting the link below"
                + " 0000:00:02.0 (+0.200 ms … +110.100 ms)"), v.sentence());
        assertTrue(v.sentence().contains("the guest's cfg read COMMAND/2 at +2.000 ms, QEMU's vfio access at"
                + " +2.005 ms returning at +110.045 ms, QEMU returned 0x0000 to the guest"), v.sentence());
        assertTrue(v.sentence().contains("1 more guest access in the reset was emulated by QEMU and did not reach it"), v.sentence());
        assertEquals(Outcome.RACE, a.outcome());
        QemuLane l = a.qemu().get(0);
        assertEquals(List.of(QemuLane.Served.PASSED, QemuLane.Served.EMULATED), l.accesses().stream().map(QemuLane.GuestAccess::served).toList());
        assertEquals(EP, l.accesses().get(1).dev()); // the only device the process holds
        Verdict stop = of(a, Verdict.Kind.VM_STOPPED).get(0);
        assertFalse(stop.tentative());
        assertTrue(stop.sentence().contains("stopped the VM at +4.000 ms with vm_stop(internal-error), 3.930 ms after vfio"
                + " signalled the error on 0000:01:00.0 (eventfd at +0.070 ms)"), stop.sentence());
        assertTrue(stop.sentence().contains("the host recovered the device at +110.700 ms (RECOVERED)"), stop.sentence());
    }

    @Test
    void noVmStopWithoutInternalError() {
        Tr t = qemuOwned();
        t.fatalRecovery(1_000);
        t.ev("qemu.vm_stop", 5_000, USER, null, "\"state\":4,\"state_name\":\"paused\"");
        AnalyzedEpisode a = t.footer(3_000_000).analyze().only();
        assertTrue(of(a, Verdict.Kind.VM_STOPPED).isEmpty());
        assertEquals(Outcome.CLEAN, a.outcome());
        assertEquals(1, a.qemu().get(0).states().size());
    }

    @Test
    void aLossInsideAGuestAccessMakesItUnknownAndTentative() {
        Tr t = qemuOwned();
        t.fatalRecovery(1_000);
        String f = "\"offset\":4,\"size\":2,\"write\":false";
        t.ev("qemu.config.enter", 3_000, VCPU, null, f);
        t.raw("{\"type\":\"lost\",\"ts\":1004100000,\"cpu\":1,\"count\":2,\"since\":1004000000,\"until\":1004100000}");
        t.ev("qemu.config.exit", 120_000, VCPU, null, f + ",\"value\":0");
        vmStop(t, 125_000);
        Tr.Result r = t.raw("{\"type\":\"footer\",\"ts\":1003000000,\"events\":0,\"lost\":2}").analyze();
        AnalyzedEpisode a = r.only();
        QemuLane.GuestAccess x = a.qemu().get(0).accesses().get(0);
        assertEquals(QemuLane.Served.UNKNOWN, x.served()); // never paired across the loss
        assertNull(x.end());
        List<Verdict> g = of(a, Verdict.Kind.GUEST_ACCESS_DURING_RESET);
        assertEquals(1, g.size());
        assertTrue(g.get(0).tentative());
        assertTrue(g.get(0).sentence().contains("whether QEMU passed it to the device is not known"), g.get(0).sentence());
        assertTrue(of(a, Verdict.Kind.VM_STOPPED).get(0).tentative());
        assertEquals(Outcome.INCONCLUSIVE, a.outcome());
        assertTrue(r.report().issues().stream().anyMatch(i -> i.kind() == Issue.Kind.UNMATCHED_EXIT));
    }

    @Test
    void anUnmatchedQemuExitIsAGapWithItsLine() {
        Tr t = qemuOwned();
        t.fatalRecovery(1_000);
        t.ev("qemu.config.exit", 20_000, VCPU, null, "\"offset\":4,\"size\":2,\"write\":false,\"value\":0");
        vmStop(t, 30_000);
        Tr.Result r = t.footer(3_000_000).analyze();
        AnalyzedEpisode a = r.only();
        Issue i = r.report().issues().stream().filter(x -> x.kind() == Issue.Kind.UNMATCHED_EXIT).findFirst().orElseThrow();
        assertTrue(i.detail().contains("qemu.config.exit"), i.detail());
        Verdict stop = of(a, Verdict.Kind.VM_STOPPED).get(0);
        assertTrue(stop.tentative(), stop.sentence());
        assertTrue(stop.gaps().stream().anyMatch(g -> g.kind() == TraceGap.Kind.UNMATCHED_EXIT));
    }

    @Test
    void resumedWithoutAResetIsSaid() {
        Tr t = qemuOwned();
        t.fatalRecovery(1_000);
        vmStop(t, 5_000);
        t.ev("qemu.runstate", 900_000, USER, null, "\"state\":9,\"state_name\":\"running\"");
        AnalyzedEpisode a = t.footer(3_000_000).analyze().only();
        Verdict v = of(a, Verdict.Kind.VM_STOPPED).get(0);
        assertTrue(v.sentence().contains("QEMU ran the VM again at +899.000 ms without a system reset"), v.sentence());
    }

    @Test
    void resetThenResumedIsSaid() {
        Tr t = qemuOwned();
        t.fatalRecovery(1_000);
        vmStop(t, 5_000);
        t.ev("qemu.system_reset", 800_000, USER, null, "\"reason\":3,\"reason_name\":\"host-qmp-system-reset\"");
        t.ev("qemu.runstate", 900_000, USER, null, "\"state\":9,\"state_name\":\"running\"");
        AnalyzedEpisode a = t.footer(3_000_000).analyze().only();
        Verdict v = of(a, Verdict.Kind.VM_STOPPED).get(0);
        assertTrue(v.sentence().contains("QEMU reset the VM (host-qmp-system-reset) at +799.000 ms and ran it again at +899.000 ms"),
                v.sentence());
        assertEquals(1, a.qemu().get(0).resets().size());
    }

    @Test
    void aQemuThatHoldsNoAffectedDeviceIsNotJoined() {
        Tr t = Tr.lab();
        t.fatalRecovery(1_000);
        vmStop(t, 5_000); // pid 300 never named a device in a vfio event
        AnalyzedEpisode a = t.footer(3_000_000).analyze().only();
        assertTrue(a.qemu().isEmpty());
        assertTrue(of(a, Verdict.Kind.VM_STOPPED).isEmpty());
    }

    @Test
    void badQemuLinesAreInvalidEventsWithTheirLine() {
        Tr t = qemuOwned();
        t.fatalRecovery(1_000);
        t.ev("qemu.config.enter", 3_000, VCPU, null, "\"size\":2,\"write\":false"); // no offset
        t.ev("qemu.system_reset", 4_000, USER, null, "\"reason\":\"guest\"");       // reason is a number
        Tr.Result r = t.footer(3_000_000).analyze();
        List<Issue> bad = r.report().issues().stream().filter(i -> i.kind() == Issue.Kind.INVALID_EVENT).toList();
        assertEquals(1, bad.size());
        assertEquals(2, bad.get(0).count());
        assertTrue(bad.get(0).detail().startsWith("qemu.config.enter"), bad.get(0).detail());
    }

    @Test
    void jsonHasTheLaneOnlyWhenThereIsOne() throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        dev.aertrace.report.JsonReport j = new dev.aertrace.report.JsonReport(b);
        j.episode(Analyzer.analyzeAll(REAL).get(0));
        j.episode(Tr.lab().fatalRecovery(1_000).footer(3_000_000).analyze().only());
        j.finish(new dev.aertrace.report.Totals());
        String s = b.toString(StandardCharsets.UTF_8);
        var tree = new com.fasterxml.jackson.databind.ObjectMapper().readTree(s);
        var lane = tree.get("episodes").get(0).get("qemu").get(0);
        assertNotNull(lane);
        assertEquals(1681, lane.get("pid").asInt());
        assertEquals("passed", lane.get("accesses").get(0).get("served").asText());
        assertEquals("internal-error", lane.get("run_states").get(1).get("state_name").asText());
        assertNull(tree.get("episodes").get(1).get("qemu"));
    }

    static byte[] bytes(String s) { return s.getBytes(StandardCharsets.UTF_8); }

    @SuppressWarnings("unused")
    private static InputStream in(byte[] b) { return new ByteArrayInputStream(b); }
}
