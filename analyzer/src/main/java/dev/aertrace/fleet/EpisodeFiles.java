package dev.aertrace.fleet;

import com.fasterxml.jackson.databind.JsonNode;
import dev.aertrace.ingest.TraceReader;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Files exported from the episodes topic: one message (an {@link EpisodeMessage} document) per line, plain or
 * gzip — e.g. {@code kafka-console-consumer --topic aertrace.episodes --from-beginning > episodes.jsonl}.
 * {@code compare} reads them instead of traces: the durations and behaviour it needs travel in each message.
 */
public final class EpisodeFiles {
    /** What compare takes from one exported episode. */
    public record Exported(String id, String host, String kernel, Integer severity, String source,
                           Map<String, Long> durations, Map<String, List<String>> behaviour) {}

    /** The result of reading one file: episodes, repeats of an id already read (skipped), bad lines. */
    public record Read(List<Exported> episodes, long duplicates, List<String> problems) {}

    private EpisodeFiles() {}

    /**
     * Copies the whole episodes topic, as it is now (every partition from its start to its current end), into
     * {@code out}, one message per line: what compare then reads like an exported file. Returns the count.
     */
    public static long exportTopic(String bootstrap, String topic, Map<String, String> props, Path out) throws IOException {
        java.util.Properties c = new java.util.Properties();
        c.put("bootstrap.servers", bootstrap);
        c.put("enable.auto.commit", "false");
        c.put("client.id", "aertrace-compare");
        props.forEach(c::put);
        long n = 0;
        try (var consumer = new org.apache.kafka.clients.consumer.KafkaConsumer<byte[], byte[]>(c,
                new org.apache.kafka.common.serialization.ByteArrayDeserializer(), new org.apache.kafka.common.serialization.ByteArrayDeserializer());
             var w = Files.newOutputStream(out)) {
            List<org.apache.kafka.common.TopicPartition> parts = new ArrayList<>();
            var infos = consumer.partitionsFor(topic, java.time.Duration.ofSeconds(30));
            if (infos == null || infos.isEmpty()) throw new IOException("topic " + topic + " not found at " + bootstrap);
            for (var pi : infos) parts.add(new org.apache.kafka.common.TopicPartition(topic, pi.partition()));
            consumer.assign(parts);
            consumer.seekToBeginning(parts);
            Map<org.apache.kafka.common.TopicPartition, Long> end = consumer.endOffsets(parts, java.time.Duration.ofSeconds(30));
            long deadline = System.currentTimeMillis() + 600_000;
            while (parts.stream().anyMatch(tp -> consumer.position(tp) < end.get(tp))) {
                if (System.currentTimeMillis() > deadline) throw new IOException("reading " + topic + " took more than 10 minutes");
                for (var r : consumer.poll(java.time.Duration.ofMillis(500))) {
                    if (r.value() == null) continue;
                    w.write(r.value());
                    w.write('\n');
                    n++;
                }
            }
        } catch (org.apache.kafka.common.KafkaException e) {
            throw new IOException("reading " + topic + " from " + bootstrap + ": " + e.getMessage(), e);
        }
        return n;
    }

    /** True when the first line of {@code p} is an episode message rather than a trace line. */
    public static boolean isEpisodes(Path p) {
        try (BufferedReader r = open(p)) {
            String l;
            while ((l = r.readLine()) != null) {
                if (l.isBlank()) continue;
                return l.contains("\"report_version\"") && l.contains("\"episode_id\"");
            }
        } catch (IOException e) {
            return false;
        }
        return false;
    }

    private static BufferedReader open(Path p) throws IOException {
        InputStream in = TraceReader.decode(Files.newInputStream(p));
        return new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8), 1 << 16);
    }

    /** Reads {@code p}; an episode_id in {@code seen} is a re-sent message (rebalance, replay) and skipped. */
    public static Read read(Path p, Set<String> seen) throws IOException {
        List<Exported> out = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        long dups = 0, lineNo = 0;
        try (BufferedReader r = open(p)) {
            String l;
            while ((l = r.readLine()) != null) {
                lineNo++;
                if (l.isBlank()) continue;
                JsonNode d;
                try {
                    d = EpisodeMessage.MAPPER.readTree(l);
                } catch (IOException e) {
                    if (problems.size() < 5) problems.add("line " + lineNo + ": not JSON");
                    continue;
                }
                JsonNode ep = d.path("episodes").path(0);
                JsonNode cmp = ep.path("compare");
                if ((d.path("report_version").asInt() < 1 || d.path("report_version").asInt() > dev.aertrace.report.JsonReport.REPORT_VERSION) || !d.hasNonNull("episode_id") || !cmp.isObject()) {
                    if (problems.size() < 5) problems.add("line " + lineNo + ": not an aertrace episode message (report_version 1 or 2 with episode_id and compare)");
                    continue;
                }
                if (!seen.add(d.get("episode_id").asText())) {
                    dups++;
                    continue;
                }
                Map<String, Long> dur = new LinkedHashMap<>();
                cmp.path("durations").fields().forEachRemaining(e -> dur.put(e.getKey(), e.getValue().asLong()));
                Map<String, List<String>> beh = new LinkedHashMap<>();
                cmp.path("behaviour").fields().forEachRemaining(e -> {
                    List<String> v = new ArrayList<>();
                    e.getValue().forEach(x -> v.add(x.asText()));
                    beh.put(e.getKey(), v);
                });
                out.add(new Exported(d.get("episode_id").asText(), d.path("host").asText(null),
                        ep.hasNonNull("kernel") ? ep.get("kernel").asText() : null,
                        ep.hasNonNull("severity") ? ep.get("severity").asInt() : null, p.toString(), dur, beh));
            }
        }
        return new Read(out, dups, problems);
    }
}
