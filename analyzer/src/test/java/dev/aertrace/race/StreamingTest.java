package dev.aertrace.race;

import dev.aertrace.pipeline.Analyzer;

import dev.aertrace.bench.SyntheticTrace;
import org.junit.jupiter.api.Test;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** Episodes leave the analyzer while the input is still being read: memory holds open episodes, not the trace. */
class StreamingTest {
    /** record's case: the agent goes quiet after an error; the episode must come out without a further event. */
    @Test
    void quietLiveStreamStillReportsTheFinishedEpisode() throws Exception {
        java.io.PipedOutputStream agent = new java.io.PipedOutputStream();
        java.io.PipedInputStream in = new java.io.PipedInputStream(agent, 1 << 20);
        java.util.concurrent.LinkedBlockingQueue<AnalyzedEpisode> out = new java.util.concurrent.LinkedBlockingQueue<>();
        long[] clock = {0};
        boolean[] alive = {true};
        Thread reader = new Thread(() -> new Analyzer().analyze("live", in, out::add,
                new dev.aertrace.ingest.TraceReader.Live(() -> clock[0], () -> alive[0])));
        reader.start();
        agent.write(dev.aertrace.Scenarios.stalled().text().replaceAll("\\{\"type\":\"footer\".*\n", "")
                .getBytes(java.nio.charset.StandardCharsets.UTF_8));
        agent.flush();
        assertNull(out.poll(600, java.util.concurrent.TimeUnit.MILLISECONDS), "still inside its settle window");
        clock[0] = 1_000_000_000L + 110_700_000L + 2_000_000_000L + 1_000_000_000L + 1; // recovery end + settle + reorder
        AnalyzedEpisode ep = out.poll(5, java.util.concurrent.TimeUnit.SECONDS);
        assertNotNull(ep, "reported while the agent is still running");
        assertEquals(Outcome.RACE, ep.outcome());
        alive[0] = false;
        agent.close();
        reader.join(5000);
        assertFalse(reader.isAlive());
    }

    @Test
    void episodesAreEmittedBeforeTheEndOfInput() throws Exception {
        Path f = Files.createTempFile("aertrace-stream", ".jsonl");
        try {
            SyntheticTrace.generate(f, 330_000); // a recovery every ~100k events
            long size = Files.size(f);
            long[] read = {0};
            List<Long> readAtEpisode = new ArrayList<>();
            try (InputStream in = new FilterInputStream(Files.newInputStream(f)) {
                @Override public int read(byte[] b, int off, int len) throws IOException {
                    int n = super.read(b, off, len);
                    if (n > 0) read[0] += n;
                    return n;
                }
            }) {
                new Analyzer().analyze("gen", in, ep -> {
                    readAtEpisode.add(read[0]);
                    assertEquals(Outcome.RACE, ep.outcome(), ep.verdicts().toString());
                });
            }
            assertEquals(3, readAtEpisode.size());
            assertTrue(readAtEpisode.get(0) < size / 2, "first episode out after " + readAtEpisode.get(0) + " of " + size + " bytes");
        } finally {
            Files.delete(f);
        }
    }
}
