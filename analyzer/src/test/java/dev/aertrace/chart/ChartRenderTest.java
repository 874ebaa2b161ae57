package dev.aertrace.chart;

import dev.aertrace.bench.SyntheticTrace;

import dev.aertrace.Scenarios;
import dev.aertrace.Tr;
import dev.aertrace.race.AnalyzedEpisode;
import org.jfree.chart.JFreeChart;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Element;

import javax.imageio.ImageIO;
import javax.xml.parsers.DocumentBuilderFactory;
import java.awt.Color;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ChartRenderTest {
    private static final byte[] PNG_MAGIC = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

    /** Pixels of exactly the race colour: the race must be visible, and only where there is one. */
    private static long racePixels(BufferedImage img) {
        int want = Palette.RACE.getRGB() & 0xFFFFFF;
        long n = 0;
        for (int y = 0; y < img.getHeight(); y++) {
            for (int x = 0; x < img.getWidth(); x++) if ((img.getRGB(x, y) & 0xFFFFFF) == want) n++;
        }
        return n;
    }

    private static BufferedImage png(JFreeChart c) throws Exception {
        byte[] b = ChartFiles.png(c, ChartFiles.WIDTH, ChartFiles.HEIGHT);
        byte[] head = new byte[8];
        System.arraycopy(b, 0, head, 0, 8);
        assertArrayEquals(PNG_MAGIC, head);
        BufferedImage img = ImageIO.read(new ByteArrayInputStream(b));
        assertEquals(1200, img.getWidth());
        assertEquals(600, img.getHeight());
        return img;
    }

    @Test
    void timelinePngShowsTheRaceOnlyWhenThereIsOne() throws Exception {
        AnalyzedEpisode race = Scenarios.stalled().analyze().only();
        AnalyzedEpisode clean = Scenarios.fatalQuiet().analyze().only();
        long inRace = racePixels(png(TimelineChart.create(race)));
        long inClean = racePixels(png(TimelineChart.create(clean)));
        assertTrue(inRace > 2_000, "race bar, box and label in vermillion: " + inRace + " px");
        assertEquals(0, inClean, "no vermillion in a clean episode");
    }

    @Test
    void chartBenchsFloorDrawsTheSameEpisode() throws Exception {
        BufferedImage img = ImageIO.read(new ByteArrayInputStream(ChartFloor.png(Scenarios.stalled().analyze().only())));
        assertEquals(1200, img.getWidth());
        assertEquals(600, img.getHeight());
        assertTrue(racePixels(img) > 2_000, "the raced access bar and the race sentences in vermillion");
        assertEquals(0, racePixels(ImageIO.read(new ByteArrayInputStream(ChartFloor.png(Scenarios.fatalQuiet().analyze().only())))));
    }

    @Test
    void everyScenarioRenders() throws Exception {
        for (Map.Entry<String, Tr> s : Scenarios.all().entrySet()) {
            for (AnalyzedEpisode a : s.getValue().analyze().episodes()) {
                BufferedImage img = png(TimelineChart.create(a));
                // Not blank: the bars and text put many non-white pixels on the white background.
                long ink = 0;
                for (int y = 0; y < 600; y += 3) for (int x = 0; x < 1200; x += 3) if ((img.getRGB(x, y) & 0xFFFFFF) != 0xFFFFFF) ink++;
                assertTrue(ink > 2_000, s.getKey() + ": only " + ink + " inked samples");
            }
        }
    }

    @Test
    void svgIsWellFormedAndSized(@TempDir Path dir) throws Exception {
        AnalyzedEpisode race = Scenarios.stalled().analyze().only();
        Path out = dir.resolve("t.svg");
        ChartFiles.write(TimelineChart.create(race), out, 1200, 600);
        DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
        f.setFeature("http://apache.org/xml/features/nonvalidating/load-external-dtd", false); // no network here
        Element svg = f.newDocumentBuilder().parse(out.toFile()).getDocumentElement();
        assertEquals("svg", svg.getTagName());
        assertEquals(1200.0, Double.parseDouble(svg.getAttribute("width")));
        assertEquals(600.0, Double.parseDouble(svg.getAttribute("height")));
        String text = Files.readString(out);
        assertTrue(text.contains("rgb(213,94,0)") || text.contains("#d55e00") || text.contains("#D55E00"), "race colour in the SVG");
        assertTrue(text.contains("aer_root_reset"), "labels are text, not paths");

        ChartFiles.write(TimelineChart.create(Scenarios.fatalQuiet().analyze().only()), dir.resolve("c.svg"), 1200, 600);
        String clean = Files.readString(dir.resolve("c.svg"));
        assertTrue(!clean.contains("rgb(213,94,0)"), "no race colour in a clean episode");
    }

    @Test
    void phaseChartRendersBoxesForEveryGroup(@TempDir Path dir) throws Exception {
        List<AnalyzedEpisode> a = Tr.analyze(SyntheticTrace.fatalRace(12, new Random(1), "6.1.0-a", 1.0)).episodes();
        List<AnalyzedEpisode> b = Tr.analyze(SyntheticTrace.fatalRace(12, new Random(2), "6.12.0-b", 2.0)).episodes();
        Map<String, Map<String, double[]>> groups = new java.util.LinkedHashMap<>();
        for (var e : Map.of("6.1.0-a", a, "6.12.0-b", b).entrySet()) {
            Map<String, java.util.List<Double>> d = new java.util.LinkedHashMap<>();
            for (AnalyzedEpisode x : e.getValue()) {
                dev.aertrace.compare.EpisodeMetrics.durations(x.episode()).forEach((k, v) -> d.computeIfAbsent(k, y -> new java.util.ArrayList<>()).add(v.doubleValue()));
            }
            Map<String, double[]> arr = new java.util.LinkedHashMap<>();
            d.forEach((k, v) -> arr.put(k, v.stream().mapToDouble(Double::doubleValue).toArray()));
            groups.put(e.getKey(), arr);
        }
        JFreeChart c = PhaseChart.create("t", groups, dev.aertrace.compare.EpisodeMetrics.PHASES, null);
        BufferedImage img = png(c);
        int blue = Palette.series(0).getRGB() & 0xFFFFFF, orange = Palette.series(1).getRGB() & 0xFFFFFF;
        long nb = 0, no = 0;
        for (int y = 0; y < 600; y++) for (int x = 0; x < 1200; x++) {
            int p = img.getRGB(x, y) & 0xFFFFFF;
            if (p == blue) nb++;
            if (p == orange) no++;
        }
        assertTrue(nb > 500 && no > 500, "boxes of both groups drawn: " + nb + " / " + no);
        Path out = dir.resolve("p.svg");
        ChartFiles.write(c, out, 1200, 600);
        assertTrue(Files.size(out) > 10_000);
        assertEquals(new Color(0x0072B2), Palette.series(0));
    }
}
