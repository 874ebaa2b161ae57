package dev.aertrace.report;

import dev.aertrace.ingest.SourceReport;
import dev.aertrace.race.AnalyzedEpisode;

/** A report format (text, JSON): episodes as they close, then each source's summary, then the totals. */
public interface ReportSink extends EpisodeOutput {
    @Override
    void episode(AnalyzedEpisode ep);

    void source(SourceReport r);

    void finish(Totals t);
}
