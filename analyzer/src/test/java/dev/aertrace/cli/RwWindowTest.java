package dev.aertrace.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A v1 agent run with {@code --rw-window} records user accesses only near error/reset activity. The field trace
 * surprise-removal-slotoff-rw200 (/work/shared/field-traces: the slot powered off under the user, thousands of
 * all-ones reads, none recorded) gave "0 episodes, exit 0". The slice here is its last 41 events with the footer
 * rewritten to add up, so that nothing but the header's window can make the result inconclusive.
 */
class RwWindowTest {
    static final Path SLICE = Path.of("src/test/resources/rw-window/surprise-removal-slotoff-rw200-slice.jsonl.gz");

    @Test
    void readsOutsideTheWindowAreANamedGapNotACleanExit(@TempDir Path tmp) throws IOException {
        CliTest.Out r = CliTest.run("analyze", SLICE.toString());
        assertEquals(3, r.code(), r.out());
        assertTrue(r.out().contains("unrecorded-accesses ×1 (line 1)"), r.out());

        // the same lines from a header without the window: clean, so the window alone is what says "not seen"
        String text;
        try (InputStream in = new GZIPInputStream(Files.newInputStream(SLICE))) {
            text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        Path plain = tmp.resolve("no-window.jsonl");
        Files.writeString(plain, text.replaceFirst(",\"rw_window_ms\":200\\.0", ""));
        CliTest.Out c = CliTest.run("analyze", plain.toString());
        assertEquals(0, c.code(), c.out());
        assertTrue(!c.out().contains("unrecorded-accesses"), c.out());
    }
}
