package dev.aertrace.fleet;

import com.fasterxml.jackson.databind.JsonNode;
import dev.aertrace.ingest.TraceReader;
import dev.aertrace.race.AnalyzedEpisode;
import dev.aertrace.pipeline.Analyzer;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The fleet's parts without a broker (the broker, two consumers, the kill and Prometheus are in
 * tools/fleet-it/run.py, a run-tests suite): a real lab trace handed over line by line as Kafka records are
 * gives the same episodes as the file; the episode message is a report document with a stable id; the metrics
 * follow Prometheus naming and carry the pcidevice labels.
 */
class FleetPartsTest {
    static final Path LAB = Path.of(System.getProperty("aertrace.labdir", "../testdata/lab"));

    static byte[] plain(Path p) throws Exception {
        try (InputStream in = TraceReader.decode(Files.newInputStream(p))) {
            return in.readAllBytes();
        }
    }

    static String sig(AnalyzedEpisode a) {
        return a.episode().id() + " " + a.episode().start() + " " + a.episode().end() + " " + a.outcome() + " "
                + a.verdicts().stream().map(v -> v.kind().id + (v.tentative() ? "?" : "")).sorted().toList();
    }

    @Test
    void recordByRecordHandOverGivesTheFileResult() throws Exception {
        Path trace = LAB.resolve("6.12/fatal-race-x20.jsonl.gz");
        assertTrue(Files.exists(trace), "missing " + trace);
        List<String> expected = new ArrayList<>();
        for (AnalyzedEpisode a : Analyzer.analyzeAll(trace)) expected.add(sig(a));
        assertEquals(20, expected.size());

        AtomicLong pending = new AtomicLong();
        StreamInput in = new StreamInput(pending);
        List<String> got = new ArrayList<>();
        Thread t = new Thread(() -> new Analyzer().analyze("kafka:h/b", in, a -> got.add(sig(a))));
        t.start();
        byte[] all = plain(trace);
        int from = 0, n = 0;
        ByteArrayOutputStream batch = new ByteArrayOutputStream();
        for (int i = 0; i < all.length; i++) {
            if (all[i] != '\n') continue;
            batch.write(all, from, i - from + 1);   // one record, as take() appends it
            from = i + 1;
            if (++n % 37 == 0) {                    // uneven poll batches
                in.feed(batch.toByteArray());
                batch.reset();
            }
        }
        in.feed(batch.toByteArray());
        in.close();
        t.join(60_000);
        assertEquals(expected, got);
        assertEquals(0, pending.get());
    }

    @Test
    void abortedStreamStopsItsReader() throws Exception {
        StreamInput in = new StreamInput(new AtomicLong());
        in.feed("{\"type\":\"header\"".getBytes(StandardCharsets.UTF_8));
        Thread t = new Thread(() -> {
            try {
                while (in.read(new byte[8], 0, 8) >= 0) { /* drain until aborted */ }
            } catch (java.io.IOException expected) {
                // reassigned
            }
        });
        t.start();
        Thread.sleep(50);
        in.abort();
        t.join(5000);
        assertFalse(t.isAlive());
    }

    @Test
    void episodeMessageIsAReportWithStableId() throws Exception {
        Path trace = LAB.resolve("6.1/fatal-race.jsonl.gz");
        List<AnalyzedEpisode> eps = Analyzer.analyzeAll(trace);
        AnalyzedEpisode a = eps.get(0);
        JsonNode d = EpisodeMessage.MAPPER.readTree(EpisodeMessage.build(a, "boot-1"));
        assertEquals(dev.aertrace.report.JsonReport.ALL_ACCESSES_VERSION, d.get("report_version").asInt()); // every access: the version-2 document
        assertEquals(1, d.get("episodes").size());
        JsonNode ep = d.get("episodes").get(0);
        String id = EpisodeMessage.episodeId(a.episode().host(), "boot-1", a.episode().start(), a.episode().device());
        assertEquals(id, d.get("episode_id").asText());
        assertEquals(id, ep.get("episode_id").asText());
        assertEquals(32, id.length());
        assertEquals("race", ep.get("outcome").asText());
        assertTrue(ep.get("compare").get("durations").has("reset"));
        assertEquals(1, d.get("exit_code").asInt());
        // same episode again (a replay, a rebuilt stream): same id; another boot: another id
        assertEquals(id, EpisodeMessage.episodeId(a.episode().host(), "boot-1", a.episode().start(), a.episode().device()));
        assertNotEquals(id, EpisodeMessage.episodeId(a.episode().host(), "boot-2", a.episode().start(), a.episode().device()));
    }

    @Test
    void exportedEpisodesAreReadOncePerId() throws Exception {
        Path trace = LAB.resolve("6.1/fatal-race-x20.jsonl.gz");
        List<AnalyzedEpisode> eps = Analyzer.analyzeAll(trace);
        Path f = Files.createTempFile("episodes", ".jsonl");
        try {
            StringBuilder sb = new StringBuilder();
            for (AnalyzedEpisode a : eps) sb.append(new String(EpisodeMessage.build(a, "b"), StandardCharsets.UTF_8)).append('\n');
            sb.append(new String(EpisodeMessage.build(eps.get(3), "b"), StandardCharsets.UTF_8)).append('\n');   // re-sent
            sb.append("not json\n");
            Files.writeString(f, sb);
            assertTrue(EpisodeFiles.isEpisodes(f));
            assertFalse(EpisodeFiles.isEpisodes(trace));
            EpisodeFiles.Read r = EpisodeFiles.read(f, new java.util.HashSet<>());
            assertEquals(eps.size(), r.episodes().size());
            assertEquals(1, r.duplicates());
            assertEquals(1, r.problems().size());
            assertEquals(dev.aertrace.compare.EpisodeMetrics.durations(eps.get(0).episode()), r.episodes().get(0).durations());
            assertEquals(eps.get(0).episode().kernel(), r.episodes().get(0).kernel());
        } finally {
            Files.deleteIfExists(f);
        }
    }

    @Test
    void recordTypeSniffing() {
        assertEquals("lost", RecordPeek.typeOf("{\"type\":\"lost\",\"ts\":5,\"count\":12}".getBytes()));
        assertEquals(12, RecordPeek.longField("{\"type\":\"lost\",\"ts\":5,\"count\":12}".getBytes(), "\"count\":"));
        assertNull(RecordPeek.typeOf("garbage".getBytes()));
        assertEquals(-1, RecordPeek.longField("{\"type\":\"lost\"}".getBytes(), "\"count\":"));
    }

    @Test
    void metricsFollowPrometheusNamingWithPciLabels() throws Exception {
        FleetMetrics m = new FleetMetrics();
        m.serve("127.0.0.1", 0);
        try {
            m.hostSeen("h1");
            for (AnalyzedEpisode a : Analyzer.analyzeAll(LAB.resolve("6.1/fatal-race.jsonl.gz")))
                m.episode(a, java.util.Map.of("0000:01:00.0", "vfio-pci"));
            String text = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + m.port() + "/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString()).body();
            assertTrue(text.contains("aertrace_errors_total{bus=\"01\",device=\"00\",driver=\"vfio-pci\",function=\"0\",host="), text);
            assertTrue(text.contains("severity=\"fatal\""));
            assertTrue(text.contains("aertrace_races_total{") && text.contains("kind=\"access-during-reset\""));
            assertTrue(text.contains("aertrace_recovery_duration_seconds_bucket{kernel="));
            assertTrue(text.contains("aertrace_held_access_duration_seconds_count"));
            assertTrue(text.contains("aertrace_events_lost_total{host=\"h1\"} 0"));
            for (String line : text.split("\n")) {
                if (line.startsWith("#") || line.isBlank()) continue;
                String name = line.substring(0, line.indexOf(line.contains("{") ? '{' : ' '));
                assertTrue(name.matches("aertrace_[a-z_]+"), name);
                assertFalse(line.contains("pid=") || line.contains("comm="), line);
            }
        } finally {
            m.close();
        }
    }
}
