package dev.aertrace.qemu;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.aertrace.Tr;
import dev.aertrace.chart.ChartFiles;
import dev.aertrace.chart.Palette;
import dev.aertrace.chart.TextTimeline;
import dev.aertrace.chart.TimelineChart;
import dev.aertrace.export.TraceEventExport;
import dev.aertrace.export.TraceEventValidator;
import dev.aertrace.race.AnalyzedEpisode;
import dev.aertrace.pipeline.Analyzer;
import org.junit.jupiter.api.Test;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The QEMU lane in the mail timeline, the chart and the Perfetto export, on the real lab trace and a hand-written race. */
class QemuOutputsTest {

    static AnalyzedEpisode real() throws Exception { return Analyzer.analyzeAll(QemuLaneTest.REAL).get(0); }

    static AnalyzedEpisode guestRace() {
        Tr t = QemuLaneTest.qemuOwned();
        t.fatalRecovery(1_000);
        QemuLaneTest.guestRead(t, 3_000, 111_050, 4, 2, 0x0000, true);
        QemuLaneTest.vmStop(t, 5_000);
        return t.footer(3_000_000).analyze().only();
    }

    @Test
    void mailTimelineHasTheVmStopAndItsVerdict() throws Exception {
        List<String> out = TextTimeline.render(real(), 60);
        String all = String.join("\n", out);
        for (String l : out) {
            assertTrue(l.length() <= TextTimeline.WIDTH, l);
            assertTrue(l.chars().allMatch(c -> c < 128), l);
        }
        assertTrue(all.lines().anyMatch(l -> l.startsWith("   +29.040 |") && l.endsWith("|* vm_stop internal-error")), all);
        assertTrue(all.contains("! vm-stopped: QEMU (pid 1681, qemu-system-x86) stopped the VM at +29.040 ms"), all);
        String race = String.join("\n", TextTimeline.render(guestRace(), 60));
        assertTrue(race.contains("G> cfg read COMMAND/2"), race);
        assertTrue(race.contains("G< 108.050 ms dev = 0x0000"), race);
        assertTrue(race.contains("guest-access-during-reset"), race);
    }

    @Test
    void perfettoExportHasAQemuTrack() throws Exception {
        for (AnalyzedEpisode a : List.of(real(), guestRace())) {
            StringWriter w = new StringWriter();
            TraceEventExport.write(w, List.of(a));
            JsonNode root = new ObjectMapper().readTree(w.toString());
            TraceEventValidator.Summary v = TraceEventValidator.validate(root);
            assertTrue(v.ok(), v.problems().toString());
            int pid = a.qemu().get(0).pid();
            List<JsonNode> track = new ArrayList<>(), stops = new ArrayList<>(), guest = new ArrayList<>();
            root.get("traceEvents").forEach(e -> {
                if (e.get("ph").asText().equals("M") && e.get("name").asText().equals("thread_name")
                        && e.get("args").get("name").asText().equals("QEMU: guest accesses, VM state") && e.get("pid").asInt() == pid) track.add(e);
                if (e.get("ph").asText().equals("i") && e.get("name").asText().equals("vm_stop(internal-error)")) stops.add(e);
                if (e.get("ph").asText().equals("X") && e.get("cat").asText().equals("guest-access")) guest.add(e);
            });
            assertEquals(1, track.size());
            assertEquals(1, stops.size());
            assertEquals("vm-state", stops.get(0).get("cat").asText());
            assertEquals(track.get(0).get("tid").asInt(), stops.get(0).get("tid").asInt());
            assertEquals(a.qemu().get(0).accesses().size(), guest.size());
        }
    }

    @Test
    void chartDrawsTheQemuLane() throws Exception {
        AnalyzedEpisode a = real();
        AnalyzedEpisode without = new AnalyzedEpisode(a.episode(), a.verdicts(), a.outcome(), java.util.List.of()); // the same, no QEMU lane
        assertTrue(vmPixels(a) > vmPixels(without) + 20);
    }

    /**
     * Done-when 1 of issue 12 on both committed recordings (6.1: bookworm's QEMU 7.2; 7.2: forky's QEMU): the one
     * episode joins QEMU to the host's recovery, and every output shows QEMU's read of the error notification and
     * its vm_stop(internal-error) at the trace's own times, with the vm-stopped verdict: the text and JSON reports,
     * the mail timeline, the Perfetto export and the chart.
     */
    @org.junit.jupiter.api.TestFactory
    java.util.stream.Stream<org.junit.jupiter.api.DynamicTest> everyOutputHasTheQemuLaneOnBothKernels() {
        return java.util.stream.Stream.of("6.1", "7.2").map(k -> org.junit.jupiter.api.DynamicTest.dynamicTest(k, () -> {
            java.nio.file.Path p = java.nio.file.Path.of("..", "testdata", "lab", k, "qemu-fatal.jsonl.gz");
            List<AnalyzedEpisode> eps = Analyzer.analyzeAll(p);
            assertEquals(1, eps.size());
            AnalyzedEpisode a = eps.get(0);
            var ep = a.episode();
            assertEquals(5, ep.result(), "the host recovered");
            assertEquals(1, a.qemu().size());
            var lane = a.qemu().get(0);
            var n = ep.notifications().get(0);
            var read = lane.notificationRead(n.ts());
            var stop = lane.internalErrorStop(n.ts());
            assertTrue(read != null && stop != null && n.ts() < read.ts() && read.ts() < stop.ts() && stop.ts() < ep.recoveryEnd(),
                    "signal < QEMU's read < vm_stop < RECOVERED");
            String readAt = dev.aertrace.text.Durations.rel(ep.start(), read.ts());
            String stopAt = dev.aertrace.text.Durations.rel(ep.start(), stop.ts());
            var vm = a.verdicts().stream().filter(v -> v.kind() == dev.aertrace.race.Verdict.Kind.VM_STOPPED).toList();
            assertEquals(1, vm.size());
            assertFalse(vm.get(0).tentative());
            String who = "QEMU (pid " + lane.pid() + ", qemu-system-x86) stopped the VM at " + stopAt + " with vm_stop(internal-error)";
            assertTrue(vm.get(0).sentence().startsWith(who), vm.get(0).sentence());
            assertTrue(vm.get(0).sentence().contains("QEMU read the error notification at " + readAt), vm.get(0).sentence());
            assertTrue(vm.get(0).sentence().contains("the host recovered the device at " + dev.aertrace.text.Durations.rel(ep.start(),
                    ep.recoveryEnd()) + " (RECOVERED)"), vm.get(0).sentence());

            // analyze, text
            String text = String.join("\n", dev.aertrace.report.TextReport.render(a, 200));
            assertTrue(text.contains("qemu vm       vm_stop(internal-error) pid " + lane.pid()), text);
            assertTrue(text.contains("read the error notification (eventfd) pid " + lane.pid()), text);
            assertTrue(text.contains("* vm-stopped [recovery] 0000:01:00.0"), text);
            // analyze, JSON
            java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
            dev.aertrace.report.JsonReport j = new dev.aertrace.report.JsonReport(b);
            j.episode(a);
            j.finish(new dev.aertrace.report.Totals());
            JsonNode je = new ObjectMapper().readTree(b.toString(java.nio.charset.StandardCharsets.UTF_8)).get("episodes").get(0);
            JsonNode jl = je.get("qemu").get(0);
            assertEquals(lane.pid(), jl.get("pid").asInt());
            assertEquals(read.ts(), jl.get("notification_reads").get(0).get("ts_ns").asLong());
            boolean jsonStop = false;
            for (JsonNode s : jl.get("run_states"))
                jsonStop |= s.get("kind").asText().equals("vm_stop") && s.get("ts_ns").asLong() == stop.ts()
                        && s.get("state_name").asText().equals("internal-error");
            assertTrue(jsonStop, jl.toString());
            boolean jsonVerdict = false;
            for (JsonNode v : je.get("verdicts")) jsonVerdict |= v.toString().contains("vm-stopped");
            assertTrue(jsonVerdict, je.get("verdicts").toString());

            // timeline (mail): the stop in the user column at its offset, the verdict below
            List<String> mail = TextTimeline.render(a, 60);
            String off = dev.aertrace.text.Durations.offsetMs(stop.ts() - ep.start());
            assertTrue(mail.stream().anyMatch(l -> l.startsWith("  " + String.format("%9s|", off + " ")) && l.endsWith("|* vm_stop internal-error")),
                    off + "\n" + String.join("\n", mail));
            String readOff = dev.aertrace.text.Durations.offsetMs(read.ts() - ep.start());
            assertTrue(mail.stream().anyMatch(l -> l.startsWith("  " + String.format("%9s|", readOff + " ")) && l.endsWith("|* reads error eventfd")),
                    readOff + "\n" + String.join("\n", mail));
            assertTrue(String.join(" ", mail).contains("! vm-stopped: QEMU (pid " + lane.pid() + ", qemu-system-x86) stopped the VM at"),
                    String.join("\n", mail));

            // export (Perfetto): the QEMU track with the read and the stop at their microseconds
            StringWriter w = new StringWriter();
            TraceEventExport.write(w, List.of(a));
            JsonNode root = new ObjectMapper().readTree(w.toString());
            assertTrue(TraceEventValidator.validate(root).ok());
            boolean pStop = false, pRead = false;
            for (JsonNode e : root.get("traceEvents")) {
                if (!e.get("ph").asText().equals("i") || e.get("pid").asInt() != lane.pid()) continue;
                double us = e.get("ts").asDouble();
                pStop |= e.get("name").asText().equals("vm_stop(internal-error)") && Math.abs(us - stop.ts() / 1000.0) < 0.01;
                pRead |= e.get("name").asText().equals("QEMU read the error notification") && Math.abs(us - read.ts() / 1000.0) < 0.01;
            }
            assertTrue(pStop && pRead, "Perfetto: vm_stop " + pStop + ", read " + pRead);

            // chart: the QEMU lane's VM-state marks are drawn
            AnalyzedEpisode without = new AnalyzedEpisode(a.episode(), a.verdicts(), a.outcome(), List.of());
            assertTrue(vmPixels(a) > vmPixels(without) + 20);
        }));
    }

    static long vmPixels(AnalyzedEpisode a) throws Exception {
        byte[] b = ChartFiles.png(TimelineChart.create(a), ChartFiles.WIDTH, ChartFiles.HEIGHT);
        BufferedImage img = ImageIO.read(new ByteArrayInputStream(b));
        long n = 0;
        int want = Palette.VM_STATE.getRGB() & 0xFFFFFF;
        for (int y = 0; y < img.getHeight(); y++) for (int x = 0; x < img.getWidth(); x++) if ((img.getRGB(x, y) & 0xFFFFFF) == want) n++;
        return n;
    }
}
