package dev.aertrace.ingest;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * HeaderLine reads a header as jackson-databind's ObjectMapper.readTree does, without an ObjectMapper (startup):
 * the same tree with the same node classes, or the same exception message, for every committed trace's first line
 * and for hostile ones.
 */
class HeaderLineTest {
    static final ObjectMapper MAPPER = new ObjectMapper();

    static final List<String> HOSTILE = List.of(
            "", "   ", "null", "1", "-9223372036854775809", "9223372036854775807", "2147483648", "-2147483648",
            "1.5", "1e999", "-0.0", "1E2", "\"s\"", "true", "[]", "{}",
            "{\"a\":1,\"a\":\"two\"}", "{\"a\":{\"b\":[1,2.5,null,true,{\"c\":99999999999999999999999}]}}",
            "{\"type\":\"header\"} trailing", "{\"type\":\"header\"}{\"x\":1}", "{\"a\":1", "{\"a\":", "{\"a\"}",
            "{,}", "[1,]", "{\"a\":01}", "{\"a\":NaN}", "{'a':1}", "{\"a\":\"\\u12\"}", "]", "}",
            "{\"schema_version\":\"1\",\"topology\":[{\"bdf\":1},null,\"x\"],\"probes\":{\"attached\":[{\"candidates\":[1,[2]]}]}}",
            "[".repeat(1001) + "]".repeat(1001), "{\"a\":" + "[".repeat(999) + "]".repeat(999) + "}");

    @Test
    void hostileHeadersGiveTheTreeOrTheMessageObjectMapperGives() throws Exception {
        for (String s : HOSTILE) {
            byte[] b = ("xx" + s + "yy").getBytes(StandardCharsets.UTF_8);
            same(s, () -> MAPPER.readTree(b, 2, b.length - 4), () -> HeaderLine.tree(b, 2, b.length - 4));
            same(s, () -> MAPPER.readTree(s), () -> HeaderLine.tree(s));
        }
        byte[] badUtf8 = {'{', '"', 'a', '"', ':', '"', (byte) 0xC3, '"', '}'};
        same("bad UTF-8", () -> MAPPER.readTree(badUtf8, 0, badUtf8.length), () -> HeaderLine.tree(badUtf8, 0, badUtf8.length));
    }

    @Test
    void everyCommittedTracesHeaderGivesObjectMappersTree() throws Exception {
        List<Path> traces;
        try (Stream<Path> s = Files.walk(Path.of(System.getProperty("aertrace.testdata", "../testdata")))) {
            traces = s.filter(p -> p.toString().endsWith(".jsonl") || p.toString().endsWith(".jsonl.gz")).sorted().toList();
        }
        assertTrue(traces.size() >= 90, traces.toString());
        int headers = 0;
        for (Path t : traces) {
            String first;
            try (InputStream raw = Files.newInputStream(t);
                 BufferedReader r = new BufferedReader(new InputStreamReader(
                         t.toString().endsWith(".gz") ? new GZIPInputStream(raw) : raw, StandardCharsets.UTF_8))) {
                first = r.readLine();
            } catch (java.io.IOException e) {
                continue; // a cut-off .gz among the bad-input traces: nothing to compare
            }
            if (first == null) continue;
            byte[] b = first.getBytes(StandardCharsets.UTF_8);
            same(t.toString(), () -> MAPPER.readTree(b, 0, b.length), () -> HeaderLine.tree(b, 0, b.length));
            if (first.contains("\"header\"")) headers++;
        }
        assertTrue(headers >= 80, "headers read: " + headers);
    }

    interface Read {
        JsonNode read() throws Exception;
    }

    static void same(String what, Read expected, Read actual) {
        JsonNode e = null, a = null;
        Exception ee = null, ae = null;
        try { e = expected.read(); } catch (Exception x) { ee = x; }
        try { a = actual.read(); } catch (Exception x) { ae = x; }
        if (ee != null || ae != null) {
            assertNotNull(ee, what + ": ObjectMapper read " + e + " but HeaderLine threw " + ae);
            assertNotNull(ae, what + ": ObjectMapper threw " + ee + " but HeaderLine read " + a);
            assertEquals(ee.getMessage(), ae.getMessage(), what);
            return;
        }
        assertEquals(e, a, what);
        sameClasses(what, e, a);
    }

    /** equals() holds an IntNode equal to a LongNode of the same value: the classes are compared too. */
    static void sameClasses(String what, JsonNode e, JsonNode a) {
        assertEquals(e.getClass(), a.getClass(), what + ": " + e);
        if (e.isArray()) for (int i = 0; i < e.size(); i++) sameClasses(what, e.get(i), a.get(i));
        if (e.isObject()) {
            List<String> en = new ArrayList<>(), an = new ArrayList<>();
            e.fieldNames().forEachRemaining(en::add);
            a.fieldNames().forEachRemaining(an::add);
            assertEquals(en, an, what + ": field order");
            for (Iterator<Map.Entry<String, JsonNode>> it = e.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> f = it.next();
                sameClasses(what, f.getValue(), a.get(f.getKey()));
            }
        }
    }
}
