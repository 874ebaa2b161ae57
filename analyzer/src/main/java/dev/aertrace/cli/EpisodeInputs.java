package dev.aertrace.cli;

import dev.aertrace.ingest.Issue;
import dev.aertrace.ingest.SourceReport;
import dev.aertrace.race.AnalyzedEpisode;
import dev.aertrace.pipeline.Analyzer;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * Reads traces for the evidence commands (chart, timeline, export, compare): files, '-' for stdin, or the
 * embedded default trace when none is given. Input problems go to stderr with their line numbers, as analyze
 * reports them, so a chart is never silently drawn from a damaged trace.
 */
final class EpisodeInputs {
    /** Returned by {@link #check} for an unreadable argument. */
    static final int USAGE = 2;

    private EpisodeInputs() {}

    /** A one-line reason why {@code t} cannot be read, or null. */
    static String unreadable(String t) {
        if (t.equals("-")) return null;
        Path p = Path.of(t);
        return !Files.exists(p) ? "no such file" : Files.isDirectory(p) ? "is a directory"
                : !Files.isReadable(p) ? "permission denied" : null;
    }

    /** The trace read when none is given: the real lab trace when the build embedded it, else the hand-written sample. */
    static String embeddedResource() {
        return AnalyzeCommand.class.getResource(AnalyzeCommand.EMBEDDED_LAB) != null
                ? AnalyzeCommand.EMBEDDED_LAB : AnalyzeCommand.EMBEDDED_SAMPLE;
    }

    /** The name reports give {@link #embeddedResource()}'s trace. */
    static String embeddedName(String resource) {
        return resource.equals(AnalyzeCommand.EMBEDDED_LAB) ? "testdata/lab/6.1/fatal-race.jsonl.gz" : "sample/fatal-race.jsonl";
    }

    /** The one readable-input check of every command: false (and one line on {@code err}) for the first bad TRACE. */
    static boolean check(String command, List<String> traces, PrintStream err) {
        if (traces == null) return true;
        for (String t : traces) {
            String why = unreadable(t);
            if (why != null) {
                err.println("aertrace " + command + ": cannot read " + t + ": " + why);
                return false;
            }
        }
        return true;
    }

    /** Streams every episode of {@code trace} to {@code sink}; returns what ingest saw. */
    static SourceReport read(String command, String trace, Consumer<AnalyzedEpisode> sink, PrintStream err) throws IOException {
        Analyzer a = new Analyzer();
        SourceReport r;
        if (trace == null) {
            String res = embeddedResource();
            String name = embeddedName(res);
            err.println("aertrace " + command + ": no TRACE given; using the embedded " + name);
            r = a.analyze(name, () -> AnalyzeCommand.class.getResourceAsStream(res), sink);
        } else if (trace.equals("-")) {
            r = analyze(a, "<stdin>", System.in, sink, err, command);
        } else {
            Path p = Path.of(trace);
            if (Files.isRegularFile(p) && isTrace(p)) r = a.analyze(trace, () -> Files.newInputStream(p), sink);
            else try (InputStream in = Files.newInputStream(p)) {
                r = analyze(a, trace, in, sink, err, command);
            }
        }
        for (Issue i : r.issues()) {
            if (i.kind().informational()) continue;
            err.println("aertrace " + command + ": " + r.source() + ": " + i.kind().id() + " ×" + i.count()
                    + (i.lines().isEmpty() ? "" : " (lines " + i.lines().stream().limit(5).map(String::valueOf)
                    .reduce((x, y) -> x + "," + y).orElse("") + (i.lines().size() > 5 ? ",…" : "") + ")")
                    + (i.detail() == null ? "" : ": " + i.detail()));
        }
        return r;
    }

    private static boolean isTrace(Path p) throws IOException {
        try (InputStream raw = Files.newInputStream(p)) {
            return dev.aertrace.kernellog.KernelLogs.sniff(dev.aertrace.kernellog.KernelLogs.open(raw))
                    == dev.aertrace.kernellog.KernelLogs.Kind.TRACE;
        }
    }

    /** A trace or, detected by content, a kernel log (dev.aertrace.kernellog). */
    private static SourceReport analyze(Analyzer a, String name, InputStream raw, Consumer<AnalyzedEpisode> sink,
                                        PrintStream err, String command) throws IOException {
        java.io.BufferedInputStream in = dev.aertrace.kernellog.KernelLogs.open(raw);
        dev.aertrace.kernellog.KernelLogs.Kind kind = dev.aertrace.kernellog.KernelLogs.sniff(in);
        if (kind == dev.aertrace.kernellog.KernelLogs.Kind.KERNEL_LOG)
            return new dev.aertrace.kernellog.KernelLogAnalyzer().analyze(name, in, sink);
        if (kind == dev.aertrace.kernellog.KernelLogs.Kind.QEMU_LOG) {
            err.println("aertrace " + command + ": " + name + ": a QEMU/libvirt log; only `aertrace analyze` joins it to episodes");
            return new dev.aertrace.kernellog.PostMortem(Analyzer.Options.defaults()).qemu(name, in);
        }
        if (kind == dev.aertrace.kernellog.KernelLogs.Kind.RASDAEMON_DB)
            err.println("aertrace " + command + ": " + name + ": " + dev.aertrace.kernellog.KernelLogs.RASDAEMON_HINT);
        if (kind == dev.aertrace.kernellog.KernelLogs.Kind.UNKNOWN)
            err.println("aertrace " + command + ": " + name + ": " + dev.aertrace.kernellog.KernelLogs.UNKNOWN_HINT);
        return a.analyze(name, in, sink);
    }

    static List<AnalyzedEpisode> readAll(String command, String trace, PrintStream err) throws IOException {
        List<AnalyzedEpisode> out = new ArrayList<>();
        read(command, trace, out::add, err);
        return out;
    }

    /** File-name stem without .jsonl/.gz, for output names. */
    static String stem(String source) {
        String n = source == null ? "trace" : Path.of(source).getFileName().toString();
        for (String ext : new String[] {".gz", ".jsonl", ".json"}) if (n.endsWith(ext)) n = n.substring(0, n.length() - ext.length());
        return n.isEmpty() ? "trace" : n;
    }
}
