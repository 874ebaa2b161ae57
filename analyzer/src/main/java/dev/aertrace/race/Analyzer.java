package dev.aertrace.race;

import dev.aertrace.ingest.Diagnostics;
import dev.aertrace.ingest.Event;
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
            // bounds memory on busy streams (it shortens the effective window there).
            return new Options(1_000_000_000L, 250_000, TimelineBuilder.Options.defaults(), RaceDetector.Options.defaults());
        }
    }

    private final Options opt;

    public Analyzer(Options opt) { this.opt = opt; }

    public Analyzer() { this(Options.defaults()); }

    /** Analyzes one input (plain or gzip); never throws for bad content, every problem is in the report. */
    public SourceReport analyze(String source, InputStream in, Consumer<AnalyzedEpisode> sink) {
        return analyze(source, in, sink, null);
    }

    /** Same, for a live stream (see {@link TraceReader.Live}); {@code live} null = a file. */
    public SourceReport analyze(String source, InputStream in, Consumer<AnalyzedEpisode> sink, TraceReader.Live live) {
        Diagnostics diag = new Diagnostics();
        RaceDetector detector = new RaceDetector(opt.race());
        HeaderTap tap = new HeaderTap();
        TimelineBuilder timeline = new TimelineBuilder(source, opt.timeline(), diag,
                ep -> sink.accept(detector.analyze(ep, tap.current)));
        ReorderBuffer reorder = new ReorderBuffer(opt.reorderWindowNs(), opt.reorderMaxEvents(), diag, timeline);
        tap.next = reorder;
        TraceReader reader = new TraceReader(source, diag, tap);
        return live == null ? reader.read(in) : reader.read(in, live);
    }

    /** Convenience for small traces (tests, charts): all episodes in a list. */
    public static List<AnalyzedEpisode> analyzeAll(Path trace) throws IOException {
        List<AnalyzedEpisode> out = new ArrayList<>();
        try (InputStream in = Files.newInputStream(trace)) {
            new Analyzer().analyze(trace.toString(), in, out::add);
        }
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

        @Override public void footer(TraceFooter f) { next.footer(f); }

        @Override public void advance(long ts) { next.advance(ts); }

        @Override public void end() { next.end(); }
    }
}
