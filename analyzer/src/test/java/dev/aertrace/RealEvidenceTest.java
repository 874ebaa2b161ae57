package dev.aertrace;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.aertrace.chart.ChartFiles;
import dev.aertrace.chart.Palette;
import dev.aertrace.chart.TextTimeline;
import dev.aertrace.chart.TimelineChart;
import dev.aertrace.compare.Comparison;
import dev.aertrace.compare.CompareReport;
import dev.aertrace.compare.PhaseComparison;
import dev.aertrace.compare.PhaseTester;
import dev.aertrace.compare.PhaseVerdict;
import dev.aertrace.lanes.EpisodeLanes;
import dev.aertrace.export.TraceEventExport;
import dev.aertrace.export.TraceEventValidator;
import dev.aertrace.race.AnalyzedEpisode;
import dev.aertrace.pipeline.Analyzer;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Charts, text timeline, trace-event export and compare on the real lab traces (testdata/lab, see its README
 * for the commands that re-create them). A missing trace fails the test: a skipped test proves nothing.
 */
class RealEvidenceTest {
    static final Path LAB = Path.of(System.getProperty("aertrace.labdir", "../testdata/lab"));
    static final List<String> KERNELS = List.of("5.10", "6.1", "6.12", "7.2");
    static final ObjectMapper M = new ObjectMapper().enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS);

    static List<AnalyzedEpisode> episodes(Path p) throws Exception {
        List<AnalyzedEpisode> eps = new ArrayList<>();
        try (InputStream in = Files.newInputStream(p)) {
            new Analyzer().analyze(p.toString(), in, eps::add);
        }
        return eps;
    }

    static Path trace(String kernel, String name) {
        Path p = LAB.resolve(kernel).resolve(name + ".jsonl.gz");
        assertTrue(Files.exists(p), "lab trace " + p + " is missing: testdata/lab/README.md says how to re-record it");
        return p;
    }

    static List<Path> allTraces() throws Exception {
        if (!Files.isDirectory(LAB)) return List.of();
        try (Stream<Path> s = Files.walk(LAB)) {
            return s.filter(p -> p.toString().endsWith(".jsonl.gz")).sorted().toList();
        }
    }

    @TestFactory
    Stream<DynamicTest> everyLabTraceExportsToAStrictlyValidTraceEventFile() throws Exception {
        List<Path> all = allTraces();
        assertFalse(all.isEmpty(), "no lab traces under " + LAB);
        return all.stream().map(p -> DynamicTest.dynamicTest(LAB.relativize(p).toString(), () -> {
            List<AnalyzedEpisode> eps = episodes(p);
            // A trace without an error (e.g. the lab's extras.jsonl.gz) still exports a valid, empty-of-slices file.
            StringWriter w = new StringWriter();
            TraceEventExport.write(w, eps);
            JsonNode root = M.readTree(w.toString());
            TraceEventValidator.Summary s = TraceEventValidator.validate(root);
            assertTrue(s.ok(), () -> p + ": " + s.problems().subList(0, Math.min(10, s.problems().size())));
            int spans = 0;
            for (AnalyzedEpisode a : eps) for (EpisodeLanes.Lane l : EpisodeLanes.of(a).lanes()) spans += l.spans().size();
            assertEquals(spans + eps.size(), s.perPhase().getOrDefault("X", 0), "every span is a slice");
        }));
    }

    @TestFactory
    Stream<DynamicTest> fatalRaceChartAndTimelineShowTheRace() {
        return KERNELS.stream().map(k -> DynamicTest.dynamicTest(k, () -> {
            AnalyzedEpisode a = episodes(trace(k, "fatal-race")).stream()
                    .filter(x -> x.episode().hasRecovery()).findFirst().orElseThrow();
            BufferedImage img = ImageIO.read(new ByteArrayInputStream(
                    ChartFiles.png(TimelineChart.create(a), ChartFiles.WIDTH, ChartFiles.HEIGHT)));
            assertEquals(1200, img.getWidth());
            int race = Palette.RACE.getRGB() & 0xFFFFFF;
            long n = 0;
            for (int y = 0; y < img.getHeight(); y++) for (int x = 0; x < img.getWidth(); x++) if ((img.getRGB(x, y) & 0xFFFFFF) == race) n++;
            assertTrue(n > 5_000, "the raced config read must be a visible vermillion bar: " + n + " px");
            List<String> text = TextTimeline.render(a, 60);
            assertTrue(text.stream().anyMatch(l -> l.contains("race window begins")), String.join("\n", text));
            for (String l : text) assertTrue(l.length() <= 80, l.length() + " columns: " + l);
        }));
    }

    /** The false-positive check on real data: one kernel's 20 episodes, odd against even. */
    @TestFactory
    Stream<DynamicTest> oddVersusEvenEpisodesOfOneRunShowNoDetectableChange() {
        return KERNELS.stream().map(k -> DynamicTest.dynamicTest(k, () -> {
            List<AnalyzedEpisode> eps = episodes(trace(k, "fatal-race-x20"));
            assertTrue(eps.size() >= 20, eps.size() + " episodes");
            Comparison.Builder b = new Comparison.Builder();
            for (int i = 0; i < eps.size(); i++) b.add(i % 2 == 0 ? "odd" : "even", eps.get(i));
            Comparison.Result r = b.build(0.05, PhaseTester.DEFAULT_MIN_SAMPLES, null);
            Comparison.Pair p = r.pairs().get(0);
            long tested = p.phases().stream().filter(c -> !Double.isNaN(c.pValue())).count();
            assertTrue(tested >= 4, "phases tested: " + tested + "\n" + CompareReport.text(r));
            for (PhaseComparison c : p.phases()) {
                assertTrue(c.verdict() != PhaseVerdict.FASTER && c.verdict() != PhaseVerdict.SLOWER, () -> CompareReport.text(r));
            }
        }));
    }

    /** Two kernels' 20-episode runs: every recovery phase both have is tested, with a verdict. */
    @TestFactory
    Stream<DynamicTest> kernelsAreComparedPhaseByPhase() {
        return Stream.of(new String[] {"5.10", "6.1"}, new String[] {"6.1", "6.12"}).map(pair -> DynamicTest.dynamicTest(
                pair[0] + " vs " + pair[1], () -> {
                    Comparison.Builder b = new Comparison.Builder();
                    for (String k : pair) for (AnalyzedEpisode a : episodes(trace(k, "fatal-race-x20"))) b.add(a.episode().kernel(), a);
                    Comparison.Result r = b.build(0.05, PhaseTester.DEFAULT_MIN_SAMPLES, null);
                    assertEquals(2, r.groups().size(), "grouped by the kernel release in the headers");
                    Comparison.Pair p = r.pairs().get(0);
                    for (String phase : List.of("recovery", "reset", "error_detected")) {
                        PhaseComparison c = p.phases().stream().filter(x -> x.phase().equals(phase)).findFirst()
                                .orElseThrow(() -> new AssertionError(phase + " missing:\n" + CompareReport.text(r)));
                        assertTrue(c.baseStats().count() >= 15 && c.otherStats().count() >= 15, c::toString);
                        assertTrue(!Double.isNaN(c.pValue()), c::toString);
                    }
                }));
    }
}
