package dev.aertrace.kernellog;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** One AER error as a kernel log tells it, from the port's "error received" message to its result. */
final class LogError implements LogStory {
    final String port;
    final long ts, line;
    final long resolutionNs;
    final int boot;
    Integer severity;
    boolean multiple;
    String source;
    final Map<String, Detail> details = new LinkedHashMap<>();
    Detail current;
    long lastTs, lastLine;
    String resetBridge;
    Integer resetRc;
    boolean resetFailed;
    long resetTs, resetLine, beforeResetTs, beforeResetLine;
    Boolean recovered;
    String resultDev;
    long resultTs, resultLine;
    boolean dpc;
    /** Wall clock minus the log's clock at this error, when the log gives both (journal JSON, iso formats). */
    Long realtimeOffset;
    final List<String> notes = new ArrayList<>();
    final List<Long> noteLines = new ArrayList<>();

    LogError(String port, long ts, long line, long resolutionNs, int boot) {
        this.port = port;
        this.ts = ts;
        this.line = line;
        this.resolutionNs = resolutionNs;
        this.boot = boot;
        this.lastTs = ts;
        this.lastLine = line;
    }

    @Override
    public Long wallOffset() { return realtimeOffset; }

    boolean uncorrectable() { return severity != null && severity != 2; }

    boolean done() { return recovered != null; }

    void note(String s, long line) {
        if (notes.size() < 32) {
            notes.add(s);
            noteLines.add(line);
        }
    }

    void touch(long ts, long line) {
        lastTs = ts;
        lastLine = line;
    }

    /** The reset's end ("link has been reset", or "subordinate device reset failed"): its start is the message before. */
    void resetAt(String bridge, long ts, long line) {
        resetBridge = bridge;
        beforeResetTs = lastTs;
        beforeResetLine = lastLine;
        resetTs = ts;
        resetLine = line;
    }

    /** The detail lines one device printed for an error. */
    static final class Detail {
        final String dev;
        final long ts, line;
        Integer severity;
        Long status, mask;
        long[] tlp;
        String type;

        Detail(String dev, long ts, long line) {
            this.dev = dev;
            this.ts = ts;
            this.line = line;
        }

        /** "TLP Header: " words as numbers (at most 4). */
        static long[] tlp(String s) {
            String[] w = s.trim().split("\\s+");
            long[] out = new long[Math.min(4, w.length)];
            for (int i = 0; i < out.length; i++) {
                String x = w[i].startsWith("0x") ? w[i].substring(2) : w[i];
                out[i] = Long.parseLong(x, 16);
            }
            return out;
        }
    }
}
