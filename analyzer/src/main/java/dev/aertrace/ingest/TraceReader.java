package dev.aertrace.ingest;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.io.JsonEOFException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.GZIPInputStream;

/**
 * Streams one schema-v1 trace (plain or gzip, detected by magic bytes) line by line with Jackson's streaming
 * parser. Lines are split by hand so a broken line costs only itself: its number is recorded and a
 * {@link Event.Gap} stands in its place. Nothing is kept per event after it is handed on.
 */
public final class TraceReader {
    /** Lines longer than this are corrupt by definition; bounding it bounds memory. */
    static final int MAX_LINE = 1 << 20;

    private static final JsonFactory FACTORY = new JsonFactory();
    private static final ObjectMapper MAPPER = new ObjectMapper(FACTORY);

    private final String source;
    private final Diagnostics diag;
    private final TraceListener out;

    private long lineNo;
    private long maxTs;
    /** Newest ts of the segment's events so far (not lost lines: theirs is when the agent wrote them); MIN: none. */
    private long newestEvent = Long.MIN_VALUE;
    /** The segment header's mono_ns (0: none): when the agent started. */
    private long segmentStartNs;
    /** The flight recorder's last dump marker in this segment: its records lie in [since, ts] (EVENTS.md). */
    private long historySince = Long.MIN_VALUE, historyTs = Long.MIN_VALUE;
    private long eventsInSegment;
    private long lostInSegment;
    private boolean sawHeader;
    private boolean afterFooter;
    private int segments;
    private TraceHeader firstHeader;
    private TraceFooter lastFooter;
    private long totalEvents;
    private long totalLost;
    private final java.util.Map<String, long[]> byType = new java.util.HashMap<>();
    private final Scratch s = new Scratch();

    public TraceReader(String source, Diagnostics diag, TraceListener out) {
        this.source = source;
        this.diag = diag;
        this.out = out;
    }

    /** Opens {@code raw}, transparently gunzipping it. */
    public static InputStream decode(InputStream raw) throws IOException {
        BufferedInputStream in = new BufferedInputStream(raw, 1 << 16);
        in.mark(2);
        int a = in.read(), b = in.read();
        in.reset();
        if (a == 0x1f && b == 0x8b) return new GZIPInputStream(in, 1 << 16); // unbuffered: a truncated .gz still yields what it had
        return in;
    }

    /**
     * For a live stream from a local agent: {@code clock} reads the same clock as the events' ts (CLOCK_MONOTONIC,
     * which System.nanoTime() is on Linux) and {@code producerAlive} tells whether more data can come. While the
     * stream is quiet the reader tells the pipeline that time passes, so finished episodes are reported without
     * waiting for the next event.
     */
    public record Live(java.util.function.LongSupplier clock, java.util.function.BooleanSupplier producerAlive) {}

    private Live live;
    /**
     * Producer clock minus ours, from the header's mono_ns taken as it arrives: zero-ish for a local agent, the
     * boot-time difference for a remote one. Slightly low (the header was written before we read it), so time
     * is never advanced past what the producer has really reached.
     */
    private long liveSkew = Long.MIN_VALUE;

    public SourceReport read(InputStream raw, Live live) {
        this.live = live;
        return read(raw);
    }

    /** Reads everything; I/O errors mid-stream (e.g. a truncated .gz) become issues, not exceptions. */
    public SourceReport read(InputStream raw) {
        try (InputStream in = live != null ? raw : decode(raw)) {
            split(in);
        } catch (IOException e) {
            diag.issue(lineNo == 0 ? Issue.Kind.UNREADABLE : Issue.Kind.TRUNCATED_LINE, lineNo + 1,
                    "input ended with an error after line " + lineNo + ": " + e.getMessage());
            if (lineNo > 0 && e instanceof java.util.zip.ZipException)
                // A failed CRC or a corrupt deflate block: bytes anywhere before this point may have decoded wrong
                // (a name, a timestamp), so the hole has no known place: it spans the whole segment.
                gap(Event.GapKind.LOST_EVENTS, lineNo + 1, "gzip data damaged (" + e.getMessage() + "): any line may be wrong");
            else if (lineNo > 0) gap(Event.GapKind.TRUNCATED_LINE, lineNo + 1, "input broken: " + e.getMessage());
        }
        finish();
        return report();
    }

    private void split(InputStream in) throws IOException {
        byte[] buf = new byte[1 << 16];
        byte[] line = new byte[4096];
        int len = 0;
        boolean overlong = false;
        int n;
        while ((n = readLive(in, buf)) > 0) {
            int from = 0;
            for (int i = nextNewline(buf, 0, n); i < n; i = nextNewline(buf, i + 1, n)) {
                if (len == 0 && !overlong) {
                    parseLine(buf, from, i - from, true);
                } else {
                    if (!overlong) {
                        line = append(line, len, buf, from, i - from);
                        len += i - from;
                        if (len > MAX_LINE) overlong = true;
                    }
                    if (overlong) overlong(); else parseLine(line, 0, len, true);
                    len = 0;
                    overlong = false;
                }
                from = i + 1;
            }
            if (from < n && !overlong) {
                if (len + (n - from) > MAX_LINE) overlong = true;
                else {
                    line = append(line, len, buf, from, n - from);
                    len += n - from;
                }
            }
        }
        if (overlong) overlong();
        else if (len > 0) parseLine(line, 0, len, false);
    }

    private static final java.lang.invoke.VarHandle LONGS =
            java.lang.invoke.MethodHandles.byteArrayViewVarHandle(long[].class, java.nio.ByteOrder.LITTLE_ENDIAN);
    private static final long NL = 0x0a0a0a0a0a0a0a0aL, LO = 0x0101010101010101L, HI = 0x8080808080808080L;

    /**
     * Index of the next '\n' in b[from, n), or n. Eight bytes per step (the classic has-zero-byte test on
     * x ^ "\n\n\n\n\n\n\n\n"): scanning for line ends was the largest single cost of ingest.
     */
    static int nextNewline(byte[] b, int from, int n) {
        int i = from;
        for (; i + 8 <= n; i += 8) {
            long x = (long) LONGS.get(b, i) ^ NL;
            long z = (x - LO) & ~x & HI;
            if (z != 0) return i + (Long.numberOfTrailingZeros(z) >>> 3);
        }
        for (; i < n; i++) if (b[i] == '\n') return i;
        return n;
    }

    /**
     * A read that, on a live stream, tells the pipeline that time passes while the producer is quiet: by polling
     * available() while the producer lives (a pipe from a child process), or through the socket's read timeout
     * (a TCP stream: producerAlive false, SO_TIMEOUT set by the caller).
     */
    private int readLive(InputStream in, byte[] buf) throws IOException {
        if (live == null) return in.read(buf);
        long quietSince = System.nanoTime();
        while (true) {
            try {
                while (in.available() == 0 && live.producerAlive().getAsBoolean()) {
                    try {
                        Thread.sleep(50);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        return in.read(buf);
                    }
                    quietSince = tick(quietSince);
                }
                return in.read(buf);
            } catch (java.net.SocketTimeoutException quiet) {
                quietSince = tick(quietSince);
            }
        }
    }

    private long tick(long quietSince) {
        if (System.nanoTime() - quietSince < 250_000_000L) return quietSince;
        if (liveSkew != Long.MIN_VALUE) out.advance(live.clock().getAsLong() + liveSkew);
        return System.nanoTime();
    }

    private static byte[] append(byte[] line, int len, byte[] src, int off, int n) {
        if (len + n > line.length) line = java.util.Arrays.copyOf(line, Math.max(line.length * 2, len + n));
        System.arraycopy(src, off, line, len, n);
        return line;
    }

    private void overlong() {
        lineNo++;
        diag.issue(Issue.Kind.CORRUPT_LINE, lineNo, "line longer than " + MAX_LINE + " bytes");
        gap(Event.GapKind.CORRUPT_LINE, lineNo, "overlong line");
    }

    private void parseLine(byte[] b, int off, int len, boolean terminated) {
        lineNo++;
        if (len > 0 && b[off + len - 1] == '\r') len--;
        int i = off, end = off + len;
        while (i < end && (b[i] == ' ' || b[i] == '\t')) i++;
        if (i == end) return; // blank lines carry nothing
        if (b[i] != '{') { // not an object: said without a parser exception (its stack trace costs ~20 µs a line)
            bad(Issue.Kind.CORRUPT_LINE, "not a JSON object");
            return;
        }
        s.reset();
        try (JsonParser p = FACTORY.createParser(b, off, len)) {
            if (p.nextToken() != JsonToken.START_OBJECT) throw new BadLine("not a JSON object");
            JsonToken t;
            while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
                field(p, p.currentName());
            }
            if (t != JsonToken.END_OBJECT) throw new BadLine("unexpected " + t);
            if (p.nextToken() != null) throw new BadLine("trailing data after the object");
        } catch (JsonEOFException e) {
            bad(terminated ? Issue.Kind.TRUNCATED_LINE : Issue.Kind.TRUNCATED_LINE, "cut off: " + firstLine(e.getOriginalMessage()));
            return;
        } catch (IOException | BadLine e) {
            bad(Issue.Kind.CORRUPT_LINE, e instanceof com.fasterxml.jackson.core.JsonProcessingException j
                    ? firstLine(j.getOriginalMessage()) : e.getMessage());
            return;
        }
        if (s.type == null) {
            bad(Issue.Kind.INVALID_EVENT, "no \"type\" field");
            return;
        }
        dispatch(b, off, len);
    }

    private static String firstLine(String m) {
        if (m == null) return "";
        int nl = m.indexOf('\n');
        return nl < 0 ? m : m.substring(0, nl);
    }

    private void bad(Issue.Kind kind, String why) {
        diag.issue(kind, lineNo, why);
        gap(kind == Issue.Kind.TRUNCATED_LINE ? Event.GapKind.TRUNCATED_LINE
                : kind == Issue.Kind.INVALID_EVENT ? Event.GapKind.INVALID_EVENT : Event.GapKind.CORRUPT_LINE,
                lineNo, kind.meaning + ": " + why);
    }

    private void gap(Event.GapKind kind, long line, String detail) {
        out.event(new Event.Gap(new Event.Common(maxTs, -1, 0, 0, "", null, line), kind, detail));
    }

    private static final class BadLine extends Exception {
        BadLine(String m) { super(m, null, false, false); }
    }

    /** Field values of the line being parsed; reused to avoid garbage on the hot path. */
    static final class Scratch {
        String type, comm, dev, cb, driver, fn, ctx, cmdName, region, op, reason, event, slot, handler, stateName, reasonName;
        long ts, cpu, pid, tid, severity, status, state, ret, result, cmd, offset, size, value, count, events, lost, since, until, reasonNum, entered;
        boolean tlpValid, write, history, dllla;
        long width;
        long[] tlp;
        int has; // bit set of F_* below
        List<String> unknown;

        void reset() {
            type = comm = dev = cb = driver = fn = ctx = cmdName = region = op = reason = event = slot = handler = stateName = reasonName = null;
            tlp = null;
            has = 0;
            if (unknown != null) unknown.clear();
        }
    }

    static final int F_TS = 1, F_CPU = 2, F_PID = 4, F_TID = 8, F_SEVERITY = 16, F_STATUS = 32, F_STATE = 64,
            F_RET = 128, F_RESULT = 256, F_CMD = 512, F_OFFSET = 1024, F_SIZE = 2048, F_VALUE = 4096, F_COUNT = 8192,
            F_WRITE = 16384, F_TLPVALID = 32768, F_EVENTS = 65536, F_LOST = 131072, F_HISTORY = 1 << 18,
            F_SINCE = 1 << 21, F_UNTIL = 1 << 22, F_BADTYPE = 1 << 20, F_DLLLA = 1 << 23, F_WIDTH = 1 << 24,
            F_BADSTRING = 1 << 25, F_REASON_NUM = 1 << 26, F_ENTERED = 1 << 27;

    private void field(JsonParser p, String name) throws IOException {
        JsonToken v = p.nextToken();
        switch (name) {
            case "type" -> s.type = str(p, v);
            case "ts" -> { s.ts = num(p, v, F_TS); }
            case "cpu" -> s.cpu = num(p, v, F_CPU);
            case "pid" -> s.pid = num(p, v, F_PID);
            case "tid" -> s.tid = num(p, v, F_TID);
            case "comm" -> s.comm = str(p, v);
            case "dev" -> s.dev = str(p, v);
            case "severity" -> s.severity = num(p, v, F_SEVERITY);
            case "status" -> s.status = num(p, v, F_STATUS);
            case "tlp_valid" -> s.tlpValid = bool(p, v, F_TLPVALID);
            case "tlp" -> s.tlp = longs(p, v);
            case "state" -> s.state = num(p, v, F_STATE);
            case "ret" -> s.ret = num(p, v, F_RET);
            case "result" -> s.result = num(p, v, F_RESULT);
            case "cb" -> s.cb = str(p, v);
            case "driver" -> s.driver = str(p, v);
            case "fn" -> s.fn = str(p, v);
            case "ctx" -> s.ctx = str(p, v);
            case "cmd" -> s.cmd = num(p, v, F_CMD);
            case "cmd_name" -> s.cmdName = str(p, v);
            case "region" -> s.region = str(p, v);
            case "offset" -> s.offset = num(p, v, F_OFFSET);
            case "size" -> s.size = num(p, v, F_SIZE);
            case "write" -> s.write = bool(p, v, F_WRITE);
            case "value" -> s.value = num(p, v, F_VALUE);
            case "op" -> s.op = str(p, v);
            case "count" -> s.count = num(p, v, F_COUNT);
            case "events" -> s.events = num(p, v, F_EVENTS);
            case "lost" -> s.lost = num(p, v, F_LOST);
            // a string on the footer (why the agent stopped), an integer on hotplug.event (disable_request's reason)
            // and pcie.link_event (the kernel's enum pcie_link_change_reason), kept as its digits, and on qemu.system_reset
            // (QEMU's ShutdownCause)
            case "reason" -> {
                if (v == JsonToken.VALUE_NUMBER_INT) { s.reasonNum = num(p, v, F_REASON_NUM); s.reason = p.getText(); }
                else s.reason = str(p, v);
            }
            case "handler" -> s.handler = str(p, v);
            case "dllla" -> s.dllla = bool(p, v, F_DLLLA);
            case "width" -> s.width = num(p, v, F_WIDTH);
            case "state_name" -> s.stateName = str(p, v);
            case "reason_name" -> s.reasonName = str(p, v);
            case "since" -> s.since = num(p, v, F_SINCE);
            case "event" -> s.event = str(p, v);
            case "slot" -> s.slot = str(p, v);
            case "until" -> s.until = num(p, v, F_UNTIL);
            case "entered" -> s.entered = num(p, v, F_ENTERED);
            case "history" -> s.history = bool(p, v, F_HISTORY);
            default -> {
                p.skipChildren();
                if (s.unknown == null) s.unknown = new ArrayList<>(2);
                s.unknown.add(name);
            }
        }
    }

    private final StringCache strings = new StringCache();

    private String str(JsonParser p, JsonToken v) throws IOException {
        if (v == JsonToken.VALUE_STRING) {
            char[] c = p.getTextCharacters();
            int off = p.getTextOffset(), len = p.getTextLength();
            if (unpairedSurrogate(c, off, len)) s.has |= F_BADSTRING;
            return strings.get(c, off, len);
        }
        if (v == JsonToken.VALUE_NULL) return null;
        p.skipChildren();
        s.has |= F_BADTYPE;
        return null;
    }

    /**
     * The agent decodes kernel strings with errors="replace", so it never writes a lone UTF-16 surrogate
     * (\\ud800): one is damage, and the name it spoils (a comm in a verdict's sentence) is not evidence.
     */
    private static boolean unpairedSurrogate(char[] c, int off, int len) {
        for (int i = off, end = off + len; i < end; i++) {
            char x = c[i];
            if (x < Character.MIN_SURROGATE || x > Character.MAX_SURROGATE) continue;
            if (Character.isHighSurrogate(x) && i + 1 < end && Character.isLowSurrogate(c[i + 1])) i++;
            else return true;
        }
        return false;
    }

    private long num(JsonParser p, JsonToken v, int flag) throws IOException {
        if (v == JsonToken.VALUE_NUMBER_INT) {
            s.has |= flag;
            try {
                return p.getLongValue();
            } catch (com.fasterxml.jackson.core.exc.InputCoercionException tooBig) {
                s.has |= F_BADTYPE; // beyond 64 bits: no field of the schema is
                return 0;
            }
        }
        if (v != JsonToken.VALUE_NULL) s.has |= F_BADTYPE;
        p.skipChildren();
        return 0;
    }

    private boolean bool(JsonParser p, JsonToken v, int flag) throws IOException {
        if (v == JsonToken.VALUE_TRUE || v == JsonToken.VALUE_FALSE) {
            s.has |= flag;
            return v == JsonToken.VALUE_TRUE;
        }
        if (v != JsonToken.VALUE_NULL) s.has |= F_BADTYPE;
        p.skipChildren();
        return false;
    }

    private long[] longs(JsonParser p, JsonToken v) throws IOException {
        if (v != JsonToken.START_ARRAY) {
            if (v != JsonToken.VALUE_NULL) s.has |= F_BADTYPE;
            p.skipChildren();
            return null;
        }
        long[] a = new long[4];
        int n = 0;
        JsonToken t;
        while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
            if (t == JsonToken.VALUE_NUMBER_INT && n < 4) a[n++] = p.getLongValue();
            else {
                s.has |= F_BADTYPE;
                p.skipChildren();
            }
        }
        return n == 4 ? a : java.util.Arrays.copyOf(a, n);
    }

    private void dispatch(byte[] b, int off, int len) {
        String type = s.type;
        if (type.equals("header")) {
            header(b, off, len);
            return;
        }
        if (!sawHeader && lineNo == 1) {
            diag.issue(Issue.Kind.MISSING_HEADER, 1, "first line has type \"" + type + "\"");
            sawHeader = true; // report once
        }
        if (afterFooter) diag.issue(Issue.Kind.AFTER_FOOTER, lineNo, "type \"" + type + "\" after the footer");
        if (type.equals("footer")) {
            footer();
            return;
        }
        // Device-loss lines the timeline uses become events (build); the rest are counted, not placed (yet).
        if (type.equals("history") || (deviceLossOrQemu(type) && !deviceGone(type) && !qemu(type))) {
            // schema v2 lines not placed in timelines (yet): counted like events, so the footer still adds up
            if (type.equals("history")) {
                historyTs = (s.has & F_TS) != 0 ? s.ts : Long.MIN_VALUE;
                historySince = (s.has & F_SINCE) != 0 ? s.since : Long.MIN_VALUE;
            }
            eventsInSegment++;
            totalEvents++;
            byType.computeIfAbsent(type, k -> new long[1])[0]++;
            if (s.ts > maxTs) maxTs = s.ts;
            return;
        }
        Event e = build(type);
        if (e == null) return;
        if (e instanceof Event.Gap) {
            out.event(e);
            return;
        }
        eventsInSegment++;
        totalEvents++;
        long[] c = byType.get(type);
        if (c == null) byType.put(type, c = new long[1]);
        c[0]++;
        if (s.unknown != null) for (String f : s.unknown) diag.unknownField(type, f, lineNo);
        if (s.ts > maxTs) maxTs = s.ts;
        if (!(e instanceof Event.Lost) && !(s.history && (s.has & F_HISTORY) != 0)) {
            // The same test as GapTracker's, which files the gap: here it is named, with its line.
            if (newestEvent != Long.MIN_VALUE && newestEvent - s.ts > GapTracker.PLAUSIBLE_LATE_NS)
                diag.issue(Issue.Kind.TIME_JUMP, lineNo, type + " at ts " + s.ts + " is " + (newestEvent - s.ts)
                        + " ns older than an event before it in the file");
            if (s.ts > newestEvent) newestEvent = s.ts;
        }
        if (e instanceof Event.Lost l) {
            if (l.count() > Long.MAX_VALUE - lostInSegment)
                diag.issue(Issue.Kind.BAD_COUNT, lineNo, "lost counts sum past 2^63-1 (kept at 2^63-1)");
            lostInSegment = Strict.add(lostInSegment, l.count());
            totalLost = Strict.add(totalLost, l.count());
            diag.issue(Issue.Kind.LOST_EVENTS, lineNo, l.count() + " events lost on "
                    + (l.anyCpu() ? "a buffer shared by all cpus" : "cpu " + l.common().cpu()));
        }
        if (s.history && (s.has & F_HISTORY) != 0 && (e instanceof Event.RwEnter || e instanceof Event.RwExit)) {
            out.history(e);
            return;
        }
        out.event(e);
    }

    private static final int COMMON = F_TS | F_CPU | F_PID | F_TID;

    /** Builds the typed event, or records why it cannot (and returns a Gap / null for unknown types). */
    private Event build(String type) {
        int need;
        switch (type) {
            case "aer.event" -> need = COMMON | F_SEVERITY | F_STATUS;
            case "cb.enter" -> need = COMMON;
            case "vfio.ioctl.enter" -> need = COMMON | F_CMD;
            case "vfio.ioctl.exit" -> need = COMMON | F_CMD | F_RET;
            case "vfio.rw.enter" -> need = COMMON | F_OFFSET | F_SIZE | F_WRITE;
            case "vfio.rw.exit" -> need = COMMON | F_OFFSET | F_SIZE | F_WRITE | F_RET;
            case "vfio.err_detected.exit" -> need = COMMON | F_RET;
            case "eventfd.read" -> need = COMMON | F_RET;
            case "lost" -> need = F_TS | F_COUNT;
            case "recovery.enter", "recovery.exit", "cb.exit", "reset.enter", "reset.exit",
                    "vfio.err_detected.enter", "eventfd.signal", "vfio.open", "vfio.close",
                    "user_reset.enter", "user_reset.exit", "cfg_lock" -> need = COMMON;
            case "pci.remove.enter", "vfio.request", "vfio.remove.enter", "pci.hp_event", "hotplug.event" -> need = COMMON;
            case "qemu.config.enter", "qemu.config.exit", "qemu.region.enter", "qemu.region.exit" -> need = COMMON | F_OFFSET | F_SIZE | F_WRITE;
            case "qemu.vm_stop", "qemu.runstate" -> need = COMMON | F_STATE;
            case "qemu.system_reset" -> need = COMMON | F_REASON_NUM;
            case "pcie.link_event" -> need = COMMON;
            default -> {
                if (Strict.damagedType(type)) {
                    diag.issue(Issue.Kind.DAMAGED_NAME, lineNo, "type \"" + type + "\"");
                    return new Event.Gap(new Event.Common((s.has & F_TS) != 0 ? s.ts : maxTs, (int) s.cpu, (int) s.pid,
                            (int) s.tid, s.comm, s.dev, lineNo), Event.GapKind.INVALID_EVENT, "damaged type \"" + type + "\"");
                }
                diag.unknownType(type, lineNo);
                byType.computeIfAbsent("(unknown)", k -> new long[1])[0]++;
                // EVENTS.md: the footer's events count every event line the agent wrote, a newer agent's types
                // too; counting them here keeps a newer agent's clean trace adding up.
                eventsInSegment++;
                return null;
            }
        }
        String missing = null;
        boolean qemu = qemu(type);
        if ((s.has & need) != need) missing = "missing or mistyped numeric/boolean field";
        else if ((s.has & F_BADTYPE) != 0) missing = "a field has the wrong JSON type";
        else if ((s.has & F_BADSTRING) != 0) missing = "a string with an unpaired UTF-16 surrogate (no agent writes one)";
        else if (!type.equals("lost") && !type.equals("eventfd.signal") && !qemu && s.dev == null) missing = "missing \"dev\"";
        else if (!type.equals("lost") && s.comm == null) missing = "missing \"comm\"";
        else if (type.startsWith("cb.") && Event.Callback.fromWire(s.cb) == null) missing = "bad \"cb\": " + s.cb;
        else if (type.equals("cb.enter") && s.driver == null) missing = "missing \"driver\" (\"\" when none is bound)";
        else if (type.equals("vfio.rw.exit") && !s.write && "config".equals(s.region) && s.size <= 4 && s.ret > 0
                && (s.has & F_VALUE) == 0) missing = "missing \"value\" of a config read that returned data";
        else if ((s.has & F_HISTORY) != 0 && s.history && !type.startsWith("vfio.rw.")) missing = "\"history\" on " + type + " (the flight recorder keeps accesses only)";
        else if ((type.startsWith("reset.") || type.startsWith("user_reset.")) && s.fn == null) missing = "missing \"fn\"";
        else if (type.startsWith("vfio.rw.") && s.region == null) missing = "missing \"region\"";
        else if (type.equals("cfg_lock") && s.op == null) missing = "missing \"op\"";
        else if ((type.equals("eventfd.signal") || type.equals("eventfd.read")) && s.ctx == null) missing = "missing \"ctx\"";
        if (missing == null && s.unknown != null) for (String f : s.unknown) if (Strict.damagedField(f)) {
            diag.issue(Issue.Kind.DAMAGED_NAME, lineNo, "field \"" + f + "\" on " + type);
            return new Event.Gap(new Event.Common(s.ts, (int) s.cpu, (int) s.pid, (int) s.tid, s.comm, s.dev, lineNo),
                    Event.GapKind.INVALID_EVENT, type + ": damaged field name \"" + f + "\"");
        }
        if (missing == null && type.startsWith("vfio.rw.")) {
            String why = Strict.size(s.region, s.size);
            if (why != null) {
                diag.issue(Issue.Kind.BAD_SIZE, lineNo, type + ": " + why);
                return new Event.Gap(new Event.Common(s.ts, (int) s.cpu, (int) s.pid, (int) s.tid, s.comm, s.dev, lineNo),
                        Event.GapKind.INVALID_EVENT, type + ": " + why);
            }
        }
        if (missing == null) {
            String why = Plausible.check(type, s, s.history && (s.has & F_HISTORY) != 0 ? 0 : segmentStartNs);
            if (why == null && (s.has & F_HISTORY) != 0 && s.history && historyTs != Long.MIN_VALUE && (s.ts < historySince || s.ts > historyTs))
                why = "history record at ts " + s.ts + " outside its dump's [since, ts] (" + historySince + ", " + historyTs + ")";
            if (why != null) {
                diag.issue(Issue.Kind.IMPLAUSIBLE, lineNo, type + ": " + why);
                return new Event.Gap(new Event.Common(maxTs, -1, 0, 0, s.comm, s.dev, lineNo),
                        Event.GapKind.INVALID_EVENT, type + ": " + why);
            }
        }
        if (missing == null && type.equals("lost")) {
            String why = Plausible.lossBounds(s);
            if (why != null) {
                // The loss is real (the line says so) but where it happened is not: bounds from the file order.
                diag.issue(Issue.Kind.IMPLAUSIBLE, lineNo, "lost: " + why + "; bounds inferred from the file order");
                s.has &= ~(F_SINCE | F_UNTIL);
            }
        }
        if (missing == null && type.equals("lost") && s.count <= 0) {
            // Not a count the agent can write: the loss is real (the line says so) but its size is unknown.
            diag.issue(Issue.Kind.BAD_COUNT, lineNo, "lost count " + s.count);
            s.count = 0;
        }
        if (missing != null) {
            diag.issue(Issue.Kind.INVALID_EVENT, lineNo, type + ": " + missing);
            return new Event.Gap(new Event.Common((s.has & F_TS) != 0 ? s.ts : maxTs, (int) s.cpu, (int) s.pid,
                    (int) s.tid, s.comm, s.dev, lineNo), Event.GapKind.INVALID_EVENT, type + ": " + missing);
        }
        // cpu/pid/tid are optional on lost lines: a value from an earlier line must not leak into this one.
        Event.Common c = new Event.Common(s.ts, (s.has & F_CPU) != 0 ? (int) s.cpu : -1, (s.has & F_PID) != 0 ? (int) s.pid : 0,
                (s.has & F_TID) != 0 ? (int) s.tid : 0, s.comm, s.dev, lineNo);
        Integer state = (s.has & F_STATE) != 0 ? (int) s.state : null;
        Long ret = (s.has & F_RET) != 0 ? s.ret : null;
        return switch (type) {
            case "aer.event" -> new Event.AerError(c, (int) s.severity, s.status, s.tlpValid, s.tlp);
            case "recovery.enter" -> new Event.RecoveryEnter(c, state);
            case "recovery.exit" -> new Event.RecoveryExit(c, ret == null ? null : (int) (long) ret);
            case "cb.enter" -> new Event.CallbackEnter(c, Event.Callback.fromWire(s.cb), s.driver == null ? "" : s.driver, state);
            case "cb.exit" -> new Event.CallbackExit(c, Event.Callback.fromWire(s.cb), (s.has & F_RESULT) != 0 ? (int) s.result : null);
            case "reset.enter" -> new Event.ResetEnter(c, s.fn);
            case "reset.exit" -> new Event.ResetExit(c, s.fn, ret);
            case "vfio.err_detected.enter" -> new Event.VfioErrDetectedEnter(c, state);
            case "vfio.err_detected.exit" -> new Event.VfioErrDetectedExit(c, ret == null ? null : (int) (long) ret);
            case "eventfd.signal" -> new Event.EventfdSignal(c, s.ctx);
            case "eventfd.read" -> new Event.EventfdRead(c, s.ctx, ret, (s.has & F_ENTERED) != 0 ? s.entered : null);
            case "vfio.ioctl.enter" -> new Event.IoctlEnter(c, s.cmd, s.cmdName != null ? s.cmdName : hex(s.cmd));
            case "vfio.ioctl.exit" -> new Event.IoctlExit(c, s.cmd, s.cmdName != null ? s.cmdName : hex(s.cmd), ret);
            case "vfio.rw.enter" -> new Event.RwEnter(c, s.region, s.offset, (int) s.size, s.write, (s.has & F_VALUE) != 0 ? s.value : null);
            case "vfio.rw.exit" -> new Event.RwExit(c, s.region, s.offset, (int) s.size, s.write, ret, (s.has & F_VALUE) != 0 ? s.value : null);
            case "vfio.open" -> new Event.VfioOpen(c);
            case "vfio.close" -> new Event.VfioClose(c);
            case "user_reset.enter" -> new Event.UserResetEnter(c, s.fn);
            case "user_reset.exit" -> new Event.UserResetExit(c, s.fn, ret);
            case "cfg_lock" -> new Event.CfgLock(c, s.op, ret);
            case "pci.remove.enter" -> new Event.DeviceGone(c, type, "the kernel started removing the device (pci_stop_and_remove_bus_device)");
            case "vfio.remove.enter" -> new Event.DeviceGone(c, type, "vfio-pci's remove started: the host is taking the device from the user");
            case "vfio.request" -> new Event.DeviceGone(c, type, "vfio-pci asked the user to release the device (device request IRQ)");
            case "pci.hp_event" -> "LINK_UP".equals(s.event) || "LINK_DOWN".equals(s.event)
                    ? new Event.LinkChange(c, type, "LINK_UP".equals(s.event), "link " + (s.event.equals("LINK_UP") ? "up" : "down")
                        + " (pciehp" + (s.slot != null ? ", slot " + s.slot : "") + ")")
                    : new Event.DeviceGone(c, type, "hotplug event " + (s.event != null ? s.event : "?")
                    + (s.slot != null ? " on slot " + s.slot : "") + " on the port above it");
            // DLLLA set: the link is up. Clear says nothing on a port without Data Link Layer Link Active
            // Reporting (QEMU's root port in the lab reports 0 while its link works): not "down".
            case "pcie.link_event" -> new Event.LinkChange(c, type, (s.has & F_DLLLA) != 0 && s.dllla ? Boolean.TRUE : null,
                    "link " + ((s.has & F_DLLLA) != 0 && s.dllla ? "up" : "status")
                    + ((s.has & F_WIDTH) != 0 ? " x" + s.width : "") + " (Link Status re-read"
                    + (s.reason != null ? ", reason " + linkReason(s.reason) : "") + ")");
            case "hotplug.event" -> new Event.DeviceGone(c, type, "pciehp handled a slot event"
                    + (s.handler != null ? " (" + s.handler + ")" : "") + " on the port above it");
            case "qemu.config.enter", "qemu.region.enter" -> new QemuEvents.AccessEnter(c, space(type), s.offset, (int) s.size,
                    s.write, (s.has & F_VALUE) != 0 ? s.value : null);
            case "qemu.config.exit", "qemu.region.exit" -> new QemuEvents.AccessExit(c, space(type), s.offset, (int) s.size,
                    s.write, (s.has & F_VALUE) != 0 ? s.value : null);
            case "qemu.vm_stop", "qemu.runstate" -> new QemuEvents.RunState(c, type.equals("qemu.vm_stop"), (int) s.state, s.stateName);
            case "qemu.system_reset" -> new QemuEvents.SystemReset(c, (int) s.reasonNum, s.reasonName);
            case "lost" -> new Event.Lost(c, s.count, (s.has & F_SINCE) != 0 ? s.since : null,
                    (s.has & F_UNTIL) != 0 ? s.until : null, (s.has & F_CPU) == 0);
            default -> throw new IllegalStateException(type);
        };
    }

    /** The device-loss types that become {@link Event.DeviceGone} (a removal starts, vfio asks, a slot event). */
    static boolean deviceGone(String type) {
        return switch (type) {
            case "pci.remove.enter", "vfio.request", "vfio.remove.enter", "pci.hp_event", "hotplug.event" -> true;
            default -> false;
        };
    }

    /** QEMU's uprobe events (probes/EVENTS.md): typed as {@link Event.Qemu}, without a dev. */
    static boolean qemu(String type) { return type.startsWith("qemu."); }

    private static QemuEvents.Space space(String type) {
        return type.startsWith("qemu.config.") ? QemuEvents.Space.CONFIG : QemuEvents.Space.REGION;
    }

    static boolean deviceLossOrQemu(String type) {
        return type.startsWith("hotplug.") || type.startsWith("pci.remove.") || type.equals("vfio.request")
                || type.startsWith("vfio.remove.") || type.startsWith("qemu.");
    }

    private static String hex(long v) { return "0x" + Long.toHexString(v); }

    /** drivers/pci/pci.h enum pcie_link_change_reason (7.0+). */
    private static String linkReason(String r) {
        return switch (r) {
            case "0" -> "retrain";
            case "1" -> "bus added";
            case "2" -> "bandwidth notification enabled";
            case "3" -> "bandwidth notification";
            case "4" -> "hotplug";
            default -> r;
        };
    }

    private void footer() {
        if ((s.has & (F_EVENTS | F_LOST)) != (F_EVENTS | F_LOST)) {
            diag.issue(Issue.Kind.INVALID_EVENT, lineNo, "footer without events/lost counts");
        } else if (s.events < 0 || s.lost < 0) {
            // A damaged footer: what the agent lost is unknown, so the whole segment may have holes.
            diag.issue(Issue.Kind.BAD_COUNT, lineNo, "footer says " + s.events + " events/" + s.lost + " lost");
            gap(Event.GapKind.LOST_EVENTS, lineNo, "footer counts impossible (" + s.events + " events/" + s.lost + " lost)");
        } else {
            if (s.events != eventsInSegment || s.lost != lostInSegment)
                diag.issue(Issue.Kind.FOOTER_MISMATCH, lineNo, "footer says " + s.events + " events/" + s.lost
                        + " lost, read " + eventsInSegment + " events/" + lostInSegment + " lost");
            if (s.events != eventsInSegment) {
                // Every real trace adds up (testdata: all of them): lines are missing or extra, place unknown.
                gap(Event.GapKind.LOST_EVENTS, lineNo, "footer counts " + s.events + " event lines, " + eventsInSegment
                        + " read: lines missing or added somewhere");
            } else if (s.lost > lostInSegment) {
                // The agent counted losses it never reported as lost lines: a hole of unknown place.
                gap(Event.GapKind.LOST_EVENTS, lineNo, (s.lost - lostInSegment) + " lost events not reported in-stream");
            }
        }
        lastFooter = new TraceFooter((s.has & F_TS) != 0 ? s.ts : maxTs, s.events, s.lost, s.reason, lineNo);
        afterFooter = true;
        out.footer(lastFooter);
    }

    private void header(byte[] b, int off, int len) {
        TraceHeader h;
        List<String> bad;
        JsonNode n;
        try {
            n = MAPPER.readTree(b, off, len);
            bad = Strict.header(n);
            h = parseHeader(n, lineNo);
        } catch (IOException | RuntimeException e) {
            diag.issue(Issue.Kind.INVALID_EVENT, lineNo, "unusable header: " + e.getMessage());
            return;
        }
        JsonNode window = n.get("rw_window_ms");
        if (window != null && window.isNumber() && window.asDouble() > 0)
            // EVENTS.md: absence of vfio.rw events outside the windows means "not recorded", not "did not happen"
            diag.issue(Issue.Kind.UNRECORDED_ACCESSES, lineNo, "rw_window_ms " + window.asText()
                    + ": user accesses were recorded only within " + window.asText() + " ms of error/reset activity");
        if (!knowsSchema(h.schemaVersion()))
            diag.issue(Issue.Kind.SCHEMA_VERSION, lineNo, "schema_version " + h.schemaVersion() + ", this analyzer reads 1 and 2");
        if (lineNo != 1 || segments > 0) {
            diag.issue(Issue.Kind.EXTRA_HEADER, lineNo, "header at line " + lineNo);
            if (!afterFooter && segments > 0) diag.issue(Issue.Kind.NO_FOOTER, lineNo, "segment before line " + lineNo + " has no footer");
        }
        if (live != null) liveSkew = h.monoNs() - live.clock().getAsLong();
        segments++;
        sawHeader = true;
        afterFooter = false;
        eventsInSegment = 0;
        lostInSegment = 0;
        maxTs = 0;
        newestEvent = Long.MIN_VALUE;
        segmentStartNs = h.monoNs();
        historySince = historyTs = Long.MIN_VALUE;
        if (firstHeader == null) firstHeader = h;
        out.header(h);
        if (!bad.isEmpty()) {
            // After the header went on, so the gap is filed under this segment: it spans all of it.
            String why = String.join("; ", bad);
            diag.issue(Issue.Kind.BAD_HEADER, lineNo, why);
            gap(Event.GapKind.INVALID_EVENT, lineNo, "damaged header: " + why);
        }
    }

    /** 1, and 2 (flight recorder: history lines, lost bounds, link events; probes/EVENTS.md). */
    public static boolean knowsSchema(int version) {
        return version == 1 || version == 2;
    }

    static TraceHeader parseHeader(JsonNode n, long line) {
        List<Topology.PciDevice> devs = new ArrayList<>();
        JsonNode topo = n.path("topology");
        for (JsonNode d : topo.isArray() ? topo : MAPPER.createArrayNode()) {
            if (!d.isObject()) continue;
            devs.add(new Topology.PciDevice(d.path("dev").asText(), text(d, "vendor"), text(d, "device"),
                    text(d, "class"), text(d, "driver"), text(d, "parent"), d.path("bridge").asBoolean(false),
                    d.hasNonNull("iommu_group") ? d.get("iommu_group").asInt() : null, d.path("aer").asBoolean(false),
                    d.hasNonNull("aer_cap") ? d.get("aer_cap").asInt() : null));
        }
        List<String> filter = new ArrayList<>();
        for (JsonNode f : n.path("filter").path("devices")) filter.add(f.asText());
        JsonNode version = n.path("schema_version");
        return new TraceHeader(version.isIntegralNumber() && version.canConvertToInt() ? version.asInt() : -1, text(n, "agent"), text(n, "host"), text(n, "kernel"),
                text(n, "boot_id"), n.path("mono_ns").asLong(), n.path("realtime_ns").asLong(),
                probes(n.path("probes").path("attached")), probes(n.path("probes").path("missing")),
                List.copyOf(filter), new Topology(devs), line);
    }

    private static List<TraceHeader.Probe> probes(JsonNode arr) {
        List<TraceHeader.Probe> out = new ArrayList<>();
        for (JsonNode p : arr) {
            List<String> c = new ArrayList<>();
            for (JsonNode x : p.path("candidates")) c.add(x.asText());
            out.add(new TraceHeader.Probe(text(p, "event"), text(p, "kind"), text(p, "symbol"), List.copyOf(c), text(p, "reason")));
        }
        return List.copyOf(out);
    }

    private static String text(JsonNode n, String f) {
        JsonNode v = n.get(f);
        return v == null || v.isNull() ? null : v.asText();
    }

    private void finish() {
        if (lineNo == 0) diag.issue(Issue.Kind.EMPTY_INPUT, 0, "no lines");
        else if (!afterFooter) {
            diag.issue(Issue.Kind.NO_FOOTER, lineNo, "trace ends at line " + lineNo + " without a footer");
        }
        out.end();
    }

    private SourceReport report() {
        java.util.Map<String, Long> counts = new java.util.TreeMap<>();
        byType.forEach((k, v) -> counts.put(k, v[0]));
        return new SourceReport(source, firstHeader, lastFooter, lineNo, totalEvents, java.util.Map.copyOf(counts),
                diag.unknownTypes(), diag.unknownFields(), totalLost, segments, diag.issues());
    }
}
