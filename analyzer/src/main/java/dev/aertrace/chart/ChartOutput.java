package dev.aertrace.chart;

import dev.aertrace.race.AnalyzedEpisode;
import dev.aertrace.report.EpisodeOutput;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Timeline charts as files, DIR/STEM-epN-timeline.EXT per episode and extension. Charts are independent: they are
 * drawn on all cores when {@link #flush()}ed, and listed in episode order.
 */
public final class ChartOutput implements EpisodeOutput {
    private record Job(AnalyzedEpisode episode, Path out) {}

    private final Path dir;
    private final String stem;
    private final List<String> exts;
    private final int width, height;
    private final List<Job> jobs = new ArrayList<>();

    public ChartOutput(Path dir, String stem, List<String> exts, int width, int height) {
        this.dir = dir;
        this.stem = stem;
        this.exts = exts;
        this.width = width;
        this.height = height;
    }

    @Override
    public void episode(AnalyzedEpisode a) {
        for (String ext : exts) jobs.add(new Job(a, dir.resolve(stem + "-ep" + a.episode().id() + "-timeline." + ext)));
    }

    /** Draws what is queued; returns the files written. */
    public List<Path> flush() throws IOException {
        try {
            jobs.parallelStream().forEach(j -> {
                try {
                    ChartFiles.write(TimelineChart.create(j.episode()), j.out(), width, height);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
        List<Path> out = jobs.stream().map(Job::out).toList();
        jobs.clear();
        return out;
    }

    @Override
    public void close() throws IOException {
        flush();
    }
}
