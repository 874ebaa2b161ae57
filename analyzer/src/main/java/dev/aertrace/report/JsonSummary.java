package dev.aertrace.report;

import com.fasterxml.jackson.core.JsonGenerator;
import dev.aertrace.ingest.Issue;
import dev.aertrace.ingest.SourceReport;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Map;

/** The JSON report's parts after the episodes: each source's summary and the run's counts (docs/report-json.md). */
final class JsonSummary {
    private JsonSummary() {}

    static void source(JsonGenerator g, SourceReport r) {
        try {
            g.writeStartObject();
            g.writeStringField("source", r.source());
            g.writeNumberField("lines", r.lines());
            g.writeNumberField("events", r.events());
            g.writeNumberField("lost_events", r.lostEvents());
            g.writeNumberField("segments", r.segments());
            if (r.header() != null) {
                g.writeObjectFieldStart("header");
                g.writeNumberField("schema_version", r.header().schemaVersion());
                g.writeStringField("agent", r.header().agent());
                g.writeStringField("host", r.header().host());
                g.writeStringField("kernel", r.header().kernel());
                g.writeStringField("boot_id", r.header().bootId());
                g.writeEndObject();
            } else g.writeNullField("header");
            if (r.footer() != null) {
                g.writeObjectFieldStart("footer");
                g.writeNumberField("events", r.footer().events());
                g.writeNumberField("lost", r.footer().lost());
                g.writeStringField("reason", r.footer().reason());
                g.writeNumberField("line", r.footer().line());
                g.writeEndObject();
            } else g.writeNullField("footer");
            counts(g, "events_by_type", r.eventsByType());
            counts(g, "unknown_types", r.unknownTypes());
            counts(g, "unknown_fields", r.unknownFields());
            g.writeArrayFieldStart("issues");
            for (Issue i : r.issues()) {
                g.writeStartObject();
                g.writeStringField("kind", i.kind().id());
                g.writeNumberField("count", i.count());
                g.writeArrayFieldStart("lines");
                for (Long l : i.lines()) g.writeNumber(l);
                g.writeEndArray();
                g.writeStringField("meaning", i.kind().meaning);
                g.writeStringField("detail", i.detail());
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static void counts(JsonGenerator g, String name, Map<String, Long> m) throws IOException {
        g.writeObjectFieldStart(name);
        for (Map.Entry<String, Long> e : new java.util.TreeMap<>(m).entrySet()) g.writeNumberField(e.getKey(), e.getValue());
        g.writeEndObject();
    }

    static Map<String, Long> outcomeCounts(Totals t) {
        Map<String, Long> m = new java.util.TreeMap<>();
        t.outcomes.forEach((k, v) -> m.put(k.id(), v));
        return m;
    }
}
