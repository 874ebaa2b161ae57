package dev.aertrace.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.aertrace.Scenarios;
import dev.aertrace.bench.SyntheticTrace;
import dev.aertrace.export.TraceEventValidator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** chart, timeline, export and compare as a user runs them. */
class EvidenceCommandsTest {
    @TempDir Path tmp;

    private Path write(String name, byte[] data) throws Exception {
        Path p = tmp.resolve(name);
        Files.write(p, data);
        return p;
    }

    @Test
    void chartWritesTimelineAndPhasePngs() throws Exception {
        Path t = write("stalled.jsonl", Scenarios.stalled().bytes());
        CliTest.Out o = CliTest.run("chart", "-o", tmp.resolve("c").toString(), t.toString());
        assertEquals(0, o.code(), o.err());
        Path png = tmp.resolve("c/stalled-ep1-timeline.png");
        assertTrue(o.out().contains(png.toString()), o.out());
        BufferedImage img = ImageIO.read(png.toFile());
        assertEquals(1200, img.getWidth());
        assertTrue(Files.exists(tmp.resolve("c/stalled-phases.png")));
        CliTest.Out svg = CliTest.run("chart", "--format", "svg", "--size", "800x400", "-o", tmp.resolve("s").toString(), t.toString());
        assertEquals(0, svg.code(), svg.err());
        assertTrue(Files.readString(tmp.resolve("s/stalled-ep1-timeline.svg")).contains("width='800"));
    }

    @Test
    void chartRejectsBadSizeAndMissingFiles() {
        assertEquals(2, CliTest.run("chart", "--size", "12x6", "x.jsonl").code());
        CliTest.Out o = CliTest.run("chart", tmp.resolve("nope.jsonl").toString());
        assertEquals(2, o.code());
        assertTrue(o.err().contains("cannot read") && o.err().contains("no such file"), o.err());
    }

    @Test
    void timelinePrintsLanes() throws Exception {
        Path t = write("stalled.jsonl", Scenarios.stalled().bytes());
        CliTest.Out o = CliTest.run("timeline", t.toString());
        assertEquals(0, o.code(), o.err());
        assertTrue(o.out().contains("race window begins"), o.out());
    }

    @Test
    void exportChromeIsValidAndCsvHasBothFiles() throws Exception {
        Path t = write("b2b.jsonl", Scenarios.backToBack().bytes());
        Path json = tmp.resolve("out/b2b.trace.json");
        CliTest.Out o = CliTest.run("export", "--format", "chrome", "-o", json.toString(), t.toString());
        assertEquals(0, o.code(), o.err());
        try (InputStream in = Files.newInputStream(json)) {
            TraceEventValidator.Summary s = TraceEventValidator.validate(in);
            assertTrue(s.ok(), s.problems()::toString);
            assertTrue(s.perPhase().get("X") > 5, s.perPhase()::toString);
        }
        CliTest.Out c = CliTest.run("export", "--format", "csv", "-o", tmp.resolve("csv").toString(), t.toString());
        assertEquals(0, c.code(), c.err());
        assertEquals(3, Files.readAllLines(tmp.resolve("csv/episodes.csv")).size(), "header + two back-to-back episodes");
        assertTrue(Files.readAllLines(tmp.resolve("csv/spans.csv")).size() > 10);
    }

    @Test
    void compareGroupsByKernelAndExitsByDifference() throws Exception {
        Path a = write("a.jsonl", SyntheticTrace.fatalRace(20, new Random(5), "6.1.0-a", 1.0));
        Path a2 = write("a2.jsonl", SyntheticTrace.fatalRace(20, new Random(6), "6.1.0-a", 1.0));
        Path b = write("b.jsonl", SyntheticTrace.fatalRace(20, new Random(7), "6.12.0-b", 1.7));

        Path chart = tmp.resolve("cmp.png");
        CliTest.Out diff = CliTest.run("compare", "--format", "json", "--chart", chart.toString(), a.toString(), b.toString());
        assertEquals(1, diff.code(), diff.err());
        JsonNode j = new ObjectMapper().readTree(diff.out());
        assertEquals("6.1.0-a", j.at("/groups/0/name").asText());
        assertEquals("6.12.0-b", j.at("/groups/1/name").asText());
        boolean resetSlower = false;
        for (JsonNode p : j.at("/comparisons/0/phases")) {
            if (p.get("phase").asText().equals("reset")) resetSlower = p.get("verdict").asText().equals("slower");
        }
        assertTrue(resetSlower, diff.out());
        assertEquals(1200, ImageIO.read(chart.toFile()).getWidth());
        Path only = tmp.resolve("reset.svg");
        CliTest.Out sub = CliTest.run("compare", "--chart-phases", "reset,recovery", "--chart", only.toString(), a.toString(), b.toString());
        assertEquals(1, sub.code(), sub.err());
        String svg = Files.readString(only);
        assertTrue(svg.contains("reset (n=20/20)") && !svg.contains("slot_reset"), "only the chosen phases are drawn");
        assertTrue(sub.out().contains("slot_reset"), "the report keeps every phase");

        // Same kernel: without labels there is one group only, which is a usage error that says what to do.
        CliTest.Out one = CliTest.run("compare", a.toString(), a2.toString());
        assertEquals(2, one.code());
        assertTrue(one.err().contains("--label"), one.err());
        CliTest.Out same = CliTest.run("compare", "--label", "run1", "--label", "run2", a.toString(), a2.toString());
        assertEquals(0, same.code(), same.out() + same.err());
        assertTrue(same.out().contains("no detectable timing change; no behaviour difference"), same.out());

        CliTest.Out split = CliTest.run("compare", "--split", "--format", "json", a.toString());
        assertEquals(0, split.code(), split.out() + split.err());
        JsonNode sj = new ObjectMapper().readTree(split.out());
        assertEquals("6.1.0-a odd", sj.at("/groups/0/name").asText());
        assertEquals("6.1.0-a even", sj.at("/groups/1/name").asText());
        assertEquals(10, sj.at("/groups/1/episodes").asInt());

        assertEquals(2, CliTest.run("compare", "--label", "x", a.toString(), b.toString()).code());
        assertEquals(2, CliTest.run("compare", "--alpha", "2", a.toString(), b.toString()).code());
    }
}
