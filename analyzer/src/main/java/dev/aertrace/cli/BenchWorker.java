package dev.aertrace.cli;

import dev.aertrace.bench.Floor;

import java.io.BufferedOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Path;

/**
 * One measured run in a fresh JVM (started by {@link BenchCommand}, with the launcher's JVM options): the floor
 * ({@link Floor#parse}) or the real {@code analyze} command ({@link Main#run}, text or {@code --format json}) with
 * its report going to stdout, which here counts bytes and drops them. Prints one line: mode exitCode wallNanos
 * processCpuNanos peakHeapBytes peakRssBytes reportBytes reportCrc32. Mode {@code jobs=N} analyses every file after it
 * with {@code analyze -j N} (the several-inputs measurement). CPU time is the whole process's, JVM start included,
 * for the floor as for analyze: the figure a user pays and the one a busy machine does not inflate.
 */
public final class BenchWorker {
    public static void main(String[] args) throws Exception {
        String mode = args[0];
        Path file = Path.of(args[1]);
        String[] files = java.util.Arrays.copyOfRange(args, 1, args.length);
        long t0 = System.nanoTime();
        Counting counted = new Counting();
        int exit;
        if (mode.equals("floor")) {
            Floor.parse(file);
            exit = 0;
        } else {
            PrintStream real = System.out;
            // as the JVM's own stdout is buffered: a PrintStream over an 8 KiB buffer
            System.setOut(new PrintStream(new BufferedOutputStream(counted, 8192), false, "UTF-8"));
            try {
                if (mode.startsWith("jobs=")) {
                    String[] a = new String[files.length + 3];
                    a[0] = "analyze"; a[1] = "-j"; a[2] = mode.substring(5);
                    System.arraycopy(files, 0, a, 3, files.length);
                    exit = Main.run(a);
                } else {
                    exit = mode.equals("json") ? Main.run("analyze", "--format", "json", file.toString())
                            : Main.run("analyze", file.toString());
                }
            } finally {
                System.out.flush();
                System.setOut(real);
            }
        }
        long ns = System.nanoTime() - t0;
        if (System.getenv("AERTRACE_BENCH_THREADS") != null) threads();
        System.out.println(mode + " " + exit + " " + ns + " " + Floor.processCpuNanos() + " " + Floor.peakHeap() + " "
                + Floor.peakRss() + " " + counted.bytes + " " + counted.crc.getValue());
    }

    /** CPU per thread of this process (/proc/self/task): where JIT, GC and the work go; to stderr. */
    static void threads() {
        java.util.Map<String, Long> ms = new java.util.TreeMap<>();
        try (var tasks = java.nio.file.Files.list(Path.of("/proc/self/task"))) {
            for (Path t : (Iterable<Path>) tasks::iterator) {
                String stat = java.nio.file.Files.readString(t.resolve("stat"));
                String name = stat.substring(stat.indexOf('(') + 1, stat.lastIndexOf(')')).replaceAll("[0-9]+$", "#");
                String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                ms.merge(name, (Long.parseLong(f[11]) + Long.parseLong(f[12])) * 10, Long::sum); // clock ticks of 10 ms
            }
        } catch (java.io.IOException e) {
            return;
        }
        ms.forEach((k, v) -> System.err.println("thread " + k + ": " + v + " ms CPU"));
    }

    /** A sink that counts what it is given, and its CRC (to tell that two runs wrote the same report). */
    static final class Counting extends OutputStream {
        long bytes;
        final java.util.zip.CRC32 crc = new java.util.zip.CRC32();

        @Override public void write(int b) { bytes++; crc.update(b); }

        @Override public void write(byte[] b, int off, int len) { bytes += len; crc.update(b, off, len); }
    }
}
