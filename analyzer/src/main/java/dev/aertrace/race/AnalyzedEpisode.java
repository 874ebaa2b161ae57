package dev.aertrace.race;

import dev.aertrace.timeline.Episode;

import java.util.List;

/** An episode with its verdicts (INCONCLUSIVE first when present) and the resulting outcome. */
public record AnalyzedEpisode(Episode episode, List<Verdict> verdicts, Outcome outcome) {}
