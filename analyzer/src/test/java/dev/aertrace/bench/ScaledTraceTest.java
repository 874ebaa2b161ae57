package dev.aertrace.bench;

import dev.aertrace.ingest.Issue;
import dev.aertrace.ingest.TraceReader;
import dev.aertrace.pipeline.Analyzer;
import dev.aertrace.race.AnalyzedEpisode;
import dev.aertrace.race.Verdict;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The benchmark's input is the real recording, repeated: every copy reads as the recording reads. */
class ScaledTraceTest {
    static final Path LAB = Path.of("../testdata/lab/6.1/fatal-race.jsonl.gz");

    @Test
    void everyCopyGivesTheRecordingsVerdictsAndNothingIsRefused(@TempDir Path dir) throws Exception {
        List<AnalyzedEpisode> one = Analyzer.analyzeAll(LAB);
        Path f = dir.resolve("scaled.jsonl");
        ScaledTrace.Written w;
        try (InputStream in = TraceReader.decode(Files.newInputStream(LAB))) {
            w = ScaledTrace.write(in, f, 10_000);
        }
        assertEquals(4, w.copies()); // 3,252 events each
        assertEquals(4 * 3252, w.events());
        List<AnalyzedEpisode> eps = new java.util.ArrayList<>();
        var report = new Analyzer().analyze(f.toString(), () -> Files.newInputStream(f), eps::add);
        assertEquals(w.events(), report.events());
        assertEquals(List.of(), report.issues().stream().filter(i -> !i.kind().informational()).map(Issue::toString).toList(),
                "no line of the scaled trace is refused");
        assertEquals(4 * one.size(), eps.size());
        for (int k = 0; k < eps.size(); k++) {
            AnalyzedEpisode a = eps.get(k), b = one.get(k % one.size());
            assertEquals(b.outcome(), a.outcome());
            assertEquals(b.verdicts().stream().map(Verdict::sentence).toList(), a.verdicts().stream().map(Verdict::sentence).toList());
            assertTrue(a.episode().start() > (k == 0 ? 0 : eps.get(k - 1).episode().end()));
        }
    }
}
