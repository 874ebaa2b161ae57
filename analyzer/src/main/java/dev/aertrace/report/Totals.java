package dev.aertrace.report;

import dev.aertrace.ingest.Issue;
import dev.aertrace.ingest.SourceReport;
import dev.aertrace.race.AnalyzedEpisode;
import dev.aertrace.race.Outcome;
import dev.aertrace.race.Verdict;

import java.util.EnumMap;
import java.util.Map;
import java.util.TreeMap;

/** Running counts over every episode and source of one run; decides the exit code. */
public final class Totals {
    /** Exit codes, documented in README and docs/report-json.md. */
    public static final int CLEAN = 0, RACES = 1, USAGE = 2, INCONCLUSIVE = 3, RECOVERY_FAILED = 4;

    public final Map<Outcome, Long> outcomes = new EnumMap<>(Outcome.class);
    public final Map<String, Long> verdicts = new TreeMap<>();
    public long episodes;
    public long events;
    public boolean inputError;
    /** Some input had a hole (lost events, unreadable lines, cut off, ...): an error may be missing entirely. */
    public boolean inputGaps;

    public Totals() {
        for (Outcome o : Outcome.values()) outcomes.put(o, 0L);
    }

    /**
     * Episodes a report writes in full; past it each is still judged and counted here, but not written (a trace
     * of 100 k recoveries that never closed made an 818 MB report). Named in the summary; the result is then
     * never clean (exit 3 at least): what was not written cannot be checked by its reader.
     */
    public static final int MAX_REPORTED = 1000;
    /** Episodes judged and counted but not written (past {@link #MAX_REPORTED}). */
    public long unreported;

    /** Counts {@code ep}; true when a report should write it in full. */
    public boolean report(AnalyzedEpisode ep) {
        return report(ep.outcome(), ep.verdicts());
    }

    /** The same, for an episode of which only its outcome and verdicts were kept. */
    public boolean report(Outcome outcome, java.util.List<Verdict> vs) {
        add(outcome, vs);
        if (episodes <= MAX_REPORTED) return true;
        unreported++;
        return false;
    }

    public void add(AnalyzedEpisode ep) {
        add(ep.outcome(), ep.verdicts());
    }

    private void add(Outcome outcome, java.util.List<Verdict> vs) {
        episodes++;
        outcomes.merge(outcome, 1L, Long::sum);
        for (Verdict v : vs) verdicts.merge(v.kind().id, 1L, Long::sum);
    }

    public void add(SourceReport r) {
        events += r.events();
        if (r.hasIssue(Issue.Kind.UNREADABLE) || r.hasIssue(Issue.Kind.EMPTY_INPUT) || notATrace(r)) inputError = true;
        if (r.issues().stream().anyMatch(i -> i.kind().gap())) inputGaps = true;
    }

    /** Nothing in it was ours: no header and not one readable event (a wrong file, not a damaged trace). */
    public static boolean notATrace(SourceReport r) {
        return r.header() == null && r.events() == 0 && r.lines() > 0;
    }

    /**
     * Worst first: a confident race wins; then inconclusive (an episode with a gap, or a gap anywhere in the
     * input, since a lost event may have been an error); then a failed recovery; an unusable input is 2.
     */
    public int exitCode() {
        if (outcomes.get(Outcome.RACE) > 0) return RACES;
        if (inputError && episodes == 0) return USAGE;
        if (outcomes.get(Outcome.INCONCLUSIVE) > 0 || inputGaps || unreported > 0) return INCONCLUSIVE;
        if (outcomes.get(Outcome.RECOVERY_FAILED) > 0) return RECOVERY_FAILED;
        if (inputError) return USAGE;
        return CLEAN;
    }
}
