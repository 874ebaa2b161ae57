package dev.aertrace.ingest;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** Mutable per-source collector of input issues; written by ingest and by the timeline's enter/exit pairing. */
public final class Diagnostics {
    public static final int MAX_LINES = 20;

    private static final class Counter {
        long count;
        final List<Long> lines = new ArrayList<>();
        String detail;
    }

    private final Map<Issue.Kind, Counter> counters = new EnumMap<>(Issue.Kind.class);
    private final Map<String, Long> unknownTypes = new TreeMap<>();
    private final Map<String, Long> unknownFields = new TreeMap<>();

    /** What a reader said, in its order, for a later replay into another collector ({@link EventSpill}). */
    interface Recorder {
        void issue(Issue.Kind kind, long line, String detail);
        void unknownType(String type, long line);
        void unknownField(String type, String field, long line);
    }

    private Recorder recorder;

    void record(Recorder r) { recorder = r; }

    public void issue(Issue.Kind kind, long line, String detail) {
        if (recorder != null) recorder.issue(kind, line, detail);
        tally(kind, line, detail);
    }

    private void tally(Issue.Kind kind, long line, String detail) {
        Counter c = counters.computeIfAbsent(kind, k -> new Counter());
        c.count++;
        if (c.lines.size() < MAX_LINES && line > 0) c.lines.add(line);
        if (c.detail == null) c.detail = detail;
    }

    public void unknownType(String type, long line) {
        // Bounded: a hostile stream with millions of distinct types would otherwise grow this map.
        if (recorder != null) recorder.unknownType(type, line);
        if (unknownTypes.size() < 1000 || unknownTypes.containsKey(type)) unknownTypes.merge(type, 1L, Long::sum);
        tally(Issue.Kind.UNKNOWN_TYPE, line, "type \"" + type + "\"");
    }

    public void unknownField(String type, String field, long line) {
        if (recorder != null) recorder.unknownField(type, field, line);
        String k = type + "." + field;
        if (unknownFields.size() < 1000 || unknownFields.containsKey(k)) unknownFields.merge(k, 1L, Long::sum);
        tally(Issue.Kind.UNKNOWN_FIELD, line, "field \"" + field + "\" on " + type);
    }

    public long count(Issue.Kind kind) {
        Counter c = counters.get(kind);
        return c == null ? 0 : c.count;
    }

    public List<Issue> issues() {
        List<Issue> out = new ArrayList<>();
        counters.forEach((k, c) -> out.add(new Issue(k, c.count, List.copyOf(c.lines), c.detail)));
        return out;
    }

    public Map<String, Long> unknownTypes() { return Map.copyOf(unknownTypes); }

    public Map<String, Long> unknownFields() { return Map.copyOf(unknownFields); }
}
