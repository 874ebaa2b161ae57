package dev.aertrace.cli;

import dev.aertrace.bench.BenchWorker;
import dev.aertrace.bench.SyntheticTrace;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {"Measure analysis throughput and memory on a generated 10M-event trace.",
                "Generates the trace once (~1.6 GB in ~/.cache/aertrace), then runs the full analysis and a Jackson-only parse of the same file (the floor), each in a fresh JVM pinned to one CPU with a capped heap; prints events/s, peak heap, peak RSS."},
        footer = {"", "Examples:", "  aertrace bench", "  aertrace bench --events 1000000 --runs 1"})
final class BenchCommand implements Callable<Integer> {
    @Option(names = "--events", defaultValue = "10000000", description = "Events in the generated trace (default: ${DEFAULT-VALUE}).")
    long events;

    @Option(names = "--file", paramLabel = "PATH", description = "Trace to generate/reuse (default: ~/.cache/aertrace/bench-N.jsonl).")
    Path file;

    @Option(names = "--heap", defaultValue = "256m", description = "Heap cap for the measured JVMs (default: ${DEFAULT-VALUE}).")
    String heap;

    @Option(names = "--runs", defaultValue = "3", description = "Runs per mode; the best is reported (default: ${DEFAULT-VALUE}).")
    int runs;

    @Override
    public Integer call() throws Exception {
        if (events < 1000 || runs < 1) {
            System.err.println("aertrace bench: --events must be >= 1000 and --runs >= 1");
            return 2;
        }
        Path f = file != null ? file : Path.of(System.getProperty("user.home"), ".cache", "aertrace", "bench-" + events + ".jsonl");
        if (!Files.exists(f)) {
            System.err.println("aertrace bench: generating " + events + " events into " + f + " ...");
            SyntheticTrace.generate(f, events);
        }
        System.out.printf(Locale.ROOT, "trace: %s (%.0f MiB, %d events)%n", f, Files.size(f) / 1048576.0, events);
        boolean pin = new File("/usr/bin/taskset").canExecute();
        System.out.println("JVM: -Xmx" + heap + " -XX:ActiveProcessorCount=1" + (pin ? ", pinned with taskset -c 0" : " (taskset not found: not pinned)"));
        long[] floor = best("floor", f, pin);
        long[] full = best("analyze", f, pin);
        double[] load = loadAverage();
        System.out.printf(Locale.ROOT, "%-8s %11s %8s %8s %13s %13s %11s %11s%n", "mode", "events", "wall s", "cpu s",
                "events/wall-s", "events/cpu-s", "peak heap", "peak RSS");
        row("floor", floor);
        row("analyze", full);
        double ratio = (double) full[5] / floor[5];
        System.out.printf(Locale.ROOT, "analyze/floor CPU-time ratio: %.2f (the analysis costs %.2fx a bare Jackson parse of the file); episodes: %d%n",
                ratio, ratio, full[4]);
        double cpuRate = full[0] / (full[5] / 1e9);
        boolean ok = cpuRate >= 1e6 && full[2] < 256L * 1024 * 1024;
        System.out.printf(Locale.ROOT, "targets (>= 1M events/s per CPU-second on one core, peak heap < 256 MiB): %s; load average %.1f/%.1f with %d CPUs%n",
                ok ? "met" : "NOT met", load[0], load[1], Runtime.getRuntime().availableProcessors());
        return 0;
    }

    private static void row(String name, long[] r) {
        System.out.printf(Locale.ROOT, "%-8s %11d %8.2f %8.2f %13.0f %13.0f %7.1f MiB %7.1f MiB%n", name, r[0], r[1] / 1e9,
                r[5] / 1e9, r[0] / (r[1] / 1e9), r[0] / (r[5] / 1e9), r[2] / 1048576.0, r[3] / 1048576.0);
    }

    private static double[] loadAverage() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).split(" ");
            return new double[]{Double.parseDouble(f[0]), Double.parseDouble(f[1])};
        } catch (Exception e) {
            return new double[]{-1, -1};
        }
    }

    /** Over {@link #runs} runs: least wall and least CPU time, largest peaks; returns events, wall ns, peak heap, peak RSS, episodes, CPU ns. */
    private long[] best(String mode, Path f, boolean pin) throws Exception {
        long[] best = null;
        for (int i = 0; i < runs; i++) {
            List<String> cmd = new ArrayList<>();
            if (pin) cmd.addAll(List.of("/usr/bin/taskset", "-c", "0"));
            cmd.add(ProcessHandle.current().info().command().orElse("java"));
            cmd.addAll(List.of("-Xmx" + heap, "-XX:ActiveProcessorCount=1", "-cp", System.getProperty("java.class.path"),
                    BenchWorker.class.getName(), mode, f.toString()));
            Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
            String line;
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                line = r.readLine();
            }
            if (p.waitFor() != 0 || line == null) throw new IllegalStateException(mode + " run failed (exit " + p.exitValue() + ")");
            String[] x = line.split(" ");
            long[] r = {Long.parseLong(x[1]), Long.parseLong(x[2]), Long.parseLong(x[3]), Long.parseLong(x[4]),
                    Long.parseLong(x[5]), Long.parseLong(x[6])};
            System.err.printf(Locale.ROOT, "  %s run %d: %.2f s wall, %.2f s CPU%n", mode, i + 1, r[1] / 1e9, r[5] / 1e9);
            if (best == null) best = r;
            else {
                // best CPU and best wall independently (a busy machine inflates wall time run by run); peaks: worst
                best[1] = Math.min(best[1], r[1]);
                best[5] = Math.min(best[5], r[5]);
                best[2] = Math.max(best[2], r[2]);
                best[3] = Math.max(best[3], r[3]);
            }
        }
        return best;
    }
}
