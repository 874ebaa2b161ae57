package dev.aertrace;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.networknt.schema.JsonSchema;
import com.networknt.schema.JsonSchemaFactory;
import com.networknt.schema.SpecVersion;
import com.networknt.schema.ValidationMessage;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

/** The analyzer's own fixtures must satisfy the schema the agent is tested against. */
class SchemaContractTest {
    static final ObjectMapper M = new ObjectMapper();

    static JsonSchema schema() throws Exception {
        try (InputStream in = SchemaContractTest.class.getResourceAsStream("/dev/aertrace/schema/events.schema.json")) {
            assertNotNull(in, "schema must be packaged from probes/events.schema.json");
            return JsonSchemaFactory.getInstance(SpecVersion.VersionFlag.V202012).getSchema(in);
        }
    }

    @Test
    void sampleTraceIsValid() throws Exception {
        JsonSchema s = schema();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(
                getClass().getResourceAsStream("/dev/aertrace/sample/fatal-race.jsonl"), StandardCharsets.UTF_8))) {
            String line;
            int n = 0;
            while ((line = r.readLine()) != null) {
                n++;
                Set<ValidationMessage> errs = s.validate(M.readTree(line));
                assertTrue(errs.isEmpty(), "line " + n + ": " + errs);
            }
            assertTrue(n > 3);
        }
    }

    @Test
    void handWrittenTracesAreValid() throws Exception {
        JsonSchema s = schema();
        for (var e : Scenarios.all().entrySet()) {
            e.getValue().text();
            int n = 0;
            for (String line : e.getValue().lines) {
                n++;
                Set<ValidationMessage> errs = s.validate(M.readTree(line));
                assertTrue(errs.isEmpty(), e.getKey() + " line " + n + ": " + errs);
            }
            assertTrue(n > 3, e.getKey());
        }
    }

    @Test
    void flightRecorderTraceIsValid() throws Exception {
        // schema v2: history marker, lines marked "history":true, version 2 header
        JsonSchema s = schema();
        int n = 0;
        for (String line : dev.aertrace.ingest.FlightRecorderTest.trace(true).split("\n")) {
            n++;
            Set<ValidationMessage> errs = s.validate(M.readTree(line));
            assertTrue(errs.isEmpty(), "line " + n + ": " + errs);
        }
        assertTrue(n > 20);
    }

    @Test
    void generatedBenchTraceIsValid() throws Exception {
        JsonSchema s = schema();
        java.nio.file.Path f = java.nio.file.Files.createTempFile("aertrace-bench", ".jsonl");
        try {
            dev.aertrace.bench.SyntheticTrace.generate(f, 50_100);
            // every line of the first recovery cycle and its neighbours
            int n = 0;
            for (String line : java.nio.file.Files.readAllLines(f)) {
                n++;
                if (n > 200 && !line.contains("aer") && !line.contains("reset") && !line.contains("footer")) continue;
                Set<ValidationMessage> errs = s.validate(M.readTree(line));
                assertTrue(errs.isEmpty(), "line " + n + ": " + errs);
            }
        } finally {
            java.nio.file.Files.delete(f);
        }
    }

    @Test
    void schemaRejectsAKnownTypeWithMissingFields() throws Exception {
        JsonNode bad = M.readTree("{\"type\":\"vfio.rw.exit\",\"ts\":1,\"cpu\":0,\"pid\":1,\"tid\":1,\"comm\":\"x\",\"dev\":\"0000:01:00.0\"}");
        assertFalse(schema().validate(bad).isEmpty());
    }

    @Test
    void schemaAcceptsUnknownTypes() throws Exception {
        JsonNode future = M.readTree("{\"type\":\"future.thing\",\"ts\":1}");
        assertTrue(schema().validate(future).isEmpty());
    }
}
