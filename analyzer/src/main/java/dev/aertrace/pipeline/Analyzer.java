package dev.aertrace.pipeline;

import dev.aertrace.race.AnalyzedEpisode;

import dev.aertrace.race.RaceDetector;

import dev.aertrace.ingest.Diagnostics;
import dev.aertrace.ingest.EventSpill;
import dev.aertrace.ingest.Event;
import dev.aertrace.ingest.GapLedger;
import dev.aertrace.ingest.GapTracker;
import dev.aertrace.ingest.ReorderBuffer;
import dev.aertrace.ingest.SourceReport;
import dev.aertrace.ingest.TraceFooter;
import dev.aertrace.ingest.TraceHeader;
import dev.aertrace.ingest.TraceListener;
import dev.aertrace.ingest.TraceReader;
import dev.aertrace.timeline.TimelineBuilder;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.function.Consumer;

/**
 * The pipeline for one input: reader → reorder window → timeline → race verdicts → {@code sink}. Episodes are
 * pushed as soon as their settle window closes, so a caller that does not keep them uses bounded memory.
 */
public final class Analyzer {

    public record Options(long reorderWindowNs, int reorderMaxEvents, TimelineBuilder.Options timeline,
                          RaceDetector.Options race) {
        public static Options defaults() {
            // 1 s: on the TCG lab one CPU's perf buffer was seen flushed 120 ms after another's. The event cap
            // bounds memory on busy streams (it shortens the effective window there). A file gets the window its
            // own first pass measured (field traces: one CPU written 18 s after the other).
            return new Options(1_000_000_000L, 250_000, TimelineBuilder.Options.defaults(), RaceDetector.Options.defaults());
        }
    }

    /** A stream's window may grow to this when events arrive later than it allows (bounded by the event cap too). */
    static final long MAX_WINDOW_NS = 120_000_000_000L;

    private final Options opt;

    public Analyzer(Options opt) { this.opt = opt; }

    public Analyzer() { this(Options.defaults()); }

    /** Analyzes one input (plain or gzip); never throws for bad content, every problem is in the report. */
    public SourceReport analyze(String source, InputStream in, Consumer<AnalyzedEpisode> sink) {
        return analyze(source, in, sink, null);
    }

    /** Same, for a live stream (see {@link TraceReader.Live}); {@code live} null = a file. */
    public SourceReport analyze(String source, InputStream in, Consumer<AnalyzedEpisode> sink, TraceReader.Live live) {
        GapLedger ledger = new GapLedger();
        Diagnostics diag = new Diagnostics();
        HeaderTap tap = new HeaderTap();
        ReorderBuffer reorder = pipeline(source, diag, ledger, opt.reorderWindowNs(), tap, sink, true);
        tap.next = new GapTracker(ledger, reorder);
        TraceReader reader = new TraceReader(source, diag, tap);
        return live == null ? reader.read(in) : reader.read(in, live);
    }

    /**
     * A file (or anything that can be read twice): a first pass bounds every gap (a lost line's upper bound is
     * the next event of its CPU, which may come long after) and measures how late events arrive in file order;
     * the second pass orders the events with a window that covers that lateness, so nothing is dropped or
     * reported late, and judges every verdict against the complete list of gaps. The second pass replays what the
     * first one read ({@link EventSpill}, bounded: memory, then a temp file) instead of reading every line again;
     * only when the spill was given up is the input read a second time.
     */
    public SourceReport analyze(String source, Callable<InputStream> reopen, Consumer<AnalyzedEpisode> sink) throws IOException {
        GapLedger ledger = new GapLedger();
        Lateness late = new Lateness();
        Diagnostics first = new Diagnostics();
        try (EventSpill spill = new EventSpill(new GapTracker(ledger, late), first)) {
            SourceReport read;
            try (InputStream in = call(reopen)) {
                read = new TraceReader(source, first, spill).read(in);
            }
            // Events beyond the cap leave the buffer anyway (bounded memory) and then count as late gaps.
            long window = Math.max(opt.reorderWindowNs(), Math.min(MAX_WINDOW_NS, late.max + late.max / 10 + 1_000_000));
            Diagnostics diag = new Diagnostics();
            HeaderTap tap = new HeaderTap();
            // Read again (the spill given up), the input is not the one the first pass saw if it grew meanwhile:
            // the QEMU lane then stays, whatever the first pass saw.
            tap.next = pipeline(source, diag, ledger, window, tap, sink, late.qemu || !spill.complete());
            if (spill.complete()) {
                spill.replay(tap, diag);
                // the reader's counts are the first pass's; its issues, replayed in order among the pipeline's, are here
                return new SourceReport(read.source(), read.header(), read.footer(), read.lines(), read.events(),
                        read.eventsByType(), diag.unknownTypes(), diag.unknownFields(), read.lostEvents(),
                        read.segments(), diag.issues());
            }
            spill.close();
            try (InputStream in = call(reopen)) {
                return new TraceReader(source, diag, tap).read(in);
            }
        }
    }

    private static InputStream call(Callable<InputStream> c) throws IOException {
        try {
            return c.call();
        } catch (IOException | RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IOException(e);
        }
    }

    /**
     * {@code qemuLane} false: the input has no QEMU event (its first pass saw none), and the QEMU lane is left out.
     * Exact: the lane forwards every call unchanged, and only a QEMU event gives it a process, a ledger entry, an
     * issue or anything {@code join} adds; without one it only watched every event pass (~4% of a 10 M-event run).
     */
    private ReorderBuffer pipeline(String source, Diagnostics diag, GapLedger ledger, long window, HeaderTap tap,
                                   Consumer<AnalyzedEpisode> sink, boolean qemuLane) {
        RaceDetector detector = new RaceDetector(opt.race());
        if (!qemuLane) {
            TimelineBuilder timeline = new TimelineBuilder(source, opt.timeline(), diag, ledger,
                    ep -> sink.accept(detector.analyze(ep, tap.current)));
            return new ReorderBuffer(window, Math.max(window, MAX_WINDOW_NS), opt.reorderMaxEvents(), diag, ledger, timeline);
        }
        // QEMU's uprobe events: a lane of their own, joined to each episode as it closes (dev.aertrace.qemu)
        dev.aertrace.qemu.QemuLanes qemu = new dev.aertrace.qemu.QemuLanes(ledger, diag);
        TimelineBuilder timeline = new TimelineBuilder(source, opt.timeline(), diag, ledger,
                ep -> sink.accept(qemu.join(detector.analyze(ep, tap.current))));
        return new ReorderBuffer(window, Math.max(window, MAX_WINDOW_NS), opt.reorderMaxEvents(), diag, ledger, qemu.tap(timeline));
    }

    /**
     * First pass: how much older than the newest event so far an event arrives, at most (per segment); and whether
     * any QEMU event came (the second pass replays the same events).
     */
    private static final class Lateness implements TraceListener {
        long newest = Long.MIN_VALUE, max;
        boolean qemu;

        @Override public void header(TraceHeader h) { newest = Long.MIN_VALUE; }

        @Override public void event(Event e) {
            // a user's read or write, most of every trace, is neither: a class compare each, where the check
            // against the Qemu interface is a scan of the class's interfaces (a stub call per event)
            if (!(e instanceof Event.RwExit || e instanceof Event.RwEnter)) {
                if (e instanceof Event.Qemu) qemu = true;
                if (e instanceof Event.Gap || e instanceof Event.Lost) return; // the agent's own time, not a record's
            }
            long ts = Event.of(e).ts();
            if (ts > newest) newest = ts;
            else if (newest - ts > max) max = newest - ts;
        }

        @Override public void history(Event e) { // older than the lines around it by design, not late
            if (e instanceof Event.Qemu) qemu = true;
        }

        @Override public void footer(TraceFooter f) {}
    }

    /** Convenience for small traces (tests, charts): all episodes in a list. */
    public static List<AnalyzedEpisode> analyzeAll(Path trace) throws IOException {
        List<AnalyzedEpisode> out = new ArrayList<>();
        new Analyzer().analyze(trace.toString(), () -> Files.newInputStream(trace), out::add);
        return out;
    }

    /** Remembers the header in force; updated after forwarding so episodes of the previous segment keep theirs. */
    private static final class HeaderTap implements TraceListener {
        TraceListener next;
        TraceHeader current;

        @Override public void header(TraceHeader h) {
            next.header(h);
            current = h;
        }

        @Override public void event(Event e) { next.event(e); }

        @Override public void history(Event e) { next.history(e); }

        @Override public void wholeEnter(Event e) { next.wholeEnter(e); }

        @Override public void historyDump() { next.historyDump(); }

        @Override public void footer(TraceFooter f) { next.footer(f); }

        @Override public void advance(long ts) { next.advance(ts); }

        @Override public void end() { next.end(); }
    }
}
