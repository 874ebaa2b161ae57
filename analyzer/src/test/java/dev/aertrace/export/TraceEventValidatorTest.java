package dev.aertrace.export;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.io.StringWriter;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The validator itself must catch every rule it claims, or the export tests that rely on it prove nothing. */
class TraceEventValidatorTest {
    private static final ObjectMapper M = new ObjectMapper().enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS);
    private static final String META = """
            {"ph":"M","name":"process_name","pid":1,"tid":0,"args":{"name":"host"}},
            {"ph":"M","name":"thread_name","pid":1,"tid":7,"args":{"name":"aer"}},
            """;

    private static List<String> problems(String events) throws Exception {
        JsonNode root = M.readTree("{\"traceEvents\":[" + META + events + "]}");
        return TraceEventValidator.validate(root).problems().stream().map(Object::toString).toList();
    }

    private static void assertOne(String events, String fragment) throws Exception {
        List<String> p = problems(events);
        assertEquals(1, p.size(), () -> "expected one problem containing '" + fragment + "', got " + p);
        assertTrue(p.get(0).contains(fragment), () -> p.get(0) + " should contain " + fragment);
    }

    @Test
    void wellFormedTraceHasNoProblems() throws Exception {
        assertEquals(List.of(), problems("""
                {"ph":"X","name":"recovery","cat":"c","pid":1,"tid":7,"ts":1.5,"dur":10},
                {"ph":"X","name":"reset","cat":"c","pid":1,"tid":7,"ts":2,"dur":5},
                {"ph":"X","name":"after","cat":"c","pid":1,"tid":7,"ts":11.5,"dur":1},
                {"ph":"B","name":"b1","pid":1,"tid":7,"ts":20},
                {"ph":"B","name":"b2","pid":1,"tid":7,"ts":21},
                {"ph":"E","pid":1,"tid":7,"ts":22},
                {"ph":"E","name":"b1","pid":1,"tid":7,"ts":23},
                {"ph":"i","name":"aer","cat":"c","pid":1,"tid":7,"ts":1,"s":"t"},
                {"ph":"b","name":"w","cat":"win","id":"0x1","pid":1,"tid":7,"ts":2},
                {"ph":"n","name":"w","cat":"win","id":"0x1","pid":1,"tid":7,"ts":3},
                {"ph":"e","name":"w","cat":"win","id":"0x1","pid":1,"tid":7,"ts":7}
                """));
    }

    @Test
    void xNeedsDur() throws Exception {
        assertOne("{\"ph\":\"X\",\"name\":\"a\",\"pid\":1,\"tid\":7,\"ts\":1}", "dur must be a number");
    }

    @Test
    void tsMustBeNumericAndNonNegative() throws Exception {
        assertOne("{\"ph\":\"i\",\"name\":\"a\",\"pid\":1,\"tid\":7,\"ts\":\"1\"}", "ts must be a number");
        assertOne("{\"ph\":\"i\",\"name\":\"a\",\"pid\":1,\"tid\":7,\"ts\":-1}", "negative");
    }

    @Test
    void nanosecondTimestampsAreCaught() throws Exception {
        assertOne("{\"ph\":\"i\",\"name\":\"a\",\"pid\":1,\"tid\":7,\"ts\":1764030000000000000}", "written in ns");
    }

    @Test
    void pidTidNameAndPhRequired() throws Exception {
        assertOne("{\"ph\":\"i\",\"name\":\"a\",\"tid\":7,\"ts\":1}", "pid must be an integer");
        assertOne("{\"ph\":\"i\",\"pid\":1,\"tid\":7,\"ts\":1}", "needs a string name");
        assertOne("{\"ph\":\"Q\",\"name\":\"a\",\"pid\":1,\"tid\":7,\"ts\":1}", "unknown ph");
    }

    @Test
    void instantScope() throws Exception {
        assertOne("{\"ph\":\"i\",\"name\":\"a\",\"pid\":1,\"tid\":7,\"ts\":1,\"s\":\"x\"}", "scope");
    }

    @Test
    void beginEndMustNest() throws Exception {
        assertOne("{\"ph\":\"E\",\"pid\":1,\"tid\":7,\"ts\":1}", "E without an open B");
        assertOne("{\"ph\":\"B\",\"name\":\"a\",\"pid\":1,\"tid\":7,\"ts\":1}", "never closed");
        List<String> p = problems("""
                {"ph":"B","name":"a","pid":1,"tid":7,"ts":1},
                {"ph":"B","name":"b","pid":1,"tid":7,"ts":2},
                {"ph":"E","name":"a","pid":1,"tid":7,"ts":3},
                {"ph":"E","name":"b","pid":1,"tid":7,"ts":4}
                """);
        assertEquals(2, p.size(), p::toString);
        assertTrue(p.get(0).contains("not properly nested"), p::toString);
        assertOne("""
                {"ph":"B","name":"a","pid":1,"tid":7,"ts":5},
                {"ph":"E","name":"a","pid":1,"tid":7,"ts":4}
                """, "time order");
    }

    @Test
    void partlyOverlappingSlicesOnOneThreadAreCaught() throws Exception {
        assertOne("""
                {"ph":"X","name":"a","pid":1,"tid":7,"ts":1,"dur":10},
                {"ph":"X","name":"b","pid":1,"tid":7,"ts":5,"dur":10}
                """, "partly overlaps");
        // Touching is not overlapping, exactly.
        assertEquals(List.of(), problems("""
                {"ph":"X","name":"a","pid":1,"tid":7,"ts":1.001,"dur":9.999},
                {"ph":"X","name":"b","pid":1,"tid":7,"ts":11,"dur":10}
                """));
    }

    @Test
    void asyncNeedsCatIdAndMatchingEnd() throws Exception {
        assertOne("{\"ph\":\"b\",\"name\":\"w\",\"id\":\"1\",\"pid\":1,\"tid\":7,\"ts\":1}", "needs a cat");
        assertOne("{\"ph\":\"b\",\"name\":\"w\",\"cat\":\"c\",\"pid\":1,\"tid\":7,\"ts\":1}", "needs id or id2");
        List<String> p = problems("""
                {"ph":"b","name":"w","cat":"c","id":"1","pid":1,"tid":7,"ts":1},
                {"ph":"e","name":"w","cat":"c","id":"2","pid":1,"tid":7,"ts":2}
                """);
        assertEquals(2, p.size(), p::toString);
        assertTrue(p.stream().anyMatch(s -> s.contains("without an open b")), p::toString);
        assertTrue(p.stream().anyMatch(s -> s.contains("never closed")), p::toString);
        assertOne("""
                {"ph":"b","name":"w","cat":"c","id":"1","pid":1,"tid":7,"ts":5},
                {"ph":"e","name":"w","cat":"c","id":"1","pid":1,"tid":7,"ts":4}
                """, "before its b");
    }

    @Test
    void everyThreadAndProcessMustBeNamed() throws Exception {
        assertOne("{\"ph\":\"i\",\"name\":\"a\",\"pid\":1,\"tid\":8,\"ts\":1}", "no thread_name");
        List<String> p = problems("{\"ph\":\"i\",\"name\":\"a\",\"pid\":2,\"tid\":7,\"ts\":1}");
        assertEquals(2, p.size(), p::toString);
        assertTrue(p.stream().anyMatch(s -> s.contains("no process_name")), p::toString);
        assertOne("{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":1,\"tid\":9,\"args\":{}}", "non-empty args.name");
        assertOne("{\"ph\":\"M\",\"name\":\"thread_colour\",\"pid\":1,\"tid\":9,\"args\":{}}", "unknown metadata name");
        assertOne("{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":1,\"tid\":0,\"args\":{\"name\":\"other\"}}", "named twice");
    }

    @Test
    void writerOutputIsExactMicroseconds() throws Exception {
        StringWriter w = new StringWriter();
        try (TraceEventWriter t = new TraceEventWriter(w)) {
            t.processName(1, "host");
            t.threadName(1, 7, "aer");
            t.complete("a", "c", 1, 7, 1_000_001L, 2_500L, Map.of("k", 1));
            t.instant("i", "c", 1, 7, 123_456_789_012_345L, "t", null);
            t.asyncBegin("w", "c", "0x1", 1, 7, 1_000_001L, null);
            t.asyncEnd("w", "c", "0x1", 1, 7, 1_002_501L);
            t.finish(Map.of("host", "lab"));
        }
        JsonNode root = M.readTree(w.toString());
        TraceEventValidator.Summary s = TraceEventValidator.validate(root);
        assertTrue(s.ok(), s.problems()::toString);
        assertEquals(6, s.events());
        JsonNode x = root.get("traceEvents").get(2);
        assertEquals("1000.001", x.get("ts").decimalValue().toPlainString());
        assertEquals(0, new java.math.BigDecimal("2.5").compareTo(x.get("dur").decimalValue()));
        assertTrue(w.toString().contains("\"dur\":2.500"), w::toString);
        assertEquals("123456789012.345", root.get("traceEvents").get(3).get("ts").decimalValue().toPlainString());
        assertFalse(w.toString().contains("E+"), "no exponent notation: " + w);
    }
}
