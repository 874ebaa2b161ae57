package dev.aertrace.cli;

import dev.aertrace.bench.ScaledTrace;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {"Measure the real analyze command against a bare JSON parse of the same file, in the same run.",
                "Scales the embedded real lab trace (6.1 fatal-race) to the events asked (written once to ~/.cache/aertrace/bench),"
                        + " then runs, round after round, each in a fresh JVM with the launcher's options: the floor (one Jackson"
                        + " streaming parser pulling every token, building nothing), `analyze` with the text report and"
                        + " `analyze --format json`, both writing to a byte-counting stdout. Prints CPU (whole process) and wall"
                        + " per mode, their ratios to the floor within each round, report sizes, peak heap and RSS, and the time"
                        + " to the first result of `aertrace analyze` on the embedded trace."},
        footer = {"", "Examples:", "  aertrace bench                                  # 1 M events, 3 rounds",
                "  aertrace bench --events 1000000,10000000 --runs 2   # and 10 M (1.7 GB, a few minutes)",
                "  aertrace bench --events 1000000 --inputs 8 --ttfr-runs 0   # and 8 inputs with -j 1 against all CPUs"})
final class BenchCommand implements Callable<Integer> {
    @Option(names = "--events", split = ",", defaultValue = "1000000", paramLabel = "N[,N...]",
            description = "Trace sizes in events (default: ${DEFAULT-VALUE}); each is rounded up to whole copies of the lab trace.")
    long[] events;

    @Option(names = "--runs", defaultValue = "3", description = "Rounds per size; each round runs floor, text, json once (default: ${DEFAULT-VALUE}).")
    int runs;

    @Option(names = "--dir", paramLabel = "DIR", description = "Where the scaled traces are kept (default: ~/.cache/aertrace/bench).")
    Path dir;

    @Option(names = "--ttfr-runs", defaultValue = "3", description = "Runs of `aertrace analyze` on the embedded trace for the time to first result; 0 skips it (default: ${DEFAULT-VALUE}).")
    int ttfrRuns;

    @Option(names = "--inputs", defaultValue = "0", paramLabel = "N",
            description = "Also time `analyze` over N trace files with -j <CPUs> against -j 1 on one CPU (taskset) and on all"
                    + " (issue 13: 8 inputs on 2 cores within 0.6x of one core, same report); 0 skips it (default: ${DEFAULT-VALUE}).")
    int inputs;

    @Option(names = "--input-events", defaultValue = "250000", paramLabel = "N",
            description = "Events per input file for --inputs (default: ${DEFAULT-VALUE}).")
    long inputEvents;

    static final String[] MODES = {"floor", "text", "json"};

    @Override
    public Integer call() throws Exception {
        if (runs < 1 || ttfrRuns < 0 || inputs < 0 || inputEvents < 1000 || Arrays.stream(events).anyMatch(n -> n < 1000)) {
            System.err.println("aertrace bench: --events and --input-events must be >= 1000, --runs >= 1, --ttfr-runs and --inputs >= 0");
            return 2;
        }
        Path d = dir != null ? dir : Path.of(System.getProperty("user.home"), ".cache", "aertrace", "bench");
        System.out.println("JVM options: analyze gets the launcher's for its input (below, per size); floor " + String.join(" ", BenchRuns.FLOOR)
                + "; " + Runtime.getRuntime().availableProcessors() + " CPUs; " + BenchRuns.load("load average at start"));
        for (long n : events) size(d, n);
        if (inputs > 0) inputs(d);
        if (ttfrRuns > 0) BenchRuns.timeToFirstResult(ttfrRuns, BenchRuns.launcherOptions(List.of("analyze")));
        System.out.println(BenchRuns.load("load average at end"));
        return 0;
    }

    private static Path scaled(Path d, long n) throws java.io.IOException {
        Path f = d.resolve("fatal-race-" + n + ".jsonl");
        if (!Files.exists(f)) {
            System.err.println("aertrace bench: writing " + f + " ...");
            try (InputStream lab = Run.class.getResourceAsStream(EpisodeInputs.embeddedResource())) {
                ScaledTrace.write(dev.aertrace.ingest.TraceReader.decode(lab), f, n);
            }
        }
        return f;
    }

    /**
     * Several inputs: the same N files (one scaled trace named N times, each read and analysed on its own) on one CPU
     * ({@code -j 1} under {@code taskset -c}, the first CPU this process may use: the whole JVM, its JIT and collector too, on one core), with
     * {@code -j 1} on all CPUs and with {@code -j <CPUs>}, the order rotating per round; wall ratios per round, and the
     * reports' CRC must be equal. The target is against one core, as the issue states it; {@code -j 1} on all CPUs is
     * printed beside it because there the JIT's compile threads run free on the other CPUs, which {@code -j <CPUs>}
     * pays for. Only an otherwise idle machine can show the ratio a second core gives: the load is printed.
     */
    private void inputs(Path d) throws Exception {
        Path f = scaled(d, inputEvents);
        Path[] files = new Path[inputs];
        Arrays.fill(files, f);
        int cpus = Runtime.getRuntime().availableProcessors();
        List<String> args = new java.util.ArrayList<>(List.of("analyze", "-j", "1"));
        for (Path p : files) args.add(p.toString());
        List<String> jvm = BenchRuns.launcherOptions(args);
        List<String> pin = BenchRuns.oneCpu();
        System.out.printf(Locale.ROOT, "%n%d inputs of %d events each (%s), analyze -j 1 on one CPU (%s) and on all %d, against -j %d;"
                        + " JVM options (the launcher's for these inputs): %s%n", inputs, BenchRuns.lines(f) - 2, f,
                pin.isEmpty() ? "not measured: no taskset" : String.join(" ", pin), cpus, cpus, String.join(" ", jvm));
        double[] toCore = new double[runs], toOne = new double[runs], side = new double[runs];
        boolean same = true;
        for (int i = 0; i < runs; i++) {
            long[][] r = new long[3][];
            for (int k = 0; k < 3; k++) {
                int m = (i + k) % 3; // 0 pinned -j 1, 1 -j 1, 2 -j <CPUs>
                if (m == 0 && pin.isEmpty()) continue;
                r[m] = BenchRuns.worker(m == 0 ? pin : List.of(), jvm, m == 2 ? "jobs=" + cpus : "jobs=1", files);
            }
            long[] core = r[0], one = r[1], all = r[2];
            side[i] = BenchRuns.sideBySide(jvm, files[0], files[0]);
            toOne[i] = (double) all[1] / one[1];
            toCore[i] = core == null ? Double.NaN : (double) all[1] / core[1];
            same &= one[5] == all[5] && one[6] == all[6] && one[0] == all[0]
                    && (core == null || (core[5] == all[5] && core[6] == all[6] && core[0] == all[0]));
            System.out.printf(Locale.ROOT, "  round %d: -j 1 on one CPU %s; -j 1 %.2f s wall %.2f s CPU; -j %d %.2f s wall %.2f s CPU;"
                            + " wall ratio to one CPU %s, to -j 1 %.2f; the two CPUs side by side %s; %s%n", i + 1,
                    core == null ? "-" : String.format(Locale.ROOT, "%.2f s wall %.2f s CPU", core[1] / 1e9, core[2] / 1e9),
                    one[1] / 1e9, one[2] / 1e9, cpus, all[1] / 1e9, all[2] / 1e9,
                    core == null ? "-" : String.format(Locale.ROOT, "%.2f", toCore[i]), toOne[i],
                    Double.isNaN(side[i]) ? "-" : String.format(Locale.ROOT, "%.2fx the CPU alone", side[i]), BenchRuns.load("load"));
        }
        double medOne = median(toOne);
        if (pin.isEmpty()) {
            System.out.printf(Locale.ROOT, "issue 13 target: %d inputs on %d CPUs within 0.6x of one CPU's wall time: not measured (no taskset to"
                    + " run on one CPU); against -j 1 on all CPUs %.2fx (median); same report (bytes and CRC-32): %s%n", inputs, cpus, medOne, same ? "yes" : "NO");
            return;
        }
        double med = median(toCore);
        System.out.printf(Locale.ROOT, "issue 13 target: %d inputs on %d CPUs within 0.6x of one CPU's wall time: %s (median %.2fx);"
                        + " against -j 1 on all %d CPUs (its JIT compiling on the others) %.2fx; same report (bytes and CRC-32): %s%n",
                inputs, cpus, med <= 0.6 ? "met" : "NOT met", med, cpus, medOne, same ? "yes" : "NO");
        if (!Double.isNaN(side[0]))
            System.out.printf(Locale.ROOT, "the host's two CPUs side by side (two -j 1 runs of 2 inputs pinned one per CPU at once, against"
                    + " each alone): median %.2fx the CPU alone (1.00: two whole cores; above it, no -j %d can reach half of one CPU's time)%n",
                    median(side), cpus);
    }

    private static double median(double[] v) {
        double[] x = v.clone();
        Arrays.sort(x);
        return x.length % 2 == 1 ? x[x.length / 2] : (x[x.length / 2 - 1] + x[x.length / 2]) / 2;
    }

    private void size(Path d, long n) throws Exception {
        Path f = scaled(d, n);
        long inputBytes;
        inputBytes = Files.size(f);
        long lines = BenchRuns.lines(f);
        // the worker runs `analyze FILE` (text) and `analyze --format json FILE`: the launcher sizes both the same
        List<String> jvm = BenchRuns.launcherOptions(List.of("analyze", f.toString()));
        System.out.printf(Locale.ROOT, "%ntrace: %s (%d events, %.0f MiB: the embedded 6.1 fatal-race recording repeated, time-shifted)%n"
                + "JVM options for analyze (the launcher's for this input): %s%n", f, lines - 2, inputBytes / 1048576.0, String.join(" ", jvm));
        // rounds interleave the modes, so a change of load hits all three alike; ratios are taken within a round
        long[][][] r = new long[runs][MODES.length][];
        for (int i = 0; i < runs; i++) {
            StringBuilder sb = new StringBuilder("  round " + (i + 1) + ":");
            for (int m = 0; m < MODES.length; m++) {
                r[i][m] = BenchRuns.worker(jvm, MODES[m], f);
                sb.append(String.format(Locale.ROOT, " %s %.2f s CPU %.2f s wall;", MODES[m], r[i][m][2] / 1e9, r[i][m][1] / 1e9));
            }
            System.out.println(sb + " " + BenchRuns.load("load"));
        }
        BenchRuns.table(r, lines - 2, inputBytes);
    }
}
