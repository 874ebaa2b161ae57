package dev.aertrace.race;

import dev.aertrace.pipeline.Analyzer;

import dev.aertrace.ingest.Event;
import dev.aertrace.ingest.Issue;
import dev.aertrace.ingest.SourceReport;
import dev.aertrace.timeline.Episode;
import dev.aertrace.timeline.HostReset;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The lab's topology, removal, reset-retry and real-QEMU traces (issue 9/12; {@code lab/record --topologies},
 * testdata/lab/README.md): they read without input problems, and the analyzer names the reset bridge and the
 * affected devices each topology really has. Facts of the trace itself (a refused reset inside the recovery,
 * the successful one after it, the removal, QEMU stopping the VM) are checked on the events, so the traces stay
 * what their names say; the verdicts over them are the analyzer's tests' business. A trace the lab has not
 * committed fails here, never skips.
 */
class LabTopologyTraceTest {
    static final Path LAB = Path.of(System.getProperty("aertrace.labdir", "../testdata/lab"));
    /** scenario -> kernels it is committed for (lab/record --topologies records them). */
    static List<String> kernels(String scenario) {
        return switch (scenario) {
            case "removal-slotoff" -> KERNELS_REMOVAL;
            case "fatal-reset-retry" -> KERNELS_RETRY;
            case "switch-fatal" -> KERNELS_SWITCH;
            case "twofn-fatal" -> KERNELS_TWOFN;
            case "removal-device-del" -> KERNELS_DEVICE_DEL;
            case "two-drivers" -> KERNELS_TWO_DRIVERS;
            case "error-during-recovery" -> KERNELS_DURING;
            default -> List.of("6.1");
        };
    }
    static final List<String> KERNELS_TWOFN = List.of("6.1", "7.2");
    static final List<String> KERNELS_DEVICE_DEL = List.of("6.1", "7.2");
    static final List<String> KERNELS_TWO_DRIVERS = List.of("6.1", "7.2");
    static final List<String> KERNELS_DURING = List.of("6.1", "7.2");
    /** kmsg/6.1: the 2026-12-02 recording with its kernel log (KernelLogLabTest), agent 0.3.0. */
    static final List<String> KERNELS_REMOVAL = List.of("6.1", "7.2", "kmsg/6.1");
    static final List<String> KERNELS_RETRY = List.of("6.1", "7.2");
    static final List<String> KERNELS_SWITCH = List.of("6.1", "7.2");

    record Run(SourceReport report, List<AnalyzedEpisode> episodes, List<Event> events) {}

    static Run run(String kernel, String scenario) throws Exception {
        Path p = LAB.resolve(kernel).resolve(scenario + ".jsonl.gz");
        assertTrue(Files.exists(p), "lab trace " + p + " is missing: lab/record --topologies re-records it");
        List<AnalyzedEpisode> eps = new ArrayList<>();
        SourceReport r;
        try (InputStream in = Files.newInputStream(p)) {
            r = new Analyzer().analyze(p.toString(), in, eps::add);
        }
        for (Issue i : r.issues())
            assertTrue(i.kind().informational(), "lab trace " + p + " has input issue " + i);
        assertNotNull(r.header(), "header");
        assertNotNull(r.footer(), "footer");
        List<Event> all = new ArrayList<>();
        for (AnalyzedEpisode a : eps) all.addAll(a.episode().events());
        return new Run(r, eps, all);
    }

    static Episode recovery(Run run) {
        return run.episodes().stream().map(AnalyzedEpisode::episode).filter(Episode::hasRecovery).findFirst()
                .orElseThrow(() -> new AssertionError("no recovery episode in " + run.episodes()));
    }

    static Set<String> errorDetectedDevices(Episode ep) {
        Set<String> out = new TreeSet<>();
        ep.callbacks().stream().filter(c -> c.cb() == Event.Callback.ERROR_DETECTED).forEach(c -> out.add(c.dev()));
        return out;
    }

    @TestFactory
    Stream<DynamicTest> switchResetsTheDownstreamPort() {
        return kernels("switch-fatal").stream().map(k -> DynamicTest.dynamicTest(k, () -> {
            Episode ep = recovery(run(k, "switch-fatal"));
            assertEquals("0000:03:00.0", ep.device());
            assertEquals("0000:02:00.0", ep.bridge(), "the host resets the switch's downstream port, not the root port");
            assertTrue(ep.affected().contains("0000:03:00.0"), ep.affected().toString());
            assertFalse(ep.affected().contains("0000:00:02.0"), ep.affected().toString());
            assertFalse(ep.recoveryResets().isEmpty());
            assertEquals("0000:02:00.0", ep.recoveryResets().get(0).bridge());
            AnalyzedEpisode a = analyzedRecovery(run(k, "switch-fatal"));
            assertEquals(Outcome.RACE, a.outcome());
            raceVerdictsOnTheUsersDevice(a, "0000:03:00.0", "0000:02:00.0");
        }));
    }

    /** Every bridge of the lab's topologies: a verdict naming the host reset must name the right one and no other. */
    static final List<String> BRIDGES = List.of("0000:00:02.0", "0000:01:00.0", "0000:02:00.0", "0000:02:01.0");

    /**
     * The verdicts of a fatal recovery in which the lab's user kept reading: confident, all about the device the
     * user holds, at least the reset race and the early notification, and every sentence that names the host's
     * reset names {@code bridge} as the one reset and no other bridge of the topology.
     */
    static void raceVerdictsOnTheUsersDevice(AnalyzedEpisode a, String dev, String bridge) {
        assertFalse(a.verdicts().isEmpty());
        for (Verdict v : a.verdicts()) {
            assertEquals(dev, v.dev(), v.sentence());
            assertFalse(v.tentative(), "nothing was lost: " + v.sentence());
            if (!v.sentence().contains("aer_root_reset")) continue;
            Set<String> named = new TreeSet<>();
            for (String b : BRIDGES) if (v.sentence().contains(b)) named.add(b);
            named.remove(dev);
            assertEquals(Set.of(bridge), named, v.kind().id + ": " + v.sentence());
            assertTrue(v.sentence().contains("aer_root_reset on " + bridge) || v.sentence().contains("the link below " + bridge),
                    v.sentence());
        }
        assertTrue(verdictKinds(a, dev).containsAll(Set.of("access-during-reset", "notified-before-reset")),
                verdictKinds(a, dev).toString());
    }

    static Set<String> verdictKinds(AnalyzedEpisode a, String dev) {
        Set<String> out = new TreeSet<>();
        a.verdicts().stream().filter(v -> dev.equals(v.dev())).forEach(v -> out.add(v.kind().id));
        return out;
    }

    static AnalyzedEpisode analyzedRecovery(Run run) {
        return run.episodes().stream().filter(a -> a.episode().hasRecovery()).findFirst()
                .orElseThrow(() -> new AssertionError("no recovery episode in " + run.episodes()));
    }

    /**
     * Two functions of one slot, both on vfio-pci, one user; the error on function 0. The root port's bus reset
     * takes both: both get error_detected and an eventfd signal, and the verdicts name each function the user was
     * reading when the reset ran, not only the one that reported the error.
     */
    @TestFactory
    Stream<DynamicTest> twoFunctionsAreBothInTheRecovery() {
        return kernels("twofn-fatal").stream().map(k -> DynamicTest.dynamicTest(k, () -> {
            AnalyzedEpisode a = analyzedRecovery(run(k, "twofn-fatal"));
            Episode ep = a.episode();
            assertEquals("0000:01:00.0", ep.device());
            assertEquals("0000:00:02.0", ep.bridge());
            assertEquals(List.of("0000:00:02.0", "0000:01:00.0", "0000:01:00.1"), ep.affected());
            assertEquals(Set.of("0000:01:00.0", "0000:01:00.1"), errorDetectedDevices(ep));
            assertTrue(ep.callbacks().stream().filter(c -> c.cb() == Event.Callback.ERROR_DETECTED)
                    .allMatch(c -> "vfio-pci".equals(c.driver())), ep.callbacks().toString());
            Set<String> notified = new TreeSet<>();
            ep.notifications().forEach(n -> notified.add(n.dev()));
            assertEquals(Set.of("0000:01:00.0", "0000:01:00.1"), notified, "one eventfd signal per function");
            assertEquals(5, ep.result());
            assertEquals(Outcome.RACE, a.outcome());
            // the user's held reads on both functions were inside the host's bus reset
            for (String fn : List.of("0000:01:00.0", "0000:01:00.1")) {
                Set<String> kinds = verdictKinds(a, fn);
                assertTrue(kinds.containsAll(Set.of("access-during-reset", "access-stalled-by-reset", "notified-before-reset")),
                        fn + ": " + kinds);
            }
            for (Verdict v : a.verdicts()) {
                assertFalse(v.tentative(), v.sentence());
                if (v.sentence().contains("aer_root_reset"))
                    assertTrue(v.sentence().contains("aer_root_reset on 0000:00:02.0") || v.sentence().contains("below 0000:00:02.0"),
                            v.sentence());
            }
        }));
    }

    static List<AnalyzedEpisode> recoveries(Run run) {
        return run.episodes().stream().filter(a -> a.episode().hasRecovery()).toList();
    }

    static Set<String> driversOf(Episode ep, String dev) {
        Set<String> out = new TreeSet<>();
        ep.callbacks().stream().filter(c -> dev.equals(c.dev())).forEach(c -> out.add(c.driver()));
        return out;
    }

    /**
     * A switch with the vfio endpoint 03:00.0 under one downstream port and an e1000e 04:00.0 on its host driver under
     * the other. The error on the endpoint resets only its port's bus: the e1000e is not affected and no handler of
     * it runs. The error on the switch's upstream port resets the root port's bus: both devices are affected, each
     * driver's error_detected runs (vfio-pci's signals the user), and e1000e's NEED_RESET makes the kernel walk
     * slot_reset.
     */
    @TestFactory
    Stream<DynamicTest> twoDriversUnderOnePort() {
        return kernels("two-drivers").stream().map(k -> DynamicTest.dynamicTest(k, () -> {
            Run r = run(k, "two-drivers");
            List<AnalyzedEpisode> rec = recoveries(r);
            assertEquals(2, rec.size(), "two errors, two recoveries: " + rec);
            Episode first = rec.get(0).episode(), second = rec.get(1).episode();

            assertEquals("0000:03:00.0", first.device());
            assertEquals("0000:02:00.0", first.bridge());
            assertTrue(first.affected().contains("0000:03:00.0"), first.affected().toString());
            assertFalse(first.affected().contains("0000:04:00.0"), "the e1000e is under the other port: " + first.affected());
            assertEquals(Set.of("0000:03:00.0"), errorDetectedDevices(first));
            assertEquals(5, first.result());

            assertEquals("0000:01:00.0", second.device(), "the error is the upstream port's");
            assertEquals("0000:00:02.0", second.bridge(), "an upstream port's error resets the root port's bus");
            assertTrue(second.affected().containsAll(List.of("0000:00:02.0", "0000:01:00.0", "0000:02:00.0", "0000:02:01.0",
                    "0000:03:00.0", "0000:04:00.0")), second.affected().toString());
            assertTrue(errorDetectedDevices(second).containsAll(Set.of("0000:03:00.0", "0000:04:00.0")),
                    errorDetectedDevices(second).toString());
            assertEquals(Set.of("vfio-pci"), driversOf(second, "0000:03:00.0"));
            assertEquals(Set.of("e1000e"), driversOf(second, "0000:04:00.0"));
            assertTrue(second.callbacks().stream().anyMatch(c -> c.cb() == Event.Callback.SLOT_RESET && "0000:04:00.0".equals(c.dev())),
                    "e1000e answered NEED_RESET: slot_reset is walked: " + second.callbacks());
            assertEquals("0000:00:02.0", second.recoveryResets().get(0).bridge());
            assertEquals(5, second.result());
            // the user holds only 03:00.0: every verdict is about it (or the ports), never about the e1000e
            for (AnalyzedEpisode a : rec)
                assertTrue(a.verdicts().stream().noneMatch(v -> "0000:04:00.0".equals(v.dev())), a.verdicts().toString());
            // both resets caught the user's reads on 03:00.0; each verdict names the bridge its recovery reset
            raceVerdictsOnTheUsersDevice(rec.get(0), "0000:03:00.0", "0000:02:00.0");
            raceVerdictsOnTheUsersDevice(rec.get(1), "0000:03:00.0", "0000:00:02.0");
            for (AnalyzedEpisode a : rec) assertEquals(Outcome.RACE, a.outcome());
        }));
    }

    /**
     * A DLP on the endpoint behind the switch, and 0.5 s later — while the first recovery's aer_root_reset waits
     * ~1.1 s for the downstream port's link — a DLP on that downstream port. aer_root_reset turns the root port's
     * error-message interrupts off for the reset and clears the Root Error Status after it: the second error is
     * never reported. The trace has one error and one recovery (what the analyzer must say, no more); the kernel
     * log of the same boot holds what the lab read from the ports afterwards: 02:00.0's Uncorrectable Error Status
     * still has the DLP bit, and the root port's Error Source register names 02:00.0 (0x0200), the second message's
     * sender — it reached the root port, and nothing handled it.
     */
    @TestFactory
    Stream<DynamicTest> anErrorDuringTheResetIsLostByTheKernel() {
        return kernels("error-during-recovery").stream().map(k -> DynamicTest.dynamicTest(k, () -> {
            Run r = run(k, "error-during-recovery");
            assertEquals(1L, r.report().eventsByType().get("aer.event"), "only the first error is reported");
            List<AnalyzedEpisode> rec = recoveries(r);
            assertEquals(1, rec.size(), rec.toString());
            Episode ep = rec.get(0).episode();
            assertEquals("0000:03:00.0", ep.device());
            assertEquals("0000:02:00.0", ep.bridge());
            assertEquals(List.of("0000:02:00.0", "0000:03:00.0"), ep.affected());
            assertEquals(5, ep.result());
            HostReset reset = ep.recoveryResets().get(0);
            assertEquals("0000:02:00.0", reset.bridge());
            assertTrue(reset.end() - reset.start() > 600_000_000L, "the reset window outlasts the 0.5 s before the second "
                    + "injection: " + (reset.end() - reset.start()) + " ns");
            assertTrue(r.episodes().stream().noneMatch(a -> "0000:02:00.0".equals(a.episode().device())),
                    "no episode for an error the kernel never reported");
            raceVerdictsOnTheUsersDevice(rec.get(0), "0000:03:00.0", "0000:02:00.0");
            assertEquals(Outcome.RACE, rec.get(0).outcome());

            String lab;
            try (java.io.BufferedReader in = new java.io.BufferedReader(new java.io.InputStreamReader(new java.util.zip.GZIPInputStream(
                    Files.newInputStream(LAB.resolve(k).resolve("error-during-recovery.dmesg.gz")))))) {
                lab = in.lines().filter(l -> l.contains("aertrace-lab: error-during-recovery:")).findFirst()
                        .orElseThrow(() -> new AssertionError("the lab's line is not in the kernel log"));
            }
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("(\\d+) recoveries; 0000:02:00.0 AER UESta=0x(\\p{XDigit}+); "
                    + "0000:00:02.0 Root Error Status=0x(\\p{XDigit}+) Error Source=0x(\\p{XDigit}+)").matcher(lab);
            assertTrue(m.find(), lab);
            assertEquals("1", m.group(1), lab);
            assertEquals(0x10L, Long.parseLong(m.group(2), 16) & 0x10L, "02:00.0 still holds the DLP: " + lab);
            assertEquals(0L, Long.parseLong(m.group(3), 16), "the Root Error Status was cleared: " + lab);
            assertEquals(0x0200L, Long.parseLong(m.group(4), 16) >>> 16, "the root port's last uncorrectable source is 02:00.0: " + lab);
        }));
    }

    @TestFactory
    Stream<DynamicTest> refusedResetThenARealOneAfterTheRecovery() {
        return kernels("fatal-reset-retry").stream().map(k -> DynamicTest.dynamicTest(k, () -> {
            Episode ep = recovery(run(k, "fatal-reset-retry"));
            assertEquals("0000:00:02.0", ep.bridge());
            List<Event.UserResetExit> exits = ep.events().stream()
                    .filter(e -> e instanceof Event.UserResetExit x && "pci_try_reset_function".equals(x.fn()))
                    .map(e -> (Event.UserResetExit) e).toList();
            assertTrue(exits.stream().anyMatch(x -> Long.valueOf(-11).equals(x.ret()) && x.ts() < ep.recoveryEnd()),
                    "a VFIO_DEVICE_RESET refused with EAGAIN inside the recovery: " + exits);
            assertTrue(exits.stream().anyMatch(x -> Long.valueOf(0).equals(x.ret()) && x.ts() > ep.recoveryEnd()),
                    "the retried reset succeeded after pcie_do_recovery returned: " + exits);
        }));
    }

    @TestFactory
    Stream<DynamicTest> surpriseRemovalIsADeviceLossWithItsAllOnesRun() {
        return kernels("removal-slotoff").stream().map(k -> DynamicTest.dynamicTest(k, () -> {
            Run r = run(k, "removal-slotoff");
            // the device-loss events are read and counted (the footer adds up) and make an episode of their own
            for (String t : List.of("hotplug.event", "hotplug.unconfigure.enter", "pci.remove.enter", "vfio.request",
                    "vfio.remove.enter", "vfio.remove.exit"))
                assertTrue(r.report().eventsByType().containsKey(t), t + " in " + r.report().eventsByType());
            assertTrue(r.episodes().stream().noneMatch(a -> a.episode().hasRecovery()), "no AER recovery in a removal");
            // the all-ones reads came before pciehp's slot event on the port: one loss, named by the lost device
            assertEquals(1, r.episodes().size(), "one device-loss episode: " + r.episodes().stream().map(a -> a.episode().device()).toList());
            assertEquals("0000:01:00.0", r.episodes().get(0).episode().device(), "the lost device, not the port above it");
            AnalyzedEpisode loss = r.episodes().get(0);
            Episode ep = loss.episode();
            assertEquals("0000:00:02.0", ep.bridge(), "the slot's port");
            assertEquals(List.of("0000:00:02.0", "0000:01:00.0"), ep.affected());
            assertEquals(Outcome.RACE, loss.outcome(), "the user read a device that was gone");
            assertTrue(loss.verdicts().stream().noneMatch(Verdict::tentative), "nothing lost: " + loss.verdicts());

            // all-ones-read counts and bounds the run: the trace's own all-ones config reads, counted here from the JSON
            long[] ones = allOnesReads(k, "removal-slotoff", "0000:01:00.0");
            assertTrue(ones[0] > 50, "tens of all-ones reads: " + ones[0]);
            List<Verdict> allOnes = loss.verdicts().stream().filter(v -> v.kind() == Verdict.Kind.ALL_ONES_READ).toList();
            assertEquals(1, allOnes.size(), allOnes.toString());
            Verdict v = allOnes.get(0);
            assertEquals("0000:01:00.0", v.dev());
            assertTrue(v.sentence().startsWith(ones[0] + " config reads of 0000:01:00.0 returned all ones"), v.sentence());
            assertTrue(v.sentence().contains("first at " + dev.aertrace.text.Durations.rel(ep.start(), ones[1])
                    + ", last at " + dev.aertrace.text.Durations.rel(ep.start(), ones[2]) + ", no AER recovery ran"), v.sentence());

            // the removal as the kernel did it: pciehp on the port, the device's removal, vfio's request to the user
            Set<String> removed = new TreeSet<>();
            for (Verdict d : loss.verdicts()) if (d.kind() == Verdict.Kind.DEVICE_REMOVED) removed.add(d.dev() + " " + d.sentence());
            assertTrue(removed.stream().anyMatch(d -> d.startsWith("0000:00:02.0 ") && d.contains("pciehp handled a slot event")), removed.toString());
            assertTrue(removed.stream().anyMatch(d -> d.startsWith("0000:01:00.0 ") && d.contains("pci_stop_and_remove_bus_device")), removed.toString());
            assertTrue(removed.stream().anyMatch(d -> d.startsWith("0000:01:00.0 ") && d.contains("asked the user to release the device")),
                    removed.toString());
            // the report's timeline shows the loss itself, not only the user's reads: the removal and the request
            String report = String.join("\n", dev.aertrace.report.TextReport.render(loss, 100_000));
            assertTrue(report.contains("host 00:02.0  pciehp slot event (presence_or_link_change)\n"), report);
            assertTrue(report.contains("host 01:00.0  removal: pci_stop_and_remove_bus_device\n"), report);
            assertTrue(report.contains("host 01:00.0  vfio request: the user is asked to release it\n"), report);
            // vfio-pci's release of the gone device tried a bus reset the kernel refused (the stall on close is gone)
            assertTrue(loss.verdicts().stream().anyMatch(x -> x.kind() == Verdict.Kind.USER_RESET_REFUSED
                    && x.sentence().startsWith("vfio-pci's release of 0000:01:00.0")), loss.verdicts().toString());
        }));
    }

    /**
     * A device loss has no error to count time from: the analyze report's headers, the mail timeline's title and the
     * chart's axis say its offsets count from the loss's first event (they said "since the error" and "Unknown AER").
     */
    @TestFactory
    Stream<DynamicTest> aDeviceLossIsNotCalledAnError() {
        return Stream.of("6.1/removal-slotoff", "7.2/removal-slotoff", "6.1/removal-device-del", "7.2/removal-device-del")
                .map(ks -> DynamicTest.dynamicTest(ks, () -> {
            String[] kv = ks.split("/");
            AnalyzedEpisode a = run(kv[0], kv[1]).episodes().get(0);
            String report = String.join("\n", dev.aertrace.report.TextReport.render(a, 20));
            assertTrue(report.contains("   phases (ms since the first event of the device loss):"), report);
            assertTrue(report.contains("   timeline (ms since the first event of the device loss; ! = evidence):"), report);
            assertFalse(report.contains("since the error"), report);
            String mail = dev.aertrace.chart.TextTimeline.render(a, 20).get(0);
            assertEquals("Device loss on 0000:01:00.0 - host aertrace-lab, kernel " + a.episode().kernel(), mail);
        }));
    }

    /** {count, first exit ts, last exit ts} of the user's config reads of {@code dev} that returned all ones, from the raw JSON. */
    static long[] allOnesReads(String kernel, String scenario, String dev) throws Exception {
        com.fasterxml.jackson.databind.ObjectMapper m = new com.fasterxml.jackson.databind.ObjectMapper();
        long n = 0, first = Long.MAX_VALUE, last = Long.MIN_VALUE;
        try (java.io.BufferedReader in = new java.io.BufferedReader(new java.io.InputStreamReader(new java.util.zip.GZIPInputStream(
                Files.newInputStream(LAB.resolve(kernel).resolve(scenario + ".jsonl.gz")))))) {
            for (String line; (line = in.readLine()) != null; ) {
                var e = m.readTree(line);
                if (!e.path("type").asText().equals("vfio.rw.exit") || !e.path("region").asText().equals("config")
                        || e.path("write").asBoolean() || !dev.equals(e.path("dev").asText()) || !e.has("value")) continue;
                long all = (1L << (8 * e.path("size").asInt())) - 1;
                if (e.path("value").asLong() != all) continue;
                n++;
                first = Math.min(first, e.path("ts").asLong());
                last = Math.max(last, e.path("ts").asLong());
            }
        }
        return new long[] {n, first, last};
    }

    /**
     * QMP device_del: the attention button, pciehp's 5 s grace, the disable request, an orderly removal (the card is
     * still present when pciehp unconfigures it), vfio's device request, the user's close. Every hotplug.event is read
     * (disable_request's integer reason once made its line unreadable, and the gap it left made every user read
     * around it unpaired and the removal tentative). Nothing reads all ones: the user let go before the card went.
     */
    @TestFactory
    Stream<DynamicTest> orderlyRemovalIsAConfidentDeviceLoss() {
        return kernels("removal-device-del").stream().map(k -> DynamicTest.dynamicTest(k, () -> {
            Run r = run(k, "removal-device-del");
            assertEquals(3L, r.report().eventsByType().get("hotplug.event"), "button press, disable request, presence change");
            List<String> handlers = r.events().stream().filter(e -> e instanceof Event.DeviceGone g && g.type().equals("hotplug.event"))
                    .map(e -> ((Event.DeviceGone) e).what()).toList();
            assertTrue(handlers.stream().anyMatch(w -> w.contains("(button_press)")), handlers.toString());
            assertTrue(handlers.stream().anyMatch(w -> w.contains("(disable_request)")), handlers.toString());
            AnalyzedEpisode removal = r.episodes().stream()
                    .filter(a -> a.verdicts().stream().anyMatch(v -> v.kind() == Verdict.Kind.DEVICE_REMOVED
                            && "0000:01:00.0".equals(v.dev()) && v.sentence().contains("pci_stop_and_remove_bus_device")))
                    .findFirst().orElseThrow(() -> new AssertionError("no episode with the removal of 0000:01:00.0"));
            assertEquals("0000:00:02.0", removal.episode().bridge());
            assertTrue(removal.episode().affected().contains("0000:01:00.0"));
            assertFalse(removal.episode().hasRecovery(), "no AER recovery in a removal");
            assertTrue(removal.verdicts().stream().noneMatch(Verdict::tentative), removal.verdicts().toString());
            assertTrue(removal.verdicts().stream().anyMatch(v -> v.kind() == Verdict.Kind.DEVICE_REMOVED
                    && v.sentence().contains("release the device")), "vfio's device request: " + removal.verdicts());
            // button press, 5 s of pciehp's grace, the disable request, the removal, the user's release and the
            // slot's presence change are one removal (they were three episodes: the grace and the wait for the
            // user's close each outlasted the settle window)
            assertEquals(1, r.episodes().size(), "one device-loss episode: " + r.episodes().stream().map(a -> a.episode().device()).toList());
            assertEquals("0000:01:00.0", removal.episode().device(), "the removed device, not the port whose button was pressed");
            assertTrue(removal.episode().events().stream().filter(e -> e.type().equals("hotplug.event")).count() == 3,
                    "button press, disable request and presence change in the one episode");
            // the refused pci_reset_bus is vfio-pci's own, on the user's close: not a reset the user asked for
            Verdict refused = removal.verdicts().stream().filter(v -> v.kind() == Verdict.Kind.USER_RESET_REFUSED).findFirst()
                    .orElseThrow(() -> new AssertionError("the release's refused bus reset: " + removal.verdicts()));
            assertTrue(refused.sentence().startsWith("vfio-pci's release of 0000:01:00.0") && refused.sentence().contains("closed it at")
                    && refused.sentence().contains("the user did not ask for it") && !refused.sentence().contains("asked for pci_reset_bus"),
                    refused.sentence());
            for (AnalyzedEpisode a : r.episodes()) {
                assertTrue(a.verdicts().stream().noneMatch(v -> v.kind() == Verdict.Kind.ALL_ONES_READ), a.verdicts().toString());
                assertEquals(Outcome.CLEAN, a.outcome(), "an orderly removal with a complete trace: " + a.verdicts());
            }
        }));
    }

    /** The user's own hot reset refused inside the recovery is still a reset the user asked for (inside its ioctl). */
    @TestFactory
    Stream<DynamicTest> aRefusedHotResetInsideTheUsersIoctlIsTheUsersRequest() {
        return Stream.of("5.10", "6.1", "6.12", "7.2").map(k -> DynamicTest.dynamicTest(k, () -> {
            Run r = run(k, "fatal-double-reset-hot");
            List<Verdict> refused = r.episodes().stream().flatMap(a -> a.verdicts().stream())
                    .filter(v -> v.kind() == Verdict.Kind.USER_RESET_REFUSED).toList();
            assertFalse(refused.isEmpty(), "a refused VFIO_DEVICE_PCI_HOT_RESET");
            for (Verdict v : refused)
                assertTrue(v.sentence().contains(" asked for VFIO_DEVICE_PCI_HOT_RESET") && !v.sentence().contains("release"), v.sentence());
        }));
    }

    @TestFactory
    Stream<DynamicTest> realQemuTraceHasTheHostRecoveryAndQemuStoppingTheVm() {
        return Stream.of("6.1", "7.2").map(k -> DynamicTest.dynamicTest(k, () -> realQemu(k)));
    }

    static void realQemu(String k) throws Exception {
        Run r = run(k, "qemu-fatal");
        Episode ep = recovery(r);
        assertEquals("0000:00:02.0", ep.bridge());
        assertTrue(ep.affected().contains("0000:01:00.0"), ep.affected().toString());
        assertEquals(5, ep.result(), "the host recovered");
        // forky's QEMU names its vCPU threads ("CPU 0/TCG"); bookworm's 7.2 leaves them "qemu-system-x86"
        assertTrue(ep.accesses().stream().anyMatch(a -> "qemu-system-x86".equals(a.comm()) || a.comm().matches("CPU \\d+/TCG")),
                "QEMU is the user whose accesses the episode holds");
        // qemu.* events (uprobes) are read and counted, not placed in timelines yet (no QEMU lane)
        assertEquals(1L, r.report().eventsByType().get("qemu.vm_stop"));
        assertTrue(r.report().eventsByType().get("qemu.config.exit") > 100);

        // The kernel side of QEMU's reaction (probe eventfd.read): QEMU read the eventfd vfio signalled, after the
        // signal and before it stopped the VM; the QEMU lane, the vm-stopped verdict, the text and the lanes
        // (chart, mail timeline, Perfetto export) show it.
        AnalyzedEpisode a = r.episodes().stream().filter(x -> x.episode().hasRecovery()).findFirst().orElseThrow();
        assertEquals(1, a.qemu().size(), "one QEMU lane");
        dev.aertrace.timeline.QemuLane lane = a.qemu().get(0);
        dev.aertrace.timeline.Notification n = ep.notifications().get(0);
        Event.EventfdRead read = lane.notificationRead(ep.start());
        assertNotNull(read, "QEMU's read of the error eventfd in its lane: " + lane.notificationReads());
        assertEquals(lane.pid(), read.common().pid(), "read by the QEMU process");
        assertEquals(n.ctx(), read.ctx(), "the eventfd vfio signalled");
        assertEquals("0000:01:00.0", read.dev());
        assertEquals(8L, read.ret(), "one 8-byte counter read");
        var stop = lane.internalErrorStop(n.ts());
        assertTrue(n.ts() < read.ts() && read.ts() < stop.ts(), "signal < read < vm_stop: " + n.ts() + " " + read.ts() + " " + stop.ts());
        Verdict vm = a.verdicts().stream().filter(v -> v.kind() == Verdict.Kind.VM_STOPPED).findFirst().orElseThrow();
        assertTrue(vm.sentence().contains("QEMU read the error notification at " + dev.aertrace.text.Durations.rel(ep.start(), read.ts())),
                vm.sentence());
        assertTrue(vm.evidence().contains(read), "the read is evidence of the verdict");
        assertTrue(String.join(" ", dev.aertrace.qemu.QemuText.summary(a)).contains("QEMU read the error notification at "),
                dev.aertrace.qemu.QemuText.summary(a).toString());
        assertTrue(dev.aertrace.lanes.EpisodeLanes.of(a).lanes().stream()
                .filter(l -> l.actor() == dev.aertrace.lanes.EpisodeLanes.Actor.QEMU).flatMap(l -> l.marks().stream())
                .anyMatch(m -> m.name().equals("QEMU read the error notification") && m.ts() == read.ts()), "a mark on the QEMU lane");
    }
}
