package dev.aertrace.ingest;

import java.util.PriorityQueue;

/**
 * Restores timestamp order across CPUs: per-CPU perf buffers deliver events up to a few ms late. An event is
 * released once the newest timestamp seen is {@code windowNs} past it, or when more than {@code maxEvents} are
 * held (so memory stays bounded even if the clock stalls). An event older than something already released is
 * passed on anyway, preceded by an OUT_OF_ORDER {@link Event.Gap} so no verdict is confident across it.
 */
public final class ReorderBuffer implements TraceListener {
    /** ts copied out of the event: the comparator runs ~2·log(n) times per event and must not dispatch. */
    private static final class Held {
        final Event e;
        final long ts, seq;

        Held(Event e, long ts, long seq) {
            this.e = e;
            this.ts = ts;
            this.seq = seq;
        }
    }

    private final long windowNs;
    private final int maxEvents;
    private final Diagnostics diag;
    private final TraceListener out;
    private final PriorityQueue<Held> heap = new PriorityQueue<>(1024,
            (a, b) -> a.ts != b.ts ? Long.compare(a.ts, b.ts) : Long.compare(a.seq, b.seq));
    private long seq;
    private long newest = Long.MIN_VALUE;
    private long released = Long.MIN_VALUE;

    public ReorderBuffer(long windowNs, int maxEvents, Diagnostics diag, TraceListener out) {
        this.windowNs = windowNs;
        this.maxEvents = maxEvents;
        this.diag = diag;
        this.out = out;
    }

    @Override
    public void header(TraceHeader header) {
        flush();
        newest = released = Long.MIN_VALUE;
        out.header(header);
    }

    @Override
    public void event(Event e) {
        long ts = e.ts();
        if (ts < released && !(e instanceof Event.Gap)) {
            diag.issue(Issue.Kind.OUT_OF_ORDER, e.line(), e.type() + " at ts " + ts + " is " + (released - ts)
                    + " ns older than events already ordered (window " + windowNs + " ns)");
            out.event(new Event.Gap(new Event.Common(released, e.common().cpu(), e.common().pid(), e.tid(),
                    e.common().comm(), e.dev(), e.line()), Event.GapKind.OUT_OF_ORDER,
                    e.type() + " arrived " + (released - ts) + " ns late"));
            out.event(e);
            return;
        }
        if (e instanceof Event.Gap && ts < released) {
            e = new Event.Gap(new Event.Common(released, e.common().cpu(), 0, 0, "", e.dev(), e.line()),
                    ((Event.Gap) e).kind(), ((Event.Gap) e).detail());
            ts = released;
        }
        heap.add(new Held(e, ts, seq++));
        if (ts > newest) newest = ts;
        long limit = newest - windowNs;
        while (!heap.isEmpty() && (heap.peek().ts <= limit || heap.size() > maxEvents)) release();
    }

    private void release() {
        Held h = heap.poll();
        if (h.ts > released) released = h.ts;
        out.event(h.e);
    }

    private void flush() {
        while (!heap.isEmpty()) release();
    }

    @Override
    public void footer(TraceFooter footer) {
        flush();
        out.footer(footer);
    }

    @Override
    public void end() {
        flush();
        out.end();
    }
}
