package dev.aertrace.report;

import dev.aertrace.race.AnalyzedEpisode;

import java.io.Closeable;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.function.Consumer;

/**
 * One output format of episodes, one small class per format (as async-profiler's converters are): the text and
 * JSON reports ({@link ReportSink}), the mail timeline, the Chrome trace-event and CSV exports, the chart files.
 * Episodes arrive as they close; {@link #close()} ends the output (a JSON document's last bracket, the files).
 */
public interface EpisodeOutput extends Closeable {
    void episode(AnalyzedEpisode a) throws IOException;

    @Override
    default void close() throws IOException {}

    /** This output as the analyzer's episode consumer; a write error goes up unchecked and Main reports it (exit 2). */
    default Consumer<AnalyzedEpisode> asConsumer() {
        return a -> {
            try {
                episode(a);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        };
    }
}
