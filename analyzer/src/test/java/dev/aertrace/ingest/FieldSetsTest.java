package dev.aertrace.ingest;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.aertrace.Scenarios;
import dev.aertrace.Tr;
import dev.aertrace.race.Verdict;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.*;

/** A field its type never carries marks a retyped line; the reader's table is the schema's, type by type. */
class FieldSetsTest {

    @Test
    void theTableIsTheSchemasPerTypeProperties() throws Exception {
        JsonNode schema;
        try (InputStream in = getClass().getResourceAsStream("/dev/aertrace/schema/events.schema.json")) {
            assertNotNull(in, "schema must be packaged from probes/events.schema.json");
            schema = new ObjectMapper().readTree(in);
        }
        Map<String, Set<String>> bySchema = new TreeMap<>();
        for (JsonNode c : schema.get("allOf")) {
            JsonNode t = c.path("if").path("properties").path("type");
            List<String> types = new ArrayList<>();
            if (t.has("const")) types.add(t.get("const").asText());
            t.path("enum").forEach(x -> types.add(x.asText()));
            for (String type : types) {
                if (type.equals("header") || type.equals("footer")) continue;
                c.path("then").path("properties").fieldNames()
                        .forEachRemaining(f -> bySchema.computeIfAbsent(type, k -> new HashSet<>()).add(f));
            }
        }
        Map<String, Set<String>> byReader = new TreeMap<>();
        for (String type : FieldSets.types()) byReader.put(type, FieldSets.of(type));
        assertEquals(bySchema, byReader);
    }

    /** The QEMU enum names the reader checks are the agent's own lists (agent/aertrace_agent/encode.py). */
    @Test
    void theQemuNamesAreTheAgents() throws Exception {
        String py = java.nio.file.Files.readString(java.nio.file.Path.of("../agent/aertrace_agent/encode.py"));
        for (var e : Map.of("QEMU_RUNSTATES", LineRules.QEMU_RUNSTATES, "QEMU_SHUTDOWN_CAUSES", LineRules.QEMU_SHUTDOWN_CAUSES).entrySet()) {
            java.util.regex.Matcher m = java.util.regex.Pattern.compile(e.getKey() + " = \\[([^\\]]*)\\]").matcher(py);
            assertTrue(m.find(), e.getKey() + " in encode.py");
            List<String> names = new ArrayList<>();
            java.util.regex.Matcher q = java.util.regex.Pattern.compile("\"([^\"]*)\"").matcher(m.group(1));
            while (q.find()) names.add(q.group(1));
            assertEquals(names, e.getValue(), e.getKey());
        }
    }

    /** The access-during-reset scenario with its first user read's line rewritten from {@code from} to {@code to}. */
    private static Tr.Result readRewritten(String from, String to, int[] at) {
        Tr t = Scenarios.accessDuringReset();
        t.text();
        List<String> lines = new ArrayList<>(t.lines);
        int i = 0;
        while (!lines.get(i).contains("\"type\":\"vfio.rw.enter\"")) i++;
        lines.set(i, lines.get(i).replace(from, to));
        at[0] = i + 1;
        return Tr.analyze((String.join("\n", lines) + "\n").getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void aUserReadRetypedToARemovalIsADamagedLineNotARemoval() {
        int[] at = new int[1];
        Tr.Result r = readRewritten("\"type\":\"vfio.rw.enter\"", "\"type\":\"vfio.remove.enter\"", at);
        Issue issue = BadInputTest.issue(r.report(), Issue.Kind.INVALID_EVENT);
        assertEquals(List.of((long) at[0]), issue.lines(), issue.toString());
        assertTrue(issue.detail().contains("which a vfio.remove.enter line never carries"), issue.detail());
        for (var ep : r.episodes())
            for (Verdict v : ep.verdicts())
                assertFalse(v.kind() == Verdict.Kind.DEVICE_REMOVED, v.sentence());
    }

    @Test
    void aFieldOutsideTheSchemaIsANewerAgentsAndIgnored() {
        Tr.Result r = readRewritten("\"type\":\"vfio.rw.enter\",", "\"type\":\"vfio.rw.enter\",\"numa_node\":0,", new int[1]);
        assertFalse(r.report().hasIssue(Issue.Kind.INVALID_EVENT), r.report().issues().toString());
        Verdict v = r.only().verdicts().stream().filter(x -> x.kind() == Verdict.Kind.ACCESS_DURING_RESET).findFirst().orElseThrow();
        assertFalse(v.tentative(), v.sentence());
    }
}
