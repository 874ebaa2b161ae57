package dev.aertrace.ingest;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import dev.aertrace.cli.Main;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.zip.GZIPInputStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Schema v3's one-line access ({@code vfio.rw}) means exactly its enter/exit pair (probes/EVENTS.md). Real lab
 * traces are rewritten the way a v3 agent writes them — each access's enter and exit folded into one line at the
 * exit's place, live and history alike, held reads included (the agent keeps those as pairs, so this is the harder
 * case: enters up to a reset's length old) — and {@code analyze} must judge the rewrite as it judges the original:
 * the same episodes, verdicts, tentative flags, times and evidence, only the cited line numbers differ.
 */
public class WholeAccessTest {
    public static final ObjectMapper M = new ObjectMapper();
    public static final Path LAB = Path.of(System.getProperty("aertrace.testdata", "../testdata")).resolve("lab");

    /** Traces with held reads, history dumps (pairs and loss), two functions, a switch, flat-out readers. */
    static final List<String> TRACES = List.of("6.1/fatal-race.jsonl.gz", "6.1/fatal-race-flat.jsonl.gz",
            "6.1/flight-recorder.jsonl.gz", "7.2/flight-recorder.jsonl.gz", "6.1/twofn-fatal.jsonl.gz",
            "6.1/switch-fatal.jsonl.gz", "6.1/fatal-reset-overlap.jsonl.gz", "5.10/flight-recorder-perf.jsonl.gz",
            "6.1/removal-slotoff.jsonl.gz", "6.1/fatal-double-reset.jsonl.gz");

    @Test
    void oneLineAccessesAreJudgedAsTheirPairs() throws Exception {
        int traces = 0;
        for (String t : TRACES) {
            Path in = LAB.resolve(t);
            if (!Files.exists(in)) continue;
            List<String> lines = read(in);
            Rewrite r = fold(lines);
            assertTrue(r.folded > 0, t + ": no access folded");
            Path out = Files.createTempFile("aertrace-v3", ".jsonl");
            try {
                Files.write(out, r.lines, StandardCharsets.UTF_8);
                JsonNode a = report(in), b = report(out);
                assertEquals(a.get("exit_code"), b.get("exit_code"), t + ": exit code");
                JsonNode ea = normalized(a.get("episodes")), eb = normalized(b.get("episodes"));
                assertTrue(ea.equals(eb), t + ": episodes differ after folding " + r.folded + " accesses, first at " + firstDiff(ea, eb, "episodes"));
                for (JsonNode src : b.get("sources"))
                    for (JsonNode issue : src.path("issues"))
                        assertTrue(!issue.path("kind").asText().contains("schema") && !issue.toString().contains("vfio.rw\""),
                                t + ": rewrite raised " + issue);
            } finally {
                Files.delete(out);
            }
            traces++;
        }
        assertTrue(traces >= 8, "committed traces found: " + traces);
    }

    /** A damaged exit_ts (before the access entered) is a named problem and a gap, not an access placed wrongly. */
    @Test
    void exitBeforeEnterIsRefused() throws Exception {
        String hdr = dev.aertrace.Tr.header(dev.aertrace.Tr.TOPO).replace("\"schema_version\":1", "\"schema_version\":3");
        String bad = "{\"type\":\"vfio.rw\",\"ts\":2000000,\"cpu\":0,\"pid\":300,\"tid\":300,\"comm\":\"vfio-user\",\"dev\":\"0000:01:00.0\","
                + "\"region\":\"config\",\"offset\":4,\"size\":2,\"write\":false,\"value\":1031,\"ret\":2,\"exit_ts\":1999999}";
        String good = bad.replace("\"exit_ts\":1999999", "\"exit_ts\":2000400");
        for (String line : List.of(bad, good)) {
            Diagnostics diag = new Diagnostics();
            List<Event> got = new ArrayList<>();
            new TraceReader("t", diag, new TraceListener() {
                @Override public void header(TraceHeader h) {}
                @Override public void event(Event e) { got.add(e); }
                @Override public void footer(TraceFooter f) {}
            }).read(new java.io.ByteArrayInputStream((hdr + "\n" + line + "\n"
                    + "{\"type\":\"footer\",\"ts\":3000000,\"events\":1,\"lost\":0}\n").getBytes(StandardCharsets.UTF_8)));
            if (line == bad) {
                assertTrue(got.get(0) instanceof Event.Gap, got.toString());
                assertTrue(got.stream().allMatch(e -> e instanceof Event.Gap), got.toString());
                assertTrue(diag.issues().stream().anyMatch(i -> i.detail().contains("exit_ts 1999999")), diag.issues().toString());
            } else {
                assertEquals(2, got.size(), got.toString());
                Event.RwEnter en = (Event.RwEnter) got.get(0);
                Event.RwExit ex = (Event.RwExit) got.get(1);
                assertEquals(2_000_000, en.ts());
                assertEquals(2_000_400, ex.ts());
                assertEquals(null, en.value()); // a read's value is what it returned: the exit's
                assertEquals(1031L, ex.value());
                assertEquals(2L, ex.ret());
                assertEquals(en.line(), ex.line());
                assertTrue(diag.issues().isEmpty(), diag.issues().toString());
            }
        }
    }

    /**
     * A read that entered just before a reset and was held by it for 1.5 s is one line, written at its return: its
     * enter is 1.5 s older than the lines around it by design, not a late record, so the verdicts it carries stay
     * confident (GapTracker#wholeEnter; without it the enter read as a buffer delivered 1.5 s late).
     */
    @Test
    void aReadHeldLongerThanASecondIsNotLate() throws Exception {
        dev.aertrace.Tr t = dev.aertrace.Tr.lab();
        String rp = dev.aertrace.Tr.RP, ep = dev.aertrace.Tr.EP;
        t.raw(t.lines.get(0).replace("\"schema_version\":1", "\"schema_version\":3"));
        t.lines.remove(0);
        t.whole(0, 30, 300, ep, 4, 2, 0x0103); // the baseline
        t.aer(1_000, ep, 1, 0x20).recoveryEnter(1_040, ep, 2);
        t.cb(1_060, 1_080, ep, "error_detected", 3);
        t.whole(1_190, 1_700_000, 300, ep, 4, 2, 0); // entered 10 µs before the reset, held to its end
        t.resetEnter(1_200, rp, "aer_root_reset").cfgLock(1_210, ep, "lock");
        t.cfgLock(1_699_000, ep, "unlock").resetExit(1_699_100, rp, "aer_root_reset", 5);
        t.cb(1_699_300, 1_699_400, ep, "resume", 5).recoveryExit(1_699_500, ep, 5);
        t.whole(1_750_000, 1_750_030, 300, ep, 4, 2, 0);
        t.footer(4_000_000);
        Path f = Files.createTempFile("aertrace-held", ".jsonl");
        try {
            Files.writeString(f, t.text());
            List<dev.aertrace.race.AnalyzedEpisode> eps = dev.aertrace.pipeline.Analyzer.analyzeAll(f);
            assertEquals(1, eps.size());
            var verdicts = eps.get(0).verdicts();
            assertTrue(verdicts.stream().anyMatch(v -> v.kind().id.equals("access-during-reset") && !v.tentative()), verdicts.toString());
            assertTrue(verdicts.stream().noneMatch(v -> v.tentative()), verdicts.toString());
        } finally {
            Files.delete(f);
        }
    }

    public static List<String> read(Path p) throws Exception {
        List<String> out = new ArrayList<>();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(new GZIPInputStream(Files.newInputStream(p)), StandardCharsets.UTF_8))) {
            for (String l; (l = r.readLine()) != null; ) out.add(l);
        }
        return out;
    }

    record Rewrite(List<String> lines, int folded) {}

    /**
     * Folds each enter with the exit that closes it (same tid, same access, both live or both history) into one
     * v3 line at the exit's place; a pair with a lost line, a dump marker or a segment edge between stays a pair.
     */
    static Rewrite fold(List<String> lines) throws Exception {
        List<String> out = new ArrayList<>(lines);
        Map<Long, Integer> open = new HashMap<>(); // tid -> index of its enter in out
        int folded = 0, inSegment = 0;
        int header = -1;
        for (int i = 0; i < lines.size(); i++) {
            JsonNode n = M.readTree(lines.get(i));
            String type = n.path("type").asText();
            switch (type) {
                case "header" -> { header = i; inSegment = 0; open.clear(); }
                case "lost", "history" -> open.clear();
                case "footer" -> {
                    ObjectNode f = (ObjectNode) n;
                    f.put("events", f.get("events").asLong() - inSegment);
                    out.set(i, M.writeValueAsString(f));
                    open.clear();
                }
                case "vfio.rw.enter" -> open.put(n.get("tid").asLong(), i);
                case "vfio.rw.exit" -> {
                    Integer at = open.remove(n.get("tid").asLong());
                    if (at == null) break;
                    JsonNode en = M.readTree(lines.get(at));
                    if (!same(en, n)) break;
                    ObjectNode w = M.createObjectNode();
                    w.put("type", "vfio.rw");
                    for (String f : List.of("ts", "cpu", "pid", "tid", "comm", "dev")) w.set(f, f.equals("ts") ? en.get(f) : n.get(f));
                    for (String f : List.of("region", "offset", "size", "write")) w.set(f, n.get(f));
                    JsonNode v = n.get("write").asBoolean() ? en.get("value") : n.get("value");
                    if (v != null) w.set("value", v);
                    w.set("ret", n.get("ret"));
                    w.set("exit_ts", n.get("ts"));
                    if (n.path("history").asBoolean()) w.put("history", true);
                    out.set(at, null);
                    out.set(i, M.writeValueAsString(w));
                    if (header >= 0 && out.get(header) != null && out.get(header).contains("\"schema_version\":")) {
                        ObjectNode h = (ObjectNode) M.readTree(out.get(header));
                        h.put("schema_version", 3);
                        out.set(header, M.writeValueAsString(h));
                    }
                    folded++;
                    inSegment++;
                }
                default -> { }
            }
        }
        out.removeIf(java.util.Objects::isNull);
        return new Rewrite(out, folded);
    }

    private static boolean same(JsonNode en, JsonNode ex) {
        for (String f : List.of("pid", "comm", "dev", "region", "offset", "size", "write"))
            if (!en.path(f).equals(ex.path(f))) return false;
        return en.path("history").asBoolean() == ex.path("history").asBoolean() && en.get("ts").asLong() <= ex.get("ts").asLong();
    }

    public static JsonNode report(Path trace) throws Exception {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        PrintStream old = System.out;
        System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
        try {
            Main.run(new String[] {"analyze", "--format", "json", "--accesses", "all", trace.toString()});
        } finally {
            System.setOut(old);
        }
        return M.readTree(o.toByteArray());
    }

    /** Where two reports first differ, with both values (short: a whole report is megabytes). */
    static String firstDiff(JsonNode a, JsonNode b, String path) {
        if (a.isContainerNode() && b.isContainerNode() && a.getNodeType() == b.getNodeType()) {
            if (a.isArray()) {
                for (int i = 0; i < Math.min(a.size(), b.size()); i++)
                    if (!a.get(i).equals(b.get(i))) return firstDiff(a.get(i), b.get(i), path + "[" + i + "]");
                return path + ": " + a.size() + " against " + b.size() + " elements";
            }
            for (Iterator<String> it = a.fieldNames(); it.hasNext(); ) {
                String k = it.next();
                if (!a.get(k).equals(b.get(k))) return b.has(k) ? firstDiff(a.get(k), b.get(k), path + "." + k) : path + "." + k + " missing";
            }
            return path + ": extra fields " + b;
        }
        String sa = a.toString(), sb = b.toString();
        return path + ": " + sa.substring(0, Math.min(300, sa.length())) + " against " + sb.substring(0, Math.min(300, sb.length()));
    }

    private static final Pattern LINE = Pattern.compile("\\blines? [0-9]+(?:[/–-][0-9]+)*");

    /** The report without the line numbers it cites (folding moves and merges lines) or the source's name. */
    static JsonNode normalized(JsonNode n) {
        JsonNode c = n.deepCopy();
        strip(c);
        return c;
    }

    private static void strip(JsonNode n) {
        if (n instanceof ObjectNode o) {
            for (Iterator<Map.Entry<String, JsonNode>> it = o.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                String k = e.getKey();
                if (k.equals("line") || k.endsWith("_line") || k.equals("lines") || k.equals("source")) it.remove();
                else if (e.getValue() instanceof TextNode t) e.setValue(new TextNode(LINE.matcher(t.asText()).replaceAll("line #")));
                else strip(e.getValue());
            }
        } else if (n instanceof ArrayNode a) {
            for (int i = 0; i < a.size(); i++) {
                if (a.get(i) instanceof TextNode t) a.set(i, new TextNode(LINE.matcher(t.asText()).replaceAll("line #")));
                else strip(a.get(i));
            }
        }
    }
}
