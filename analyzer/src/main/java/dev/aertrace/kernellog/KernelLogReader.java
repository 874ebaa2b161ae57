package dev.aertrace.kernellog;

import dev.aertrace.ingest.Diagnostics;
import dev.aertrace.ingest.Event;
import dev.aertrace.ingest.Issue;
import dev.aertrace.ingest.TraceHeader;
import dev.aertrace.ingest.TraceReader;
import dev.aertrace.text.Text;

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
 * reads agent traces rebuilds the episodes. An error ({@link LogError}) starts at the port's "error received"
 * message and ends at "device recovery successful|failed" (or, for a correctable error, when its detail lines
 * end); each finished error is handed on as a header and its events ({@link LogEvents}). Memory: the errors still
 * open (bounded by {@link #MAX_OPEN}) and one line (bounded by {@link #MAX_LINE}).
 */
final class KernelLogReader {
    static final int MAX_LINE = 1 << 16;
    static final int MAX_OPEN = 64;
    /** An error whose next message is this far away is over (a log without the result line, a lost tail). */
    static final long STALE_NS = 60_000_000_000L;
    /** What the analyzer is handed per finished error or device loss. */
    interface Sink {
        void story(TraceHeader header, List<Event> events, LogStory story);
    }

    /** What was read, for the source report. */
    static final class Stats {
        long lines, logLines, matched, errors, losses, suppressed;
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
    private final List<LogError> open = new ArrayList<>();
    private final LossTracker losses = new LossTracker(this::lost);
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
        for (LogError c : new ArrayList<>(open)) finish(c, true);
        open.clear();
        losses.finishAll();
        stats.losses = losses.count();
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

    private static String clip(String s) { return Text.clip(s, 121); }

    /** dmesg of several boots (a journal, a console across reboots): a clock that goes back, or a new boot id. */
    private void newBootIf(LogLine l) {
        boolean changed = l.bootId() != null && bootId != null && !l.bootId().equals(bootId);
        boolean back = l.clock() == LogLine.Clock.MONO && lastTs != Long.MIN_VALUE && l.ts() < lastTs - 1_000_000_000L;
        if (l.bootId() != null) {
            bootId = l.bootId();
            if (stats.bootId == null) stats.bootId = bootId;
        }
        if (changed || back) {
            for (LogError c : new ArrayList<>(open)) finish(c, true);
            open.clear();
            losses.finishAll();
            boot++;
        }
    }

    private void stale(long ts) {
        for (LogError c : new ArrayList<>(open)) if (ts - c.lastTs > STALE_NS) finish(c, true);
        losses.due(ts);
    }

    private void apply(Patterns.Hit h, LogLine l) {
        switch (h.entry().role()) {
            case ERROR_SOURCE, DPC_CONTAINMENT, ERROR_SEVERITY, ERROR_STATUS, ERROR_BIT, ERROR_TLP -> error(h, l);
            case HOTPLUG, SLOT_BUTTON, DEVICE_REQUEST, DEVICE_REMOVED, BRIDGE -> loss(h, l);
            default -> recovery(h, l);
        }
    }

    /** The error itself: where it was received and what each device printed about it. */
    private void error(Patterns.Hit h, LogLine l) {
        Matcher m = h.m();
        String dev = h.dev();
        switch (h.entry().role()) {
            case ERROR_SOURCE -> {
                // A port handles its errors one at a time: a new message on it ends the previous one's story.
                for (LogError c : new ArrayList<>(open)) if (c.port.equals(dev) && (!c.uncorrectable() || c.done())) finish(c, false);
                if (open.size() >= MAX_OPEN) finish(open.get(0), true);
                LogError c = new LogError(dev, l.ts(), lineNo, l.resolutionNs(), boot);
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
                LogError c = new LogError(dev, l.ts(), lineNo, l.resolutionNs(), boot);
                if (l.realtimeNs() != null) c.realtimeOffset = l.realtimeNs() - l.ts();
                c.severity = 1;
                c.dpc = true;
                c.source = dev;
                c.note("DPC containment event on " + dev + (group(m, "status") == null ? "" : " (status " + group(m, "status") + ")"), lineNo);
                open.add(c);
                stats.errors++;
            }
            case ERROR_SEVERITY -> {
                LogError c = forDetail(dev);
                if (c == null) return;
                LogError.Detail d = c.details.computeIfAbsent(dev, k -> new LogError.Detail(k, l.ts(), lineNo));
                d.severity = severity(group(m, "sev"));
                d.type = group(m, "type");
                c.current = d;
                touch(c, l);
            }
            case ERROR_STATUS, ERROR_BIT, ERROR_TLP -> {
                LogError c = forDetail(dev);
                if (c == null) return;
                LogError.Detail d = c.details.computeIfAbsent(dev, k -> new LogError.Detail(k, l.ts(), lineNo));
                        switch (h.entry().role()) {
                    case ERROR_STATUS -> {
                        d.status = Long.parseLong(m.group("status"), 16);
                        d.mask = Long.parseLong(m.group("mask"), 16);
                    }
                    case ERROR_TLP -> d.tlp = LogError.Detail.tlp(m.group("tlp"));
                    default -> { }
                }
                touch(c, l);
            }
            default -> { }
        }
    }

    /** pcie_do_recovery's messages, the reset, hotplug and reset notes, the ratelimit. */
    private void recovery(Patterns.Hit h, LogLine l) {
        Matcher m = h.m();
        String dev = h.dev();
        switch (h.entry().role()) {
            case BROADCAST -> {
                LogError c = forBridge(dev);
                if (c == null) return;
                c.note("broadcast " + group(m, "cb") + " message", lineNo);
                touch(c, l);
            }
            case RESET_LINK, RESET_FAILED -> {
                LogError c = forBridge(dev);
                if (c == null) return;
                if (h.entry().role() == Patterns.Role.RESET_FAILED) {
                    c.resetFailed = true;
                    if (c.resetBridge == null) c.resetAt(dev, l.ts(), lineNo);
                } else {
                    String rc = group(m, "rc");
                    c.resetRc = rc == null ? null : Integer.parseInt(rc);
                    c.resetAt(dev, l.ts(), lineNo);
                }
                touch(c, l);
            }
            case NO_CALLBACK -> {
                LogError c = forDetail(dev);
                if (c == null) c = forBridge(dev);
                if (c == null) return;
                c.note(dev + ": no error_detected callback (driver " + h.driver() + ")", lineNo);
                touch(c, l);
            }
            case RESULT -> {
                LogError c = forBridge(dev);
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
                LogError c = forBridge(dev);
                if (c == null) return;
                c.note(dev + ": link not active " + m.group("ms") + " ms into the reset's link wait (line " + lineNo + ")", lineNo);
                touch(c, l);
            }
            case DEVICE_RESET -> {
                LogError c = forBridge(dev);
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
                for (LogError c : open) c.note(n + " AER messages suppressed by the ratelimit", lineNo);
            }
            default -> { }
        }
    }

    /**
     * Removal messages: a slot event on a port an AER error is recovering is a note of that error (a link reset flaps
     * the link); anything else is a device loss of its own ({@link LossTracker}).
     */
    private void loss(Patterns.Hit h, LogLine l) {
        Matcher m = h.m();
        String dev = h.dev();
        switch (h.entry().role()) {
            case BRIDGE -> losses.bridge(dev, m.group("sec"), group(m, "sub"));
            case HOTPLUG, SLOT_BUTTON -> {
                LogError c = recovering(dev);
                if (c != null) {
                    c.note(h.driver() + " " + dev + ": " + m.group(0), lineNo);
                    touch(c, l);
                    return;
                }
                String what = m.group("what");
                String kind = h.entry().role() == Patterns.Role.HOTPLUG
                        ? (what.equals("Link Down") || what.equals("Card not present") ? "presence_or_link_change" : null)
                        : what.contains("ancel") ? "cancel" : "button_press";
                losses.slot(dev, kind, m.group(0), l, lineNo, boot);
            }
            default -> losses.device(dev, h.entry().role(), m.group("what"), l, lineNo, boot);
        }
    }

    /** The open uncorrectable error whose recovery is on this port (its own port or the bridge it resets). */
    private LogError recovering(String port) {
        for (LogError c : open) if (!c.done() && c.uncorrectable() && (port.equals(c.port) || port.equals(c.resetBridge))) return c;
        return null;
    }

    private void lost(LogLoss loss) {
        sink.story(loss.header(stats), loss.events(), loss);
    }

    private void touch(LogError c, LogLine l) {
        c.touch(l.ts(), lineNo);
    }

    /** The open error a device's detail line belongs to: the newest naming it, else the newest on its port. */
    private LogError forDetail(String dev) {
        for (int i = open.size() - 1; i >= 0; i--) {
            LogError c = open.get(i);
            if (!c.done() && (dev.equals(c.source) || c.details.containsKey(dev))) return c;
        }
        for (int i = open.size() - 1; i >= 0; i--) {
            LogError c = open.get(i);
            if (!c.done() && c.resetBridge == null && c.multiple) return c;
        }
        for (int i = open.size() - 1; i >= 0; i--) if (!open.get(i).done() && open.get(i).resetBridge == null) return open.get(i);
        return null;
    }

    /** The open uncorrectable error a bridge's recovery message belongs to. */
    private LogError forBridge(String dev) {
        for (int i = open.size() - 1; i >= 0; i--) {
            LogError c = open.get(i);
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

    // ------------------------------------------------------------------------------------------------ emit

    private void finish(LogError c, boolean cut) {
        open.remove(c);
        if (cut && c.uncorrectable() && !c.done()) {
            diag.issue(Issue.Kind.INVALID_EVENT, c.line, "kernel log: the " + sevName(c.severity) + " error on " + c.source
                    + " (line " + c.line + ") has no \"device recovery successful|failed\" message: the log ends or"
                    + " was cut before the recovery finished");
        }
        sink.story(LogEvents.header(c, stats), LogEvents.events(c), c);
    }

    static String sevName(Integer s) {
        return s == null ? "unknown" : s == 2 ? "correctable" : s == 0 ? "non-fatal" : "fatal";
    }
}
