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

    int finish() {
        sink.finish(totals);
        return totals.exitCode();
    }
}
