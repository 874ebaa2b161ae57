package dev.aertrace.bench;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;

import java.io.IOException;
import java.io.InputStream;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;

/** The benchmark's floor, and what a measured JVM reports about itself. */
public final class Floor {
    private Floor() {}

    /**
     * The floor: one Jackson streaming parser over the whole file (root-level values), pulling every token and
     * reading every scalar, building nothing: what any JSON-lines reader must at least pay. Counts the objects
     * whose "type" is not header/footer.
     */
    public static long parse(Path file) throws IOException {
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

    /** CPU time of this whole process so far (every thread: JVM start, class loading, JIT, GC, the work). */
    public static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

    public static long peakHeap() {
        long sum = 0;
        for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans())
            if (p.getType() == MemoryType.HEAP) sum += p.getPeakUsage().getUsed();
        return sum;
    }

    /** VmHWM from /proc/self/status: the process's peak resident set. */
    public static long peakRss() {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/self/status")))
                if (l.startsWith("VmHWM:")) return Long.parseLong(l.replaceAll("[^0-9]", "")) * 1024;
        } catch (IOException | NumberFormatException ignored) {
            // not Linux: reported as -1
        }
        return -1;
    }
}
