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

    private static List<String> lines(Tr t) {
        t.text();
        return new ArrayList<>(t.lines);
    }

    @Test
    void aUserReadRetypedToARemovalIsADamagedLineNotARemoval() {
        List<String> lines = lines(Scenarios.accessDuringReset());
        int i = 0;
        while (!lines.get(i).contains("\"type\":\"vfio.rw.enter\"")) i++;
        lines.set(i, lines.get(i).replace("\"type\":\"vfio.rw.enter\"", "\"type\":\"vfio.remove.enter\""));
        Tr.Result r = Tr.analyze((String.join("\n", lines) + "\n").getBytes(StandardCharsets.UTF_8));
        Issue issue = BadInputTest.issue(r.report(), Issue.Kind.INVALID_EVENT);
        assertEquals(List.of((long) i + 1), issue.lines(), issue.toString());
        assertTrue(issue.detail().contains("which a vfio.remove.enter line never carries"), issue.detail());
        for (var ep : r.episodes())
            for (Verdict v : ep.verdicts())
                assertFalse(v.kind() == Verdict.Kind.DEVICE_REMOVED, v.sentence());
    }

    @Test
    void aFieldOutsideTheSchemaIsANewerAgentsAndIgnored() {
        List<String> lines = lines(Scenarios.accessDuringReset());
        int i = 0;
        while (!lines.get(i).contains("\"type\":\"vfio.rw.enter\"")) i++;
        lines.set(i, lines.get(i).replace("\"type\":\"vfio.rw.enter\",", "\"type\":\"vfio.rw.enter\",\"numa_node\":0,"));
        Tr.Result r = Tr.analyze((String.join("\n", lines) + "\n").getBytes(StandardCharsets.UTF_8));
        assertFalse(r.report().hasIssue(Issue.Kind.INVALID_EVENT), r.report().issues().toString());
        Verdict v = r.only().verdicts().stream().filter(x -> x.kind() == Verdict.Kind.ACCESS_DURING_RESET).findFirst().orElseThrow();
        assertFalse(v.tentative(), v.sentence());
    }
}
