package dev.aertrace.timeline;

import dev.aertrace.ingest.Event;
import dev.aertrace.ingest.TraceGap;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.TreeSet;

/**
 * Opening and closing episodes: the bound on open episodes, the settle window (held open while an access that
 * began inside it is still blocked), and the finished {@link Episode} with every gap of the ledger that meets it.
 */
final class EpisodeCloser {
    /** Gaps that ended this long before the stream's clock cannot meet an episode still to come. */
    private static final long PRUNE_AFTER_NS = 120_000_000_000L;

    private final BuildState st;
    private final Pairing pairing;

    EpisodeCloser(BuildState st, Pairing pairing) {
        this.st = st;
        this.pairing = pairing;
    }

    /** Opens {@code b}; at the bound the oldest open episode is closed early, its end marked as a gap. */
    void admit(EpisodeDraft b, Event first) {
        if (st.open.size() >= TimelineBuilder.MAX_OPEN_EPISODES) {
            EpisodeDraft o = st.open.remove(0);
            st.bound(first.line(), "more than " + TimelineBuilder.MAX_OPEN_EPISODES + " episodes open at once: the oldest closed early");
            o.cutAt = Math.max(o.start, first.ts());
            emit(o, Math.min(o.closeAt, o.cutAt), false);
        }
        st.open.add(b);
    }

    void closeDue(long ts) {
        if (st.open.isEmpty()) return; // the common case, on every event
        for (Iterator<EpisodeDraft> it = st.open.iterator(); it.hasNext(); ) {
            EpisodeDraft b = it.next();
            if (b.closeAt >= ts) continue;
            // Keep the window open while an access that began inside it is still blocked (bounded by maxHold).
            if (ts - b.closeAt < st.opt.maxHoldNs() && pairing.hasOpenAccess(b)) continue;
            it.remove();
            emit(b, Math.min(b.closeAt, ts), false);
        }
    }

    void closeAll() {
        // Open user enters at the end: report them (an access with no exit) before episodes close.
        pairing.atEnd();
        for (EpisodeDraft b : st.open) emit(b, Math.min(b.closeAt, st.now), true);
        st.open.clear();
    }

    /** Written out: thousands of compares an episode, and the key-extractor's lambda cost a call more each. */
    private static final Comparator<Event> BY_TS = (x, y) -> Long.compare(Event.of(x).ts(), Event.of(y).ts());
    private static final Comparator<Access> BY_START = (x, y) -> Long.compare(x.start(), y.start());

    private void emit(EpisodeDraft b, long end, boolean atEnd) {
        boolean midEnd = !b.recoveryDone && (b.recoveryStart != null || b.midStart);
        for (EpisodeDraft.OpenReset r : b.openResets)
            b.resets.add(new HostReset(r.enter().dev(), r.enter().fn(), r.enter().ts(), null, null, r.depth(), r.byRecovery(), r.enter(), null));
        for (Event.CallbackEnter c : b.openCallbacks.values())
            b.callbacks.add(new CallbackCall(c.dev(), c.cb(), c.driver(), c.state(), c.ts(), null, null, c, null));
        b.events.sort(BY_TS);
        b.accesses.sort(BY_START);
        b.callbacks.sort(Comparator.comparingLong(CallbackCall::start));
        b.resets.sort(Comparator.comparingLong(HostReset::start).thenComparingInt(HostReset::depth));
        long last = b.events.isEmpty() ? b.start : b.events.get(b.events.size() - 1).ts();
        long epEnd = Math.max(atEnd ? Math.min(end, Math.max(last, st.now)) : end, last);
        if (b.device == null) b.device = b.recoveryDev;
        List<TraceGap> holes = holes(b, epEnd);
        st.sink.accept(new Episode(st.source, b.id, b.device, b.severity, b.status, List.copyOf(b.errors), b.recoveryDev,
                b.resetBridge != null ? b.resetBridge : b.bridge, List.copyOf(new TreeSet<>(b.affected)), b.start, epEnd,
                b.recoveryStart, b.recoveryEnd, b.result, b.phases(epEnd), List.copyOf(b.callbacks),
                List.copyOf(b.resets), List.copyOf(b.accesses), List.copyOf(b.notifications), List.copyOf(b.events),
                Episode.steps(b.events), b.elided, List.copyOf(b.gaps), List.copyOf(holes), b.midStart, midEnd, st.kernel, st.host));
        if (st.open.isEmpty() && st.now != Long.MIN_VALUE) st.ledger.prune(st.now - PRUNE_AFTER_NS);
    }

    /**
     * The rule of evidence looks at every gap whose bounds meet the episode, from the ledger (losses with their
     * inferred bounds, unpaired enters/exits, late events, unreadable lines, trace boundaries), and at what the
     * bounds left out of it.
     */
    private List<TraceGap> holes(EpisodeDraft b, long epEnd) {
        // A recovery whose AER event is not in the trace starts the episode at its first event; a gap just before
        // it may hold the AER event, and so the time every "+x ms since the error" counts from (Episode.startGaps).
        long from = b.errors.isEmpty() && (b.recoveryStart != null || b.midStart) ? b.start - Episode.START_GAP_NS : b.start;
        List<TraceGap> holes = new ArrayList<>(st.ledger.overlapping(Math.min(from, b.firstAccess()), epEnd));
        if (b.elided > 0)
            holes.add(new TraceGap(TraceGap.Kind.CAP, null, b.elidedFrom, b.elidedTo, 0, 0, 0, b.elided,
                    b.elided + " events/accesses beyond the per-episode cap of " + st.opt.maxEventsPerEpisode()
                            + " (or copied into more than " + TimelineBuilder.MAX_COPIES + " open episodes) not kept"));
        if (b.gapsElided > 0)
            holes.add(new TraceGap(TraceGap.Kind.CAP, null, b.gapsFrom, b.gapsTo, 0, 0, 0, b.gapsElided,
                    b.gapsElided + " gaps beyond the per-episode list of " + TimelineBuilder.MAX_GAPS_PER_EPISODE + " not listed"));
        if (holes.size() > TimelineBuilder.MAX_HOLES) holes = mergeExcess(holes);
        if (b.cutAt != Long.MIN_VALUE)
            holes.add(new TraceGap(TraceGap.Kind.CAP, null, b.cutAt, Long.MAX_VALUE, 0, 0, 0, 0,
                    "closed early: more than " + TimelineBuilder.MAX_OPEN_EPISODES + " episodes were open at once"));
        return holes;
    }

    /**
     * Past {@link TimelineBuilder#MAX_HOLES}, the gaps after the first ones merge into one that covers them all
     * (coarser, never narrower: every verdict they met still meets it), so one episode's report stays bounded.
     */
    private static List<TraceGap> mergeExcess(List<TraceGap> holes) {
        int max = TimelineBuilder.MAX_HOLES;
        List<TraceGap> out = new ArrayList<>(holes.subList(0, max - 1));
        long from = Long.MAX_VALUE, to = Long.MIN_VALUE, line = 0, count = 0;
        for (TraceGap g : holes.subList(max - 1, holes.size())) {
            from = Math.min(from, g.from());
            to = Math.max(to, g.to());
            if (line == 0) line = g.line();
            count = dev.aertrace.ingest.Strict.add(count, Math.max(0, g.count()));
        }
        out.add(new TraceGap(TraceGap.Kind.INPUT, null, from, to, line, 0, 0, count,
                (holes.size() - max + 1) + " more gaps merged (more than " + max + " meet this episode)"));
        return out;
    }
}
