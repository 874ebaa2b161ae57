package dev.aertrace.cli;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/** The measuring side of {@link BenchCommand}: fresh JVMs, their figures, the table. */
final class BenchRuns {
    private BenchRuns() {}

    /** Inputs from this many bytes on get the JVM's tiered C2 instead of C1 alone (the launcher's AERTRACE_C2_BYTES). */
    static final long C2_BYTES = 500_000_000L;

    /** A .gz input counts this many times its size (the committed traces: 30x overall). */
    static final int GZ_WEIGHT = 30;

    /**
     * The JVM options the {@code aertrace} launcher gives the command {@code args}, for {@link BenchWorker}'s runs
     * (which run exactly that command): {@link #jvmChoice} and the class-data archive beside the jar.
     */
    static List<String> launcherOptions(List<String> args) {
        List<String> o = jvmChoice(System.getenv().getOrDefault("AERTRACE_JAVA_OPTS", ""),
                System.getenv().get("AERTRACE_C2_BYTES"), args);
        Path jsa = Path.of(System.getProperty("java.class.path").split(java.io.File.pathSeparator)[0]).toAbsolutePath()
                .resolveSibling("aertrace.jsa");
        if (Files.isReadable(jsa)) o.addAll(List.of("-XX:SharedArchiveFile=" + jsa, "-Xlog:disable", "-Xlog:all=warning:stderr"));
        return o;
    }

    /**
     * The launcher's choice, step for step (keep in step with it; {@code LauncherOptionsTest} runs both): the
     * AERTRACE_JAVA_OPTS {@code env}, -Xmx256m unless it sets a heap, the serial collector unless it chooses one, and
     * unless it chooses the JIT: C1 alone for inputs below {@code c2Bytes} (default {@link #C2_BYTES}), else tiered
     * C2 with shallow inlining (unless {@code env} sets any inlining flag) and a 48 MiB young generation (unless it
     * sizes it). Inputs: the regular files among {@code args},
     * not the one after -o/--output, a .gz counted {@link #GZ_WEIGHT} times.
     */
    static List<String> jvmChoice(String env, String c2Bytes, List<String> args) {
        env = env.trim();
        String all = " " + env + " ";
        List<String> o = new ArrayList<>();
        if (!all.contains(" -Xmx") && !all.contains(" -XX:MaxRAM")) o.add("-Xmx256m");
        if (!env.isEmpty()) o.addAll(Arrays.asList(env.split("\\s+")));
        if (!all.matches(".* -XX:\\+Use\\w*GC .*")) o.add("-XX:+UseSerialGC");
        if (!all.contains("TieredStopAtLevel") && !all.contains("TieredCompilation")) {
            long in = 0;
            boolean skip = false;
            for (String a : args) {
                if (skip) { skip = false; continue; }
                if (a.equals("-o") || a.equals("--output")) { skip = true; continue; }
                Path p = Path.of(a);
                if (!Files.isRegularFile(p)) continue;
                try {
                    in += Files.size(p) * (a.endsWith(".gz") ? GZ_WEIGHT : 1);
                } catch (IOException e) {
                    // as the launcher's stat: a file it cannot size does not count
                }
            }
            if (in < (c2Bytes == null || c2Bytes.isEmpty() ? C2_BYTES : Long.parseLong(c2Bytes.trim()))) o.add("-XX:TieredStopAtLevel=1");
            else {
                if (!all.contains("Inline")) o.addAll(List.of("-XX:MaxInlineLevel=3", "-XX:FreqInlineSize=40"));
                if (!all.contains(" -Xmn") && !all.contains("NewSize") && !all.contains("NewRatio")) o.add("-Xmn48m");
            }
        }
        return o;
    }

    /** The floor's JVM: the plain JVM's defaults (G1, C2) with the same heap cap: the parser at its fastest. */
    static final List<String> FLOOR = List.of("-Xmx256m");

    /** One worker run: exit code, wall ns, CPU ns, peak heap, peak RSS, report bytes, report CRC-32. */
    static long[] worker(List<String> jvm, String mode, Path... files) throws IOException, InterruptedException {
        return worker(List.of(), jvm, mode, files);
    }

    /**
     * The command that runs a JVM on one CPU (util-linux's taskset, on the first CPU this process may use), or empty
     * when there is none: the JVM then sees one CPU and sizes its JIT and collector for it, as on a one-core machine.
     */
    static List<String> oneCpu() {
        List<Integer> c = allowedCpus();
        return onCpu(c.isEmpty() ? 0 : c.get(0));
    }

    /** taskset -c {@code cpu}, or empty without taskset on PATH. */
    private static List<String> onCpu(int cpu) {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(java.io.File.pathSeparator)) {
            Path t = Path.of(dir.isEmpty() ? "." : dir, "taskset");
            if (Files.isExecutable(t)) return List.of(t.toString(), "-c", String.valueOf(cpu));
        }
        return List.of();
    }

    /** The CPUs this process may run on (/proc/self/status Cpus_allowed_list, e.g. "0-3,6"); empty if unknown. */
    static List<Integer> allowedCpus() {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/self/status")))
                if (l.startsWith("Cpus_allowed_list:")) return cpuList(l.substring(18));
        } catch (IOException e) {
            // not Linux: unknown
        }
        return List.of();
    }

    /** A kernel CPU list ("0-3,6") as its CPUs, at most 4,096; empty for a format this does not know. */
    static List<Integer> cpuList(String list) {
        List<Integer> cpus = new ArrayList<>();
        try {
            for (String part : list.trim().split(",")) {
                String[] ab = part.split("-");
                int a = Integer.parseInt(ab[0]), b = ab.length > 1 ? Integer.parseInt(ab[1]) : a;
                for (int i = a; i <= b && cpus.size() < 4096; i++) cpus.add(i);
            }
        } catch (RuntimeException e) {
            return List.of();
        }
        return cpus;
    }

    /**
     * Whether two CPUs deliver two CPUs' work now: the same single-threaded run ({@code -j 1} over {@code files})
     * pinned to CPU a, then to CPU b, then to both at once; the CPU the two side-by-side runs took over the CPU they
     * took alone. 1.00 is two whole cores; a VM's CPUs that are one core's hyperthreads on the host, or a host busy
     * with other guests, make it larger, and no program's -j 2 can beat that. NaN without taskset or a second CPU.
     */
    static double sideBySide(List<String> jvm, Path... files) throws IOException, InterruptedException {
        List<Integer> cpus = allowedCpus();
        if (cpus.size() < 2) return Double.NaN;
        List<String> a = onCpu(cpus.get(0)), b = onCpu(cpus.get(1));
        if (a.isEmpty()) return Double.NaN;
        long alone = worker(a, jvm, "jobs=1", files)[2] + worker(b, jvm, "jobs=1", files)[2];
        java.util.concurrent.FutureTask<long[]> other = new java.util.concurrent.FutureTask<>(() -> worker(b, jvm, "jobs=1", files));
        Thread t = new Thread(other, "bench-side-by-side");
        t.start();
        long together = worker(a, jvm, "jobs=1", files)[2];
        try {
            together += other.get()[2];
        } catch (java.util.concurrent.ExecutionException e) {
            throw new IllegalStateException("side-by-side run failed", e.getCause());
        }
        return (double) together / alone;
    }

    /** The same run with {@code prefix} before the JVM (e.g. {@link #oneCpu}). */
    static long[] worker(List<String> prefix, List<String> jvm, String mode, Path... files) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(prefix);
        cmd.add(ProcessHandle.current().info().command().orElse("java"));
        cmd.addAll(mode.equals("floor") ? FLOOR : jvm);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), BenchWorker.class.getName(), mode));
        for (Path f : files) cmd.add(f.toString());
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String line;
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            line = r.readLine();
        }
        if (p.waitFor() != 0 || line == null) throw new IllegalStateException(mode + " run failed (exit " + p.exitValue() + ")");
        String[] x = line.split(" ");
        long[] r = new long[7];
        for (int i = 0; i < 7; i++) r[i] = Long.parseLong(x[i + 1]);
        return r;
    }

    /** Per mode: medians over the rounds, and each round's ratio to that round's floor. */
    static void table(long[][][] r, long events, long inputBytes) {
        System.out.printf(Locale.ROOT, "%-6s %4s %8s %8s %12s %10s %10s %14s %9s %9s%n", "mode", "exit", "CPU s", "wall s",
                "events/CPU-s", "CPU/floor", "wall/floor", "report bytes", "heap MiB", "RSS MiB");
        double[] cpuRatio = new double[BenchCommand.MODES.length];
        for (int m = 0; m < BenchCommand.MODES.length; m++) {
            double cpu = median(r, m, 2, -1), wall = median(r, m, 1, -1);
            cpuRatio[m] = median(r, m, 2, 0);
            long[] first = r[0][m];
            long heap = 0, rss = 0;
            for (long[][] round : r) {
                heap = Math.max(heap, round[m][3]);
                rss = Math.max(rss, round[m][4]);
            }
            System.out.printf(Locale.ROOT, "%-6s %4d %8.2f %8.2f %12.0f %10.2f %10.2f %14s %9.1f %9.1f%n", BenchCommand.MODES[m],
                    first[0], cpu / 1e9, wall / 1e9, events / (cpu / 1e9), cpuRatio[m], median(r, m, 1, 0),
                    m == 0 ? "-" : first[5] + String.format(Locale.ROOT, " (%.2f%%)", 100.0 * first[5] / inputBytes),
                    heap / 1048576.0, rss / 1048576.0);
        }
        double limit = events >= 5_000_000 ? 1.5 : 2.0;
        long jsonBytes = r[0][2][5];
        long rss = 0;
        // analyze's RSS (text, json): the floor's JVM is G1 with its own defaults, not what the target is about
        for (long[][] round : r) for (int m = 1; m < round.length; m++) rss = Math.max(rss, round[m][4]);
        System.out.printf(Locale.ROOT, "issue 13 targets at this size: text CPU <= %.1fx floor: %s (%.2fx); json CPU <= %.1fx floor: %s (%.2fx);"
                        + " JSON report <= 5%% of the input: %s (%.2f%%); peak RSS <= 256 MiB: %s (%.0f MiB)%n",
                limit, met(cpuRatio[1] <= limit), cpuRatio[1], limit, met(cpuRatio[2] <= limit), cpuRatio[2],
                met(jsonBytes * 20 <= inputBytes), 100.0 * jsonBytes / inputBytes, met(rss <= 256L << 20), rss / 1048576.0);
    }

    private static String met(boolean ok) { return ok ? "met" : "NOT met"; }

    /** Median over rounds of column {@code col} of mode {@code m}; divided by the floor's in the same round if {@code ratioTo} >= 0. */
    private static double median(long[][][] r, int m, int col, int ratioTo) {
        double[] v = new double[r.length];
        for (int i = 0; i < r.length; i++) v[i] = ratioTo < 0 ? r[i][m][col] : (double) r[i][m][col] / r[i][ratioTo][col];
        Arrays.sort(v);
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }

    /**
     * Time to first result: {@code aertrace analyze} on the embedded trace through the launcher script when this jar
     * sits in a checkout (the real command, the launcher's staleness check included), else java -jar. Wall time from
     * the start of the process to its first byte of report and to its exit; medians.
     */
    static void timeToFirstResult(int n, List<String> jvm) throws IOException, InterruptedException {
        Path jar = Path.of(System.getProperty("java.class.path").split(java.io.File.pathSeparator)[0]).toAbsolutePath();
        Path launcher = jar.getParent() == null || jar.getParent().getParent() == null ? null
                : jar.getParent().getParent().getParent().resolve("aertrace");
        List<String> cmd = new ArrayList<>();
        if (launcher != null && Files.isExecutable(launcher) && jar.toString().endsWith(".jar")) cmd.add(launcher.toString());
        else {
            cmd.add(ProcessHandle.current().info().command().orElse("java"));
            cmd.addAll(jvm);
            cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName()));
        }
        cmd.add("analyze");
        double[] first = new double[n], exit = new double[n];
        for (int i = 0; i < n; i++) {
            long t0 = System.nanoTime();
            Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
            try (InputStream in = p.getInputStream()) {
                in.read();
                first[i] = (System.nanoTime() - t0) / 1e9;
                in.transferTo(java.io.OutputStream.nullOutputStream());
            }
            p.waitFor();
            exit[i] = (System.nanoTime() - t0) / 1e9;
        }
        Arrays.sort(first);
        Arrays.sort(exit);
        System.out.printf(Locale.ROOT, "%ntime to first result (`%s`, embedded 6.1 fatal-race, %d runs): first report byte %.2f s,"
                + " exit %.2f s (medians; min %.2f / %.2f s); %s%n", String.join(" ", cmd.subList(0, 1)) + " analyze", n,
                first[n / 2], exit[n / 2], first[0], exit[0], load("load"));
    }

    static String load(String what) {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).split(" ");
            return what + " " + f[0] + " " + f[1] + " " + f[2];
        } catch (IOException e) {
            return what + " unknown";
        }
    }

    /** Lines in {@code f} (header and footer included). */
    static long lines(Path f) throws IOException {
        long n = 0;
        byte[] b = new byte[1 << 16];
        try (InputStream in = Files.newInputStream(f)) {
            for (int k; (k = in.read(b)) > 0; ) for (int i = 0; i < k; i++) if (b[i] == '\n') n++;
        }
        return n;
    }
}
