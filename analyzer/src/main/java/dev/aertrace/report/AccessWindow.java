package dev.aertrace.report;

import dev.aertrace.ingest.Event;
import dev.aertrace.race.AnalyzedEpisode;
import dev.aertrace.race.Verdict;
import dev.aertrace.timeline.Access;
import dev.aertrace.timeline.HostReset;

import java.util.HashSet;
import java.util.Set;

/**
 * Which user accesses the default JSON report lists: those that are evidence for a verdict, and those that overlap
 * a verdict's span or a host reset (the race window). The others — a polling user's thousands of reads before and
 * after the recovery — are counted, not listed ({@code --accesses all} lists them).
 */
final class AccessWindow {
    private final long[] from, to;
    private final EvidenceSet evidence;

    AccessWindow(AnalyzedEpisode a) {
        int n = a.verdicts().size() + a.episode().resets().size(), i = 0;
        Set<Event> ev = new HashSet<>();
        from = new long[n];
        to = new long[n];
        for (Verdict v : a.verdicts()) {
            ev.addAll(v.evidence());
            from[i] = v.from();
            to[i++] = v.to();
        }
        for (HostReset r : a.episode().resets()) {
            from[i] = r.start();
            to[i++] = r.end() != null ? r.end() : a.episode().end();
        }
        evidence = new EvidenceSet(ev);
    }

    boolean evidence(Access x) {
        return evidence.contains(x.enter()) || evidence.contains(x.exit());
    }

    /** The access overlaps a verdict's span or a host reset (an access without an exit runs to its episode's end). */
    boolean inside(Access x) {
        long end = x.end() != null ? x.end() : Long.MAX_VALUE;
        for (int i = 0; i < from.length; i++) if (x.start() <= to[i] && end >= from[i]) return true;
        return false;
    }
}
