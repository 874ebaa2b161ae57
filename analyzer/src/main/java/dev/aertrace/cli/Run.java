package dev.aertrace.cli;

import dev.aertrace.ingest.SourceReport;
import dev.aertrace.kernellog.KernelLogs;
import dev.aertrace.kernellog.PostMortem;
import dev.aertrace.pipeline.Analyzer;
import dev.aertrace.report.ReportSink;
import dev.aertrace.report.Totals;

import java.io.InputStream;

/** Feeds inputs through the analyzer into a report, keeping only totals. */
final class Run {
    private final Analyzer analyzer;
    private final ReportSink sink;
    final Totals totals = new Totals();
    /** Kernel logs: read like traces, their episodes held until the end so a traced error is counted once. */
    private final PostMortem logs;

    Run(Analyzer.Options opt, ReportSink sink) {
        this.analyzer = new Analyzer(opt);
        this.sink = sink;
        this.logs = new PostMortem(opt);
    }

    void input(String name, InputStream in) {
        input(name, in, null);
    }

    void input(String name, InputStream in, dev.aertrace.ingest.TraceReader.Live live) {
        if (prescanned.contains(name)) return;
        Long offset = null;
        if (live == null) {
            try {
                java.io.BufferedInputStream b = KernelLogs.open(in);
                KernelLogs.Kind kind = KernelLogs.sniff(b);
                if (kind == KernelLogs.Kind.KERNEL_LOG) {
                    logs.log(name, b, this::episode);
                    return;
                }
                if (kind == KernelLogs.Kind.QEMU_LOG) {
                    SourceReport q = logs.qemu(name, b);
                    totals.add(q);
                    sink.source(q);
                    return;
                }
                if (kind == KernelLogs.Kind.RASDAEMON_DB) {
                    System.err.println("aertrace: " + name + ": " + KernelLogs.RASDAEMON_HINT);
                    totals.inputError = true;
                    return;
                }
                if (kind == KernelLogs.Kind.UNKNOWN) System.err.println("aertrace: " + name + ": " + KernelLogs.UNKNOWN_HINT);
                offset = KernelLogs.traceRealtimeOffset(b);
                in = b;
            } catch (java.io.IOException e) {
                // unreadable from the first byte: the trace reader below reports it as such
            }
        }
        Long rt = offset;
        SourceReport r = analyzer.analyze(name, in, ep -> {
            logs.traced(ep);
            episode(logs.decorate(ep, rt, false));
        }, live);
        logs.tracedSource(r);
        totals.add(r);
        sink.source(r);
    }

    private final java.util.Set<String> prescanned = new java.util.HashSet<>();

    /**
     * QEMU/libvirt logs among the files are read first, whatever their place on the command line, so every
     * episode can be joined to their notifications as it is reported.
     */
    void prescan(java.util.List<String> files) {
        if (files == null) return;
        for (String f : files) {
            if (f.equals("-")) continue;
            try (InputStream raw = java.nio.file.Files.newInputStream(java.nio.file.Path.of(f))) {
                java.io.BufferedInputStream b = KernelLogs.open(raw);
                if (KernelLogs.sniff(b) != KernelLogs.Kind.QEMU_LOG) continue;
                SourceReport q = logs.qemu(f, b);
                totals.add(q);
                sink.source(q);
                prescanned.add(f);
            } catch (java.io.IOException e) {
                // reported by input() when the file is read for real
            }
        }
    }

    /**
     * A regular file: a trace is read twice (docs/evidence.md: the first pass bounds every gap and measures
     * lateness); anything else (kernel or QEMU log) goes the one-pass way.
     */
    void file(String name, java.nio.file.Path path) throws java.io.IOException {
        if (prescanned.contains(name)) return;
        Long offset = null;
        KernelLogs.Kind kind;
        try (InputStream raw = java.nio.file.Files.newInputStream(path)) {
            java.io.BufferedInputStream b = KernelLogs.open(raw);
            kind = KernelLogs.sniff(b);
            if (kind == KernelLogs.Kind.TRACE) offset = KernelLogs.traceRealtimeOffset(b);
        }
        if (kind != KernelLogs.Kind.TRACE) {
            try (InputStream in = java.nio.file.Files.newInputStream(path)) {
                input(name, in);
            }
            return;
        }
        twoPass(name, () -> java.nio.file.Files.newInputStream(path), offset);
    }

    /** A resource (the embedded trace): also read twice. */
    void resource(String name, String res) throws java.io.IOException {
        Long offset;
        try (InputStream raw = Run.class.getResourceAsStream(res)) {
            offset = KernelLogs.traceRealtimeOffset(KernelLogs.open(raw));
        }
        twoPass(name, () -> Run.class.getResourceAsStream(res), offset);
    }

    private void twoPass(String name, java.util.concurrent.Callable<InputStream> reopen, Long rt) throws java.io.IOException {
        SourceReport r = analyzer.analyze(name, reopen, ep -> {
            logs.traced(ep);
            episode(logs.decorate(ep, rt, false));
        });
        logs.tracedSource(r);
        totals.add(r);
        sink.source(r);
    }

    private void episode(dev.aertrace.race.AnalyzedEpisode ep) {
        if (totals.report(ep)) sink.episode(ep); // bounded: Totals.MAX_REPORTED in full, the rest counted
    }

    int finish() {
        logs.flush(this::episode, r -> {
            totals.add(r);
            sink.source(r);
        }, System.err);
        sink.finish(totals);
        return totals.exitCode();
    }
}
