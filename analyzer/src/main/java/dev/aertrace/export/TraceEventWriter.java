package dev.aertrace.export;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;

import java.io.Closeable;
import java.io.IOException;
import java.io.Writer;
import java.math.BigDecimal;
import java.util.Map;

/**
 * Streams a Chrome trace-event file ({"traceEvents":[…]}) as read by ui.perfetto.dev, chrome://tracing and
 * the DevTools performance panel. Timestamps are given in nanoseconds and written as microseconds with
 * three decimals, exactly (BigDecimal), so no nanosecond is rounded away. One event per line keeps the
 * file diffable and greppable.
 */
public final class TraceEventWriter implements Closeable {
    private final JsonGenerator g;
    private boolean closed;

    public TraceEventWriter(Writer out) throws IOException {
        g = new JsonFactory().createGenerator(out);
        g.writeStartObject();
        g.writeStringField("displayTimeUnit", "ms");
        g.writeFieldName("traceEvents");
        g.writeStartArray();
    }

    /** ns → µs, exact to the nanosecond. */
    public static BigDecimal micros(long ns) {
        return BigDecimal.valueOf(ns, 3);
    }

    public void processName(int pid, String name) throws IOException {
        meta("process_name", pid, 0, "name", name);
    }

    public void processSortIndex(int pid, int index) throws IOException {
        meta("process_sort_index", pid, 0, "sort_index", index);
    }

    public void threadName(int pid, int tid, String name) throws IOException {
        meta("thread_name", pid, tid, "name", name);
    }

    public void threadSortIndex(int pid, int tid, int index) throws IOException {
        meta("thread_sort_index", pid, tid, "sort_index", index);
    }

    /** A {@code ph:"X"} slice. */
    public void complete(String name, String cat, int pid, int tid, long tsNs, long durNs, Map<String, ?> args)
            throws IOException {
        if (durNs < 0) throw new IllegalArgumentException("negative duration for " + name + ": " + durNs);
        begin("X", name, cat, pid, tid, tsNs);
        g.writeFieldName("dur");
        g.writeNumber(micros(durNs));
        args(args);
        end();
    }

    /** A {@code ph:"i"} instant; scope "t" (thread), "p" (process) or "g" (global). */
    public void instant(String name, String cat, int pid, int tid, long tsNs, String scope, Map<String, ?> args)
            throws IOException {
        begin("i", name, cat, pid, tid, tsNs);
        g.writeStringField("s", scope);
        args(args);
        end();
    }

    /** A nestable async begin ({@code ph:"b"}); the matching end uses the same cat, id and name. */
    public void asyncBegin(String name, String cat, String id, int pid, int tid, long tsNs, Map<String, ?> args)
            throws IOException {
        begin("b", name, cat, pid, tid, tsNs);
        g.writeStringField("id", id);
        args(args);
        end();
    }

    public void asyncEnd(String name, String cat, String id, int pid, int tid, long tsNs) throws IOException {
        begin("e", name, cat, pid, tid, tsNs);
        g.writeStringField("id", id);
        end();
    }

    /** Free-form trace-level data (kept by Perfetto as metadata, ignored by the viewers' timelines). */
    public void finish(Map<String, ?> otherData) throws IOException {
        g.writeRaw('\n');
        g.writeEndArray();
        if (otherData != null && !otherData.isEmpty()) {
            g.writeFieldName("otherData");
            g.writeStartObject();
            for (var e : otherData.entrySet()) {
                g.writeFieldName(e.getKey());
                value(e.getValue());
            }
            g.writeEndObject();
        }
        g.writeEndObject();
        g.writeRaw('\n');
        g.flush();
        closed = true;
    }

    @Override
    public void close() throws IOException {
        if (!closed) finish(null);
        g.close();
    }

    private void meta(String what, int pid, int tid, String key, Object value) throws IOException {
        sep();
        g.writeStartObject();
        g.writeStringField("ph", "M");
        g.writeStringField("name", what);
        g.writeNumberField("pid", pid);
        g.writeNumberField("tid", tid);
        g.writeFieldName("args");
        g.writeStartObject();
        g.writeFieldName(key);
        value(value);
        g.writeEndObject();
        g.writeEndObject();
    }

    private void begin(String ph, String name, String cat, int pid, int tid, long tsNs) throws IOException {
        // CLOCK_MONOTONIC is never negative, but a damaged line's ts can be (found by the fuzzer): such an event
        // is drawn at 0, its line still in its args, rather than the export failing for the whole trace.
        if (tsNs < 0) tsNs = 0;
        sep();
        g.writeStartObject();
        g.writeStringField("ph", ph);
        g.writeStringField("name", name);
        g.writeStringField("cat", cat);
        g.writeNumberField("pid", pid);
        g.writeNumberField("tid", tid);
        g.writeFieldName("ts");
        g.writeNumber(micros(tsNs));
    }

    private void end() throws IOException {
        g.writeEndObject();
    }

    private void args(Map<String, ?> args) throws IOException {
        if (args == null || args.isEmpty()) return;
        g.writeFieldName("args");
        g.writeStartObject();
        for (var e : args.entrySet()) {
            g.writeFieldName(e.getKey());
            value(e.getValue());
        }
        g.writeEndObject();
    }

    private void value(Object v) throws IOException {
        if (v == null) g.writeNull();
        else if (v instanceof Integer i) g.writeNumber(i);
        else if (v instanceof Long l) g.writeNumber(l);
        else if (v instanceof Double d) g.writeNumber(d);
        else if (v instanceof BigDecimal b) g.writeNumber(b);
        else if (v instanceof Boolean b) g.writeBoolean(b);
        else if (v instanceof Map<?, ?> m) {
            g.writeStartObject();
            for (var e : m.entrySet()) {
                g.writeFieldName(String.valueOf(e.getKey()));
                value(e.getValue());
            }
            g.writeEndObject();
        } else if (v instanceof Iterable<?> it) {
            g.writeStartArray();
            for (Object o : it) value(o);
            g.writeEndArray();
        } else g.writeString(String.valueOf(v));
    }

    // Jackson writes the comma itself when the next object starts, so lines read "\n,{…}": valid and diffable.
    private void sep() throws IOException {
        g.writeRaw('\n');
    }
}
