package dev.aertrace.cli;

import dev.aertrace.chart.ChartFiles;
import dev.aertrace.chart.ChartFloor;
import dev.aertrace.chart.PhaseChart;
import dev.aertrace.chart.TimelineChart;
import dev.aertrace.compare.EpisodeMetrics;
import dev.aertrace.export.TraceEventExport;
import dev.aertrace.race.AnalyzedEpisode;
import dev.aertrace.pipeline.Analyzer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.ByteArrayInputStream;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;

@Command(name = "chart-bench", mixinStandardHelpOptions = true,
        header = "Measure chart and export rendering time for N episodes.",
        description = {"Measure chart and export rendering: generates a trace of N fatal-race episodes (timings jittered), analyzes it, then renders every episode's timeline (PNG or SVG), then, for comparison in the same run, its floor (the same bars, labels and sentences in plain Java2D, PNG only), one phase chart over all episodes, and the Chrome trace export, printing the time of each step."},
        footer = {"", "Example:", "  aertrace chart-bench --episodes 1000 --format png"})
final class ChartBenchCommand implements Callable<Integer> {
    @Option(names = "--episodes", defaultValue = "1000", description = "Episodes to render (default: ${DEFAULT-VALUE}).")
    int n;

    @Option(names = "--format", defaultValue = "png", description = "png or svg (default: ${DEFAULT-VALUE}).")
    String format;

    @Option(names = {"-o", "--output"}, paramLabel = "DIR",
            description = "Keep the files in DIR (default: a temporary directory, deleted afterwards).")
    Path dir;

    private long render(AnalyzedEpisode a, Path out, boolean temp) throws java.io.IOException {
        Path p = out.resolve("ep" + a.episode().id() + "-timeline." + format);
        ChartFiles.write(TimelineChart.create(a), p, ChartFiles.WIDTH, ChartFiles.HEIGHT);
        long size = Files.size(p);
        if (temp) Files.delete(p);
        return size;
    }

    /** Every chart on {@code threads} cores (what {@code aertrace chart} does); returns the bytes written. */
    private long renderAll(List<AnalyzedEpisode> eps, Path out, boolean temp, int threads) throws Exception {
        java.util.concurrent.atomic.AtomicLong total = new java.util.concurrent.atomic.AtomicLong();
        java.util.concurrent.ForkJoinPool pool = new java.util.concurrent.ForkJoinPool(threads);
        try {
            pool.submit(() -> eps.parallelStream().forEach(a -> {
                try { total.addAndGet(render(a, out, temp)); } catch (java.io.IOException e) { throw new java.io.UncheckedIOException(e); }
            })).get();
        } finally {
            pool.shutdown();
        }
        return total.get();
    }

    /**
     * The floor over the same episodes on the same threads, written and deleted as the charts are, after the charts
     * (the JIT has warmed both alike): {process CPU ms per PNG, wall s}.
     */
    private static double[] floor(List<AnalyzedEpisode> eps, Path out, boolean temp, int threads,
                                  com.sun.management.OperatingSystemMXBean os) throws Exception {
        java.util.concurrent.ForkJoinPool pool = new java.util.concurrent.ForkJoinPool(threads);
        long cpu0 = os.getProcessCpuTime(), t = System.nanoTime();
        try {
            pool.submit(() -> eps.parallelStream().forEach(a -> {
                Path p = out.resolve("ep" + a.episode().id() + "-floor.png");
                try {
                    Files.write(p, ChartFloor.png(a));
                    if (temp) Files.delete(p);
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            })).get();
        } finally {
            pool.shutdown();
        }
        return new double[] {(os.getProcessCpuTime() - cpu0) / 1e6 / eps.size(), (System.nanoTime() - t) / 1e9};
    }

    private void phaseChart(List<AnalyzedEpisode> eps, Path out) throws java.io.IOException {
        Map<String, Map<String, List<Long>>> g = new LinkedHashMap<>();
        for (AnalyzedEpisode a : eps) {
            EpisodeMetrics.durations(a.episode()).forEach((k, v) ->
                    g.computeIfAbsent("synthetic", x -> new LinkedHashMap<>()).computeIfAbsent(k, x -> new ArrayList<>()).add(v));
        }
        ChartFiles.write(PhaseChart.create("phases", ChartCommands.toArrays(g), EpisodeMetrics.PHASES, null),
                out.resolve("phases." + format), ChartFiles.WIDTH, ChartFiles.HEIGHT);
    }

    private static Path export(List<AnalyzedEpisode> eps, Path out) throws java.io.IOException {
        Path tj = out.resolve("bench.trace.json");
        try (Writer w = Files.newBufferedWriter(tj, StandardCharsets.UTF_8); TraceEventExport x = new TraceEventExport(w)) {
            for (AnalyzedEpisode a : eps) x.episode(a);
        }
        return tj;
    }

    @Override
    public Integer call() throws Exception {
        if (n < 1 || !(format.equals("png") || format.equals("svg"))) {
            System.err.println("aertrace chart-bench: --episodes >= 1 and --format png|svg");
            return EpisodeInputs.USAGE;
        }
        boolean temp = dir == null;
        Path out = temp ? Files.createTempDirectory("aertrace-chart-bench") : Files.createDirectories(dir);
        try {
            long t = System.nanoTime();
            byte[] trace = dev.aertrace.bench.SyntheticTrace.fatalRace(n, new Random(1));
            List<AnalyzedEpisode> eps = new ArrayList<>();
            new Analyzer().analyze("synthetic", new ByteArrayInputStream(trace), eps::add);
            double analyzeS = (System.nanoTime() - t) / 1e9;
            if (eps.size() != n) System.err.println("aertrace chart-bench: expected " + n + " episodes, analyzer found " + eps.size());

            // Warm-up: class loading and font setup are paid once per process, not per chart.
            ChartFiles.write(TimelineChart.create(eps.get(0)), out.resolve("warmup." + format), ChartFiles.WIDTH, ChartFiles.HEIGHT);

            // Single thread first (the cost of one chart), then all cores (what `aertrace chart` does).
            int one = Math.min(eps.size(), 100);
            java.lang.management.ThreadMXBean mx = java.lang.management.ManagementFactory.getThreadMXBean();
            long cpu0 = mx.getCurrentThreadCpuTime();
            t = System.nanoTime();
            long bytes = 0;
            for (AnalyzedEpisode a : eps.subList(0, one)) bytes += render(a, out, temp);
            double singleMs = (System.nanoTime() - t) / 1e6 / one;
            // CPU time, unlike wall time, does not grow when other processes share the cores.
            double cpuMs = (mx.getCurrentThreadCpuTime() - cpu0) / 1e6 / one;
            int threads = Runtime.getRuntime().availableProcessors();
            // The whole process's CPU (every thread, JIT and GC included) over all charts: what `aertrace chart` pays.
            com.sun.management.OperatingSystemMXBean os = (com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean();
            long pcpu0 = os.getProcessCpuTime();
            t = System.nanoTime();
            bytes = renderAll(eps, out, temp, threads);
            double timelineS = (System.nanoTime() - t) / 1e9;
            double processCpuMs = (os.getProcessCpuTime() - pcpu0) / 1e6 / eps.size();
            double[] floor = format.equals("png") ? floor(eps, out, temp, threads, os) : null;

            t = System.nanoTime();
            phaseChart(eps, out);
            double phaseS = (System.nanoTime() - t) / 1e9;

            t = System.nanoTime();
            Path tj = export(eps, out);
            double exportS = (System.nanoTime() - t) / 1e9;
            long exportBytes = Files.size(tj);

            System.out.printf(Locale.ROOT, "episodes:            %d (%d trace lines generated)%n", eps.size(), dev.aertrace.bench.SyntheticTrace.lines(trace));
            System.out.printf(Locale.ROOT, "analyze:             %.2f s%n", analyzeS);
            System.out.printf(Locale.ROOT, "timeline charts:     %.2f s for %d %s files on %d threads (%.0f KiB each, %dx%d)%n",
                    timelineS, eps.size(), format.toUpperCase(Locale.ROOT), threads,
                    bytes / 1024.0 / eps.size(), ChartFiles.WIDTH, ChartFiles.HEIGHT);
            System.out.printf(Locale.ROOT, "CPU per chart:       %.1f ms (process CPU over the %d charts on %d threads: drawing, encoding, writing, JIT, GC)%n",
                    processCpuMs, eps.size(), threads);
            if (floor != null) {
                System.out.printf(Locale.ROOT, "floor per PNG:       %.1f ms CPU, %.2f s wall (same run and threads: the lanes' bars, labels and sentences in plain Java2D, encoded and written: chart.ChartFloor); charts / floor: %.2fx CPU%n",
                        floor[0], floor[1], processCpuMs / floor[0]);
            }
            System.out.printf(Locale.ROOT, "one chart:           %.1f ms wall, %.1f ms CPU (single thread, mean of the first %d, still warming up)%n", singleMs, cpuMs, one);
            System.out.printf(Locale.ROOT, "idle-machine estimate: %.1f s for %d charts on %d cores (CPU per chart x charts / cores)%n",
                    cpuMs * eps.size() / 1e3 / threads, eps.size(), threads);
            System.out.printf(Locale.ROOT, "phase chart:         %.2f s (box plots over all %d episodes)%n", phaseS, eps.size());
            System.out.printf(Locale.ROOT, "chrome export:       %.2f s, %.1f MiB%n", exportS, exportBytes / 1048576.0);
            String load = "?";
            try { load = Files.readString(Path.of("/proc/loadavg")).trim(); } catch (java.io.IOException ignored) { }
            System.out.printf(Locale.ROOT, "cores: %d, max heap %d MiB, /proc/loadavg at end: %s (other load inflates these figures)%n",
                    Runtime.getRuntime().availableProcessors(), Runtime.getRuntime().maxMemory() >> 20, load);
            return 0;
        } finally {
            if (temp) {
                try (var s = Files.walk(out)) {
                    s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
                }
            }
        }
    }
}
