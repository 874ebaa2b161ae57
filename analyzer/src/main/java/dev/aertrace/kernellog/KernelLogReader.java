package dev.aertrace.kernellog;

import dev.aertrace.ingest.Diagnostics;
import dev.aertrace.ingest.Event;
import dev.aertrace.ingest.Issue;
import dev.aertrace.ingest.Topology;
import dev.aertrace.ingest.TraceHeader;
import dev.aertrace.ingest.TraceReader;

import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Turns a kernel log into the analyzer's own events, one error at a time, so the timeline and verdict code that
 * reads agent traces rebuilds the episodes. An error starts at the port's "error received" message and ends at
 * "device recovery successful|failed" (or, for a correctable error, when its detail lines end). Each finished
 * error is handed on as a header (the devices the messages named, with the reset bridge as the erring device's
 * parent) followed by its events:
 * <ul>
 * <li>{@code aer.event} at the source message, per device that printed details (status = status & ~mask);</li>
 * <li>{@code recovery.enter} at the same time (pcie_do_recovery prints nothing when it starts);</li>
 * <li>{@code reset.enter}/{@code reset.exit} of {@code aer_root_reset}: the log gives only the end ("link has
 *     been reset (rc)"), so the start is the previous message of the same error: an upper bound of the span;</li>
 * <li>{@code recovery.exit} at the result message, RECOVERED or DISCONNECT.</li>
 * </ul>
 * The events carry the log's line numbers; comm is "kernel-log". Memory: the errors still open (bounded by
 * {@link #MAX_OPEN}) and one line (bounded by {@link #MAX_LINE}).
 */
final class KernelLogReader {
    static final int MAX_LINE = 1 << 16;
    static final int MAX_OPEN = 64;
    /** An error whose next message is this far away is over (a log without the result line, a lost tail). */
    static final long STALE_NS = 60_000_000_000L;
    static final int RECOVERED = 5, DISCONNECT = 4;

    /** What the analyzer is handed per finished error. */
    interface Sink {
        void error(TraceHeader header, List<Event> events, Context ctx);
    }

    /** One error as the log tells it. */
    static final class Context {
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

        Context(String port, long ts, long line, long resolutionNs, int boot) {
            this.port = port;
            this.ts = ts;
            this.line = line;
            this.resolutionNs = resolutionNs;
            this.boot = boot;
            this.lastTs = ts;
            this.lastLine = line;
        }

        boolean uncorrectable() { return severity != null && severity != 2; }

        boolean done() { return recovered != null; }

        void note(String s, long line) {
            if (notes.size() < 32) {
                notes.add(s);
                noteLines.add(line);
            }
        }
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
    }

    /** What was read, for the source report. */
    static final class Stats {
        long lines, logLines, matched, errors, suppressed;
        final Map<LogLine.Format, Long> formats = new LinkedHashMap<>();
        String kernel, host, bootId;
        long resolutionNs;
        LogLine.Clock clock;
        int boots;
    }

    private static final Pattern LINUX_VERSION = Pattern.compile("^Linux version (\\S+) .*");

    private final Patterns patterns;
    private final Diagnostics diag;
    private final Sink sink;
    private final Stats stats = new Stats();
    private final List<Context> open = new ArrayList<>();
    private long lineNo;
    private long lastTs = Long.MIN_VALUE;
    private int boot;
    private String bootId;

    KernelLogReader(Patterns patterns, Diagnostics diag, Sink sink) {
        this.patterns = patterns;
        this.diag = diag;
        this.sink = sink;
    }

    Stats stats() { return stats; }

    Stats read(InputStream raw) {
        try (Reader r = new InputStreamReader(TraceReader.decode(raw), StandardCharsets.UTF_8)) {
            StringBuilder sb = new StringBuilder(256);
            boolean overlong = false;
            int c;
            char[] buf = new char[1 << 14];
            int n;
            while ((n = r.read(buf)) > 0) {
                for (int i = 0; i < n; i++) {
                    c = buf[i];
                    if (c == '\n') {
                        lineNo++;
                        if (overlong) diag.issue(Issue.Kind.CORRUPT_LINE, lineNo, "kernel log: line longer than " + MAX_LINE + " characters");
                        else line(sb.toString(), true);
                        sb.setLength(0);
                        overlong = false;
                    } else if (!overlong) {
                        if (sb.length() >= MAX_LINE) overlong = true;
                        else sb.append((char) c);
                    }
                }
            }
            if (sb.length() > 0 || overlong) {
                lineNo++;
                line(sb.toString(), false);
            }
        } catch (IOException e) {
            diag.issue(lineNo == 0 ? Issue.Kind.UNREADABLE : Issue.Kind.TRUNCATED_LINE, lineNo + 1,
                    "kernel log ended with an error after line " + lineNo + ": " + e.getMessage());
        }
        for (Context c : new ArrayList<>(open)) finish(c, true);
        open.clear();
        stats.lines = lineNo;
        stats.boots = boot + 1;
        if (lineNo == 0) diag.issue(Issue.Kind.EMPTY_INPUT, 0, "no lines");
        return stats;
    }

    private void line(String raw, boolean terminated) {
        LogLine l = LogLine.parse(raw);
        if (l == null) {
            // The last line of a log cut mid-write: say so when it was one of ours.
            if (!terminated && (raw.contains("AER") || raw.contains("recovery") || raw.contains("PCIe Bus Error")))
                diag.issue(Issue.Kind.TRUNCATED_LINE, lineNo, "kernel log: the last line is cut off: " + clip(raw));
            return;
        }
        stats.logLines++;
        stats.formats.merge(l.format(), 1L, Long::sum);
        if (stats.clock == null) stats.clock = l.clock();
        if (stats.resolutionNs == 0 || l.resolutionNs() > stats.resolutionNs) stats.resolutionNs = l.resolutionNs();
        if (stats.host == null && l.host() != null) stats.host = l.host();
        newBootIf(l);
        lastTs = l.ts();
        String msg = l.message();
        Matcher v = LINUX_VERSION.matcher(msg);
        if (v.matches()) {
            if (stats.kernel == null) stats.kernel = v.group(1);
            return;
        }
        stale(l.ts());
        Patterns.Hit h = patterns.match(msg);
        if (h == null) {
            if (!terminated && (msg.contains("AER") || msg.contains("recovery")))
                diag.issue(Issue.Kind.TRUNCATED_LINE, lineNo, "kernel log: the last line is cut off: " + clip(msg));
            else if (msg.contains("error status/mask=") || msg.contains("error received") || msg.contains("PCIe Bus Error:"))
                diag.issue(Issue.Kind.INVALID_EVENT, lineNo, "kernel log: an AER message in a shape no supported kernel prints: " + clip(msg));
            return;
        }
        stats.matched++;
        apply(h, l);
    }

    private static String clip(String s) { return s.length() > 120 ? s.substring(0, 120) + "…" : s; }

    /** dmesg of several boots (a journal, a console across reboots): a clock that goes back, or a new boot id. */
    private void newBootIf(LogLine l) {
        boolean changed = l.bootId() != null && bootId != null && !l.bootId().equals(bootId);
        boolean back = l.clock() == LogLine.Clock.MONO && lastTs != Long.MIN_VALUE && l.ts() < lastTs - 1_000_000_000L;
        if (l.bootId() != null) {
            bootId = l.bootId();
            if (stats.bootId == null) stats.bootId = bootId;
        }
        if (changed || back) {
            for (Context c : new ArrayList<>(open)) finish(c, true);
            open.clear();
            boot++;
        }
    }

    private void stale(long ts) {
        for (Context c : new ArrayList<>(open)) if (ts - c.lastTs > STALE_NS) finish(c, true);
    }

    private void apply(Patterns.Hit h, LogLine l) {
        Matcher m = h.m();
        String dev = h.dev();
        switch (h.entry().role()) {
            case ERROR_SOURCE -> {
                // A port handles its errors one at a time: a new message on it ends the previous one's story.
                for (Context c : new ArrayList<>(open)) if (c.port.equals(dev) && (!c.uncorrectable() || c.done())) finish(c, false);
                if (open.size() >= MAX_OPEN) finish(open.get(0), true);
                Context c = new Context(dev, l.ts(), lineNo, l.resolutionNs(), boot);
                if (l.realtimeNs() != null) c.realtimeOffset = l.realtimeNs() - l.ts();
                c.severity = severity(group(m, "sev"));
                c.multiple = group(m, "multi") != null;
                String src = group(m, "src");
                c.source = src != null ? src : dev;
                open.add(c);
                stats.errors++;
            }
            case DPC_CONTAINMENT -> {
                if (open.size() >= MAX_OPEN) finish(open.get(0), true);
                Context c = new Context(dev, l.ts(), lineNo, l.resolutionNs(), boot);
                if (l.realtimeNs() != null) c.realtimeOffset = l.realtimeNs() - l.ts();
                c.severity = 1;
                c.dpc = true;
                c.source = dev;
                c.note("DPC containment event on " + dev + (group(m, "status") == null ? "" : " (status " + group(m, "status") + ")"), lineNo);
                open.add(c);
                stats.errors++;
            }
            case ERROR_SEVERITY -> {
                Context c = forDetail(dev);
                if (c == null) return;
                Detail d = c.details.computeIfAbsent(dev, k -> new Detail(k, l.ts(), lineNo));
                d.severity = severity(group(m, "sev"));
                d.type = group(m, "type");
                c.current = d;
                touch(c, l);
            }
            case ERROR_STATUS, ERROR_BIT, ERROR_TLP -> {
                Context c = forDetail(dev);
                if (c == null) return;
                Detail d = c.details.computeIfAbsent(dev, k -> new Detail(k, l.ts(), lineNo));
                switch (h.entry().role()) {
                    case ERROR_STATUS -> {
                        d.status = Long.parseLong(m.group("status"), 16);
                        d.mask = Long.parseLong(m.group("mask"), 16);
                    }
                    case ERROR_TLP -> d.tlp = tlp(m.group("tlp"));
                    default -> { }
                }
                touch(c, l);
            }
            case BROADCAST -> {
                Context c = forBridge(dev);
                if (c == null) return;
                c.note("broadcast " + group(m, "cb") + " message", lineNo);
                touch(c, l);
            }
            case RESET_LINK, RESET_FAILED -> {
                Context c = forBridge(dev);
                if (c == null) return;
                if (h.entry().role() == Patterns.Role.RESET_FAILED) {
                    c.resetFailed = true;
                    if (c.resetBridge == null) {
                        c.resetBridge = dev;
                        c.beforeResetTs = c.lastTs;
                        c.beforeResetLine = c.lastLine;
                        c.resetTs = l.ts();
                        c.resetLine = lineNo;
                    }
                } else {
                    c.resetBridge = dev;
                    String rc = group(m, "rc");
                    c.resetRc = rc == null ? null : Integer.parseInt(rc);
                    c.beforeResetTs = c.lastTs;
                    c.beforeResetLine = c.lastLine;
                    c.resetTs = l.ts();
                    c.resetLine = lineNo;
                }
                touch(c, l);
            }
            case NO_CALLBACK -> {
                Context c = forDetail(dev);
                if (c == null) c = forBridge(dev);
                if (c == null) return;
                c.note(dev + ": no error_detected callback (driver " + h.driver() + ")", lineNo);
                touch(c, l);
            }
            case RESULT -> {
                Context c = forBridge(dev);
                if (c == null) {
                    diag.issue(Issue.Kind.INVALID_EVENT, lineNo, "kernel log: a recovery result without its error (the log starts inside a recovery)");
                    return;
                }
                c.recovered = group(m, "result").equalsIgnoreCase("successful");
                c.resultDev = dev;
                c.resultTs = l.ts();
                c.resultLine = lineNo;
                touch(c, l);
                finish(c, false);
            }
            case LINK_WAIT -> {
                Context c = forBridge(dev);
                if (c == null) return;
                c.note(dev + ": link not active " + m.group("ms") + " ms into the reset's link wait (line " + lineNo + ")", lineNo);
                touch(c, l);
            }
            case HOTPLUG, DEVICE_RESET -> {
                Context c = forBridge(dev);
                if (c == null) c = forDetail(dev);
                if (c != null) {
                    c.note(h.driver() + " " + dev + ": " + m.group(0), lineNo);
                    touch(c, l);
                }
            }
            case RATELIMIT -> {
                long n = Long.parseLong(m.group("n"));
                stats.suppressed += n;
                // 6.16+: correctable and non-fatal AER messages over the per-device rate were not printed.
                diag.issue(Issue.Kind.LOST_EVENTS, lineNo, "kernel log: " + n + " AER messages suppressed by the AER"
                        + " ratelimit (6.16+): errors the log does not show");
                for (Context c : open) c.note(n + " AER messages suppressed by the ratelimit", lineNo);
            }
        }
    }

    private void touch(Context c, LogLine l) {
        c.lastTs = l.ts();
        c.lastLine = lineNo;
    }

    /** The open error a device's detail line belongs to: the newest naming it, else the newest on its port. */
    private Context forDetail(String dev) {
        for (int i = open.size() - 1; i >= 0; i--) {
            Context c = open.get(i);
            if (!c.done() && (dev.equals(c.source) || c.details.containsKey(dev))) return c;
        }
        for (int i = open.size() - 1; i >= 0; i--) {
            Context c = open.get(i);
            if (!c.done() && c.resetBridge == null && c.multiple) return c;
        }
        for (int i = open.size() - 1; i >= 0; i--) if (!open.get(i).done() && open.get(i).resetBridge == null) return open.get(i);
        return null;
    }

    /** The open uncorrectable error a bridge's recovery message belongs to. */
    private Context forBridge(String dev) {
        for (int i = open.size() - 1; i >= 0; i--) {
            Context c = open.get(i);
            if (!c.done() && c.uncorrectable() && (dev.equals(c.port) || dev.equals(c.resetBridge) || dev.equals(c.source))) return c;
        }
        for (int i = open.size() - 1; i >= 0; i--) if (!open.get(i).done() && open.get(i).uncorrectable()) return open.get(i);
        return null;
    }

    private static String group(Matcher m, String name) {
        try {
            return m.group(name);
        } catch (IllegalArgumentException noSuchGroup) {
            return null;
        }
    }

    /** Spelled as aer_error_severity_string[] prints it; numbers as the ras:aer_event tracepoint has them. */
    static Integer severity(String s) {
        if (s == null) return null;
        if (s.startsWith("Corrected") || s.startsWith("Correctable")) return 2;
        if (s.contains("Non-Fatal") || s.contains("Nonfatal") || s.contains("Non-fatal")) return 0;
        if (s.contains("Fatal")) return 1;
        return null;
    }

    private static long[] tlp(String s) {
        String[] w = s.trim().split("\\s+");
        long[] out = new long[Math.min(4, w.length)];
        for (int i = 0; i < out.length; i++) {
            String x = w[i].startsWith("0x") ? w[i].substring(2) : w[i];
            out[i] = Long.parseLong(x, 16);
        }
        return out;
    }

    // ------------------------------------------------------------------------------------------------ emit

    private void finish(Context c, boolean cut) {
        open.remove(c);
        if (cut && c.uncorrectable() && !c.done()) {
            diag.issue(Issue.Kind.INVALID_EVENT, c.line, "kernel log: the " + sevName(c.severity) + " error on " + c.source
                    + " (line " + c.line + ") has no \"device recovery successful|failed\" message: the log ends or"
                    + " was cut before the recovery finished");
        }
        String bridge = c.resetBridge != null ? c.resetBridge : c.resultDev != null ? c.resultDev : c.port;
        Map<String, Topology.PciDevice> devs = new LinkedHashMap<>();
        devs.put(c.port, new Topology.PciDevice(c.port, null, null, null, "pcieport", null, true, null, true, null));
        if (!bridge.equals(c.port))
            devs.put(bridge, new Topology.PciDevice(bridge, null, null, null, "pcieport", c.port, true, null, true, null));
        for (String d : allDevices(c)) {
            if (devs.containsKey(d)) continue;
            devs.put(d, new Topology.PciDevice(d, null, null, null, null, bridge, false, null, true, null));
        }
        TraceHeader h = new TraceHeader(1, "kernel-log", stats.host, stats.kernel, stats.bootId, 0, 0, List.of(), List.of(),
                List.of(), new Topology(devs.values()), c.line);
        int tid = 1 + (c.port.hashCode() & 0xffff);
        List<Event> ev = new ArrayList<>();
        Integer sev = c.severity;
        boolean any = false;
        for (Detail d : c.details.values()) {
            ev.add(aer(c, d.dev, sev, d, tid));
            any = true;
        }
        if (!any) ev.add(aer(c, c.source, sev, null, tid));
        if (c.uncorrectable()) {
            ev.add(new Event.RecoveryEnter(common(c.ts, tid, c.source, c.line), sev == 1 ? 2 : 1));
            if (c.resetBridge != null) {
                String fn = c.dpc ? "dpc_reset_link" : "aer_root_reset";
                boolean ok = !c.resetFailed && (c.resetRc == null || c.resetRc == 0);
                ev.add(new Event.ResetEnter(common(Math.max(c.ts, c.beforeResetTs), tid, c.resetBridge, c.beforeResetLine), fn));
                ev.add(new Event.ResetExit(common(c.resetTs, tid, c.resetBridge, c.resetLine), fn, (long) (ok ? RECOVERED : DISCONNECT)));
            }
            if (c.recovered != null)
                ev.add(new Event.RecoveryExit(common(c.resultTs, tid, c.source, c.resultLine), c.recovered ? RECOVERED : DISCONNECT));
        }
        sink.error(h, ev, c);
    }

    private static List<String> allDevices(Context c) {
        List<String> out = new ArrayList<>();
        if (c.source != null) out.add(c.source);
        for (String d : c.details.keySet()) if (!out.contains(d)) out.add(d);
        return out;
    }

    private Event.AerError aer(Context c, String dev, Integer sev, Detail d, int tid) {
        long status = d != null && d.status != null ? d.status & ~(d.mask == null ? 0 : d.mask) & 0xffffffffL : 0;
        long[] tlp = d == null ? null : d.tlp;
        int s = d != null && d.severity != null ? d.severity : sev == null ? 1 : sev;
        return new Event.AerError(common(c.ts, tid, dev, d != null ? d.line : c.line), s, status, tlp != null, tlp);
    }

    private static Event.Common common(long ts, int tid, String dev, long line) {
        return new Event.Common(ts, 0, 0, tid, "kernel-log", dev, line);
    }

    static String sevName(Integer s) {
        return s == null ? "unknown" : s == 2 ? "correctable" : s == 0 ? "non-fatal" : "fatal";
    }
}
