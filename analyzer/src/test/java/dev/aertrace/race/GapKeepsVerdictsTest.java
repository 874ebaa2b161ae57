package dev.aertrace.race;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.aertrace.ingest.WholeAccessTest;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A gap makes the verdicts it touches tentative; it must not make them vanish. A footer whose event count does not
 * add up puts a hole of unknown place over the whole segment, so every enter/exit pair is kept apart (a gap between
 * them could hide other calls of the thread). access-stalled-by-reset and state-changed-under-user then vanished
 * (session 9's leftover): the stall needs the enter, the value its exit. Now every verdict of the clean trace is
 * still there, each tentative, beside the inconclusive one the hole adds.
 */
class GapKeepsVerdictsTest {
    static final Path LAB = WholeAccessTest.LAB;

    @Test
    void aFooterThatDoesNotAddUpKeepsEveryVerdictTentative() throws Exception {
        int checked = 0;
        for (String t : List.of("5.10/fatal-race.jsonl.gz", "6.1/fatal-race.jsonl.gz", "6.12/fatal-race.jsonl.gz",
                "7.2/fatal-race.jsonl.gz", "6.1/fatal-race-flat.jsonl.gz", "7.2/flight-recorder.jsonl.gz")) {
            Path in = LAB.resolve(t);
            if (!Files.exists(in)) continue;
            List<String> lines = new ArrayList<>(WholeAccessTest.read(in));
            int last = lines.size() - 1;
            ObjectNode footer = (ObjectNode) WholeAccessTest.M.readTree(lines.get(last));
            assertEquals("footer", footer.get("type").asText(), t);
            footer.put("events", footer.get("events").asLong() + 1);
            lines.set(last, WholeAccessTest.M.writeValueAsString(footer));
            Path damaged = Files.createTempFile("aertrace-footer", ".jsonl");
            try {
                Files.write(damaged, lines, StandardCharsets.UTF_8);
                TreeMap<String, Integer> clean = kinds(WholeAccessTest.report(in), false);
                TreeMap<String, Integer> holed = kinds(WholeAccessTest.report(damaged), true);
                assertTrue(clean.keySet().stream().anyMatch(k -> k.equals("access-stalled-by-reset") || k.equals("state-changed-under-user")),
                        t + ": the clean trace has neither verdict: " + clean);
                assertEquals(1, holed.remove("inconclusive"), t + ": " + holed);
                assertEquals(clean, holed, t);
            } finally {
                Files.delete(damaged);
            }
            checked++;
        }
        assertTrue(checked >= 5, "traces: " + checked);
    }

    /** Verdict kinds and how many; with {@code tentative}, every one but "inconclusive" must be tentative. */
    private static TreeMap<String, Integer> kinds(JsonNode report, boolean tentative) {
        TreeMap<String, Integer> out = new TreeMap<>();
        for (JsonNode e : report.get("episodes"))
            for (JsonNode v : e.get("verdicts")) {
                String k = v.get("kind").asText();
                if (tentative && !k.equals("inconclusive")) assertTrue(v.get("tentative").asBoolean(), k + " confident across a hole");
                if (!tentative) assertTrue(!v.get("tentative").asBoolean(), k + " tentative in the clean trace");
                out.merge(k, 1, Integer::sum);
            }
        return out;
    }
}
