package dev.aertrace.fleet;

import dev.aertrace.compare.EpisodeMetrics;
import dev.aertrace.race.AnalyzedEpisode;
import dev.aertrace.pci.Pci;
import dev.aertrace.race.Verdict;
import dev.aertrace.timeline.Episode;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.exporter.httpserver.HTTPServer;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.Unit;

import java.io.IOException;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The fleet's Prometheus metrics. Labels are bounded: host (one per fleet member), kernel release, the PCI
 * address split as node_exporter's pcidevice collector splits it (segment, bus, device, function — so
 * {@code on(segment,bus,device,function)} joins work), driver, and small enums (severity, result, verdict kind,
 * phase). No TLP headers, pids, comms or sentences. Latency histograms carry only kernel (and phase): per-host
 * buckets would multiply series by the fleet size for little gain.
 */
public final class FleetMetrics {
    static final String[] DEV = {"host", "kernel", "segment", "bus", "device", "function", "driver"};
    /** Seconds: from a fast callback (µs) to a reset held for seconds. */
    static final double[] BOUNDS = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
    /** Hosts not heard from for this long are dropped from the per-host gauges (bounds memory and series). */
    static final long FORGET_MS = 7L * 24 * 3600 * 1000;

    final PrometheusRegistry registry = new PrometheusRegistry();
    final Counter errors, recoveries, races, episodes, published, events, lost, undecodable, duplicates;
    final Histogram recoveryDuration, phaseDuration, heldDuration;
    final Map<String, Long> lastEventMs = new ConcurrentHashMap<>();
    final Map<String, Long> lag = new ConcurrentHashMap<>();
    final Gauge connected;
    private HTTPServer server;

    public FleetMetrics() {
        errors = Counter.builder().name("aertrace_errors_total").help("AER errors (episodes with an AER event) by severity")
                .labelNames(with(DEV, "severity")).register(registry);
        recoveries = Counter.builder().name("aertrace_recoveries_total").help("Host AER recoveries (pcie_do_recovery) by result")
                .labelNames(with(DEV, "result")).register(registry);
        races = Counter.builder().name("aertrace_races_total").help("Race verdicts by kind (confident ones; tentative ones are in aertrace_episodes_total{outcome=\"inconclusive\"})")
                .labelNames(with(DEV, "kind")).register(registry);
        episodes = Counter.builder().name("aertrace_episodes_total").help("Closed episodes by outcome")
                .labelNames("host", "kernel", "outcome").register(registry);
        published = Counter.builder().name("aertrace_episodes_published_total").help("Episode messages sent to the episodes topic (re-reads after a restart or rebalance send the same episode_id again)")
                .register(registry);
        duplicates = Counter.builder().name("aertrace_episodes_republished_total").help("Episodes this process had already published and sent again after re-reading a stream (same episode_id; not counted again in the other metrics)")
                .register(registry);
        events = Counter.builder().name("aertrace_events_total").help("Trace lines consumed per host (events, lost markers)")
                .labelNames("host").register(registry);
        lost = Counter.builder().name("aertrace_events_lost_total").help("Events the agent reported lost (perf buffer overflow, Kafka spool full or refused)")
                .labelNames("host").register(registry);
        undecodable = Counter.builder().name("aertrace_events_undecodable_total").help("Records the agent could not encode plus lines the analyzer could not read (corrupt, truncated, invalid)")
                .labelNames("host").register(registry);
        recoveryDuration = Histogram.builder().name("aertrace_recovery_duration_seconds").help("pcie_do_recovery duration")
                .unit(Unit.SECONDS).classicOnly().classicUpperBounds(BOUNDS).labelNames("kernel").register(registry);
        phaseDuration = Histogram.builder().name("aertrace_phase_duration_seconds").help("Recovery phase durations (the phases of aertrace compare)")
                .unit(Unit.SECONDS).classicOnly().classicUpperBounds(BOUNDS).labelNames("kernel", "phase").register(registry);
        heldDuration = Histogram.builder().name("aertrace_held_access_duration_seconds").help("How long a user config access was held by a host reset")
                .unit(Unit.SECONDS).classicOnly().classicUpperBounds(BOUNDS).labelNames("kernel").register(registry);
        connected = Gauge.builder().name("aertrace_hosts_connected").help("Host streams open (header seen, no footer yet)").register(registry);
        GaugeWithCallback.builder().name("aertrace_host_last_event_age_seconds").help("Seconds since the last message of each host")
                .unit(Unit.SECONDS).labelNames("host").callback(cb -> {
                    long now = System.currentTimeMillis();
                    lastEventMs.entrySet().removeIf(e -> now - e.getValue() > FORGET_MS);
                    lastEventMs.forEach((h, t) -> cb.call((now - t) / 1000.0, h));
                }).register(registry);
        GaugeWithCallback.builder().name("aertrace_consumer_lag_messages").help("Messages in the events topic not yet read, per assigned partition")
                .labelNames("topic", "partition").callback(cb -> lag.forEach((tp, v) -> {
                    int i = tp.lastIndexOf('-');
                    cb.call(v, tp.substring(0, i), tp.substring(i + 1));
                })).register(registry);
    }

    private static String[] with(String[] a, String b) {
        String[] r = java.util.Arrays.copyOf(a, a.length + 1);
        r[a.length] = b;
        return r;
    }

    public void serve(String host, int port) throws IOException {
        server = HTTPServer.builder().hostname(host).port(port).registry(registry).buildAndStart();
    }

    public int port() { return server == null ? -1 : server.getPort(); }

    public void close() {
        if (server != null) server.close();
    }

    /** A host stream started: its per-host series exist from now on (at 0), so dashboards show the host. */
    void hostSeen(String host) {
        events.labelValues(host);
        lost.labelValues(host);
        undecodable.labelValues(host);
        lastEventMs.put(host, System.currentTimeMillis());
    }

    /** Labels of a device: host, kernel, segment, bus, device, function, driver. */
    static String[] devLabels(Episode e, Map<String, String> drivers, String extra) {
        String d = e.device() == null ? "" : e.device();
        String seg = "", bus = "", dv = "", fn = "";
        // 0000:01:00.0 -> segment 0000, bus 01, device 00, function 0 (as node_exporter's pcidevice collector)
        int c1 = d.indexOf(':'), c2 = d.indexOf(':', c1 + 1), dot = d.indexOf('.', c2 + 1);
        if (c1 > 0 && c2 > c1 && dot > c2) {
            seg = d.substring(0, c1);
            bus = d.substring(c1 + 1, c2);
            dv = d.substring(c2 + 1, dot);
            fn = d.substring(dot + 1);
        }
        String drv = drivers == null ? null : drivers.get(d);
        return new String[] {nz(e.host()), nz(e.kernel()), seg, bus, dv, fn, nz(drv), extra};
    }

    private static String nz(String s) { return s == null ? "" : s; }

    /** For {@code record --metrics}: one host, driver labels from the episode's callbacks. */
    public void recordEpisode(AnalyzedEpisode a) {
        Map<String, String> drivers = new java.util.HashMap<>();
        for (var c : a.episode().callbacks()) if (c.driver() != null) drivers.putIfAbsent(c.dev(), c.driver());
        episode(a, drivers);
    }

    void episode(AnalyzedEpisode a, Map<String, String> drivers) {
        Episode e = a.episode();
        String kernel = nz(e.kernel());
        episodes.labelValues(nz(e.host()), kernel, a.outcome().id()).inc();
        if (!e.errors().isEmpty()) {
            String sev = e.severity() == null ? "unknown" : switch (e.severity()) {
                case 0 -> "nonfatal";
                case 1 -> "fatal";
                case 2 -> "correctable";
                case 3 -> "fatal_dpc";
                default -> "unknown";
            };
            errors.labelValues(devLabels(e, drivers, sev)).inc();
        }
        if (e.recoveryStart() != null && e.recoveryEnd() != null) {
            String res = e.result() == null || e.result() < 1 || e.result() > 6 ? "unknown"
                    : Pci.ers(e.result()).toLowerCase(Locale.ROOT);
            boolean failedAnyway = a.verdicts().stream().anyMatch(v -> v.kind().id.equals("recovery-failed"));
            if (failedAnyway && res.equals("recovered")) res = "failed";
            recoveries.labelValues(devLabels(e, drivers, res)).inc();
            recoveryDuration.labelValues(kernel).observe((e.recoveryEnd() - e.recoveryStart()) / 1e9);
        }
        for (Verdict v : a.verdicts()) {
            if (v.tentative() || !v.kind().category.name().equalsIgnoreCase("race")) continue;
            races.labelValues(devLabels(e, drivers, v.kind().id)).inc();
        }
        EpisodeMetrics.durations(e).forEach((phase, ns) -> {
            if (phase.equals("user-access-held-by-reset")) heldDuration.labelValues(kernel).observe(ns / 1e9);
            else if (!phase.equals("recovery")) phaseDuration.labelValues(kernel, phase).observe(ns / 1e9);
        });
    }
}
