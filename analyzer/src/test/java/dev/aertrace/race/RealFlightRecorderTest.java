package dev.aertrace.race;

import dev.aertrace.pipeline.Analyzer;

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
 * config space flat out (testdata/lab/6.1/fatal-race-flat.jsonl.gz: agent 0.5.1, the history copied into the ring
 * by the trigger's program; recorded with {@code lab/run shell --kernel 6.1 -- sh -c 'INTERVAL=0
 * NAME=fatal-race-flat AGENT_ARGS="--history 64 --tail-ms 200" sh agent/bench/fatal.sh'}): the accesses before the
 * error come as dumped history, everything from the error on streamed live. Whether the user's last COMMAND read
 * before the host's reset falls before the error (a history read) or after it (live) is the run's timing; this
 * recording is one where it falls before, so the verdict's baseline must come from the history.
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
    void flatOutFlightRecorderTraceGivesTodaysVerdictsWithTheHistoryAsBaseline() throws Exception {
        List<String> flat = lines(FLAT);
        assertEquals(2, M.readTree(flat.get(0)).get("schema_version").asInt());
        assertTrue(flat.stream().anyMatch(l -> l.contains("\"history\":true")), "no dumped history");
        Result r = analyze(flat);
        for (Issue i : r.report().issues())
            assertTrue(i.kind().informational(), "input issue " + i);
        AnalyzedEpisode fatal = r.episodes().stream().filter(a -> a.episode().hasRecovery()).findFirst().orElseThrow();
        assertTrue(fatal.verdicts().stream().noneMatch(Verdict::tentative), fatal.verdicts().toString());
        // what the perf-buffer, record-everything trace of the same scenario gives (agent 0.1, 2 ms loop) ...
        Set<String> before = kinds(RealTraceTest.fatalEpisode(RealTraceTest.run("6.1", "fatal-race")));
        Set<String> now = kinds(fatal);
        assertTrue(before.containsAll(now), before + " vs " + now);
        // ... but access-in-recovery-window: here the user did not touch the device between error_detected and
        // resume outside the reset (its reads were held by the config lock)
        for (String k : List.of("ACCESS_DURING_RESET", "ACCESS_STALLED_BY_RESET", "STATE_CHANGED_UNDER_USER",
                "NOTIFIED_BEFORE_RESET"))
            assertTrue(now.contains(k), k + " missing from " + now);
        // the COMMAND value before the reset was read before the error: it is in the dumped history only
        Verdict v = fatal.verdicts().stream().filter(x -> x.kind() == Verdict.Kind.STATE_CHANGED_UNDER_USER)
                .findFirst().orElseThrow();
        long baseline = v.evidence().stream().filter(e -> e instanceof Event.RwExit).mapToLong(Event::line).min().orElseThrow();
        assertTrue(flat.get((int) baseline - 1).contains("\"history\":true"), "baseline line " + baseline + ": "
                + flat.get((int) baseline - 1));
        long aer = M.readTree(flat.stream().filter(l -> l.startsWith("{\"type\":\"aer.event\"")).findFirst().orElseThrow()).get("ts").asLong();
        assertTrue(M.readTree(flat.get((int) baseline - 1)).get("ts").asLong() < aer, "baseline read before the error");
    }
}
