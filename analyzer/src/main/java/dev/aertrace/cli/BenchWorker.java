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
 * processCpuNanos peakHeapBytes peakRssBytes reportBytes. CPU time is the whole process's, JVM start included,
 * for the floor as for analyze: the figure a user pays and the one a busy machine does not inflate.
 */
public final class BenchWorker {
    public static void main(String[] args) throws Exception {
        String mode = args[0];
        Path file = Path.of(args[1]);
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
                exit = mode.equals("json") ? Main.run("analyze", "--format", "json", file.toString())
                        : Main.run("analyze", file.toString());
            } finally {
                System.out.flush();
                System.setOut(real);
            }
        }
        long ns = System.nanoTime() - t0;
        System.out.println(mode + " " + exit + " " + ns + " " + Floor.processCpuNanos() + " " + Floor.peakHeap() + " "
                + Floor.peakRss() + " " + counted.bytes);
    }

    /** A sink that counts what it is given. */
    static final class Counting extends OutputStream {
        long bytes;

        @Override public void write(int b) { bytes++; }

        @Override public void write(byte[] b, int off, int len) { bytes += len; }
    }
}
