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
    /** Set by {@link #files}: whether other threads hand on rendered episodes (else whole ones). */
    private boolean renderAhead;

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
     * A regular file: a trace is analysed in two passes (docs/evidence.md: the first bounds every gap and measures
     * lateness; the second replays the first one's reading); anything else (kernel or QEMU log) goes the one-pass way.
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

    /**
     * The files and '-' of a command line, in order. Trace files are analysed by up to {@code jobs} threads at once
     * (each file's pipeline is its own, nothing is shared), their episodes held until the files before them are
     * reported, then handed on in command-line order on this thread exactly as one-by-one reading hands them on:
     * the same bytes, whatever the number of threads. Kernel logs, QEMU logs and streams are read here, in order.
     * At most 2 · jobs files are read ahead of the one being reported, so memory stays bounded by that.
     */
    void files(java.util.List<String> traces, int jobs) throws java.io.IOException {
        java.util.List<java.util.concurrent.Future<Buffered>> ahead = new java.util.ArrayList<>();
        for (int i = 0; i < traces.size(); i++) ahead.add(null);
        // A QEMU log read in order (stdin, a FIFO) may decorate the episodes after it: only when every QEMU log was
        // prescanned can other threads decorate and write episodes ahead.
        renderAhead = sink.renders() && traces.stream().allMatch(t -> !t.equals("-") && java.nio.file.Files.isRegularFile(java.nio.file.Path.of(t)));
        java.util.concurrent.ExecutorService pool = jobs > 1 && traces.size() > 1
                ? java.util.concurrent.Executors.newFixedThreadPool(Math.min(jobs, traces.size()), r -> {
                    Thread t = new Thread(r, "aertrace-input");
                    t.setDaemon(true);
                    return t;
                }) : null;
        try {
            int submitted = 0;
            for (int i = 0; i < traces.size(); i++) {
                while (pool != null && submitted < traces.size() && submitted < i + 2 * jobs) {
                    ahead.set(submitted, submit(pool, traces.get(submitted)));
                    submitted++;
                }
                java.util.concurrent.Future<Buffered> f = ahead.get(i);
                ahead.set(i, null);
                if (f != null) replay(await(f));
                else try {
                    one(traces.get(i));
                } catch (java.io.FileNotFoundException | java.nio.file.NoSuchFileException e) {
                    // gone since the command line was checked: named with the argument as given
                    throw new java.nio.file.NoSuchFileException(traces.get(i), null, e.getMessage());
                }
            }
        } finally {
            if (pool != null) pool.shutdownNow();
        }
    }

    /** One argument read on this thread (as before parallel reading). */
    private void one(String t) throws java.io.IOException {
        if (t.equals("-")) input("<stdin>", System.in);
        // A regular file can be read twice; a pipe or FIFO is a stream.
        else if (java.nio.file.Files.isRegularFile(java.nio.file.Path.of(t))) file(t, java.nio.file.Path.of(t));
        else try (InputStream in = java.nio.file.Files.newInputStream(java.nio.file.Path.of(t))) {
            input(t, in);
        }
    }

    /**
     * A trace file's analysis, done on another thread: its episodes (whole, or rendered ahead), its report and its
     * realtime offset.
     */
    private record Buffered(java.util.List<dev.aertrace.race.AnalyzedEpisode> episodes, java.util.List<Done> done,
                            SourceReport report, Long offset) {}

    /** A future for a regular trace file not yet read; null for anything read on this thread. */
    private java.util.concurrent.Future<Buffered> submit(java.util.concurrent.ExecutorService pool, String t) throws java.io.IOException {
        if (t.equals("-") || prescanned.contains(t)) return null;
        java.nio.file.Path path = java.nio.file.Path.of(t);
        if (!java.nio.file.Files.isRegularFile(path)) return null;
        Long offset;
        try (InputStream raw = java.nio.file.Files.newInputStream(path)) {
            java.io.BufferedInputStream b = KernelLogs.open(raw);
            if (KernelLogs.sniff(b) != KernelLogs.Kind.TRACE) return null;
            offset = KernelLogs.traceRealtimeOffset(b);
        }
        if (renderAhead) return pool.submit(() -> {
            java.util.List<Done> done = new java.util.ArrayList<>();
            SourceReport r = analyzer.analyze(t, () -> java.nio.file.Files.newInputStream(path), ep -> {
                dev.aertrace.race.AnalyzedEpisode d = logs.decorate(ep, offset, false);
                // No file has more written episodes than a whole run does: past that, counts are all that is needed.
                done.add(new Done(PostMortem.Traced.of(d), d.outcome(), d.verdicts(),
                        done.size() < Totals.MAX_REPORTED ? sink.render(d) : null));
            });
            return new Buffered(java.util.List.of(), done, r, offset);
        });
        return pool.submit(() -> {
            java.util.List<dev.aertrace.race.AnalyzedEpisode> eps = new java.util.ArrayList<>();
            SourceReport r = analyzer.analyze(t, () -> java.nio.file.Files.newInputStream(path), eps::add);
            return new Buffered(eps, java.util.List.of(), r, offset);
        });
    }

    /** A trace file's episode, analysed, decorated and written ahead on another thread: what is left to do in order. */
    private record Done(PostMortem.Traced key, dev.aertrace.race.Outcome outcome, java.util.List<dev.aertrace.race.Verdict> verdicts,
                        ReportSink.Rendered out) {}

    private static Buffered await(java.util.concurrent.Future<Buffered> f) throws java.io.IOException {
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted");
        } catch (java.util.concurrent.ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof java.io.IOException io) throw io;
            if (c instanceof RuntimeException re) throw re;
            if (c instanceof Error err) throw err;
            throw new IllegalStateException(c);
        }
    }

    /** What {@link #twoPass} does with a file's episodes and report, for one analysed on another thread. */
    private void replay(Buffered b) {
        for (dev.aertrace.race.AnalyzedEpisode ep : b.episodes()) {
            logs.traced(ep);
            episode(logs.decorate(ep, b.offset(), false));
        }
        for (Done d : b.done()) {
            logs.traced(d.key());
            if (!totals.report(d.outcome(), d.verdicts())) continue;
            if (d.out() == null) throw new IllegalStateException("episode " + d.key().id() + " of " + d.key().source() + " was not rendered");
            sink.write(d.out());
        }
        logs.tracedSource(b.report());
        totals.add(b.report());
        sink.source(b.report());
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
