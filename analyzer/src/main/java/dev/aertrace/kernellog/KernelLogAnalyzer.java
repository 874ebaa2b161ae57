package dev.aertrace.kernellog;

import dev.aertrace.ingest.Diagnostics;
import dev.aertrace.ingest.Event;
import dev.aertrace.ingest.SourceReport;
import dev.aertrace.ingest.Topology;
import dev.aertrace.ingest.TraceHeader;
import dev.aertrace.race.AnalyzedEpisode;
import dev.aertrace.pipeline.Analyzer;
import dev.aertrace.race.Outcome;
import dev.aertrace.race.RaceDetector;
import dev.aertrace.race.Verdict;
import dev.aertrace.timeline.Episode;
import dev.aertrace.timeline.TimelineBuilder;

import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * The post-mortem pipeline for one kernel log: {@link KernelLogReader} → the analyzer's own timeline and verdict
 * code → episodes marked for what a log cannot show. A kernel log has the error, the reset's end, and the
 * result, but no user access and no reset start: every episode with a recovery gets an {@code inconclusive}
 * verdict saying that no race verdict is possible from the log, and which spans are bounds rather than
 * measurements. A recovery the kernel itself reported as failed keeps its {@code recovery-failed} verdict,
 * quoted from the log.
 */
public final class KernelLogAnalyzer {
    private final Analyzer.Options opt;
    private final Patterns patterns;
    private LogLine.Clock lastClock;

    public KernelLogAnalyzer(Analyzer.Options opt) {
        this.opt = opt;
        this.patterns = Patterns.builtin();
    }

    public KernelLogAnalyzer() { this(Analyzer.Options.defaults()); }

    /** Never throws for bad content: every problem is an issue in the report, with its line number. */
    public SourceReport analyze(String source, InputStream in, Consumer<AnalyzedEpisode> sink) {
        return analyzeWithClock(source, in, (a, offset) -> sink.accept(a));
    }

    /** Same; each episode comes with its wall-clock offset (realtime - log clock) when the log gives one. */
    SourceReport analyzeWithClock(String source, InputStream in, java.util.function.BiConsumer<AnalyzedEpisode, Long> sink) {
        Diagnostics diag = new Diagnostics();
        RaceDetector detector = new RaceDetector(opt.race());
        Object[] cur = new Object[2]; // header, story in force while the timeline emits
        KernelLogReader.Stats[] st = new KernelLogReader.Stats[1];
        TimelineBuilder timeline = new TimelineBuilder(source, opt.timeline(), diag,
                ep -> sink.accept(mark(detector.analyze(ep, (TraceHeader) cur[0]), (LogStory) cur[1], st[0]),
                        cur[1] == null ? null : ((LogStory) cur[1]).wallOffset()));
        long[] events = new long[1];
        Map<String, Long> byType = new TreeMap<>();
        KernelLogReader reader = new KernelLogReader(patterns, diag, (h, ev, story) -> {
            timeline.header(h); // closes the previous error's episode under its own header
            cur[0] = h;
            cur[1] = story;
            for (Event e : ev) {
                events[0]++;
                byType.merge(e.type(), 1L, Long::sum);
                timeline.event(e);
            }
        });
        st[0] = reader.stats();
        KernelLogReader.Stats s = reader.read(in);
        timeline.end();
        lastClock = s.clock;
        TraceHeader summary = new TraceHeader(1, describe(s), s.host != null ? s.host : "(not in the log)", s.kernel, s.bootId, 0, 0, List.of(), List.of(),
                List.of(), Topology.EMPTY, 0);
        return new SourceReport(source, summary, null, s.lines, events[0], Map.copyOf(byType), Map.of(), Map.of(),
                s.suppressed, s.boots, diag.issues());
    }

    /** The clock of the last log analyzed (null when it had no kernel-log line). */
    LogLine.Clock lastClock() { return lastClock; }

    /** "kernel log (dmesg …, 1 µs)" for the report's input line. */
    static String describe(KernelLogReader.Stats s) {
        String f = s.formats.isEmpty() ? "no kernel-log lines recognised" : s.formats.keySet().iterator().next().what;
        return "kernel log (" + f + (s.resolutionNs > 0 ? ", resolution " + res(s.resolutionNs) : "") + ", "
                + s.errors + " AER error" + (s.errors == 1 ? "" : "s")
                + (s.losses > 0 ? ", " + s.losses + " device loss" + (s.losses == 1 ? "" : "es") : "") + ")";
    }

    static String res(long ns) {
        return ns >= 1_000_000_000L ? (ns / 1_000_000_000L) + " s" : ns >= 1_000_000 ? (ns / 1_000_000) + " ms"
                : ns >= 1000 ? (ns / 1000) + " µs" : ns + " ns";
    }

    private static AnalyzedEpisode mark(AnalyzedEpisode a, LogStory story, KernelLogReader.Stats s) {
        Episode ep = a.episode();
        if (story instanceof LogLoss loss) return LossVerdicts.mark(a, loss, describeLine(loss.resolutionNs, s));
        if (!(story instanceof LogError c)) return a;
        List<Verdict> out = new ArrayList<>();
        boolean failed = false;
        for (Verdict v : a.verdicts()) {
            switch (v.kind()) {
                case RECOVERY_FAILED -> {
                    failed = c.recovered != null && !c.recovered;
                    out.add(new Verdict(v.kind(), v.dev(), failedSentence(c), v.evidence(), !failed));
                }
                case DEVICE_NOT_RESET -> out.add(v);
                case INCONCLUSIVE -> out.add(0, v);
                // no user side in a log: anything else would rest on events the log does not have
                default -> { }
            }
        }
        if (!c.uncorrectable()) return new AnalyzedEpisode(ep, List.copyOf(out), a.outcome() == Outcome.INCONCLUSIVE
                ? Outcome.INCONCLUSIVE : Outcome.CLEAN, List.of());
        List<Event> ev = new ArrayList<>();
        for (Event e : ep.events()) if (e instanceof Event.AerError || e instanceof Event.ResetExit || e instanceof Event.RecoveryExit) ev.add(e);
        StringBuilder sb = new StringBuilder("Rebuilt from a kernel log (" + describeLine(c.resolutionNs, s) + "): it shows the error, ");
        if (c.resetBridge != null) sb.append("the end of the host reset on ").append(c.resetBridge).append(" (")
                .append(c.resetRc == null ? "" : "rc " + c.resetRc + ", ").append("line ").append(c.resetLine)
                .append("; its start is not logged, so the reset span is at most ")
                .append(dev.aertrace.text.Durations.dur(Math.max(0, c.resetTs - Math.max(c.ts, c.beforeResetTs)) + c.resolutionNs))
                .append(", from the message before it) ");
        sb.append(c.recovered == null ? "but no result" : "and the result (" + (c.recovered ? "successful" : "failed")
                + ", line " + c.resultLine + ")");
        sb.append(", but no user access to the device: whether a vfio user or guest raced the recovery cannot be"
                + " told from it (record with the agent for that). RECOVERED/DISCONNECT stand for the log's"
                + " \"successful\"/\"failed\" (and a link reset's rc), not for values the log shows.");
        if (!c.notes.isEmpty()) sb.append(" Also logged: ").append(String.join("; ", c.notes.subList(0, Math.min(6, c.notes.size())))).append('.');
        out.add(0, new Verdict(Verdict.Kind.INCONCLUSIVE, ep.device(), sb.toString(), List.copyOf(ev), false));
        Outcome o = failed && !ep.endedMidRecovery() ? Outcome.RECOVERY_FAILED : Outcome.INCONCLUSIVE;
        return new AnalyzedEpisode(ep, List.copyOf(out), o, List.of());
    }

    private static String describeLine(long resolutionNs, KernelLogReader.Stats s) {
        String f = s.formats.isEmpty() ? "?" : s.formats.keySet().iterator().next().name().toLowerCase().replace('_', ' ');
        return f + ", times to " + res(resolutionNs);
    }

    private static String failedSentence(LogError c) {
        StringBuilder sb = new StringBuilder();
        if (c.recovered != null && !c.recovered)
            sb.append("The kernel logged \"device recovery failed\" on ").append(c.resultDev).append(" (line ")
                    .append(c.resultLine).append(")");
        else sb.append("The reset failed");
        if (c.resetBridge != null && (c.resetFailed || (c.resetRc != null && c.resetRc != 0)))
            sb.append(" after the link reset on ").append(c.resetBridge).append(c.resetRc != null ? " returned " + c.resetRc : " failed")
                    .append(" (line ").append(c.resetLine).append(")");
        sb.append(": the devices below ").append(c.resetBridge != null ? c.resetBridge : c.port)
                .append(" were not recovered.");
        return sb.toString();
    }
}
