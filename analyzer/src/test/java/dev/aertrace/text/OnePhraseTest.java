package dev.aertrace.text;

import dev.aertrace.cli.Main;
import dev.aertrace.fleet.EpisodeMessage;
import dev.aertrace.pipeline.Analyzer;
import dev.aertrace.race.AnalyzedEpisode;
import dev.aertrace.race.Verdict;
import dev.aertrace.timeline.Access;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 14's "one vocabulary": one episode of a real lab trace (6.1 fatal-race, the README's example: a COMMAND
 * read held by aer_root_reset) rendered through every output — analyze text and JSON, timeline, chart (SVG),
 * export chrome and CSV, compare, the fleet's episode message — must name the stalled access and its duration
 * with the same words. Before the text package the same stall read "132.968 ms" in analyze and "133 ms" in
 * timeline, and the access "config read 2B at 0x04 (COMMAND)", "cfg rd COMMAND/2" or "cfg read COMMAND".
 */
class OnePhraseTest {
    static final Path TRACE = Path.of(System.getProperty("aertrace.testdata", "../testdata"), "lab/6.1/fatal-race.jsonl.gz");

    @TempDir Path tmp;

    static AnalyzedEpisode episode;
    static Access stalled;
    static String access, held;

    /** The phrases come from the analysis (the access the stalled-by-reset verdict cites), checked against the README. */
    @BeforeAll
    static void theStall() throws Exception {
        episode = Analyzer.analyzeAll(TRACE).get(0);
        Verdict v = episode.verdicts().stream().filter(x -> x.kind() == Verdict.Kind.ACCESS_STALLED_BY_RESET).findFirst().orElseThrow();
        stalled = episode.episode().accesses().stream().filter(x -> x.enter() != null && v.evidence().contains(x.enter())
                && x.end() != null && x.end() - x.start() > 100_000_000L).findFirst().orElseThrow();
        access = stalled.phrase();
        held = Durations.dur(stalled.end() - stalled.start());
        assertEquals("cfg read COMMAND/2", access);
        assertEquals("132.968 ms", held);
    }

    @Test
    void analyzeText() {
        assertSame("analyze", run("analyze", TRACE.toString()));
    }

    @Test
    void analyzeJson() {
        assertSame("analyze --format json", run("analyze", "--format", "json", TRACE.toString()));
    }

    @Test
    void timeline() {
        assertSame("timeline", run("timeline", TRACE.toString()));
    }

    @Test
    void chartSvg() throws Exception {
        run("chart", "--format", "svg", "--no-phases", "--episode", String.valueOf(episode.episode().id()), "-o", tmp.toString(), TRACE.toString());
        try (var s = Files.list(tmp)) {
            Path svg = s.filter(p -> p.toString().endsWith("-timeline.svg")).findFirst().orElseThrow();
            assertSame("chart", Files.readString(svg).replace("&#x2190;", "←").replace("&lt;", "<").replace("&gt;", ">"));
        }
    }

    @Test
    void exportChrome() {
        assertSame("export --format chrome", run("export", "--format", "chrome", TRACE.toString()));
    }

    /** CSV is for spreadsheets: durations are numbers (ns); the access is the same name. */
    @Test
    void exportCsv() throws Exception {
        run("export", "--format", "csv", "-o", tmp.toString(), TRACE.toString());
        String spans = Files.readString(tmp.resolve("spans.csv"));
        String row = spans.lines().filter(l -> l.contains("," + access + " = ") && l.contains("," + (stalled.start() - episode.episode().start()) + ","))
                .findFirst().orElse(null);
        assertNotNull(row, "spans.csv has no row named " + access + " at the stall's start");
        assertTrue(row.contains("," + (stalled.end() - stalled.start()) + ","), row);
        assertOldSpellingsGone("export --format csv", spans);
    }

    /** Compare prints ms numbers in columns headed "ms": the digits the duration phrase has. */
    @Test
    void compare() {
        String out = run("compare", "--label", "a", "--label", "b", TRACE.toString(), TRACE.toString());
        String row = out.lines().filter(l -> l.contains("user-access-held-by-reset")).findFirst().orElse("");
        assertTrue(row.contains(" " + held.replace(" ms", "") + " "), "compare row: " + row + "\n" + out);
    }

    @Test
    void fleetEpisodeMessage() {
        assertSame("fleet episode message", new String(EpisodeMessage.build(episode, "boot"), StandardCharsets.UTF_8));
    }

    private static void assertSame(String output, String text) {
        String flat = text.replaceAll("\\s+", " ");
        assertTrue(flat.contains(access), output + " does not name the access \"" + access + "\"");
        assertTrue(flat.contains(held), output + " does not give the stall as \"" + held + "\"");
        assertOldSpellingsGone(output, flat);
    }

    private static void assertOldSpellingsGone(String output, String text) {
        for (String old : List.of("133 ms", "cfg rd ", "config read 2B", "cfg read COMMAND ="))
            assertFalse(text.contains(old), output + " still spells it \"" + old + "\"");
    }

    private static String run(String... args) {
        PrintStream o = System.out, e = System.err;
        ByteArrayOutputStream bo = new ByteArrayOutputStream();
        synchronized (OnePhraseTest.class) {
            try {
                System.setOut(new PrintStream(bo, true, StandardCharsets.UTF_8));
                System.setErr(new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
                int code = Main.run(args);
                assertTrue(code != 2 && code != 70, String.join(" ", args) + " exited " + code + " (usage or internal error)");
            } finally {
                System.setOut(o);
                System.setErr(e);
            }
        }
        return bo.toString(StandardCharsets.UTF_8);
    }
}
