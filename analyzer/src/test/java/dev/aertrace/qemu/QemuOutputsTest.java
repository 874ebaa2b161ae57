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

    static long vmPixels(AnalyzedEpisode a) throws Exception {
        byte[] b = ChartFiles.png(TimelineChart.create(a), ChartFiles.WIDTH, ChartFiles.HEIGHT);
        BufferedImage img = ImageIO.read(new ByteArrayInputStream(b));
        long n = 0;
        int want = Palette.VM_STATE.getRGB() & 0xFFFFFF;
        for (int y = 0; y < img.getHeight(); y++) for (int x = 0; x < img.getWidth(); x++) if ((img.getRGB(x, y) & 0xFFFFFF) == want) n++;
        return n;
    }
}
