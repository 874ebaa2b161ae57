package dev.aertrace.report;

import com.fasterxml.jackson.core.JsonEncoding;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import dev.aertrace.ingest.Event;
import dev.aertrace.ingest.SourceReport;
import dev.aertrace.ingest.TraceGap;
import dev.aertrace.race.AnalyzedEpisode;
import dev.aertrace.pci.Pci;
import dev.aertrace.race.Verdict;
import dev.aertrace.timeline.Access;
import dev.aertrace.timeline.CallbackCall;
import dev.aertrace.timeline.Episode;
import dev.aertrace.timeline.HostReset;
import dev.aertrace.timeline.Notification;
import dev.aertrace.timeline.Phase;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;

/**
 * The machine-readable report, written as a stream (episodes first, as they close) so memory stays bounded.
 * Layout and stability rules: docs/report-json.md. Bump {@link #REPORT_VERSION} for any change a reader must know.
 */
public final class JsonReport implements ReportSink {
    public static final int REPORT_VERSION = 3;
    /** The version of a report with every access ({@code --accesses all}): version 2's document, byte for byte when pretty. */
    public static final int ALL_ACCESSES_VERSION = 2;
    /** Accesses of the race window listed per episode by default (the evidence always is); the rest are counted. */
    public static final int MAX_WINDOW_ACCESSES = 1000;

    /** Thread-safe once configured; one for the document and every episode rendered ahead on other threads. */
    private static final JsonFactory FACTORY = new JsonFactory();

    private final JsonGenerator g;
    /** Where {@link #g} writes; rendered episodes are copied here after the generator wrote their separator. */
    private final OutputStream out;
    private final boolean pretty;
    /** Every access of every episode (the version-2 report), or only the evidence and the race window's. */
    private final boolean allAccesses;

    /** The version-2 report: pretty, every access (fleet messages, tests). */
    public JsonReport(OutputStream out) {
        this(out, true, true);
    }

    /**
     * {@code pretty}: indented (else one line, a third of the bytes and of the writing); {@code allAccesses}: every
     * user access of every episode, else those that are evidence or overlap a verdict's span or a host reset (the
     * race window), at most {@link #MAX_WINDOW_ACCESSES} beside the evidence, and a count of the rest: the report
     * then grows with the findings, not with the trace.
     */
    public JsonReport(OutputStream out, boolean pretty, boolean allAccesses) {
        this.allAccesses = allAccesses;
        this.out = out;
        this.pretty = pretty;
        try {
            g = FACTORY.createGenerator(out, JsonEncoding.UTF8);
            g.disable(JsonGenerator.Feature.AUTO_CLOSE_TARGET);
            if (pretty) g.useDefaultPrettyPrinter();
            g.writeStartObject();
            g.writeNumberField("report_version", allAccesses ? ALL_ACCESSES_VERSION : REPORT_VERSION);
            g.writeStringField("generator", "aertrace 0.1.0");
            g.writeArrayFieldStart("episodes");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void episode(AnalyzedEpisode a) {
        try {
            writeEpisode(a);
            g.flush();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** An episode writer over another generator: no document around it. */
    private JsonReport(JsonGenerator g, boolean allAccesses) {
        this.g = g;
        this.out = null;
        this.pretty = false;
        this.allAccesses = allAccesses;
    }

    /** Only compact: a pretty episode's indentation depends on where in the document it is written. */
    @Override
    public boolean renders() { return !pretty; }

    /** The episode as {@link #episode} writes it in a compact document: an object at the root of a generator of its own. */
    @Override
    public Rendered render(AnalyzedEpisode a) {
        if (pretty) return null;
        java.io.ByteArrayOutputStream buf = new java.io.ByteArrayOutputStream(8192);
        try (JsonGenerator sub = FACTORY.createGenerator(buf, JsonEncoding.UTF8)) {
            new JsonReport(sub, allAccesses).writeEpisode(a);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return new Rendered.Bytes(buf.toByteArray());
    }

    /**
     * An empty raw value makes the generator write the array's separator (a comma after the first episode) and
     * count a value, as {@link #writeEpisode} would; the episode's own bytes then go straight to the stream.
     */
    @Override
    public void write(Rendered r) {
        if (pretty || !(r instanceof Rendered.Bytes b)) throw new IllegalArgumentException("not a compact JSON episode: " + r);
        try {
            g.writeRawValue("");
            g.flush();
            out.write(b.bytes());
            out.flush();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void writeEpisode(AnalyzedEpisode a) throws IOException {
        Episode ep = a.episode();
        g.writeStartObject();
        header(a, ep);
        phases(ep);
        verdicts(a);
        hostSide(ep);
        userSide(a);
        g.writeArrayFieldStart("gaps");
        for (TraceGap x : ep.holes()) gap(x);
        g.writeEndArray();
        g.writeArrayFieldStart("gap_events");
        for (Event e : ep.gaps()) ref(e);
        g.writeEndArray();
        if (!a.qemu().isEmpty()) dev.aertrace.qemu.QemuJson.write(g, a.qemu()); // only with QEMU's uprobe events
        g.writeNumberField("events", ep.events().size());
        g.writeNumberField("elided_events", ep.elidedEvents());
        g.writeEndObject();
    }

    /** What failed, where, and how the recovery ended. */
    private void header(AnalyzedEpisode a, Episode ep) throws IOException {
        g.writeStringField("source", ep.source());
        g.writeNumberField("id", ep.id());
        g.writeStringField("outcome", a.outcome().id());
        g.writeStringField("device", ep.device());
        num("severity", ep.severity());
        g.writeStringField("severity_name", ep.severity() == null ? null : Pci.severity(ep.severity()));
        num("aer_status", ep.status());
        g.writeArrayFieldStart("aer_status_bits");
        if (ep.status() != null) for (String b : Pci.aerBits(ep.severity(), ep.status())) g.writeString(b);
        g.writeEndArray();
        g.writeStringField("kernel", ep.kernel());
        g.writeStringField("host", ep.host());
        g.writeNumberField("start_ns", ep.start());
        g.writeNumberField("end_ns", ep.end());
        g.writeStringField("bridge", ep.bridge());
        g.writeArrayFieldStart("affected");
        for (String d : ep.affected()) g.writeString(d);
        g.writeEndArray();
        g.writeObjectFieldStart("recovery");
        g.writeStringField("dev", ep.recoveryDev());
        num("start_ns", ep.recoveryStart());
        num("end_ns", ep.recoveryEnd());
        num("result", ep.result());
        g.writeStringField("result_name", ep.result() == null ? null : Pci.ers(ep.result()));
        g.writeBooleanField("started_mid_recovery", ep.startedMidRecovery());
        g.writeBooleanField("ended_mid_recovery", ep.endedMidRecovery());
        g.writeEndObject();
    }

    private void phases(Episode ep) throws IOException {
        g.writeArrayFieldStart("phases");
        for (Phase p : ep.phases()) {
            g.writeStartObject();
            g.writeStringField("kind", p.kind().name().toLowerCase());
            g.writeNumberField("start_ns", p.start());
            num("end_ns", p.end());
            num("duration_ns", p.duration());
            g.writeStringField("dev", p.dev());
            g.writeStringField("detail", p.detail());
            g.writeEndObject();
        }
        g.writeEndArray();
    }

    private void verdicts(AnalyzedEpisode a) throws IOException {
        g.writeArrayFieldStart("verdicts");
        for (Verdict v : a.verdicts()) {
            g.writeStartObject();
            g.writeStringField("kind", v.kind().id);
            g.writeStringField("category", v.kind().category.name().toLowerCase());
            g.writeStringField("dev", v.dev());
            g.writeBooleanField("tentative", v.tentative());
            g.writeStringField("sentence", v.sentence());
            g.writeNumberField("from_ns", v.from());
            g.writeNumberField("to_ns", v.to());
            g.writeArrayFieldStart("gaps");
            for (TraceGap x : v.gaps()) gap(x);
            g.writeEndArray();
            g.writeArrayFieldStart("evidence");
            for (Event e : v.evidence()) ref(e);
            g.writeEndArray();
            g.writeEndObject();
        }
        g.writeEndArray();
    }

    /** The host's steps: drivers' callbacks and resets. */
    private void hostSide(Episode ep) throws IOException {
        g.writeArrayFieldStart("callbacks");
        for (CallbackCall c : ep.callbacks()) {
            g.writeStartObject();
            g.writeStringField("dev", c.dev());
            g.writeStringField("cb", c.cb().wire);
            g.writeStringField("driver", c.driver());
            g.writeNumberField("start_ns", c.start());
            num("end_ns", c.end());
            num("result", c.result());
            g.writeStringField("result_name", c.result() == null ? null : Pci.ers(c.result()));
            g.writeEndObject();
        }
        g.writeEndArray();
        g.writeArrayFieldStart("resets");
        for (HostReset r : ep.resets()) {
            g.writeStartObject();
            g.writeStringField("bridge", r.bridge());
            g.writeStringField("fn", r.fn());
            g.writeNumberField("depth", r.depth());
            g.writeBooleanField("by_recovery", r.byRecovery());
            g.writeNumberField("start_ns", r.start());
            num("end_ns", r.end());
            num("ret", r.ret());
            g.writeEndObject();
        }
        g.writeEndArray();
    }

    /** The vfio user's side: its accesses and the notifications it was sent. */
    private void userSide(AnalyzedEpisode a) throws IOException {
        Episode ep = a.episode();
        g.writeArrayFieldStart("accesses");
        AccessWindow window = allAccesses ? null : new AccessWindow(a);
        int omitted = 0, listed = 0;
        for (Access x : ep.accesses()) {
            if (window != null) {
                boolean evidence = window.evidence(x);
                if (!evidence && (listed >= MAX_WINDOW_ACCESSES || !window.inside(x))) {
                    omitted++;
                    continue;
                }
                if (!evidence) listed++;
            }
            g.writeStartObject();
            g.writeStringField("kind", x.kind().name().toLowerCase());
            g.writeStringField("dev", x.dev());
            g.writeNumberField("pid", x.pid());
            g.writeNumberField("tid", x.tid());
            g.writeStringField("comm", x.comm());
            g.writeNumberField("start_ns", x.start());
            num("end_ns", x.end());
            if (x.region() != null) {
                g.writeStringField("region", x.region());
                g.writeNumberField("offset", x.offset());
                g.writeNumberField("size", x.size());
            }
            num("value", x.value());
            num("ret", x.ret());
            if (x.name() != null) g.writeStringField("name", x.name());
            num("enter_line", x.enter() == null ? null : x.enter().line());
            num("exit_line", x.exit() == null ? null : x.exit().line());
            g.writeEndObject();
        }
        g.writeEndArray();
        if (window != null) g.writeNumberField("accesses_omitted", omitted);
        g.writeArrayFieldStart("notifications");
        for (Notification n : ep.notifications()) {
            g.writeStartObject();
            g.writeStringField("dev", n.dev());
            g.writeStringField("ctx", n.ctx());
            g.writeNumberField("ts_ns", n.ts());
            g.writeNumberField("line", n.event().line());
            g.writeEndObject();
        }
        g.writeEndArray();
    }

    private void ref(Event e) throws IOException {
        g.writeStartObject();
        g.writeNumberField("line", e.line());
        g.writeNumberField("ts_ns", e.ts());
        g.writeStringField("type", e instanceof Event.Gap gap ? "gap:" + gap.kind().name().toLowerCase() : e.type());
        g.writeStringField("dev", e.dev());
        g.writeNumberField("tid", e.tid());
        g.writeStringField("comm", e.common().comm());
        if (e instanceof Event.Lost l) g.writeNumberField("count", l.count());
        if (e instanceof Event.Gap gap) g.writeStringField("detail", gap.detail());
        g.writeEndObject();
    }

    /** A gap with its bounds; an unbounded side (trace start/end) is null. */
    private void gap(TraceGap x) throws IOException {
        g.writeStartObject();
        g.writeStringField("kind", x.kind().id());
        num("cpu", x.cpu());
        num("from_ns", x.from() == Long.MIN_VALUE ? null : x.from());
        num("to_ns", x.to() == Long.MAX_VALUE ? null : x.to());
        num("line", x.line() > 0 ? x.line() : null);
        num("from_line", x.fromLine() > 0 ? x.fromLine() : null);
        num("to_line", x.toLine() > 0 ? x.toLine() : null);
        g.writeNumberField("count", x.count());
        g.writeStringField("detail", x.detail());
        g.writeEndObject();
    }

    private void num(String f, Number n) throws IOException {
        if (n == null) g.writeNullField(f);
        else g.writeNumberField(f, n.longValue());
    }

    /** Source summaries are small (issue lines are capped); they wait so that all episodes stay in one array. */
    private final java.util.List<SourceReport> sources = new java.util.ArrayList<>();

    @Override
    public void source(SourceReport r) {
        sources.add(r);
    }

    @Override
    public void finish(Totals t) {
        try {
            g.writeEndArray();
            g.writeArrayFieldStart("sources");
            for (SourceReport r : sources) JsonSummary.source(g, r);
            g.writeEndArray();
            g.writeObjectFieldStart("summary");
            g.writeNumberField("episodes", t.episodes);
            g.writeNumberField("events", t.events);
            g.writeBooleanField("input_gaps", t.inputGaps);
            if (t.unreported > 0) g.writeNumberField("unreported_episodes", t.unreported); // past Totals.MAX_REPORTED
            JsonSummary.counts(g, "outcomes", JsonSummary.outcomeCounts(t));
            JsonSummary.counts(g, "verdicts", t.verdicts);
            g.writeEndObject();
            g.writeNumberField("exit_code", t.exitCode());
            g.writeEndObject();
            g.writeRaw('\n');
            g.flush();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
