package dev.aertrace.race;

import dev.aertrace.bench.TraceGenerator;
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
    @Test
    void episodesAreEmittedBeforeTheEndOfInput() throws Exception {
        Path f = Files.createTempFile("aertrace-stream", ".jsonl");
        try {
            TraceGenerator.generate(f, 330_000); // a recovery every ~100k events
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
