package dev.aertrace.kernellog;

import dev.aertrace.ingest.TraceReader;

import java.io.BufferedInputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;

/** Tells an aertrace trace from a kernel log by content, so every command takes either without a flag. */
public final class KernelLogs {
    private KernelLogs() {}

    public enum Kind { TRACE, KERNEL_LOG, QEMU_LOG, RASDAEMON_DB, UNKNOWN }

    static final int SNIFF_BYTES = 64 * 1024;

    /** The input, gunzipped when it is gzip, buffered so {@link #sniff} can look ahead. */
    public static BufferedInputStream open(InputStream raw) throws IOException {
        return new BufferedInputStream(new FilterInputStream(TraceReader.decode(raw)) {
            // A bulk read of BufferedInputStream keeps reading while available() > 0, and the inflater says 1 until
            // its end: at the cut of a truncated .gz the exception then threw away the bytes that call had already
            // copied — a cut kernel log was taken for a trace of 0 lines, or read as 0 lines (KernelLogFuzzTest).
            // With 0 each read returns what it has, and the cut is met by a read of its own.
            @Override public int available() { return 0; }
        }, SNIFF_BYTES * 2);
    }

    /**
     * Looks at the first 64 KB: a JSON object with a "type" is a trace; a journal JSON export or lines in one of the
     * kernel-log formats ({@link LogLine}) make a kernel log; anything else is left to the trace reader, which
     * reports it line by line. The stream is reset to where it was.
     */
    public static Kind sniff(BufferedInputStream in) throws IOException {
        in.mark(SNIFF_BYTES + 1);
        byte[] b = new byte[SNIFF_BYTES];
        int n = 0, r;
        try {
            while (n < b.length && (r = in.read(b, n, b.length - n)) > 0) n += r;
        } catch (IOException e) {
            // a broken .gz: let the reader that gets it report where
        } finally {
            in.reset();
        }
        if (n >= RasDaemon.MAGIC.length && java.util.Arrays.equals(java.util.Arrays.copyOf(b, RasDaemon.MAGIC.length), RasDaemon.MAGIC))
            return Kind.RASDAEMON_DB;
        String head = new String(b, 0, n, StandardCharsets.UTF_8);
        if (!head.stripLeading().startsWith("{") && QemuLog.looksLike(head)) return Kind.QEMU_LOG;
        String[] lines = head.split("\n", 201);
        int seen = 0, log = 0;
        boolean lastWasLog = false;
        for (int i = 0; i < lines.length && i < 200; i++) {
            if (i == lines.length - 1 && n == SNIFF_BYTES) break; // maybe cut by the look-ahead
            String l = lines[i].strip();
            if (l.isEmpty() || l.startsWith("-- ")) continue; // journalctl's "-- Boot ... --" banners
            // dmesg prints the further lines of a multi-line message indented, without a stamp
            if (lastWasLog && (lines[i].startsWith(" ") || lines[i].startsWith("\t"))) continue;
            if (seen == 0 && l.startsWith("{")) {
                if (l.contains("\"type\"")) return Kind.TRACE;
                if (l.contains("\"MESSAGE\"") || l.contains("\"__REALTIME_TIMESTAMP\"")) return Kind.KERNEL_LOG;
            }
            seen++;
            lastWasLog = LogLine.parse(l) != null;
            if (lastWasLog) log++;
        }
        if (log > 0 && log * 2 >= seen) return Kind.KERNEL_LOG;
        return seen > 0 && !head.stripLeading().startsWith("{") ? Kind.UNKNOWN : Kind.TRACE;
    }

    /**
     * A trace's wall clock minus its monotonic clock, from its header line (realtime_ns - mono_ns, taken together by
     * the agent), or null. The stream is reset to where it was.
     */
    public static Long traceRealtimeOffset(BufferedInputStream in) throws IOException {
        in.mark(SNIFF_BYTES + 1);
        byte[] b = new byte[SNIFF_BYTES];
        int n = 0, r;
        try {
            while (n < b.length && (r = in.read(b, n, b.length - n)) > 0) {
                n += r;
                if (indexOf(b, n, (byte) '\n') >= 0) break;
            }
        } catch (IOException e) {
            return null;
        } finally {
            in.reset();
        }
        int nl = indexOf(b, n, (byte) '\n');
        try {
            com.fasterxml.jackson.databind.JsonNode h = dev.aertrace.ingest.HeaderLine.tree(
                    new String(b, 0, nl < 0 ? n : nl, StandardCharsets.UTF_8));
            if (h == null || !"header".equals(h.path("type").asText()) || !h.has("mono_ns") || !h.has("realtime_ns")) return null;
            long rt = h.get("realtime_ns").asLong(), mono = h.get("mono_ns").asLong();
            return rt == 0 ? null : rt - mono;
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    private static int indexOf(byte[] b, int n, byte x) {
        for (int i = 0; i < n; i++) if (b[i] == x) return i;
        return -1;
    }

    /** What to say when an SQLite database is given where a trace or log is read. */
    public static final String RASDAEMON_HINT = "an SQLite database (rasdaemon's?): `aertrace history FILE` reads its AER"
            + " events as history and counts; it has no recovery timeline to analyze";

    /** The one-line explanation for {@link Kind#UNKNOWN}. */
    public static final String UNKNOWN_HINT = "neither an aertrace trace (JSON lines) nor a kernel log in a format this"
            + " reads (dmesg [-T|--time-format iso], journalctl -k -o short-precise|short-monotonic|short-iso|json,"
            + " /dev/kmsg, a console capture)";
}
