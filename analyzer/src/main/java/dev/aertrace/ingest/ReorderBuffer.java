package dev.aertrace.ingest;

import java.util.ArrayDeque;
import java.util.PriorityQueue;

/**
 * Restores timestamp order across CPUs: per-CPU perf buffers deliver events up to a few ms late, but each CPU's
 * own events come in order. So events wait in one FIFO per CPU and leave by a k-way merge; only an event older
 * than its own CPU's last one goes to a (normally empty) heap. An event is released once the newest timestamp
 * seen is {@code windowNs} past it, or when more than {@code maxEvents} are held (memory stays bounded even if a
 * clock stalls). An event older than something already released is passed on anyway, preceded by an
 * OUT_OF_ORDER {@link Event.Gap}, and its span (its own ts up to what was already released) goes into the
 * {@link GapLedger} as a LATE gap, so no verdict is confident across it. The window then adapts: it grows to
 * twice the lateness seen (up to {@code maxWindowNs}), so a CPU whose buffer is read seconds late costs one
 * gap, not one per event; memory stays bounded by {@code maxEvents} either way.
 */
public final class ReorderBuffer implements TraceListener {
    /** ts copied out of the event: compared on every step and must not dispatch through the interface. */
    private static final class Held {
        final Event e;
        final long ts, seq;

        Held(Event e, long ts, long seq) {
            this.e = e;
            this.ts = ts;
            this.seq = seq;
        }
    }

    private static final int MAX_CPUS = 4096;

    private long windowNs;
    private final long maxWindowNs;
    private final int maxEvents;
    private final GapLedger ledger;
    private final Diagnostics diag;
    private final TraceListener out;
    @SuppressWarnings("unchecked")
    private final ArrayDeque<Held>[] perCpu = new ArrayDeque[MAX_CPUS + 1];
    private int[] active = new int[8];
    private int nActive;
    private final PriorityQueue<Held> late = new PriorityQueue<>(64,
            (a, b) -> a.ts != b.ts ? Long.compare(a.ts, b.ts) : Long.compare(a.seq, b.seq));
    private int held;
    private long seq;
    private long newest = Long.MIN_VALUE;
    private long released = Long.MIN_VALUE;

    public ReorderBuffer(long windowNs, int maxEvents, Diagnostics diag, TraceListener out) {
        this(windowNs, windowNs, maxEvents, diag, null, out);
    }

    public ReorderBuffer(long windowNs, long maxWindowNs, int maxEvents, Diagnostics diag, GapLedger ledger, TraceListener out) {
        this.windowNs = windowNs;
        this.maxWindowNs = Math.max(windowNs, maxWindowNs);
        this.maxEvents = maxEvents;
        this.diag = diag;
        this.ledger = ledger;
        this.out = out;
    }

    /** The window in force (it grows when events arrive later than it allows). */
    public long windowNs() { return windowNs; }

    /** A LATE gap per run of late events: extended while they keep coming, a new one after an in-order stretch. */
    private GapLedger.Entry lateGap;

    @Override
    public void header(TraceHeader header) {
        flush();
        newest = released = Long.MIN_VALUE;
        out.header(header);
    }

    /** The clock reached {@code ts} without an event (live, quiet stream): release what the window allows. */
    @Override
    public void advance(long ts) {
        if (ts <= newest) return;
        newest = ts;
        long limit = newest - windowNs;
        while (held > 0) {
            Held min = peekMin();
            if (min.ts > limit) {
                cachedMin = min.ts;
                break;
            }
            release();
        }
        if (held == 0) cachedMin = Long.MAX_VALUE;
        advanceWatermark(limit);
    }

    /**
     * Flight-recorder history is dumped when an error begins and reaches back further than the window: what is
     * still inside the window is ordered as usual, what is older is passed on at once (in its own order, the
     * order it happened in) rather than reported out of order; it precedes the error that caused the dump.
     */
    @Override
    public void history(Event e) {
        if (e.ts() >= released) event(e);
        else out.event(e);
    }

    @Override
    public void event(Event e) {
        Event.Common k = Event.of(e);
        long ts = k.ts();
        if (ts < released) {
            if (e instanceof Event.Gap g && g.kind() != Event.GapKind.UNKNOWN_TYPE) { // an unknown type has its own ts: late like an event
                // A hole has no timestamp of its own: it sits where the stream is now.
                e = new Event.Gap(new Event.Common(released, k.cpu(), 0, 0, "", k.dev(), k.line()), g.kind(), g.detail());
                k = e.common();
                ts = released;
            } else {
                diag.issue(Issue.Kind.OUT_OF_ORDER, e.line(), e.type() + " at ts " + ts + " is " + (released - ts)
                        + " ns older than events already ordered (window " + windowNs + " ns)");
                if (ledger != null) {
                    if (lateGap != null && lateGap.to() >= ts) {
                        lateGap.widen(ts, released, e.line());
                    } else {
                        lateGap = ledger.add(TraceGap.Kind.LATE, null, ts, released, e.line(), e.line(), e.line(), 1,
                                "events delivered later than the reorder window allowed");
                    }
                }
                long late = released - ts;
                if (late * 2 > windowNs) windowNs = Math.min(maxWindowNs, late * 2);
                out.event(new Event.Gap(new Event.Common(released, e.common().cpu(), e.common().pid(), e.tid(),
                        e.common().comm(), e.dev(), e.line()), Event.GapKind.OUT_OF_ORDER,
                        e.type() + " arrived " + (released - ts) + " ns late"));
                out.event(e);
                return;
            }
        }
        if (lateGap != null && ts > lateGap.to()) lateGap = null;
        Held h = new Held(e, ts, seq++);
        int cpu = k.cpu();
        int slot = cpu < 0 || cpu >= MAX_CPUS ? MAX_CPUS : cpu; // synthesised gaps (cpu -1) and odd CPUs share one
        ArrayDeque<Held> q = perCpu[slot];
        if (q == null) q = perCpu[slot] = new ArrayDeque<>();
        if (!q.isEmpty() && q.peekLast().ts > ts) late.add(h);
        else {
            if (q.isEmpty()) activate(slot);
            q.addLast(h);
        }
        held++;
        if (ts > newest) newest = ts;
        long limit = newest - windowNs;
        // Fast path: nothing can leave unless the oldest held event is past the window (checked via the cached
        // minimum, refreshed only when it may have changed).
        if (h.ts < cachedMin) cachedMin = h.ts;
        if (cachedMin > limit && held <= maxEvents) {
            advanceWatermark(limit);
            return;
        }
        while (held > 0) {
            Held min = peekMin();
            if (min.ts > limit && held <= maxEvents) {
                cachedMin = min.ts;
                break;
            }
            release();
        }
        if (held == 0) cachedMin = Long.MAX_VALUE;
        advanceWatermark(limit);
    }

    private long cachedMin = Long.MAX_VALUE;

    private void advanceWatermark(long limit) {
        if (limit > watermark) {
            watermark = limit;
            out.advance(limit); // everything at or below limit has been released
        }
    }

    private long watermark = Long.MIN_VALUE;

    private void activate(int slot) {
        if (nActive == active.length) active = java.util.Arrays.copyOf(active, nActive * 2);
        active[nActive++] = slot;
    }

    private int minSlot = -1;

    /** Smallest (ts, seq) among the CPU FIFO heads and the late heap; remembers where it came from. */
    private Held peekMin() {
        Held best = late.peek();
        minSlot = -1;
        for (int i = 0; i < nActive; i++) {
            Held h = perCpu[active[i]].peekFirst();
            if (best == null || h.ts < best.ts || (h.ts == best.ts && h.seq < best.seq)) {
                best = h;
                minSlot = i;
            }
        }
        return best;
    }

    private void release() {
        Held h;
        if (minSlot < 0) h = late.poll();
        else {
            ArrayDeque<Held> q = perCpu[active[minSlot]];
            h = q.pollFirst();
            if (q.isEmpty()) active[minSlot] = active[--nActive];
        }
        held--;
        if (h.ts > released) released = h.ts;
        out.event(h.e);
    }

    private void flush() {
        while (held > 0) {
            peekMin();
            release();
        }
        cachedMin = Long.MAX_VALUE;
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
