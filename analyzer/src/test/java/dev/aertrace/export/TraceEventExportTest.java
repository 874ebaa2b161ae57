package dev.aertrace.export;

import dev.aertrace.lanes.EpisodeLanes;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.aertrace.Scenarios;
import dev.aertrace.Tr;
import dev.aertrace.bench.SyntheticTrace;
import dev.aertrace.race.AnalyzedEpisode;
import dev.aertrace.race.Verdict;
import dev.aertrace.timeline.HostReset;
import org.junit.jupiter.api.Test;

import java.io.StringWriter;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every export must pass the strict trace-event rules and carry exactly what the lanes (and the chart) show. */
class TraceEventExportTest {
    private static final ObjectMapper M = new ObjectMapper().enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS);

    static JsonNode export(List<AnalyzedEpisode> eps) throws Exception {
        StringWriter w = new StringWriter();
        TraceEventExport.write(w, eps);
        return M.readTree(w.toString());
    }

    static List<JsonNode> ph(JsonNode root, String ph) {
        List<JsonNode> out = new ArrayList<>();
        root.get("traceEvents").forEach(e -> { if (e.get("ph").asText().equals(ph)) out.add(e); });
        return out;
    }

    @Test
    void everyHandWrittenScenarioExportsToAStrictlyValidTraceWithEverySpan() throws Exception {
        for (Map.Entry<String, Tr> s : Scenarios.all().entrySet()) {
            List<AnalyzedEpisode> eps = s.getValue().analyze().episodes();
            JsonNode root = export(eps);
            TraceEventValidator.Summary v = TraceEventValidator.validate(root);
            assertTrue(v.ok(), () -> s.getKey() + ": " + v.problems());

            int spans = 0, marks = 0, windows = 0, races = 0;
            for (AnalyzedEpisode a : eps) {
                EpisodeLanes l = EpisodeLanes.of(a);
                for (EpisodeLanes.Lane lane : l.lanes()) { spans += lane.spans().size(); marks += lane.marks().size(); }
                windows += l.windows().size();
                races += l.races().size();
            }
            // One X per lane span plus one "episode" slice per episode; nothing dropped, nothing invented.
            assertEquals(spans + eps.size(), ph(root, "X").size(), s.getKey());
            assertEquals(marks, ph(root, "i").size(), s.getKey());
            assertEquals(windows + races, ph(root, "b").size(), s.getKey());
            long raceBegins = ph(root, "b").stream().filter(e -> e.get("cat").asText().equals("race")).count();
            assertEquals(races, raceBegins, s.getKey());
        }
    }

    @Test
    void raceAndResetWindowsAreAsyncSpansAtTheRightMicrosecond() throws Exception {
        AnalyzedEpisode a = Scenarios.stalled().analyze().only();
        JsonNode root = export(List.of(a));
        assertTrue(TraceEventValidator.validate(root).ok());

        HostReset reset = a.episode().recoveryResets().get(0);
        JsonNode x = ph(root, "X").stream().filter(e -> e.get("name").asText().equals("aer_root_reset")).findFirst().orElseThrow();
        assertEquals(0, BigDecimal.valueOf(reset.start(), 3).compareTo(x.get("ts").decimalValue()), "ts is ns/1000 exactly");
        assertEquals(0, BigDecimal.valueOf(reset.end() - reset.start(), 3).compareTo(x.get("dur").decimalValue()));

        JsonNode win = ph(root, "b").stream().filter(e -> e.get("cat").asText().equals("host-reset")).findFirst().orElseThrow();
        assertEquals(0, BigDecimal.valueOf(reset.start(), 3).compareTo(win.get("ts").decimalValue()));

        List<JsonNode> raceB = ph(root, "b").stream().filter(e -> e.get("cat").asText().equals("race")).toList();
        assertFalse(raceB.isEmpty(), "the stalled read is a race");
        Verdict.Kind kind = a.verdicts().stream().filter(v -> v.kind().category == Verdict.Category.RACE).findFirst().orElseThrow().kind();
        assertTrue(raceB.stream().anyMatch(b -> b.at("/args/verdict").asText().equals(kind.id)));
        // The race sits on the user's own thread (pid 300), so Perfetto shows it under the vfio user.
        assertTrue(raceB.stream().allMatch(b -> b.get("pid").asInt() == Tr.USER), raceB::toString);

        // Metadata names every process and thread, the host kernel first.
        List<JsonNode> meta = ph(root, "M");
        assertTrue(meta.stream().anyMatch(m -> m.get("name").asText().equals("process_name")
                && m.at("/args/name").asText().startsWith("host kernel test (6.1.0-test)")), meta::toString);
        assertTrue(meta.stream().anyMatch(m -> m.get("name").asText().equals("process_name")
                && m.get("pid").asInt() == Tr.USER && m.at("/args/name").asText().contains("vfio user")), meta::toString);
    }

    @Test
    void twoTracesKeepTheirHostsAndUsersApart() throws Exception {
        List<AnalyzedEpisode> eps = new ArrayList<>();
        for (String name : List.of("a.jsonl", "b.jsonl")) {
            List<AnalyzedEpisode> one = new ArrayList<>();
            new dev.aertrace.pipeline.Analyzer().analyze(name, new java.io.ByteArrayInputStream(Scenarios.stalled().bytes()), one::add);
            eps.addAll(one);
        }
        JsonNode root = export(eps);
        TraceEventValidator.Summary v = TraceEventValidator.validate(root);
        assertTrue(v.ok(), v.problems()::toString);
        List<String> procs = ph(root, "M").stream().filter(m -> m.get("name").asText().equals("process_name"))
                .map(m -> m.at("/args/name").asText()).toList();
        assertEquals(4, procs.size(), procs::toString);
        assertTrue(procs.stream().anyMatch(p -> p.endsWith("— a.jsonl")) && procs.stream().anyMatch(p -> p.endsWith("— b.jsonl")), procs::toString);
        assertTrue(procs.stream().anyMatch(p -> p.contains("pid 300, trace 2")), procs::toString);
    }

    @Test
    void manyEpisodesShareLanesWithoutExtraThreads() throws Exception {
        List<AnalyzedEpisode> eps = Tr.analyze(SyntheticTrace.fatalRace(30, new Random(3))).episodes();
        assertEquals(30, eps.size());
        JsonNode root = export(eps);
        TraceEventValidator.Summary v = TraceEventValidator.validate(root);
        assertTrue(v.ok(), v.problems()::toString);
        long threads = ph(root, "M").stream().filter(m -> m.get("name").asText().equals("thread_name")).count();
        long lanes = EpisodeLanes.of(eps.get(0)).lanes().size() + 2; // + "episodes" + "host reset windows"
        assertEquals(lanes, threads, "episodes in time order reuse their lanes' threads");
        assertFalse(ph(root, "M").stream().anyMatch(m -> m.at("/args/name").asText().contains("#2")));
    }
}
