package dev.aertrace.bench;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.aertrace.ingest.SourceReport;
import dev.aertrace.pipeline.Analyzer;

import java.io.IOException;
import java.io.InputStream;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * One measured run in a fresh JVM (started by {@link BenchCommand} so heap limits and CPU pinning apply to it
 * alone). Prints one line: mode events wallNanos peakHeapBytes peakRssBytes episodes processCpuNanos.
 * CPU time (all threads: parser, GC, JIT) is the figure that survives a busy machine; wall time is printed too.
 */
public final class BenchWorker {
    public static void main(String[] args) throws IOException {
        String mode = args[0];
        Path file = Path.of(args[1]);
        com.sun.management.OperatingSystemMXBean os =
                (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        long c0 = os.getProcessCpuTime();
        long t0 = System.nanoTime();
        long events;
        long episodes = 0;
        if (mode.equals("floor")) {
            events = floor(file);
        } else {
            long[] eps = {0};
            try (InputStream in = Files.newInputStream(file)) {
                SourceReport r = new Analyzer().analyze(file.toString(), in, ep -> eps[0]++);
                events = r.events();
            }
            episodes = eps[0];
        }
        long ns = System.nanoTime() - t0;
        long cpu = os.getProcessCpuTime() - c0;
        System.out.println(mode + " " + events + " " + ns + " " + peakHeap() + " " + peakRss() + " " + episodes + " " + cpu);
    }

    /**
     * The floor: one Jackson streaming parser over the whole file (root-level values), pulling every token and
     * reading every scalar, building nothing. Counts objects whose "type" is not header/footer.
     */
    static long floor(Path file) throws IOException {
        JsonFactory f = new JsonFactory();
        long objects = 0;
        try (InputStream in = dev.aertrace.ingest.TraceReader.decode(Files.newInputStream(file));
             JsonParser p = f.createParser(in)) {
            JsonToken t;
            int depth = 0;
            while ((t = p.nextToken()) != null) {
                switch (t) {
                    case START_OBJECT, START_ARRAY -> depth++;
                    case END_OBJECT, END_ARRAY -> { if (--depth == 0 && t == JsonToken.END_OBJECT) objects++; }
                    case VALUE_STRING -> p.getText();
                    case VALUE_NUMBER_INT -> p.getLongValue();
                    default -> { }
                }
            }
        }
        return objects - 2; // header and footer are not events
    }

    static long peakHeap() {
        long sum = 0;
        for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans())
            if (p.getType() == MemoryType.HEAP) sum += p.getPeakUsage().getUsed();
        return sum;
    }

    /** VmHWM from /proc/self/status: the process's peak resident set. */
    static long peakRss() {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/self/status")))
                if (l.startsWith("VmHWM:")) return Long.parseLong(l.replaceAll("[^0-9]", "")) * 1024;
        } catch (IOException | NumberFormatException ignored) {
            // not Linux: reported as -1
        }
        return -1;
    }
}
