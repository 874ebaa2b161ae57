package dev.aertrace.export;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;

import java.io.IOException;
import java.io.InputStream;
import java.math.BigDecimal;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Strict checker for the Chrome trace-event format (the "Trace Event Format" document that chrome://tracing
 * and Perfetto's JSON importer follow), stricter than the viewers, which silently drop what they cannot place:
 * <ul>
 *   <li>required fields per {@code ph}: name, pid, tid, numeric non-negative ts (µs) except on M; dur on X;
 *       cat and id/id2 on async b/n/e; scope g/p/t on instants; args.name / args.sort_index on M;</li>
 *   <li>B/E in file order per thread, each E closing the innermost open B of the same name, none left open;</li>
 *   <li>slices of one thread (X and B/E pairs) nest properly — partial overlap is what Perfetto flags and drops;</li>
 *   <li>async b/e matched by (cat, id[, pid]) and name, end not before begin, none left open;</li>
 *   <li>every pid and (pid, tid) that carries events is named by process_name / thread_name metadata.</li>
 * </ul>
 * Timestamps are compared as exact decimals, so a slice ending at 1.000 µs and its sibling starting at 1.000 µs are
 * disjoint, not overlapping.
 */
public final class TraceEventValidator {
    private static final Set<String> PHASES = Set.of("B", "E", "X", "i", "I", "C", "b", "n", "e", "S", "T", "p", "F",
            "s", "t", "f", "P", "N", "O", "D", "M", "V", "v", "R", "c");
    private static final Set<String> META_NAMES = Set.of("process_name", "process_labels", "process_sort_index",
            "thread_name", "thread_sort_index");
    /** 10^14 µs is three years of uptime: a larger ts was almost surely written in ns by mistake. */
    private static final BigDecimal MAX_PLAUSIBLE_US = new BigDecimal("1e14");

    public record Problem(int index, String message) {
        @Override
        public String toString() { return index < 0 ? message : "traceEvents[" + index + "]: " + message; }
    }

    /** Totals of what was checked, so a test can tell "valid" from "valid because empty". */
    public record Summary(int events, Map<String, Integer> perPhase, List<Problem> problems) {
        public boolean ok() { return problems.isEmpty(); }
    }

    public static Summary validate(InputStream in) throws IOException {
        return validate(new ObjectMapper().enable(com.fasterxml.jackson.databind.DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
                .readTree(in));
    }

    public static Summary validate(JsonNode root) {
        List<Problem> problems = new ArrayList<>();
        Map<String, Integer> perPhase = new HashMap<>();
        ArrayNode events;
        if (root != null && root.isArray()) {
            events = (ArrayNode) root;
        } else if (root != null && root.isObject() && root.path("traceEvents").isArray()) {
            events = (ArrayNode) root.get("traceEvents");
            JsonNode unit = root.get("displayTimeUnit");
            if (unit != null && !(unit.isTextual() && (unit.asText().equals("ms") || unit.asText().equals("ns")))) {
                problems.add(new Problem(-1, "displayTimeUnit must be \"ms\" or \"ns\", got " + unit));
            }
        } else {
            problems.add(new Problem(-1, "top level must be an array or an object with a traceEvents array"));
            return new Summary(0, perPhase, problems);
        }

        Map<String, Deque<Open>> beStacks = new HashMap<>();
        Map<String, BigDecimal> lastBeTs = new HashMap<>();
        Map<String, List<Slice>> slices = new HashMap<>();
        Map<String, Deque<Open>> asyncOpen = new HashMap<>();
        Map<Integer, String> processNames = new HashMap<>();
        Set<String> namedThreads = new HashSet<>();
        Set<Integer> usedPids = new HashSet<>();
        Set<String> usedThreads = new HashSet<>();
        Map<Integer, Integer> firstUseOfPid = new HashMap<>();
        Map<String, Integer> firstUseOfThread = new HashMap<>();

        for (int i = 0; i < events.size(); i++) {
            JsonNode e = events.get(i);
            if (!e.isObject()) { problems.add(new Problem(i, "event is not an object")); continue; }
            JsonNode phN = e.get("ph");
            if (phN == null || !phN.isTextual() || !PHASES.contains(phN.asText())) {
                problems.add(new Problem(i, "missing or unknown ph: " + phN));
                continue;
            }
            String ph = phN.asText();
            perPhase.merge(ph, 1, Integer::sum);
            String name = e.path("name").isTextual() ? e.get("name").asText() : null;
            if (name == null && !ph.equals("E")) problems.add(new Problem(i, "ph " + ph + " needs a string name"));
            if (name != null && name.isEmpty()) problems.add(new Problem(i, "empty name"));
            Integer pid = intField(e, "pid", i, problems);
            Integer tid = intField(e, "tid", i, problems);
            JsonNode args = e.get("args");
            if (args != null && !args.isObject()) problems.add(new Problem(i, "args must be an object"));
            BigDecimal ts = null;
            if (!ph.equals("M") || e.has("ts")) ts = tsField(e, "ts", i, problems);
            if (pid == null || tid == null) continue;
            String thread = pid + "/" + tid;

            if (ph.equals("M")) {
                checkMeta(e, name, pid, tid, i, problems, processNames, namedThreads);
                continue;
            }
            usedPids.add(pid);
            usedThreads.add(thread);
            firstUseOfPid.putIfAbsent(pid, i);
            firstUseOfThread.putIfAbsent(thread, i);
            if (ts == null) continue;

            switch (ph) {
                case "X" -> {
                    BigDecimal dur = tsField(e, "dur", i, problems);
                    if (dur != null) slices.computeIfAbsent(thread, k -> new ArrayList<>()).add(new Slice(ts, ts.add(dur), i, name));
                }
                case "B", "E" -> {
                    BigDecimal last = lastBeTs.get(thread);
                    if (last != null && ts.compareTo(last) < 0) {
                        problems.add(new Problem(i, ph + " at ts " + ts + " is earlier than the previous B/E on thread " + thread
                                + " (" + last + "): B/E must be in time order per thread"));
                    }
                    lastBeTs.put(thread, ts);
                    Deque<Open> st = beStacks.computeIfAbsent(thread, k -> new ArrayDeque<>());
                    if (ph.equals("B")) {
                        st.push(new Open(name, ts, i));
                    } else if (st.isEmpty()) {
                        problems.add(new Problem(i, "E without an open B on thread " + thread));
                    } else {
                        Open o = st.pop();
                        if (name != null && !name.equals(o.name)) {
                            problems.add(new Problem(i, "E \"" + name + "\" closes B \"" + o.name + "\" (traceEvents[" + o.index
                                    + "]): B/E not properly nested"));
                        }
                        slices.computeIfAbsent(thread, k -> new ArrayList<>()).add(new Slice(o.ts, ts, o.index, o.name));
                    }
                }
                case "i", "I" -> {
                    JsonNode s = e.get("s");
                    if (s != null && !(s.isTextual() && Set.of("g", "p", "t").contains(s.asText()))) {
                        problems.add(new Problem(i, "instant scope s must be g, p or t, got " + s));
                    }
                }
                case "b", "n", "e" -> {
                    String key = asyncKey(e, pid, i, problems);
                    if (key == null) break;
                    Deque<Open> st = asyncOpen.computeIfAbsent(key, k -> new ArrayDeque<>());
                    if (ph.equals("b")) {
                        st.push(new Open(name, ts, i));
                    } else if (st.isEmpty()) {
                        problems.add(new Problem(i, "async " + ph + " \"" + name + "\" without an open b of the same cat and id (" + key + ")"));
                    } else if (ph.equals("e")) {
                        Open o = st.pop();
                        if (name != null && !name.equals(o.name)) {
                            problems.add(new Problem(i, "async e \"" + name + "\" closes b \"" + o.name + "\" (traceEvents[" + o.index + "])"));
                        }
                        if (ts.compareTo(o.ts) < 0) {
                            problems.add(new Problem(i, "async e at " + ts + " before its b at " + o.ts));
                        }
                    }
                }
                case "C" -> {
                    if (args == null || !args.isObject() || args.isEmpty()) problems.add(new Problem(i, "counter needs numeric args"));
                    else {
                        for (var it = args.fields(); it.hasNext(); ) {
                            var f = it.next();
                            if (!f.getValue().isNumber()) problems.add(new Problem(i, "counter arg " + f.getKey() + " is not a number"));
                        }
                    }
                }
                default -> { }
            }
        }

        beStacks.forEach((thread, st) -> st.forEach(o ->
                problems.add(new Problem(o.index, "B \"" + o.name + "\" on thread " + thread + " is never closed by an E"))));
        asyncOpen.forEach((key, st) -> st.forEach(o ->
                problems.add(new Problem(o.index, "async b \"" + o.name + "\" (" + key + ") is never closed by an e"))));
        slices.forEach((thread, list) -> checkNesting(thread, list, problems));
        for (Integer pid : usedPids) {
            if (!processNames.containsKey(pid)) {
                problems.add(new Problem(firstUseOfPid.get(pid), "pid " + pid + " has events but no process_name metadata"));
            }
        }
        for (String t : usedThreads) {
            if (!namedThreads.contains(t)) {
                problems.add(new Problem(firstUseOfThread.get(t), "thread " + t + " has events but no thread_name metadata"));
            }
        }
        problems.sort(Comparator.comparingInt(Problem::index));
        return new Summary(events.size(), perPhase, problems);
    }

    private static void checkMeta(JsonNode e, String name, int pid, int tid, int i, List<Problem> problems,
                                  Map<Integer, String> processNames, Set<String> namedThreads) {
        if (name == null || !META_NAMES.contains(name)) {
            problems.add(new Problem(i, "unknown metadata name " + name + " (expected one of " + META_NAMES + ")"));
            return;
        }
        JsonNode args = e.get("args");
        if (args == null || !args.isObject()) { problems.add(new Problem(i, name + " needs args")); return; }
        switch (name) {
            case "process_name", "thread_name" -> {
                JsonNode n = args.get("name");
                if (n == null || !n.isTextual() || n.asText().isBlank()) {
                    problems.add(new Problem(i, name + " needs a non-empty args.name"));
                    return;
                }
                if (name.equals("process_name")) {
                    String prev = processNames.put(pid, n.asText());
                    if (prev != null && !prev.equals(n.asText())) {
                        problems.add(new Problem(i, "pid " + pid + " named twice: \"" + prev + "\" and \"" + n.asText() + "\""));
                    }
                } else {
                    namedThreads.add(pid + "/" + tid);
                }
            }
            case "process_sort_index", "thread_sort_index" -> {
                JsonNode n = args.get("sort_index");
                if (n == null || !n.isIntegralNumber()) problems.add(new Problem(i, name + " needs an integer args.sort_index"));
            }
            case "process_labels" -> {
                if (!args.path("labels").isTextual()) problems.add(new Problem(i, "process_labels needs a string args.labels"));
            }
            default -> { }
        }
    }

    private static void checkNesting(String thread, List<Slice> list, List<Problem> problems) {
        list.sort(Comparator.comparing(Slice::start).thenComparing(Slice::end, Comparator.reverseOrder()));
        Deque<Slice> stack = new ArrayDeque<>();
        for (Slice s : list) {
            while (!stack.isEmpty() && stack.peek().end.compareTo(s.start) <= 0) stack.pop();
            if (!stack.isEmpty() && s.end.compareTo(stack.peek().end) > 0) {
                Slice p = stack.peek();
                problems.add(new Problem(s.index, "slice \"" + s.name + "\" [" + s.start + ", " + s.end + "] partly overlaps \""
                        + p.name + "\" [" + p.start + ", " + p.end + "] (traceEvents[" + p.index + "]) on thread " + thread
                        + ": slices of one thread must nest"));
                continue;
            }
            stack.push(s);
        }
    }

    private static String asyncKey(JsonNode e, int pid, int i, List<Problem> problems) {
        JsonNode cat = e.get("cat");
        if (cat == null || !cat.isTextual() || cat.asText().isEmpty()) {
            problems.add(new Problem(i, "async event needs a cat (ids are scoped by category)"));
            return null;
        }
        JsonNode id = e.get("id");
        JsonNode id2 = e.get("id2");
        if (id != null && id2 != null) {
            problems.add(new Problem(i, "async event has both id and id2"));
            return null;
        }
        if (id != null) {
            if (!(id.isTextual() || id.isIntegralNumber())) { problems.add(new Problem(i, "id must be a string or integer")); return null; }
            return "cat=" + cat.asText() + " id=" + id.asText() + " pid=" + pid;
        }
        if (id2 != null && id2.isObject() && id2.size() == 1 && (id2.has("local") || id2.has("global"))) {
            String scope = id2.has("local") ? "local" : "global";
            return "cat=" + cat.asText() + " id2." + scope + "=" + id2.get(scope).asText() + (scope.equals("local") ? " pid=" + pid : "");
        }
        problems.add(new Problem(i, "async event needs id or id2 {local|global}"));
        return null;
    }

    private static Integer intField(JsonNode e, String f, int i, List<Problem> problems) {
        JsonNode n = e.get(f);
        if (n == null || !n.isIntegralNumber()) {
            problems.add(new Problem(i, f + " must be an integer, got " + n));
            return null;
        }
        return n.intValue();
    }

    private static BigDecimal tsField(JsonNode e, String f, int i, List<Problem> problems) {
        JsonNode n = e.get(f);
        if (n == null || !n.isNumber()) {
            problems.add(new Problem(i, f + " must be a number (microseconds), got " + n));
            return null;
        }
        BigDecimal v = n.decimalValue();
        if (v.signum() < 0) { problems.add(new Problem(i, f + " is negative: " + v)); return null; }
        if (v.compareTo(MAX_PLAUSIBLE_US) > 0) {
            problems.add(new Problem(i, f + " = " + v + " is more than 3 years in microseconds: written in ns?"));
        }
        return v;
    }

    private record Open(String name, BigDecimal ts, int index) {}

    private record Slice(BigDecimal start, BigDecimal end, int index, String name) {
        Slice {
            Objects.requireNonNull(start);
        }
    }
}
