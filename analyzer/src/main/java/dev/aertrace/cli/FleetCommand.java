package dev.aertrace.cli;

import dev.aertrace.fleet.Fleet;
import dev.aertrace.fleet.FleetMetrics;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

@Command(name = "fleet", mixinStandardHelpOptions = true,
        header = "Analyze agents' Kafka streams as a consumer group; publish episodes; serve /metrics.",
        description = {"Joins the consumer group on the events topic (agents publish there with aertrace-agent --kafka). Every host stream is analyzed by the same pipeline as analyze; every closed episode is published to the episodes topic as a report document (docs/report-json.md, one episode per message, keyed by host, with a stable episode_id). Run as many instances as the topic has partitions, on any machines; offsets are committed only up to the oldest host stream still open, so a restarted or reassigned instance rebuilds open episodes from their start.",
                "Prometheus metrics are served on --metrics (127.0.0.1 by default; see the README before exposing it)."},
        footer = {"", "Examples:",
                "  aertrace fleet --bootstrap kafka1:9092,kafka2:9092",
                "  aertrace fleet --bootstrap k:9092 --metrics 0.0.0.0:9464 --kafka-property security.protocol=SSL",
                "", "Exit codes: 0 stopped by SIGTERM/SIGINT, 1 publishing an episode failed (restart it: it resumes",
                "from the last commit), 2 usage error or the metrics port could not be bound."})
final class FleetCommand implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(names = "--bootstrap", required = true, paramLabel = "HOST:PORT[,...]", description = "Kafka bootstrap servers.")
    String bootstrap;

    @Option(names = "--topic", defaultValue = "aertrace.events", description = "Events topic the agents publish to (default: ${DEFAULT-VALUE}).")
    String topic;

    @Option(names = "--episodes-topic", defaultValue = "aertrace.episodes", description = "Topic for closed episodes (default: ${DEFAULT-VALUE}).")
    String episodesTopic;

    @Option(names = "--group", defaultValue = "aertrace-fleet", description = "Consumer group id (default: ${DEFAULT-VALUE}).")
    String group;

    @Mixin MetricsOptions metricsAt;

    @Option(names = "--commit-interval", defaultValue = "1000", paramLabel = "MS", description = "How often offsets are committed (default: ${DEFAULT-VALUE} ms).")
    long commitMs;

    @Option(names = "--max-pending-mb", defaultValue = "256", paramLabel = "MB",
            description = "Stop fetching while the pipelines have this much unread input (default: ${DEFAULT-VALUE}).")
    long maxPendingMb;

    @Option(names = "--kafka-property", paramLabel = "KEY=VALUE", description = "Extra Kafka client setting for consumer and producer (security, tuning); repeatable.")
    Map<String, String> kafka = new LinkedHashMap<>();

    @Mixin AnalysisOptions opts;

    @Override
    public Integer call() throws Exception {
        opts.validate(spec);
        if (commitMs < 100 || maxPendingMb < 1)
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--commit-interval must be >= 100 ms and --max-pending-mb >= 1");
        FleetMetrics started = metricsAt.start(spec, "fleet", "127.0.0.1:9464");
        // metrics off: episodes are still counted, just not served
        FleetMetrics metrics = started != null ? started : new FleetMetrics();
        Fleet.Options o = new Fleet.Options(bootstrap, topic, episodesTopic, group, opts.analyzerOptions(), commitMs,
                maxPendingMb << 20, kafka);
        CountDownLatch done = new CountDownLatch(1);
        try (Fleet f = new Fleet(o, metrics, System.err)) {
            Thread hook = new Thread(() -> {
                f.stop();
                try {
                    done.await();
                } catch (InterruptedException ignored) {
                    Thread.currentThread().interrupt();
                }
            });
            Runtime.getRuntime().addShutdownHook(hook);
            System.err.println("aertrace fleet: group " + group + " on " + topic + " -> " + episodesTopic);
            int rc = f.run();
            return rc;
        } finally {
            done.countDown();
            metrics.close();
        }
    }
}
