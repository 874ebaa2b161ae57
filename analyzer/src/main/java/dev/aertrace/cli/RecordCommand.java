package dev.aertrace.cli;

import dev.aertrace.report.Totals;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;

@Command(name = "record", mixinStandardHelpOptions = true,
        description = {"Run the agent (root, bcc) and analyze its live stream until Ctrl-C.",
                "Episodes are reported as they complete; Ctrl-C stops the agent, then the summary is printed."},
        footer = {"", "Examples:",
                "  sudo aertrace record --device 0000:01:00.0",
                "  sudo aertrace record --device 0000:01:00.0 --save trace.jsonl --duration 60",
                "  aertrace record --listen 9999     # loopback; then on the traced host/VM (e.g. via ssh -R):",
                "      aertrace-agent --connect ANALYZER_HOST:9999 --device 0000:01:00.0",
                "", "The agent is started as: /usr/bin/python3 agent/aertrace-agent -o - [--device DEV]...",
                "Exit codes as for analyze; 2 also when the agent could not start (its message says why)."})
final class RecordCommand implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(names = "--device", paramLabel = "DEV", description = "Limit probes to DEV's hierarchy (repeatable, or a comma list): "
            + "DDDD:BB:DD.F or BB:DD.F, any case, e.g. 0000:01:00.0 or 01:00.0 (the agent's grammar, agent/README.md).")
    List<String> devices = new ArrayList<>();

    @Option(names = "--duration", paramLabel = "SECONDS", description = "Stop after SECONDS (passed to the agent).")
    Integer duration;

    @Option(names = "--save", paramLabel = "FILE", description = "Also write the raw trace to FILE.")
    Path save;

    @Option(names = "--agent", paramLabel = "PATH", description = "Agent script (default: agent/aertrace-agent of this checkout).")
    Path agent;

    @Option(names = "--python", paramLabel = "PATH", defaultValue = "/usr/bin/python3",
            description = "Python with bcc (default: ${DEFAULT-VALUE}).")
    String python;

    @Mixin ListenOptions net;

    @Mixin MetricsOptions metricsAt;

    @Mixin AnalysisOptions opts;

    private dev.aertrace.fleet.FleetMetrics metrics;

    /** The report sink, plus the fleet's episode metrics when --metrics is given. */
    private dev.aertrace.report.ReportSink sink(PrintStream out) throws IOException {
        dev.aertrace.report.ReportSink s = opts.sink(out);
        if (metrics == null) return s;
        dev.aertrace.fleet.FleetMetrics m = metrics;
        return new dev.aertrace.report.ReportSink() {
            @Override public void episode(dev.aertrace.race.AnalyzedEpisode ep) {
                m.recordEpisode(ep);
                s.episode(ep);
            }

            @Override public void source(dev.aertrace.ingest.SourceReport r) { s.source(r); }

            @Override public void finish(dev.aertrace.report.Totals t) { s.finish(t); }
        };
    }

    /** With --listen every client has its own report; the metrics server is one for all of them. */
    private dev.aertrace.report.ReportSink clientSink(PrintStream out) {
        try {
            return sink(out);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private volatile boolean interrupted;

    @Override
    public Integer call() throws Exception {
        try {
            return record();
        } finally {
            if (metrics != null) metrics.close();
        }
    }

    private static final java.util.regex.Pattern PCI_NAME =
            java.util.regex.Pattern.compile("([0-9a-f]{4}:)?[0-9a-f]{2}:([01][0-9a-f])\\.[0-7]");

    /**
     * The agent's --device grammar (agent/README.md; aertrace_agent.topology.normalize_name): DDDD:BB:DD.F or
     * BB:DD.F (domain 0000), hex in any case, device number at most 1f, comma-separated lists. Both sides check
     * testdata/device-names.tsv. Returns the full lower-case names; IllegalArgumentException names the bad part.
     */
    static List<String> deviceNames(String text) {
        List<String> out = new ArrayList<>();
        for (String part : text.split(",", -1)) {
            String n = part.strip().toLowerCase(java.util.Locale.ROOT);
            if (!PCI_NAME.matcher(n).matches()) throw new IllegalArgumentException(part.strip());
            out.add(n.length() == 7 ? "0000:" + n : n);
        }
        return out;
    }

    private Integer record() throws Exception {
        opts.validate(spec);
        List<String> names = new ArrayList<>();
        for (String d : devices) {
            try {
                names.addAll(deviceNames(d));
            } catch (IllegalArgumentException e) {
                throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                        "--device " + e.getMessage() + ": expected a PCI name like 0000:01:00.0 or 01:00.0");
            }
        }
        devices = names;
        // A bad or busy --metrics address fails now, not when the first client connects.
        if (metricsAt.at != null) metrics = metricsAt.start(spec, "record", null);
        if (net.listen != null) {
            if (!devices.isEmpty() || duration != null || agent != null)
                throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                        "--listen takes the remote agent's stream as it is: pass --device/--duration to that agent");
            return listen();
        }
        Path script = agent != null ? agent : defaultAgent();
        if (script == null || !Files.isReadable(script)) {
            System.err.println("aertrace record: agent not found" + (script != null ? " at " + script : "")
                    + "; run from the aertrace checkout or pass --agent PATH");
            return Totals.USAGE;
        }
        List<String> cmd = new ArrayList<>(List.of(python, script.toString(), "-o", "-"));
        for (String d : devices) { cmd.add("--device"); cmd.add(d); }
        if (duration != null) { cmd.add("--duration"); cmd.add(duration.toString()); }
        Process p;
        try {
            p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        } catch (IOException e) {
            System.err.println("aertrace record: cannot start " + python + ": " + e.getMessage());
            return Totals.USAGE;
        }
        // Ctrl-C reaches the agent too (same process group); we keep reading until it writes its footer.
        // If the signal came from elsewhere (kill -INT), pass a SIGTERM on after a grace period.
        sun.misc.Signal.handle(new sun.misc.Signal("INT"), s -> {
            interrupted = true;
            new Thread(() -> {
                try {
                    if (!p.waitFor(3, TimeUnit.SECONDS)) p.destroy();
                } catch (InterruptedException ignored) {
                    Thread.currentThread().interrupt();
                }
            }).start();
        });
        System.err.println("aertrace record: " + String.join(" ", cmd) + " (Ctrl-C to stop)");
        InputStream in = p.getInputStream();
        OutputStream raw = save == null ? null : Files.newOutputStream(save);
        if (raw != null) in = new Tee(in, raw);
        PrintStream out = System.out;
        Run run = new Run(opts.analyzerOptions(), sink(out));
        try {
            // The agent's ts is CLOCK_MONOTONIC of this host, which System.nanoTime() reads on Linux.
            run.input("agent" + (devices.isEmpty() ? "" : " " + String.join(",", devices)), in,
                    new dev.aertrace.ingest.TraceReader.Live(System::nanoTime, p::isAlive));
        } finally {
            if (raw != null) raw.close();
        }
        int agentExit = p.waitFor();
        int code = run.finish();
        if (agentExit != 0 && !interrupted && run.totals.events == 0) {
            System.err.println("aertrace record: the agent exited with " + agentExit + " before any event (see its message above)");
            return Totals.USAGE;
        }
        return code;
    }

    private int listen() throws IOException, InterruptedException {
        java.net.InetSocketAddress at = net.address(spec);
        if (save != null)
            throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                    "--save is for one agent; with --listen each client is its own stream (save on the agent: -o FILE)");
        Listener l;
        try {
            l = new Listener(at, net.limits(opts.format == AnalysisOptions.Format.json),
                    opts.analyzerOptions(), this::clientSink, System.out, System.err).stopAfter(net.clientCount);
        } catch (java.net.BindException e) {
            System.err.println("aertrace record: cannot listen on " + net.listen + ": " + e.getMessage());
            return Totals.USAGE;
        }
        sun.misc.Signal.handle(new sun.misc.Signal("INT"), sig -> {
            System.err.println("aertrace record: Ctrl-C: ending every client's stream, then the summary");
            l.stop();
        });
        System.err.println("aertrace record: listening on " + l.address().getHostAddress() + ":" + l.port()
                + "; on the traced machine run: aertrace-agent --connect THIS_HOST:" + l.port()
                + " [--device DEV] (each connection is its own stream; Ctrl-C ends them and prints the summary)");
        return l.serve();
    }

    /** Locates agent/aertrace-agent next to the analyzer jar (analyzer/target/aertrace.jar) or in the cwd. */
    static Path defaultAgent() {
        try {
            Path jar = Path.of(RecordCommand.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            for (Path d = jar.getParent(); d != null; d = d.getParent()) {
                Path a = d.resolve("agent/aertrace-agent");
                if (Files.exists(a)) return a;
            }
        } catch (Exception ignored) {
            // fall through to the working directory
        }
        Path a = Path.of("agent/aertrace-agent");
        return Files.exists(a) ? a : null;
    }

    private static final class Tee extends FilterInputStream {
        private final OutputStream copy;

        Tee(InputStream in, OutputStream copy) {
            super(in);
            this.copy = copy;
        }

        @Override
        public int read() throws IOException {
            int b = super.read();
            if (b >= 0) copy.write(b);
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = super.read(b, off, len);
            if (n > 0) copy.write(b, off, n);
            return n;
        }
    }
}
