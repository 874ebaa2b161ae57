package dev.aertrace.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.aertrace.cli.Main;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The default JSON report (one line, accesses of the race window) against the version-2 report ({@code --pretty
 * --accesses all}, which GoldenOutputTest keeps byte-identical to the report before issue 13) on every committed
 * trace: the same tree apart from the announced access selection — every other field equal, the listed accesses
 * an in-order subset of all of them that keeps every evidence access, and the rest counted.
 */
class CompactJsonTest {
    static final ObjectMapper M = new ObjectMapper();

    @Test
    void defaultReportIsTheFullTreeWithTheRaceWindowsAccesses() throws Exception {
        List<Path> traces;
        try (Stream<Path> s = Files.walk(Path.of("../testdata"))) {
            traces = s.filter(p -> p.toString().endsWith(".jsonl.gz")).sorted().toList();
        }
        assertTrue(traces.size() > 30);
        long listed = 0, omitted = 0;
        for (Path t : traces) {
            String compact = run("analyze", "--format", "json", t.toString());
            assertEquals(1, compact.strip().lines().count(), t + ": one line");
            ObjectNode a = (ObjectNode) M.readTree(compact), b = (ObjectNode) M.readTree(run("analyze", "--format", "json", "--pretty", "--accesses", "all", t.toString()));
            assertEquals(3, a.remove("report_version").asInt());
            assertEquals(2, b.remove("report_version").asInt());
            ArrayNode ea = (ArrayNode) a.get("episodes"), eb = (ArrayNode) b.get("episodes");
            assertEquals(eb.size(), ea.size(), t.toString());
            for (int i = 0; i < ea.size(); i++) {
                ObjectNode x = (ObjectNode) ea.get(i), y = (ObjectNode) eb.get(i);
                ArrayNode some = (ArrayNode) x.remove("accesses"), all = (ArrayNode) y.remove("accesses");
                int skipped = x.remove("accesses_omitted").asInt();
                assertEquals(all.size(), some.size() + skipped, t + " #" + i);
                Set<Long> evidence = new HashSet<>();
                for (JsonNode v : y.get("verdicts")) for (JsonNode e : v.get("evidence")) evidence.add(e.get("line").asLong());
                int k = 0;
                for (JsonNode acc : all) {
                    if (k < some.size() && some.get(k).equals(acc)) k++;
                    else assertTrue(!evidence.contains(acc.get("enter_line").asLong(-1)) && !evidence.contains(acc.get("exit_line").asLong(-1)),
                            t + " #" + i + ": an evidence access was left out: " + acc);
                }
                assertEquals(some.size(), k, t + " #" + i + ": listed accesses are not an in-order subset");
                listed += some.size();
                omitted += skipped;
            }
            assertEquals(b, a, t + ": apart from the accesses, the same tree");
        }
        assertTrue(listed > 0 && omitted > 0, listed + " listed, " + omitted + " omitted");
    }

    static String run(String... args) {
        PrintStream o = System.out, e = System.err;
        ByteArrayOutputStream bo = new ByteArrayOutputStream();
        synchronized (CompactJsonTest.class) {
            try {
                System.setOut(new PrintStream(bo, true, StandardCharsets.UTF_8));
                System.setErr(new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
                Main.run(args);
            } finally {
                System.setOut(o);
                System.setErr(e);
            }
        }
        return bo.toString(StandardCharsets.UTF_8);
    }
}
