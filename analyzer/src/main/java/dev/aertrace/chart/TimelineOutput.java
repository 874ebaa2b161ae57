package dev.aertrace.chart;

import dev.aertrace.race.AnalyzedEpisode;
import dev.aertrace.report.EpisodeOutput;

import java.io.PrintStream;

/** The mail timeline ({@link TextTimeline}) as an output: each episode's lanes, a blank line between episodes. */
public final class TimelineOutput implements EpisodeOutput {
    private final PrintStream out;
    private final int rows;
    private int shown;

    public TimelineOutput(PrintStream out, int rows) {
        this.out = out;
        this.rows = rows;
    }

    @Override
    public void episode(AnalyzedEpisode a) {
        if (shown++ > 0) out.println();
        TextTimeline.render(a, rows).forEach(out::println);
    }

    public int shown() { return shown; }
}
