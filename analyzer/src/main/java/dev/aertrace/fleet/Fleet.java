package dev.aertrace.fleet;

import com.fasterxml.jackson.databind.JsonNode;
import dev.aertrace.ingest.Issue;
import dev.aertrace.ingest.SourceReport;
import dev.aertrace.ingest.TraceReader;
import dev.aertrace.race.AnalyzedEpisode;
import dev.aertrace.pipeline.Analyzer;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * {@code aertrace fleet}: the analyzer as a member of a Kafka consumer group. Every host stream (record key =
 * host/boot id, so one stream lives in one partition, in order) gets its own pipeline — the same
 * {@link Analyzer} {@code analyze} runs, fed through a {@link StreamInput} on its own thread — and every episode it
 * closes is published to the episodes topic as a report document ({@link EpisodeMessage}), keyed by host.
 *
 * <p>Nothing lost: a partition's offset is committed only up to the first record (the header) of the oldest
 * stream still open in it, after the producer has flushed every episode published so far. A consumer that dies
 * or loses the partition leaves the open streams to be re-read from their headers by whoever gets it next.
 * Nothing doubled downstream: the rebuilt episodes carry the same {@code episode_id} (host, boot, first event,
 * device), so a consumer of the topic keeps the last message per id; this process also skips ids it already
 * published itself.
 */
public final class Fleet implements AutoCloseable {
    public record Options(String bootstrap, String topic, String episodesTopic, String group, Analyzer.Options analyzer,
                          long commitIntervalMs, long maxPendingBytes, Map<String, String> kafka) {}

    private final Options opt;
    private final FleetMetrics metrics;
    private final PrintStream log;
    private final KafkaConsumer<byte[], byte[]> consumer;
    private final KafkaProducer<String, byte[]> producer;
    private final Map<String, HostStream> streams = new ConcurrentHashMap<>();
    private final AtomicLong pending = new AtomicLong();
    private final AtomicReference<Exception> publishFailure = new AtomicReference<>();
    private final Map<String, Boolean> published = new LinkedHashMap<>(1024, 0.75f, true) {
        @Override protected boolean removeEldestEntry(Map.Entry<String, Boolean> e) { return size() > 200_000; }
    };
    private final Map<TopicPartition, Long> lastCommitted = new HashMap<>();
    private volatile boolean stop;
    private boolean paused;
    final AtomicLong episodesOut = new AtomicLong();
    final AtomicLong recordsIn = new AtomicLong();

    /** One host's boot: its pipeline thread and where it started in its partition. */
    final class HostStream {
        final String key;
        final TopicPartition tp;
        final long firstOffset;
        final StreamInput in = new StreamInput(pending);
        final boolean replay;
        volatile boolean aborted;
        volatile boolean ended;
        volatile boolean caughtUp;
        String host = "", bootId = "", kernel = "";
        Map<String, String> drivers = Map.of();
        ByteArrayOutputStream batch;
        io.prometheus.metrics.core.datapoints.CounterDataPoint eventsDp;
        long eventsInBatch;
        Thread thread;
        SourceReport report;
        boolean firstClock = true;

        HostStream(String key, TopicPartition tp, long firstOffset, boolean replay) {
            this.key = key;
            this.tp = tp;
            this.firstOffset = firstOffset;
            this.replay = replay;
        }

        void start() {
            Analyzer a = new Analyzer(opt.analyzer());
            // A live agent's stream: while the partition is read to its end and this host is quiet, time passes
            // for it (so an error's settle window closes without waiting for its next event). The first call
            // maps the header; later ones return "no progress" while records of the partition are still unread,
            // which keeps the watermark behind events not yet consumed. A replay is a finished recording: its
            // own events and footer drive it, exactly as analyze reads the file.
            TraceReader.Live live = replay ? null : new TraceReader.Live(() -> {
                if (firstClock) {
                    firstClock = false;
                    return System.currentTimeMillis() * 1_000_000L;
                }
                return caughtUp && in.drained() ? System.currentTimeMillis() * 1_000_000L : Long.MIN_VALUE / 4;
            }, () -> !ended && !aborted);
            thread = new Thread(() -> {
                SourceReport r = a.analyze("kafka:" + key, in, this::episode, live);
                if (!aborted) {
                    report = r;
                    long bad = 0;
                    for (Issue i : r.issues())
                        if (i.kind() == Issue.Kind.CORRUPT_LINE || i.kind() == Issue.Kind.TRUNCATED_LINE
                                || i.kind() == Issue.Kind.INVALID_EVENT) bad += i.count();
                    if (bad > 0) metrics.undecodable.labelValues(host).inc(bad);
                }
            }, "fleet " + key);
            thread.setDaemon(true);
            thread.start();
        }

        private void episode(AnalyzedEpisode ep) {
            if (aborted) return;
            publish(this, ep);
        }
    }

    public Fleet(Options opt, FleetMetrics metrics, PrintStream log) {
        this.opt = opt;
        this.metrics = metrics;
        this.log = log;
        Properties c = new Properties();
        c.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, opt.bootstrap());
        c.put(ConsumerConfig.GROUP_ID_CONFIG, opt.group());
        c.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        c.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        c.put(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG, "org.apache.kafka.clients.consumer.CooperativeStickyAssignor");
        c.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "5000");
        c.put(ConsumerConfig.CLIENT_ID_CONFIG, "aertrace-fleet");
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, opt.bootstrap());
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "zstd");
        // The client checks a record's size before compression; an episode with thousands of all-ones reads is
        // several MB of JSON but a few hundred KB compressed, which is what the broker's message.max.bytes judges.
        p.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, String.valueOf(64 << 20));
        p.put(ProducerConfig.LINGER_MS_CONFIG, "20");
        p.put(ProducerConfig.CLIENT_ID_CONFIG, "aertrace-fleet");
        opt.kafka().forEach((k, v) -> {   // security and tuning settings apply to both clients
            c.put(k, v);
            p.put(k, v);
        });
        consumer = new KafkaConsumer<>(c, new ByteArrayDeserializer(), new ByteArrayDeserializer());
        producer = new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer());
    }

    public void stop() {
        stop = true;
        consumer.wakeup();
    }

    /** Runs until {@link #stop()}; returns 0, or 1 when publishing failed (nothing past it was committed). */
    public int run() {
        consumer.subscribe(List.of(opt.topic()), new ConsumerRebalanceListener() {
            @Override public void onPartitionsRevoked(Collection<TopicPartition> parts) {
                // Still ours for this call: publish what closed, commit up to the open streams, then drop them.
                commit(parts);
                drop(parts);
            }

            @Override public void onPartitionsAssigned(Collection<TopicPartition> parts) {
                log.println("aertrace fleet: assigned " + parts);
            }

            @Override public void onPartitionsLost(Collection<TopicPartition> parts) {
                drop(parts);
            }
        });
        long nextCommit = System.currentTimeMillis() + opt.commitIntervalMs();
        try {
            while (!stop) {
                if (publishFailure.get() != null) break;
                ConsumerRecords<byte[], byte[]> recs;
                try {
                    recs = consumer.poll(Duration.ofMillis(200));
                } catch (WakeupException w) {
                    break;
                }
                for (ConsumerRecord<byte[], byte[]> r : recs) take(r);
                long now = System.currentTimeMillis();
                for (HostStream s : streams.values()) {
                    if (s.batch != null && s.batch.size() > 0) {
                        s.in.feed(s.batch.toByteArray());
                        s.batch.reset();
                    }
                    if (s.eventsInBatch > 0) {   // once per poll, not once per record
                        s.eventsDp.inc(s.eventsInBatch);
                        s.eventsInBatch = 0;
                        metrics.lastEventMs.put(s.host, now);
                    }
                }
                updateLag();
                flowControl();
                if (System.currentTimeMillis() >= nextCommit) {
                    commit(consumer.assignment());
                    nextCommit = System.currentTimeMillis() + opt.commitIntervalMs();
                }
            }
            if (publishFailure.get() == null) commit(consumer.assignment());
        } finally {
            for (HostStream s : streams.values()) {
                s.aborted = true;
                s.in.abort();
            }
        }
        Exception f = publishFailure.get();
        if (f != null) {
            log.println("aertrace fleet: publishing an episode failed, stopping without committing past it: " + f.getMessage());
            return 1;
        }
        return 0;
    }

    private void take(ConsumerRecord<byte[], byte[]> r) {
        recordsIn.incrementAndGet();
        byte[] v = r.value();
        String key = r.key() == null ? "" : new String(r.key(), StandardCharsets.UTF_8);
        if (v == null) {   // the agent's heartbeat on a quiet host: alive, nothing to analyze
            HostStream s = streams.get(key);
            if (s != null) metrics.lastEventMs.put(s.host, System.currentTimeMillis());
            return;
        }
        TopicPartition tp = new TopicPartition(r.topic(), r.partition());
        HostStream s = streams.get(key);
        if (s == null) {
            boolean replay = false;
            for (Header h : r.headers()) if (h.key().equals("aertrace.replay")) replay = true;
            s = new HostStream(key, tp, r.offset(), replay);
            // the key (host/boot id) stands in when the stream was picked up without its header
            s.host = key.contains("/") ? key.substring(0, key.lastIndexOf('/')) : key;
            s.bootId = key.contains("/") ? key.substring(key.lastIndexOf('/') + 1) : "";
            readHeader(s, v);
            streams.put(key, s);
            metrics.hostSeen(s.host);
            metrics.connected.set(streams.values().stream().filter(x -> !x.ended).count());
            s.batch = new ByteArrayOutputStream(1 << 14);
            s.eventsDp = metrics.events.labelValues(s.host);
            s.start();
        }
        String t = RecordPeek.typeOf(v);
        if (!"header".equals(t) && !"footer".equals(t)) s.eventsInBatch++;
        if ("lost".equals(t)) {
            long n = RecordPeek.longField(v, "\"count\":");
            if (n > 0) metrics.lost.labelValues(s.host).inc(n);
        } else if ("footer".equals(t)) {
            long n = RecordPeek.longField(v, "\"undecodable\":");
            if (n > 0) metrics.undecodable.labelValues(s.host).inc(n);
        }
        s.batch.write(v, 0, v.length);
        s.batch.write('\n');
        if ("footer".equals(t)) {
            s.eventsDp.inc(s.eventsInBatch);
            s.eventsInBatch = 0;
            metrics.lastEventMs.put(s.host, System.currentTimeMillis());
            s.in.feed(s.batch.toByteArray());
            s.batch.reset();
            s.ended = true;
            s.in.close();
        }
    }

    private static void readHeader(HostStream s, byte[] v) {
        if (!"header".equals(RecordPeek.typeOf(v))) return;
        try {
            JsonNode h = EpisodeMessage.MAPPER.readTree(v);
            s.host = h.path("host").asText(s.host);
            s.bootId = h.path("boot_id").asText(s.bootId);
            s.kernel = h.path("kernel").asText("");
            Map<String, String> d = new HashMap<>();
            for (JsonNode n : h.path("topology")) {
                if (n.hasNonNull("driver")) d.put(n.path("dev").asText(), n.path("driver").asText());
            }
            s.drivers = d;
        } catch (java.io.IOException e) {
            // the pipeline reports the bad header with its line number
        }
    }

    private void publish(HostStream s, AnalyzedEpisode ep) {
        byte[] msg = EpisodeMessage.build(ep, s.bootId);
        String id = EpisodeMessage.episodeId(ep.episode().host(), s.bootId, ep.episode().start(), ep.episode().device());
        synchronized (published) {
            if (published.containsKey(id)) {
                metrics.duplicates.inc();
                return;
            }
            published.put(id, Boolean.TRUE);
        }
        producer.send(new ProducerRecord<>(opt.episodesTopic(), ep.episode().host(), msg), (md, ex) -> {
            if (ex != null) publishFailure.compareAndSet(null, ex);
        });
        metrics.published.inc();
        metrics.episode(ep, s.drivers);
        episodesOut.incrementAndGet();
    }

    private void updateLag() {
        for (TopicPartition tp : consumer.assignment()) {
            java.util.OptionalLong l = consumer.currentLag(tp);
            if (l.isPresent()) metrics.lag.put(tp.topic() + "-" + tp.partition(), l.getAsLong());
        }
        metrics.lag.keySet().removeIf(k -> consumer.assignment().stream().noneMatch(tp -> k.equals(tp.topic() + "-" + tp.partition())));
        for (HostStream s : streams.values()) {
            Long l = metrics.lag.get(s.tp.topic() + "-" + s.tp.partition());
            s.caughtUp = l != null && l == 0;
        }
    }

    /** Pauses reading while the pipelines have more than maxPendingBytes to chew: memory stays bounded. */
    private void flowControl() {
        long p = pending.get();
        if (!paused && p > opt.maxPendingBytes()) {
            consumer.pause(consumer.assignment());
            paused = true;
        } else if (paused && p < opt.maxPendingBytes() / 4) {
            consumer.resume(consumer.assignment());
            paused = false;
        }
    }

    /**
     * Removes finished streams, makes every published episode durable, then commits each partition up to the
     * first record of its oldest stream still open (or all it has read, when none is open).
     */
    private void commit(Collection<TopicPartition> parts) {
        if (parts.isEmpty()) return;
        for (HostStream s : new ArrayList<>(streams.values())) {
            if (s.ended && !s.thread.isAlive()) streams.remove(s.key);
        }
        metrics.connected.set(streams.values().stream().filter(s -> !s.ended).count());
        producer.flush();
        if (publishFailure.get() != null) return;
        Map<TopicPartition, OffsetAndMetadata> m = new HashMap<>();
        for (TopicPartition tp : parts) {
            long pos;
            try {
                pos = consumer.position(tp);
            } catch (RuntimeException e) {
                continue;
            }
            long safe = pos;
            for (HostStream s : streams.values()) if (s.tp.equals(tp)) safe = Math.min(safe, s.firstOffset);
            Long prev = lastCommitted.get(tp);
            if (prev == null || prev != safe) m.put(tp, new OffsetAndMetadata(safe));
        }
        if (m.isEmpty()) return;
        try {
            consumer.commitSync(m);
            m.forEach((tp, o) -> lastCommitted.put(tp, o.offset()));
        } catch (RuntimeException e) {
            log.println("aertrace fleet: commit failed (will retry): " + e.getMessage());
        }
    }

    private void drop(Collection<TopicPartition> parts) {
        for (HostStream s : new ArrayList<>(streams.values())) {
            if (!parts.contains(s.tp)) continue;
            s.aborted = true;
            s.in.abort();
            streams.remove(s.key);
        }
        for (TopicPartition tp : parts) {
            lastCommitted.remove(tp);
            metrics.lag.remove(tp.topic() + "-" + tp.partition());
        }
        metrics.connected.set(streams.values().stream().filter(s -> !s.ended).count());
    }

    int openStreams() { return streams.size(); }

    @Override
    public void close() {
        try {
            producer.close(Duration.ofSeconds(10));
        } finally {
            consumer.close(Duration.ofSeconds(10));
        }
    }
}
