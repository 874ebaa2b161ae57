package dev.aertrace.race;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.aertrace.ingest.Event;
import dev.aertrace.ingest.Issue;
import dev.aertrace.ingest.SourceReport;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.zip.GZIPInputStream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A real fatal race on 6.1 recorded by the agent's flight recorder (schema v2, the default) while the user read
 * config space flat out (testdata/lab/6.1/fatal-race-flat.jsonl.gz, re-created with
 * {@code lab/run fatal-race --kernel 6.1 --user-args '--interval-us 0'}): the accesses before the error come as
 * dumped history, everything from the error on streamed live.
 */
class RealFlightRecorderTest {
    static final Path FLAT = RealTraceTest.LAB.resolve("6.1/fatal-race-flat.jsonl.gz");
    static final ObjectMapper M = new ObjectMapper();

    static List<String> lines(Path p) throws Exception {
        assertTrue(Files.exists(p), "lab trace " + p + " is missing: testdata/lab/README.md says how to re-record it");
        List<String> out = new ArrayList<>();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(new GZIPInputStream(Files.newInputStream(p)),
                StandardCharsets.UTF_8))) {
            for (String l; (l = r.readLine()) != null; ) out.add(l);
        }
        return out;
    }

    record Result(SourceReport report, List<AnalyzedEpisode> episodes) {}

    static Result analyze(List<String> lines) {
        List<AnalyzedEpisode> eps = new ArrayList<>();
        SourceReport r = new Analyzer().analyze("flat", new ByteArrayInputStream(
                (String.join("\n", lines) + "\n").getBytes(StandardCharsets.UTF_8)), eps::add);
        return new Result(r, eps);
    }

    static Set<String> kinds(AnalyzedEpisode a) {
        return a.verdicts().stream().map(v -> v.kind().name()).collect(Collectors.toCollection(TreeSet::new));
    }

    @Test
    void flatOutFlightRecorderTraceGivesTodaysVerdicts() throws Exception {
        List<String> flat = lines(FLAT);
        assertEquals(2, M.readTree(flat.get(0)).get("schema_version").asInt());
        assertTrue(flat.stream().anyMatch(l -> l.contains("\"history\":true")), "no dumped history");
        Result r = analyze(flat);
        for (Issue i : r.report().issues())
            assertTrue(i.kind().informational(), "input issue " + i);
        AnalyzedEpisode fatal = r.episodes().stream().filter(a -> a.episode().hasRecovery()).findFirst().orElseThrow();
        // the same verdicts as the perf-buffer, record-everything trace of the same scenario (agent 0.1, 2 ms loop)
        AnalyzedEpisode before = RealTraceTest.fatalEpisode(RealTraceTest.run("6.1", "fatal-race"));
        assertEquals(kinds(before), kinds(fatal));
        assertFalse(kinds(fatal).contains("INCONCLUSIVE"));
        assertTrue(fatal.verdicts().stream().noneMatch(Verdict::tentative), fatal.verdicts().toString());
    }

    @Test
    void theBaselineComesFromTheHistoryWhenNothingWasReadLiveBeforeTheReset() throws Exception {
        // Drop the user's live accesses between the error and the host reset (a user that did not look in that
        // window): the COMMAND value read before the error is then only in the dumped history.
        List<String> flat = lines(FLAT);
        long aer = -1, reset = -1;
        for (String l : flat) {
            JsonNode d = M.readTree(l);
            String t = d.path("type").asText();
            if (aer < 0 && t.equals("aer.event")) aer = d.get("ts").asLong();
            if (aer >= 0 && reset < 0 && t.equals("reset.enter")) reset = d.get("ts").asLong();
        }
        assertTrue(aer > 0 && reset > aer);
        List<String> cut = new ArrayList<>();
        int dropped = 0;
        for (String l : flat) {
            JsonNode d = M.readTree(l);
            String t = d.path("type").asText();
            long ts = d.path("ts").asLong();
            if (t.startsWith("vfio.rw.") && !d.path("history").asBoolean(false) && ts >= aer && ts < reset) {
                dropped++;
                continue;
            }
            if (t.equals("footer")) {
                ((com.fasterxml.jackson.databind.node.ObjectNode) d).put("events", d.get("events").asLong() - dropped);
                l = M.writeValueAsString(d);
            }
            cut.add(l);
        }
        assertTrue(dropped > 0, "the flat-out user read between the error and the reset");
        Result r = analyze(cut);
        AnalyzedEpisode fatal = r.episodes().stream().filter(a -> a.episode().hasRecovery()).findFirst().orElseThrow();
        Verdict v = fatal.verdicts().stream().filter(x -> x.kind() == Verdict.Kind.STATE_CHANGED_UNDER_USER)
                .findFirst().orElseThrow(() -> new AssertionError(fatal.verdicts().toString()));
        assertFalse(v.tentative(), v.toString());
        long baseline = v.evidence().stream().filter(e -> e instanceof Event.RwExit).mapToLong(Event::line).min().orElseThrow();
        assertTrue(cut.get((int) baseline - 1).contains("\"history\":true"), "baseline line " + baseline + ": " + cut.get((int) baseline - 1));
    }
}
