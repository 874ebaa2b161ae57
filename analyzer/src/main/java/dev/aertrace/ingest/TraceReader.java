package dev.aertrace.ingest;

import com.fasterxml.jackson.databind.JsonNode;

import java.io.IOException;
import java.io.InputStream;
import java.util.List;

import static dev.aertrace.ingest.Scratch.F_EVENTS;
import static dev.aertrace.ingest.Scratch.F_HISTORY;
import static dev.aertrace.ingest.Scratch.F_LOST;
import static dev.aertrace.ingest.Scratch.F_TS;

/**
 * Streams one schema-v1/v2/v3 trace (plain or gzip, detected by magic bytes) line by line. Lines are split by hand
 * ({@link LineSplitter}) so a broken line costs only itself: its number is recorded and a {@link Event.Gap} stands
 * in its place. A line in the agent's own flat shape is read from its bytes ({@link LineScanner}), any other by
 * Jackson ({@link JacksonLine}); then typed ({@link EventBuilder}) and handed on. Nothing is kept per event.
 */
public final class TraceReader implements LineSplitter.Lines {
    private final String source;
    private final Diagnostics diag;
    private final TraceListener out;

    private long lineNo;
    private long maxTs;
    /** Newest ts of the segment's events so far (not lost lines: theirs is when the agent wrote them); MIN: none. */
    private long newestEvent = Long.MIN_VALUE;
    /** Newest record of the flight-recorder dump being read (MIN_VALUE outside one). */
    private long newestHistory = Long.MIN_VALUE;
    /** The segment header's mono_ns (0: none): when the agent started. */
    private long segmentStartNs;
    private long eventsInSegment;
    private long lostInSegment;
    private boolean sawHeader;
    private boolean afterFooter;
    private boolean footerDoubted;
    private int segments;
    private TraceHeader firstHeader;
    private TraceFooter lastFooter;
    private long totalEvents;
    private long totalLost;
    private final java.util.Map<String, long[]> byType = new java.util.HashMap<>();
    /** Lines per known type, by {@link LineType#code} (the rest in byType, by name). */
    private final long[] typeCounts = new long[LineType.COUNT];
    private final Scratch s = new Scratch();
    private final StringCache strings = new StringCache();
    private final LineScanner scanner = new LineScanner(s, strings);
    private final JacksonLine jackson = new JacksonLine(s, strings);
    private final EventBuilder events;
    private final LineType.Recent types = new LineType.Recent();

    public TraceReader(String source, Diagnostics diag, TraceListener out) {
        this.source = source;
        this.diag = diag;
        this.out = out;
        this.events = new EventBuilder(s, diag);
    }

    /** Opens {@code raw}, transparently gunzipping it. */
    public static InputStream decode(InputStream raw) throws IOException { return LineSplitter.decode(raw); }

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
            new LineSplitter(this, live).split(in);
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

    @Override
    public void quiet() {
        if (liveSkew != Long.MIN_VALUE) out.advance(live.clock().getAsLong() + liveSkew);
    }

    @Override
    public void overlong() {
        lineNo++;
        diag.issue(Issue.Kind.CORRUPT_LINE, lineNo, "line longer than " + LineSplitter.MAX_LINE + " bytes");
        gap(Event.GapKind.CORRUPT_LINE, lineNo, "overlong line");
    }

    @Override
    public void line(byte[] b, int off, int len, boolean terminated) {
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
        if (!scanner.scan(b, i, end)) {
            s.reset();
            try {
                jackson.parse(b, off, len);
            } catch (com.fasterxml.jackson.core.io.JsonEOFException e) {
                bad(Issue.Kind.TRUNCATED_LINE, "cut off: " + firstLine(e.getOriginalMessage()));
                return;
            } catch (IOException | JacksonLine.BadLine e) {
                bad(Issue.Kind.CORRUPT_LINE, e instanceof com.fasterxml.jackson.core.JsonProcessingException j
                        ? firstLine(j.getOriginalMessage()) : e.getMessage());
                return;
            }
        }
        read(b, off, len);
    }

    private void read(byte[] b, int off, int len) {
        if (s.type != null) dispatch(b, off, len);
        else bad(Issue.Kind.INVALID_EVENT, "no \"type\" field");
    }

    /**
     * A line the scanner reads by a shape up to its '\n' (LineScanner.line) before the splitter looks for it: as
     * {@link #line} would (no '\r' before the '\n': a shape's line ends with '}'; no blank before its '{').
     */
    @Override
    public int whole(byte[] b, int from, int n) {
        if (b[from] != '{') return -1;
        // no reset: a shape reads nothing into the scratch unless it reads the line, and then sets all that reset()
        // clears but the unknown fields (a shape's line has none); on -1, line() resets
        int e = scanner.line(b, from, n);
        if (e < 0) return -1;
        if (s.unknown != null) s.unknown.clear();
        lineNo++;
        read(b, from, e - from);
        return e;
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

    private void dispatch(byte[] b, int off, int len) {
        String type = s.type;
        LineType t = types.of(type);
        if (t.header) {
            header(b, off, len);
            return;
        }
        if (!sawHeader && lineNo == 1) {
            diag.issue(Issue.Kind.MISSING_HEADER, 1, "first line has type \"" + type + "\"");
            sawHeader = true; // report once
        }
        if (afterFooter) {
            diag.issue(Issue.Kind.AFTER_FOOTER, lineNo, "type \"" + type + "\" after the footer");
            // A footer the stream goes on past was not the agent's last line: it may be a damaged event
            // (fuzz mutant 20261202 #1551: a reset.enter retyped footer), so what it held is unknown.
            if (!footerDoubted) gap(Event.GapKind.INVALID_EVENT, lastFooter.line(), "footer at line " + lastFooter.line()
                    + " followed by line " + lineNo + ": the footer line may have been an event");
            footerDoubted = true;
        }
        if (t.footer) {
            footer();
            return;
        }
        // Device-loss lines the timeline uses become events (build); the rest are counted, not placed (yet).
        if (t.countOnly) {
            countedOnly(t);
            return;
        }
        Event e = build(t);
        if (e == null) return;
        if (e instanceof Event.Gap) {
            out.event(e);
            return;
        }
        eventsInSegment++;
        totalEvents++;
        count(t);
        if (s.unknown != null && !s.unknown.isEmpty()) for (String f : s.unknown) diag.unknownField(type, f, lineNo);
        // A one-line access was written when it returned: its place in the file is its exit_ts, its ts is as old
        // as the access took (a read held by a reset: seconds), by design.
        long at = t.whole ? s.exitTs : s.ts;
        if (at > maxTs) maxTs = at;
        boolean history = s.history && (s.has & F_HISTORY) != 0;
        if (!(e instanceof Event.Lost)) {
            // The same tests as GapTracker's, which files the gaps: here they are named, with their lines. History
            // is older than live events by design, but a dump is oldest first and precedes what follows it.
            if (newestHistory != Long.MIN_VALUE && newestHistory - at > GapTracker.PLAUSIBLE_LATE_NS)
                diag.issue(Issue.Kind.TIME_JUMP, lineNo, type + " at ts " + at + " is " + (newestHistory - at)
                        + " ns older than a flight-recorder record before it in its dump");
            else if (!history && newestEvent != Long.MIN_VALUE && newestEvent - at > GapTracker.PLAUSIBLE_LATE_NS)
                diag.issue(Issue.Kind.TIME_JUMP, lineNo, type + " at ts " + at + " is " + (newestEvent - at)
                        + " ns older than an event before it in the file");
            if (history) newestHistory = Math.max(newestHistory, at);
            else {
                newestHistory = Long.MIN_VALUE;
                if (at > newestEvent) newestEvent = at;
            }
        }
        if (e instanceof Event.Lost l) {
            if (l.count() > Long.MAX_VALUE - lostInSegment)
                diag.issue(Issue.Kind.BAD_COUNT, lineNo, "lost counts sum past 2^63-1 (kept at 2^63-1)");
            lostInSegment = Strict.add(lostInSegment, l.count());
            totalLost = Strict.add(totalLost, l.count());
            diag.issue(Issue.Kind.LOST_EVENTS, lineNo, l.count() + " events lost on "
                    + (l.anyCpu() ? "a buffer shared by all cpus" : "cpu " + l.common().cpu()));
        }
        if (history && (e instanceof Event.RwEnter || e instanceof Event.RwExit)) {
            out.history(e);
            if (t.whole) out.history(events.wholeExit((Event.RwEnter) e));
            return;
        }
        if (t.whole) {
            out.wholeEnter(e);
            out.event(events.wholeExit((Event.RwEnter) e));
            return;
        }
        out.event(e);
    }

    /** A line counted like an event but not placed in timelines (yet): a flight-recorder dump marker, some device-loss exits. */
    private void countedOnly(LineType t) {
        // schema v2 lines not placed in timelines (yet): counted like events, so the footer still adds up
        if (t.history) {
            String why = LineRules.historyMarker(s);
            if (why != null) { // not the agent's marker: a damaged line (an event retyped) and a gap at its line
                diag.issue(Issue.Kind.INVALID_EVENT, lineNo, "history: " + why);
                out.event(events.gap((s.has & F_TS) != 0 ? s.ts : maxTs, lineNo, "history: " + why));
                return;
            }
            events.historyDump();
            newestHistory = Long.MIN_VALUE;
            out.historyDump();
        } else {
            Event.Gap refused = events.refuse(t, lineNo, maxTs, segmentStartNs);
            if (refused != null) {
                out.event(refused);
                return;
            }
        }
        eventsInSegment++;
        totalEvents++;
        count(t);
        if (s.ts > maxTs) maxTs = s.ts;
    }

    /** Builds the typed event, or records why it cannot (and returns a Gap / null for unknown types). */
    private Event build(LineType t) {
        String type = t.name;
        if (t.need < 0) {
            if (Strict.damagedType(type)) {
                diag.issue(Issue.Kind.DAMAGED_NAME, lineNo, "type \"" + type + "\"");
                return events.gap((s.has & F_TS) != 0 ? s.ts : maxTs, lineNo, "damaged type \"" + type + "\"");
            }
            diag.unknownType(type, lineNo);
            byType.computeIfAbsent("(unknown)", k -> new long[1])[0]++;
            // EVENTS.md: the footer's events count every event line the agent wrote, a newer agent's types
            // too; counting them here keeps a newer agent's clean trace adding up.
            eventsInSegment++;
            return events.unknown(type, lineNo, maxTs);
        }
        Event refused = events.refuse(t, lineNo, maxTs, segmentStartNs);
        return refused != null ? refused : events.create(t, lineNo);
    }

    private void footer() {
        if ((s.has & (F_EVENTS | F_LOST)) != (F_EVENTS | F_LOST)) {
            diag.issue(Issue.Kind.INVALID_EVENT, lineNo, "footer without events/lost counts");
            gap(Event.GapKind.INVALID_EVENT, lineNo, "footer without events/lost counts: the line may have been an event");
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
        footerDoubted = false;
        out.footer(lastFooter);
    }

    private void header(byte[] b, int off, int len) {
        TraceHeader h;
        List<String> bad;
        JsonNode n;
        try {
            n = HeaderLine.tree(b, off, len);
            bad = Strict.header(n);
            h = HeaderLine.parse(n, lineNo);
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
            diag.issue(Issue.Kind.SCHEMA_VERSION, lineNo, "schema_version " + h.schemaVersion() + ", this analyzer reads 1 to 3");
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
        newestHistory = Long.MIN_VALUE;
        segmentStartNs = h.monoNs();
        events.newSegment(h.kernel(), h.topology());
        if (firstHeader == null) firstHeader = h;
        out.header(h);
        if (!bad.isEmpty()) {
            // After the header went on, so the gap is filed under this segment: it spans all of it.
            String why = String.join("; ", bad);
            diag.issue(Issue.Kind.BAD_HEADER, lineNo, why);
            gap(Event.GapKind.INVALID_EVENT, lineNo, "damaged header: " + why);
        }
    }

    private void count(LineType t) {
        if (t.code >= 0) typeCounts[t.code]++;
        else byType.computeIfAbsent(t.name, k -> new long[1])[0]++;
    }

    /** 1, 2 (flight recorder: history lines, lost bounds, link events) and 3 (one-line accesses; probes/EVENTS.md). */
    public static boolean knowsSchema(int version) {
        return version >= 1 && version <= 3;
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
        for (int i = 0; i < typeCounts.length; i++) if (typeCounts[i] > 0) counts.put(LineType.name(i), typeCounts[i]);
        return new SourceReport(source, firstHeader, lastFooter, lineNo, totalEvents, java.util.Map.copyOf(counts),
                diag.unknownTypes(), diag.unknownFields(), totalLost, segments, diag.issues());
    }
}
