package dev.aertrace.race;

import dev.aertrace.Scenarios;
import dev.aertrace.Tr;
import dev.aertrace.ingest.Event;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.*;

/** One hand-written trace per verdict; each test checks the verdict, its evidence lines and its sentence. */
class VerdictTest {

    static List<Verdict> of(AnalyzedEpisode a, Verdict.Kind k) {
        return a.verdicts().stream().filter(v -> v.kind() == k).toList();
    }

    static Verdict one(AnalyzedEpisode a, Verdict.Kind k) {
        List<Verdict> v = of(a, k);
        assertEquals(1, v.size(), "expected one " + k.id + " in " + a.verdicts());
        return v.get(0);
    }

    static Set<String> types(Verdict v) {
        return v.evidence().stream().map(Event::type).collect(Collectors.toSet());
    }

    /** Line number (1-based) of the first trace line containing all fragments. */
    static long line(Tr t, String... fragments) {
        outer:
        for (int i = 0; i < t.lines.size(); i++) {
            for (String f : fragments) if (!t.lines.get(i).contains(f)) continue outer;
            return i + 1;
        }
        throw new AssertionError("no line with " + List.of(fragments));
    }

    static Set<Long> lines(Verdict v) {
        return v.evidence().stream().map(Event::line).collect(Collectors.toSet());
    }

    @Test
    void configReadDuringResetIsARaceNamingTheRead() {
        Tr t = Scenarios.accessDuringReset();
        AnalyzedEpisode a = t.analyze().only();
        assertEquals(Outcome.RACE, a.outcome());
        Verdict v = one(a, Verdict.Kind.ACCESS_DURING_RESET);
        assertEquals(Tr.EP, v.dev());
        assertTrue(lines(v).containsAll(Set.of(line(t, "reset.enter", "aer_root_reset"), line(t, "vfio.rw.enter"),
                line(t, "vfio.rw.exit"))), v.evidence().toString());
        assertTrue(v.sentence().contains("(cfg read COMMAND/2)"), v.sentence());
        assertTrue(v.sentence().contains("aer_root_reset") && v.sentence().contains(Tr.RP), v.sentence());
        assertFalse(v.tentative());
        // returned before the reset ended: not a stall
        assertTrue(of(a, Verdict.Kind.ACCESS_STALLED_BY_RESET).isEmpty());
        // acted on after the eventfd, before the reset ended: the early notification is named as the cause
        Verdict n = one(a, Verdict.Kind.NOTIFIED_BEFORE_RESET);
        assertTrue(types(n).contains("eventfd.signal"));
    }

    @Test
    void readHeldUntilTheResetEndsReportsStallAndValue() {
        Tr t = Scenarios.stalled();
        AnalyzedEpisode a = t.analyze().only();
        Verdict v = one(a, Verdict.Kind.ACCESS_STALLED_BY_RESET);
        assertTrue(v.sentence().contains("held 107.050 ms"), v.sentence());
        assertTrue(v.sentence().contains("returned 0x10411af4"), v.sentence());
        assertTrue(v.sentence().contains("pci_cfg_access_lock"), v.sentence());
        assertTrue(types(v).containsAll(Set.of("vfio.rw.enter", "vfio.rw.exit", "reset.enter", "reset.exit", "cfg_lock")));
        assertEquals(1, of(a, Verdict.Kind.ACCESS_DURING_RESET).size());
    }

    @Test
    void commandClearedUnderTheUser() {
        Tr t = Scenarios.stateChanged();
        AnalyzedEpisode a = t.analyze().only();
        t.text();
        Verdict v = one(a, Verdict.Kind.STATE_CHANGED_UNDER_USER);
        assertTrue(v.sentence().contains("0x0406") && v.sentence().contains("0x0000"), v.sentence());
        assertTrue(v.sentence().contains("Mem") && v.sentence().contains("BusMaster"), v.sentence());
        assertEquals(Set.of(line(t, "vfio.rw.enter", ":500000000,"), line(t, "vfio.rw.exit", ":500010000,"), line(t, "reset.enter", "aer_root"),
                line(t, "reset.exit", "aer_root"), line(t, "vfio.rw.enter", ":1200000000,"), line(t, "vfio.rw.exit", ":1200008000,")), lines(v));
    }

    @Test
    void commandClearedByTheUserItselfIsNotAVerdict() {
        AnalyzedEpisode a = Scenarios.stateChangedByUser().analyze().only();
        assertTrue(of(a, Verdict.Kind.STATE_CHANGED_UNDER_USER).isEmpty(), a.verdicts().toString());
    }

    @Test
    void allOnesRead() {
        Tr t = Scenarios.allOnes();
        AnalyzedEpisode a = t.analyze().only();
        Verdict v = one(a, Verdict.Kind.ALL_ONES_READ);
        assertTrue(v.sentence().contains("0xffffffff") && v.sentence().contains("during the recovery"), v.sentence());
        assertEquals(Set.of(line(t, "vfio.rw.enter", "1060000000"), line(t, "vfio.rw.exit", "4294967295")), lines(v));
    }

    @Test
    void userResetDuringHostRecoveryIsADoubleReset() {
        Tr t = Scenarios.doubleReset();
        AnalyzedEpisode a = t.analyze().only();
        Verdict v = one(a, Verdict.Kind.DOUBLE_RESET);
        assertTrue(v.sentence().contains("VFIO_DEVICE_RESET"), v.sentence());
        assertTrue(lines(v).containsAll(Set.of(line(t, "vfio.ioctl.enter"), line(t, "vfio.ioctl.exit"),
                line(t, "recovery.enter"), line(t, "recovery.exit"))));
    }

    @Test
    void accessBetweenErrorDetectedAndResume() {
        Tr t = Scenarios.inRecoveryWindow();
        AnalyzedEpisode a = t.analyze().only();
        Verdict v = one(a, Verdict.Kind.ACCESS_IN_RECOVERY_WINDOW);
        assertTrue(v.sentence().contains("bar0 read") && v.sentence().contains("frozen"), v.sentence());
        assertTrue(lines(v).containsAll(Set.of(line(t, "cb.enter", "error_detected"), line(t, "cb.exit", "resume"),
                line(t, "vfio.rw.enter", "bar0"))));
        assertTrue(of(a, Verdict.Kind.ACCESS_DURING_RESET).isEmpty(), "the read was before the reset");
    }

    @Test
    void accessDuringANonFatalRecoveryIsNotAVerdict() {
        AnalyzedEpisode a = Scenarios.nonfatalWindowAccess().analyze().only();
        assertEquals(1, a.episode().accesses().size());
        assertTrue(of(a, Verdict.Kind.ACCESS_IN_RECOVERY_WINDOW).isEmpty(), a.verdicts().toString());
        assertEquals(Outcome.CLEAN, a.outcome());
    }

    @Test
    void aerStatusReadAfterTheKernelClearedIt() {
        Tr t = Scenarios.aerStatusCleared();
        AnalyzedEpisode a = t.analyze().only();
        Verdict v = one(a, Verdict.Kind.AER_STATUS_CLEARED_BEFORE_READ);
        assertTrue(v.sentence().contains("0x104") && v.sentence().contains("SDES"), v.sentence());
        assertEquals(Set.of(line(t, "aer.event"), line(t, "vfio.rw.enter", "260"), line(t, "vfio.rw.exit", "260")), lines(v));
        assertTrue(of(Scenarios.aerStatusStillSet().analyze().only(), Verdict.Kind.AER_STATUS_CLEARED_BEFORE_READ).isEmpty());
    }

    @Test
    void aerStatusIsFoundAtTheOffsetTheHeaderGives() {
        // 0x148 + 4 is the Uncorrectable Error Status of a capability at 0x148 (aer_cap 328)
        Tr t = Scenarios.aerStatusClearedAtOwnOffset(0x14c);
        Verdict v = one(t.analyze().only(), Verdict.Kind.AER_STATUS_CLEARED_BEFORE_READ);
        assertTrue(v.sentence().contains("0x14c"), v.sentence());
        // there, 0x104 is some other capability's register: reading 0 from it says nothing about AER
        assertTrue(of(Scenarios.aerStatusClearedAtOwnOffset(0x104).analyze().only(),
                Verdict.Kind.AER_STATUS_CLEARED_BEFORE_READ).isEmpty());
    }

    @Test
    void recoveryThatDoesNotRecover() {
        Tr t = Scenarios.recoveryFailed();
        AnalyzedEpisode a = t.analyze().only();
        assertEquals(Outcome.RECOVERY_FAILED, a.outcome());
        Verdict v = one(a, Verdict.Kind.RECOVERY_FAILED);
        assertTrue(v.sentence().contains("DISCONNECT"), v.sentence());
        assertTrue(lines(v).containsAll(Set.of(line(t, "recovery.exit"), line(t, "cb.exit", "error_detected"))));
        Verdict n = one(a, Verdict.Kind.DEVICE_NOT_RESET);
        assertEquals(Tr.EP, n.dev());
        assertTrue(n.sentence().contains("no host reset ran"), n.sentence());
    }

    @Test
    void failedResetIsAFailedRecoveryWhateverTheKernelReturns() {
        Tr t = Scenarios.recoveryFailedButReturnsRecovered();
        AnalyzedEpisode a = t.analyze().only();
        assertEquals(5, a.episode().result());
        assertEquals(Outcome.RECOVERY_FAILED, a.outcome());
        Verdict v = one(a, Verdict.Kind.RECOVERY_FAILED);
        assertTrue(v.sentence().contains("returned RECOVERED") && v.sentence().contains("aer_root_reset on 0000:00:02.0 returned DISCONNECT")
                && v.sentence().contains("pci_bus_error_reset on 0000:00:02.0 returned -25"), v.sentence());
        assertTrue(lines(v).containsAll(Set.of(line(t, "recovery.exit"), line(t, "reset.exit", "aer_root_reset"))), lines(v).toString());
        // a recovery whose reset succeeded and that returned RECOVERED stays clean
        assertTrue(of(Scenarios.accessDuringReset().analyze().only(), Verdict.Kind.RECOVERY_FAILED).isEmpty());
    }

    @Test
    void deviceOutsideTheResetBridge() {
        Tr t = Scenarios.deviceNotReset();
        AnalyzedEpisode a = t.analyze().only();
        Verdict v = one(a, Verdict.Kind.DEVICE_NOT_RESET);
        assertEquals("0000:04:00.0", v.dev());
        assertTrue(v.sentence().contains("0000:02:00.0") && v.sentence().contains("0000:04:00.0"), v.sentence());
        assertTrue(lines(v).contains(line(t, "reset.enter")));
        assertEquals(Outcome.RECOVERY_FAILED, a.outcome());
    }

    @Test
    void lostEventsInTheWindowMakeItInconclusive() {
        Tr t = Scenarios.lostInWindow();
        AnalyzedEpisode a = t.analyze().only();
        assertEquals(Outcome.INCONCLUSIVE, a.outcome());
        Verdict v = a.verdicts().get(0);
        assertEquals(Verdict.Kind.INCONCLUSIVE, v.kind());
        assertTrue(v.sentence().contains("12 events lost"), v.sentence());
        // The lost line is named as a gap with bounds (its own ts is when the agent wrote it, not where it lost).
        assertTrue(v.gaps().stream().anyMatch(g -> g.kind() == dev.aertrace.ingest.TraceGap.Kind.LOSS
                && g.line() == line(t, "\"lost\"")), v.gaps().toString());
        Verdict race = one(a, Verdict.Kind.ACCESS_DURING_RESET);
        assertTrue(race.tentative(), "seen, but not confident");
    }

    @Test
    void quietFatalRecoveryIsClean() {
        AnalyzedEpisode a = Scenarios.fatalQuiet().analyze().only();
        assertEquals(Outcome.CLEAN, a.outcome(), a.verdicts().toString());
        assertTrue(a.verdicts().isEmpty());
    }
}
