package dev.aertrace.chart;

import dev.aertrace.Scenarios;
import dev.aertrace.Tr;
import dev.aertrace.bench.SyntheticTrace;
import dev.aertrace.pipeline.Analyzer;
import dev.aertrace.race.AnalyzedEpisode;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.text.G2TextMeasurer;
import org.jfree.chart.text.TextBlock;
import org.jfree.chart.text.TextLine;
import org.jfree.chart.text.TextUtils;
import org.jfree.chart.title.Title;
import org.jfree.svg.SVGGraphics2D;
import org.junit.jupiter.api.Test;

import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.text.BreakIterator;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link LineBreaker} and {@link PlainTitle} against what they replace: the JDK's line {@link BreakIterator} and
 * JFreeChart's {@code TextUtils.createTextBlock} / {@code TextTitle}, on random text and on every chart of every
 * committed trace, pixel for pixel.
 */
class LineBreakerTest {
    private static final String PUNCT = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~\n" + LineBreaker.EXTRA;

    private static int[] jdk(String s) {
        BreakIterator it = BreakIterator.getLineInstance();
        it.setText(s);
        List<Integer> r = new ArrayList<>();
        for (int b = it.first(); b != BreakIterator.DONE; b = it.next()) r.add(b);
        return r.stream().mapToInt(Integer::intValue).toArray();
    }

    /** Text of the fast alphabet; {@code spaces} and {@code punct} in tenths, the rest letters and digits. */
    private static String text(Random r, int maxLen, int spaces, int punct) {
        int len = r.nextInt(maxLen + 1);
        StringBuilder sb = new StringBuilder(len);
        for (int i = 0; i < len; i++) {
            int p = r.nextInt(10);
            if (p < spaces) sb.append(r.nextInt(8) == 0 ? "  " : " ");
            else if (p < spaces + punct) sb.append(PUNCT.charAt(r.nextInt(PUNCT.length())));
            else if (p == 9) sb.append((char) ('0' + r.nextInt(10)));
            else sb.append((char) ((r.nextBoolean() ? 'a' : 'A') + r.nextInt(26)));
        }
        return sb.toString();
    }

    @Test
    void boundariesAreTheJdkLineIteratorsOnRandomText() {
        Random r = new Random(13);
        int checked = 0;
        for (int[] mix : new int[][] {{2, 2}, {2, 5}, {1, 1}, {4, 4}, {0, 8}, {3, 0}}) {
            for (int k = 0; k < 60_000; k++) {
                String s = text(r, 48, mix[0], mix[1]);
                assertTrue(LineBreaker.fast(s), s);
                int[] want = jdk(s);
                assertArrayEquals(want, LineBreaker.boundaries(s), () -> "boundaries of [" + s + "]");
                checked++;
            }
        }
        assertEquals(360_000, checked);
        // the characters it does not vouch for go to createTextBlock whole
        for (String s : List.of("a\tb", "x\u00a0y", "\u4e2d\u6587", "e\u0301", "a\u2011b", "\u00e9t\u00e9", "\r"))
            assertFalse(LineBreaker.fast(s), s);
    }

    /** Each line's text; createTextBlock makes every line one fragment (TextBlock.equals compares the rest). */
    private static List<String> lines(TextBlock b) {
        List<String> out = new ArrayList<>();
        for (Object o : b.getLines()) {
            TextLine l = (TextLine) o;
            assertTrue(l.getFirstTextFragment() == l.getLastTextFragment());
            out.add(l.getFirstTextFragment().getText());
        }
        return out;
    }

    @Test
    void blocksAreCreateTextBlocksOnRandomTextWidthsAndFonts() {
        Random r = new Random(7);
        BufferedImage img = new BufferedImage(10, 10, BufferedImage.TYPE_INT_RGB);
        List<Graphics2D> gs = List.of(img.createGraphics(), new SVGGraphics2D(1200, 600));
        Font[] fonts = {TimelineChart.TITLE, TimelineChart.SUB, new Font(TimelineChart.FONT, Font.BOLD, 12),
                new Font(TimelineChart.FONT, Font.ITALIC, 10)};
        int wrapped = 0, cut = 0;
        for (int k = 0; k < 40_000; k++) {
            Graphics2D g = gs.get(k % 2);
            Font f = fonts[r.nextInt(fonts.length)];
            String s = text(r, 400, 2, r.nextInt(4));
            float w = r.nextInt(4) == 0 ? r.nextInt(40) : 20 + r.nextInt(1400);
            int max = r.nextInt(3) == 0 ? 1 + r.nextInt(6) : Integer.MAX_VALUE;
            g.setFont(f);
            TextBlock wantBlock = TextUtils.createTextBlock(s, f, Color.BLACK, w, max, new G2TextMeasurer(g));
            g.setFont(f);
            TextBlock gotBlock = LineBreaker.block(s, f, Color.BLACK, w, max, g);
            List<String> want = lines(wantBlock);
            assertEquals(want, lines(gotBlock), () -> "[" + s + "] width " + w + " max " + max + " font " + f + " on " + g.getClass().getSimpleName());
            assertEquals(wantBlock, gotBlock);
            if (want.size() > 1) wrapped++;
            if (want.size() == max && want.get(max - 1).endsWith("...")) cut++;
        }
        assertTrue(wrapped > 20_000 && cut > 1_000, wrapped + " wrapped, " + cut + " cut");
    }

    /**
     * The same chart with each {@link PlainTitle} swapped for the JFreeChart TextTitle it stands for, the first as
     * the chart's own title (how the charts made it before).
     */
    private static JFreeChart reference(JFreeChart c) {
        List<Title> subs = new ArrayList<>();
        for (int i = 0; i < c.getSubtitleCount(); i++) subs.add(c.getSubtitle(i));
        c.clearSubtitles();
        for (Title t : subs) {
            if (t instanceof PlainTitle p && c.getTitle() == null) c.setTitle(p.reference());
            else c.addSubtitle(t instanceof PlainTitle p ? p.reference() : t);
        }
        return c;
    }

    private static int compared;

    private static void samePicture(String what, JFreeChart mine, JFreeChart ref) {
        assertTrue(mine.getSubtitles().stream().anyMatch(t -> t instanceof PlainTitle), what);
        assertTrue(ref.getSubtitles().stream().noneMatch(t -> t instanceof PlainTitle), what);
        assertArrayEquals(ChartFiles.png(ref, ChartFiles.WIDTH, ChartFiles.HEIGHT), ChartFiles.png(mine, ChartFiles.WIDTH, ChartFiles.HEIGHT), what + " PNG");
        assertEquals(ChartFiles.svg(ref, ChartFiles.WIDTH, ChartFiles.HEIGHT), ChartFiles.svg(mine, ChartFiles.WIDTH, ChartFiles.HEIGHT), what + " SVG");
        compared++;
    }

    private static void timelines(String what, List<AnalyzedEpisode> eps, int max) {
        for (AnalyzedEpisode a : eps.subList(0, Math.min(max, eps.size()))) {
            samePicture(what + " episode " + a.episode().id(), TimelineChart.create(a), reference(TimelineChart.create(a)));
        }
    }

    @Test
    void everyTimelineOfEveryCommittedTraceAndScenarioLooksTheSame() throws Exception {
        compared = 0;
        Path testdata = Path.of(System.getProperty("aertrace.testdata", "../testdata"));
        List<Path> traces;
        try (Stream<Path> s = Files.walk(testdata)) {
            traces = s.filter(p -> p.getFileName().toString().endsWith(".jsonl.gz")).sorted().toList();
        }
        assertTrue(traces.size() > 40, "testdata not found under " + testdata.toAbsolutePath());
        for (Path p : traces) {
            List<AnalyzedEpisode> eps = new ArrayList<>();
            try (InputStream in = new GZIPInputStream(Files.newInputStream(p))) {
                new Analyzer().analyze(p.toString(), in, eps::add);
            }
            timelines(p.toString(), eps, 3);
        }
        for (Map.Entry<String, Tr> s : Scenarios.all().entrySet()) timelines(s.getKey(), s.getValue().analyze().episodes(), 3);
        List<AnalyzedEpisode> synth = new ArrayList<>();
        new Analyzer().analyze("synthetic", new ByteArrayInputStream(SyntheticTrace.fatalRace(20, new Random(1))), synth::add);
        timelines("chart-bench's synthetic trace", synth, 20);
        assertTrue(compared > 100, compared + " charts compared");
    }

    @Test
    void phaseChartLooksTheSame() {
        Map<String, Map<String, double[]>> g = Map.of("6.1.0-a", Map.of("recovery", new double[] {1e6, 2e6, 5e6}, "reset", new double[] {3e5, 4e5}));
        List<String> order = List.of("recovery", "reset");
        for (String note : Arrays.asList(null, "recovery: slower ×1.55 (p = 0.003) — reset: no difference")) {
            samePicture("phase chart, note " + note, PhaseChart.create("Recovery phases: 6.1.0-a", g, order, note),
                    reference(PhaseChart.create("Recovery phases: 6.1.0-a", g, order, note)));
        }
    }
}
