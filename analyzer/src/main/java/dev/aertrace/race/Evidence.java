package dev.aertrace.race;

import dev.aertrace.ingest.Event;
import dev.aertrace.ingest.TraceGap;
import dev.aertrace.timeline.Episode;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;

/**
 * The rule of evidence (docs/evidence.md), the one place a verdict becomes confident or tentative: a verdict is
 * confident only when every event it rests on is in the trace and no gap (a loss, an event later than the reorder
 * window, an enter or exit without its partner, a trace boundary, the per-episode cap) meets the time span it
 * depends on. Gaps are not narrowed to CPUs: the recovery thread and the user's threads migrate, so a record lost
 * on any CPU can be one of theirs. Otherwise the verdict is tentative, its sentence is the hedged one (no count,
 * duration or time a gap could have changed) and it names the gaps.
 */
public final class Evidence {
    private Evidence() {}

    /** How many gaps a sentence names (the report JSON lists all of them). */
    static final int NAMED = 2;

    /**
     * {@code from}/{@code to}: the span the verdict depends on ({@link Long#MAX_VALUE} = up to the end of the
     * trace, for something whose end is not in it). {@code confident}: the sentence when no gap meets the span;
     * {@code hedged}: the one without the numbers a gap could have changed.
     */
    static Verdict judge(Episode ep, Verdict.Kind kind, String dev, long from, long to, List<Event> evidence,
                         String confident, String hedged) {
        return judge(ep, List.of(), kind, dev, from, to, evidence, confident, hedged);
    }

    /**
     * The same rule for verdicts made outside this package (the QEMU lane, dev.aertrace.qemu): {@code extra} are
     * gaps of the evidence that are not the episode's own (e.g. the lane's cap), judged like its holes.
     */
    public static Verdict judge(Episode ep, List<TraceGap> extra, Verdict.Kind kind, String dev, long from, long to,
                                List<Event> evidence, String confident, String hedged) {
        List<TraceGap> gaps = against(ep, from, to);
        for (TraceGap g : extra) if (g.overlaps(from, to)) gaps.add(g);
        for (TraceGap g : ep.startGaps()) if (!gaps.contains(g)) gaps.add(g);
        List<Event> ev = sorted(evidence);
        if (gaps.isEmpty()) return new Verdict(kind, dev, confident, ev, false, List.of(), from, to);
        return new Verdict(kind, dev, hedged + " Tentative: " + name(gaps) + ".", ev, true, keep(gaps), from, to);
    }

    /** At most this many gaps are kept per verdict (the sentence counts them all): bounded report size. */
    static final int KEPT = 50;

    /** Losses and lateness first (they explain the rest), then the others, at most {@link #KEPT}. */
    static List<TraceGap> keep(List<TraceGap> gaps) {
        List<TraceGap> out = new ArrayList<>(gaps);
        out.sort(Comparator.comparingInt(g -> g.kind().ordinal()));
        return List.copyOf(out.subList(0, Math.min(KEPT, out.size())));
    }

    /** The gaps of the episode that meet [from, to]. */
    static List<TraceGap> against(Episode ep, long from, long to) {
        List<TraceGap> out = new ArrayList<>();
        for (TraceGap g : ep.holes()) if (g.overlaps(from, to)) out.add(g);
        return out;
    }

    static String name(List<TraceGap> all) {
        List<TraceGap> gaps = new ArrayList<>(all);
        gaps.sort(Comparator.comparingInt(g -> g.kind().ordinal()));
        StringBuilder s = new StringBuilder(gaps.size() == 1 ? "a gap in the trace meets it: " : gaps.size() + " gaps in the trace meet it: ");
        for (int i = 0; i < Math.min(NAMED, gaps.size()); i++) s.append(i == 0 ? "" : "; ").append(gaps.get(i).describe());
        if (gaps.size() > NAMED) s.append("; and ").append(gaps.size() - NAMED).append(" more");
        return s.toString();
    }

    private static List<Event> sorted(List<Event> ev) {
        List<Event> out = new ArrayList<>(new LinkedHashSet<>(ev));
        out.removeIf(java.util.Objects::isNull);
        out.sort(Comparator.comparingLong(Event::ts).thenComparingLong(Event::line));
        return List.copyOf(out);
    }
}
