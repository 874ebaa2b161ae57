package dev.aertrace.bench;

import java.io.BufferedOutputStream;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;

/**
 * The benchmark's input: a real lab trace (the embedded 6.1 fatal-race recording) repeated until it holds at least
 * the events asked, every copy's timestamps shifted past the previous copy's end (plus {@link #PAUSE_NS}, so each
 * copy's episode closes before the next error), as if the same host hit the same error again and again. Lines are
 * otherwise the recording's own bytes: same threads, devices, values and line shapes, so the reader refuses
 * nothing (no time jump, no implausible ts) and every copy gives the recording's verdicts. Whole copies only (a
 * copy cut short would be a recovery cut off mid-way, another kind of trace); the footer counts what was written.
 */
public final class ScaledTrace {
    private ScaledTrace() {}

    /** Between one copy's last event and the next copy's first: past the settle (2 s) and reorder (1 s) windows. */
    static final long PAUSE_NS = 5_000_000_000L;

    /** The fields that hold a CLOCK_MONOTONIC time (probes/EVENTS.md): shifted with the copy. */
    private static final String[] TIMES = {"\"ts\":", "\"since\":", "\"until\":", "\"entered\":"};

    /** What was written. */
    public record Written(Path file, long events, int copies, long bytes) {}

    /**
     * Writes the scaled trace to {@code out} (via a temporary file, so an interrupted run never leaves a short trace
     * that a later run would reuse).
     */
    public static Written write(InputStream labTrace, Path out, long events) throws IOException {
        List<String> body = new ArrayList<>();
        String header = null;
        try (BufferedReader r = new BufferedReader(new InputStreamReader(labTrace, StandardCharsets.UTF_8))) {
            for (String l; (l = r.readLine()) != null; ) {
                if (l.startsWith("{\"type\":\"header\"")) header = l;
                else if (!l.startsWith("{\"type\":\"footer\"") && !l.isBlank()) body.add(l);
            }
        }
        if (header == null || body.isEmpty()) throw new IOException("the lab trace has no header or no events");
        long first = Long.MAX_VALUE, last = Long.MIN_VALUE;
        for (String l : body) {
            long ts = time(l, "\"ts\":");
            first = Math.min(first, ts);
            last = Math.max(last, ts);
        }
        long period = last - first + PAUSE_NS;
        int copies = (int) ((events + body.size() - 1) / body.size());
        Files.createDirectories(out.toAbsolutePath().getParent());
        Path tmp = out.resolveSibling(out.getFileName() + ".tmp");
        long written = 0, lastTs = last;
        try (OutputStream o = new BufferedOutputStream(Files.newOutputStream(tmp), 1 << 20)) {
            line(o, header);
            for (int k = 0; k < copies; k++) {
                long shift = k * period;
                for (String l : body) {
                    line(o, shift == 0 ? l : shifted(l, shift));
                    written++;
                }
                lastTs = last + shift;
            }
            line(o, "{\"type\":\"footer\",\"ts\":" + (lastTs + 1_000_000) + ",\"events\":" + written + ",\"lost\":0,\"reason\":\"SIGINT\"}");
        }
        Files.move(tmp, out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        return new Written(out, written, copies, Files.size(out));
    }

    private static void line(OutputStream o, String l) throws IOException {
        o.write(l.getBytes(StandardCharsets.UTF_8));
        o.write('\n');
    }

    /** {@code l} with every time field moved by {@code shift} ns. */
    static String shifted(String l, long shift) {
        String s = l;
        for (String f : TIMES) {
            int at = s.indexOf(f);
            if (at < 0) continue;
            int from = at + f.length(), to = from;
            while (to < s.length() && Character.isDigit(s.charAt(to))) to++;
            if (to == from) continue; // null or damaged: left as recorded
            s = s.substring(0, from) + (Long.parseLong(s.substring(from, to)) + shift) + s.substring(to);
        }
        return s;
    }

    private static long time(String l, String field) throws IOException {
        int at = l.indexOf(field);
        if (at < 0) throw new IOException("a line without " + field + ": " + l);
        int from = at + field.length(), to = from;
        while (to < l.length() && Character.isDigit(l.charAt(to))) to++;
        return Long.parseLong(l.substring(from, to));
    }
}
