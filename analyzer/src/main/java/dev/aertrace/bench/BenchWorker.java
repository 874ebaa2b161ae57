package dev.aertrace.bench;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.aertrace.ingest.SourceReport;
import dev.aertrace.race.Analyzer;

import java.io.IOException;
import java.io.InputStream;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * One measured run in a fresh JVM (started by {@link BenchCommand} so heap limits and CPU pinning apply to it
 * alone). Prints one line: mode events nanos peakHeapBytes peakRssBytes episodes.
 */
public final class BenchWorker {
    public static void main(String[] args) throws IOException {
        String mode = args[0];
        Path file = Path.of(args[1]);
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
        System.out.println(mode + " " + events + " " + ns + " " + peakHeap() + " " + peakRss() + " " + episodes);
    }

    /** The floor: split lines and pull every token through Jackson, building nothing. */
    static long floor(Path file) throws IOException {
        JsonFactory f = new JsonFactory();
        long lines = 0;
        try (InputStream in = dev.aertrace.ingest.TraceReader.decode(Files.newInputStream(file))) {
            byte[] buf = new byte[1 << 16];
            byte[] carry = new byte[1 << 16];
            int carried = 0;
            int n;
            while ((n = in.read(buf)) > 0) {
                int from = 0;
                for (int i = 0; i < n; i++) {
                    if (buf[i] != '\n') continue;
                    if (carried == 0) tokens(f, buf, from, i - from);
                    else {
                        System.arraycopy(buf, from, carry, carried, i - from);
                        tokens(f, carry, 0, carried + i - from);
                        carried = 0;
                    }
                    lines++;
                    from = i + 1;
                }
                System.arraycopy(buf, from, carry, carried, n - from);
                carried += n - from;
            }
        }
        return lines - 2; // header and footer are not events
    }

    private static void tokens(JsonFactory f, byte[] b, int off, int len) throws IOException {
        try (JsonParser p = f.createParser(b, off, len)) {
            JsonToken t;
            while ((t = p.nextToken()) != null) {
                if (t == JsonToken.VALUE_STRING) p.getText();
                else if (t == JsonToken.VALUE_NUMBER_INT) p.getLongValue();
            }
        }
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
