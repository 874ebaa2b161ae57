package dev.aertrace.report;

import dev.aertrace.ingest.SourceReport;
import dev.aertrace.race.AnalyzedEpisode;

/** A report format (text, JSON): episodes as they close, then each source's summary, then the totals. */
public interface ReportSink extends EpisodeOutput {
    @Override
    void episode(AnalyzedEpisode ep);

    void source(SourceReport r);

    void finish(Totals t);

    /**
     * An episode as this report writes it, made on the thread that analysed it, so that thread hands on bytes,
     * not the episode's events (several inputs at once: a finished file's episodes held whole until its turn made
     * every young GC copy them). Null when this format cannot write an episode apart from the rest of the
     * document: {@link #episode} is then called in order, as always.
     */
    default Rendered render(AnalyzedEpisode ep) { return null; }

    /** Writes what {@link #render} made, where {@link #episode} would have written the episode: the same bytes. */
    default void write(Rendered r) { throw new IllegalStateException("this report renders nothing ahead"); }

    /** Whether {@link #render} makes anything (decided once per report, before any episode). */
    default boolean renders() { return false; }

    /** An episode as a report writes it: text for a character stream, bytes for a byte stream. */
    sealed interface Rendered {
        record Text(String text) implements Rendered {}

        record Bytes(byte[] bytes) implements Rendered {}
    }
}
