package dev.aertrace.timeline;

import dev.aertrace.ingest.Diagnostics;
import dev.aertrace.ingest.Event;
import dev.aertrace.ingest.GapLedger;
import dev.aertrace.ingest.Issue;
import dev.aertrace.ingest.Topology;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * What the parts of the {@link TimelineBuilder} share while one trace is read: the open episodes, the segment's
 * facts, the stream's clock and the last gap. Fields, not accessors: the parts are one builder split by
 * responsibility (host side, enter/exit pairing, device loss, closing), and this is the state they hand around.
 */
final class BuildState {
    final String source;
    final TimelineBuilder.Options opt;
    final Diagnostics diag;
    final GapLedger ledger;
    final Consumer<Episode> sink;

    Topology topo = Topology.EMPTY;
    String kernel;
    String host;
    boolean footerSeen;
    int nextId = 1;
    long now = Long.MIN_VALUE;
    long lastGapTs = Long.MIN_VALUE;
    Event lastGap;

    final List<EpisodeDraft> open = new ArrayList<>();
    /** The last COMMAND read per device: the "before" value for state-change verdicts. */
    final Map<String, Access> lastCommandRead = new HashMap<>();
    /** Last event per thread (bounded): the lower bound of the gap an exit without its enter reveals. */
    final LastSeen lastByTid = new LastSeen();

    BuildState(String source, TimelineBuilder.Options opt, Diagnostics diag, GapLedger ledger, Consumer<Episode> sink) {
        this.source = source;
        this.opt = opt;
        this.diag = diag;
        this.ledger = ledger;
        this.sink = sink;
    }

    /** A bound was reached: named once per kind in the report, and a gap where it dropped something. */
    void bound(long line, String what) {
        diag.issue(Issue.Kind.BOUND, line, what);
    }

    /** {@code bridge} is one of the episode's devices or above one of them. */
    boolean coversAny(String bridge, EpisodeDraft o) {
        if (o.affected.contains(bridge)) return true;
        for (String d : o.affected) if (topo.covers(bridge, d)) return true;
        return false;
    }

    /** Copies {@code g} into the open episodes of the thread or device (at most MAX_COPIES of them). */
    void gapToEpisodes(Event.Gap g, int tid, String dev) {
        int copies = 0;
        for (EpisodeDraft b : open)
            if ((b.tid == tid || b.affected.contains(dev)) && copies++ < TimelineBuilder.MAX_COPIES) b.addGap(g);
    }
}
