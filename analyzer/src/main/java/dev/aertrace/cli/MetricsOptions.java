package dev.aertrace.cli;

import dev.aertrace.fleet.FleetMetrics;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;

import java.io.IOException;

/** --metrics, one option for record and fleet: the fleet's Prometheus metrics served on [HOST:]PORT. */
final class MetricsOptions {
    @Option(names = "--metrics", paramLabel = "[HOST:]PORT",
            description = {"Serve the fleet's Prometheus /metrics on [HOST:]PORT (HOST defaults to 127.0.0.1); 'off': none.",
                    "Default: off for record, 127.0.0.1:9464 for fleet."})
    String at;

    /**
     * The metrics server on --metrics, else on {@code fallback}; null when "off" or neither is given. A malformed
     * address is a usage error; one that cannot be bound an IOException (exit 2, one line, through Main).
     */
    FleetMetrics start(CommandSpec spec, String command, String fallback) throws IOException {
        String v = at != null ? at : fallback;
        if (v == null || v.equals("off")) return null;
        Endpoint e = Endpoint.parse(spec, "--metrics", v);
        FleetMetrics m = new FleetMetrics();
        try {
            m.serve(e.host(), e.port());
        } catch (IOException x) {
            m.close();
            throw new IOException("cannot serve metrics on " + v + ": " + x.getMessage(), x);
        }
        System.err.println("aertrace " + command + ": metrics on http://" + e.host() + ":" + m.port() + "/metrics");
        return m;
    }
}
