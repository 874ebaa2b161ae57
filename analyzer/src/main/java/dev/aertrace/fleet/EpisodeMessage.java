package dev.aertrace.fleet;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.aertrace.compare.EpisodeMetrics;
import dev.aertrace.race.AnalyzedEpisode;
import dev.aertrace.report.JsonReport;
import dev.aertrace.report.Totals;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * One closed episode as a message of the episodes topic: a complete report document of docs/report-json.md
 * (report_version 1) holding that single episode, plus the fields a downstream store needs to deduplicate
 * ({@code episode_id}) and {@code compare} needs without the trace ({@code compare.durations},
 * {@code compare.behaviour}: what compare measures, computed by the same code).
 */
public final class EpisodeMessage {
    static final ObjectMapper MAPPER = new ObjectMapper();

    private EpisodeMessage() {}

    /**
     * Stable across replays, restarts and rebalances: host, boot, the episode's first event and its device
     * (two hierarchies can start recovering at the same ns). Not the per-input sequence number, which depends
     * on where reading started.
     */
    public static String episodeId(String host, String bootId, long startNs, String device) {
        try {
            MessageDigest d = MessageDigest.getInstance("SHA-256");
            String s = (host == null ? "" : host) + '\0' + (bootId == null ? "" : bootId) + '\0' + startNs + '\0'
                    + (device == null ? "" : device);
            return HexFormat.of().formatHex(d.digest(s.getBytes(StandardCharsets.UTF_8)), 0, 16);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    public static byte[] build(AnalyzedEpisode a, String bootId) {
        ByteArrayOutputStream bos = new ByteArrayOutputStream(8192);
        JsonReport r = new JsonReport(bos);
        r.episode(a);
        Totals t = new Totals();
        t.add(a);
        r.finish(t);
        try {
            ObjectNode doc = (ObjectNode) MAPPER.readTree(bos.toByteArray());
            ObjectNode ep = (ObjectNode) doc.get("episodes").get(0);
            String id = episodeId(a.episode().host(), bootId, a.episode().start(), a.episode().device());
            ep.put("episode_id", id);
            ep.put("boot_id", bootId);
            ObjectNode cmp = ep.putObject("compare");
            ObjectNode dur = cmp.putObject("durations");
            EpisodeMetrics.durations(a.episode()).forEach(dur::put);
            ObjectNode beh = cmp.putObject("behaviour");
            for (Map.Entry<String, List<String>> e : EpisodeMetrics.behaviour(a).entrySet()) {
                ArrayNode arr = beh.putArray(e.getKey());
                e.getValue().forEach(arr::add);
            }
            ObjectNode out = MAPPER.createObjectNode();
            out.put("episode_id", id);
            out.put("host", a.episode().host());
            out.put("boot_id", bootId);
            out.setAll(doc);
            return MAPPER.writeValueAsBytes(out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
