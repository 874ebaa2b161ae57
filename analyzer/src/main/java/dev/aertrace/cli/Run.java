package dev.aertrace.cli;

import dev.aertrace.ingest.SourceReport;
import dev.aertrace.race.Analyzer;
import dev.aertrace.report.ReportSink;
import dev.aertrace.report.Totals;

import java.io.InputStream;

/** Feeds inputs through the analyzer into a report, keeping only totals. */
final class Run {
    private final Analyzer analyzer;
    private final ReportSink sink;
    final Totals totals = new Totals();

    Run(Analyzer.Options opt, ReportSink sink) {
        this.analyzer = new Analyzer(opt);
        this.sink = sink;
    }

    void input(String name, InputStream in) {
        input(name, in, null);
    }

    void input(String name, InputStream in, dev.aertrace.ingest.TraceReader.Live live) {
        SourceReport r = analyzer.analyze(name, in, ep -> {
            totals.add(ep);
            sink.episode(ep);
        }, live);
        totals.add(r);
        sink.source(r);
    }

    /** A file: read twice (docs/evidence.md: the first pass bounds every gap and measures lateness). */
    void file(String name, java.nio.file.Path path) throws java.io.IOException {
        SourceReport r = analyzer.analyze(name, () -> java.nio.file.Files.newInputStream(path), ep -> {
            totals.add(ep);
            sink.episode(ep);
        });
        totals.add(r);
        sink.source(r);
    }

    /** A resource (the embedded trace): also read twice. */
    void resource(String name, String res) throws java.io.IOException {
        SourceReport r = analyzer.analyze(name, () -> Run.class.getResourceAsStream(res), ep -> {
            totals.add(ep);
            sink.episode(ep);
        });
        totals.add(r);
        sink.source(r);
    }

    int finish() {
        sink.finish(totals);
        return totals.exitCode();
    }
}
