package dev.aertrace.kernellog;

import dev.aertrace.ingest.Issue;
import dev.aertrace.ingest.SourceReport;
import dev.aertrace.ingest.TraceHeader;
import dev.aertrace.race.AnalyzedEpisode;
import dev.aertrace.pipeline.Analyzer;
import dev.aertrace.timeline.Episode;
import dev.aertrace.text.Durations;

import java.io.InputStream;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * Kernel logs given together with traces: an error the agent traced is also in the same boot's kernel log, and
 * must be counted once. Log episodes are held until every input is read (a log's episodes are few: one per
 * error, a handful of events each); then each is matched against the traced episodes — same device, same
 * severity, same kernel and boot when both say, start within the join tolerance on a shared clock — and a
 * matched one is dropped in favour of the trace, which has the user side. Unmatched log episodes (errors before
 * the agent started, after it stopped, on other devices) are reported as the log's own.
 *
 * <p>Clocks: a trace's ts is CLOCK_MONOTONIC; dmesg / kmsg / journalctl short-monotonic and json give the printk
 * clock, which counts from the same boot (on x86 both come from the TSC; they differ by clock adjustment, so the
 * tolerance grows with uptime: 1 s + 0.1 %). A log with wall-clock times (dmesg --time-format iso, journalctl
 * short-iso) is joined through the trace header's (mono_ns, realtime_ns) pair. dmesg -T and journalctl
 * short/short-precise print local time without a zone (and short-precise without a year): such a log is never
 * joined, and the command says so.
 */
public final class PostMortem {
    private record TraceEp(String source, String device, Integer severity, long start, String kernel, String host,
                           TraceHeader[] header, int id) {}

    private record LogRun(SourceReport report, List<AnalyzedEpisode> episodes, List<Long> offsets, LogLine.Clock clock) {}

    private final Analyzer.Options opt;
    private final List<LogRun> logs = new ArrayList<>();
    private final List<TraceEp> traced = new ArrayList<>();
    private TraceHeader[] pending = new TraceHeader[1];
    private long held;
    /** Bounds memory when a huge journal is given: beyond this, log episodes are reported without a join. */
    static final int MAX_HELD = 100_000;

    public PostMortem(Analyzer.Options opt) { this.opt = opt; }

    public boolean hasLogs() { return !logs.isEmpty(); }

    /** Reads a kernel log now; its episodes wait for {@link #flush}. */
    public void log(String name, InputStream in, Consumer<AnalyzedEpisode> overflow) {
        List<AnalyzedEpisode> eps = new ArrayList<>();
        List<Long> offsets = new ArrayList<>();
        KernelLogAnalyzer a = new KernelLogAnalyzer(opt);
        SourceReport r = a.analyzeWithClock(name, in, (ep, offset) -> {
            if (held < MAX_HELD) {
                eps.add(ep);
                offsets.add(offset);
                held++;
            } else overflow.accept(decorate(ep, offset, true));
        });
        logs.add(new LogRun(r, eps, offsets, a.lastClock()));
    }

    private final List<QemuLog.Notification> notifications = new ArrayList<>();

    /** Reads a QEMU/libvirt log: its vfio error notifications decorate the episodes that follow. */
    public SourceReport qemu(String name, InputStream in) {
        QemuLog.Result r = QemuLog.read(name, in);
        notifications.addAll(r.notifications());
        return r.report();
    }

    /**
     * Adds a {@code vm-stopped} verdict when a QEMU log has the vfio error notification for a device of the episode
     * inside it: both placed on the host's wall clock ({@code realtimeOffset}: wall minus the episode's clock).
     * Safe on several threads once every QEMU log is read (they only read the notifications then).
     */
    public AnalyzedEpisode decorate(AnalyzedEpisode a, Long realtimeOffset, boolean fromLog) {
        if (notifications.isEmpty()) return a;
        Episode ep = a.episode();
        long windowStart = ep.start() - 1_000_000_000L, windowEnd = ep.end() + 1_000_000_000L;
        for (QemuLog.Notification n : notifications) {
            if (!(n.dev().equals(ep.device()) || ep.affected().contains(n.dev()))) continue;
            if (n.realtimeNs() == null || realtimeOffset == null) {
                unplaced.add(n.source() + " line " + n.line() + " (" + n.dev() + ")");
                continue;
            }
            long at = n.realtimeNs() - realtimeOffset;
            if (at < windowStart || at > windowEnd) continue;
            StringBuilder sb = new StringBuilder("QEMU");
            if (n.vm() != null) sb.append(" (VM ").append(n.vm()).append(")");
            sb.append(" printed vfio_err_notifier_handler(").append(n.dev()).append(") at ").append(Durations.rel(ep.start(), at))
                    .append(" (").append(n.source()).append(" line ").append(n.line()).append(") and stopped the VM there")
                    .append(" (internal-error)");
            if (ep.recoveryEnd() != null) {
                boolean ok = ep.result() != null && ep.result() == 5
                        && a.verdicts().stream().noneMatch(v -> v.kind() == dev.aertrace.race.Verdict.Kind.RECOVERY_FAILED);
                sb.append(at <= ep.recoveryEnd() ? ", before" : ", after").append(" the host ")
                        .append(ok ? "recovered the device" : "ended its failed recovery").append(" at ")
                        .append(Durations.rel(ep.start(), ep.recoveryEnd()));
            }
            sb.append(": the guest never saw the recovery; the device needs a reset by the guest or the VM a restart"
                    + " (times joined on the host's wall clock: QEMU's -msg timestamp and the ")
                    .append(fromLog ? "kernel log's wall-clock stamps" : "trace header's realtime/monotonic pair").append(").");
            // The trace's QEMU lane already saw this stop (vm_stop on QEMU's pid): one stop, one verdict — the log's
            // line is a second witness of it, not a second stop.
            dev.aertrace.race.Verdict traced = null;
            for (dev.aertrace.race.Verdict v : a.verdicts())
                if (v.kind() == dev.aertrace.race.Verdict.Kind.VM_STOPPED && n.dev().equals(v.dev()) && v.to() >= at - 1_000_000_000L
                        && v.from() <= at + 1_000_000_000L) traced = v;
            if (traced != null) {
                List<dev.aertrace.race.Verdict> vs = new ArrayList<>(a.verdicts());
                vs.set(vs.indexOf(traced), new dev.aertrace.race.Verdict(traced.kind(), traced.dev(), traced.sentence()
                        + " QEMU's log has the same stop: " + (n.vm() != null ? "VM " + n.vm() + ", " : "") + "vfio_err_notifier_handler("
                        + n.dev() + ") at " + Durations.rel(ep.start(), at) + " (" + n.source() + " line " + n.line() + "; joined on the host's"
                        + " wall clock, QEMU's -msg timestamp against the trace header's realtime/monotonic pair).",
                        traced.evidence(), traced.tentative(), traced.gaps(), traced.from(), traced.to()));
                return new AnalyzedEpisode(ep, List.copyOf(vs), a.outcome(), a.qemu());
            }
            List<dev.aertrace.ingest.Event> ev = new ArrayList<>(ep.errors().stream().limit(1).toList());
            for (dev.aertrace.ingest.Event e : ep.events()) if (e instanceof dev.aertrace.ingest.Event.RecoveryExit) ev.add(e);
            List<dev.aertrace.race.Verdict> vs = new ArrayList<>(a.verdicts());
            vs.add(new dev.aertrace.race.Verdict(dev.aertrace.race.Verdict.Kind.VM_STOPPED, n.dev(), sb.toString(), List.copyOf(ev), false));
            dev.aertrace.race.Outcome o = a.outcome();
            // The stop is a fact in QEMU's own words: it outranks "clean" and a log's "cannot tell about races".
            if (o == dev.aertrace.race.Outcome.CLEAN || (fromLog && o == dev.aertrace.race.Outcome.INCONCLUSIVE && !ep.endedMidRecovery()))
                o = dev.aertrace.race.Outcome.RECOVERY_FAILED;
            return new AnalyzedEpisode(ep, List.copyOf(vs), o, a.qemu());
        }
        return a;
    }

    /** Sorted, so the order threads add to it in does not show; {@link #decorate} runs on several threads. */
    private final java.util.Set<String> unplaced = new java.util.concurrent.ConcurrentSkipListSet<>();

    /** A traced episode, to join log episodes against. */
    public void traced(AnalyzedEpisode a) {
        traced(Traced.of(a));
    }

    /** What {@link #traced} keeps of an episode; made on the thread that analysed it, passed on in order. */
    public record Traced(String source, String device, Integer severity, long start, String kernel, String host, int id) {
        public static Traced of(AnalyzedEpisode a) {
            Episode ep = a.episode();
            return new Traced(ep.source(), ep.device(), ep.severity(), ep.start(), ep.kernel(), ep.host(), ep.id());
        }
    }

    public void traced(Traced t) {
        if (traced.size() < MAX_HELD)
            traced.add(new TraceEp(t.source(), t.device(), t.severity(), t.start(), t.kernel(), t.host(), pending, t.id()));
    }

    /** The trace whose episodes were just passed to {@link #traced} is done; its header gives the clock offset. */
    public void tracedSource(SourceReport r) {
        pending[0] = r.header();
        pending = new TraceHeader[1];
    }

    /** Emits the log episodes no trace has, then each log's source report. */
    public void flush(Consumer<AnalyzedEpisode> episodes, Consumer<SourceReport> sources, PrintStream err) {
        boolean[] used = new boolean[traced.size()];
        for (LogRun run : logs) {
            int dropped = 0;
            boolean wall = run.clock == LogLine.Clock.WALL_NO_YEAR;
            if (wall && !traced.isEmpty())
                err.println("aertrace: " + run.report.source() + ": its times are local wall-clock times without a"
                        + " zone or year (dmesg -T / journalctl -o short[-precise]): not joined to the traces; use"
                        + " dmesg --time-format iso or journalctl -k -o short-iso|json to join");
            for (int k = 0; k < run.episodes.size(); k++) {
                AnalyzedEpisode a = run.episodes.get(k);
                int t = wall ? -1 : match(a.episode(), run, used);
                if (t < 0) {
                    episodes.accept(decorate(a, run.offsets.get(k), true));
                    continue;
                }
                used[t] = true;
                dropped++;
                TraceEp te = traced.get(t);
                err.println("aertrace: " + run.report.source() + " episode " + a.episode().id() + " (" + a.episode().device()
                        + ", " + (a.episode().severity() == null && !a.episode().hasRecovery() ? "device loss"
                        : KernelLogReader.sevName(a.episode().severity())) + ", log line " + firstLine(a.episode())
                        + ") is episode " + te.id + " of " + te.source + " (" + Durations.dur(Math.abs(logStart(te, run) - a.episode().start()))
                        + " apart on the shared clock): counted once, from the trace");
            }
            sources.accept(run.report);
            if (dropped > 0 && run.episodes.size() == dropped) continue;
            if (run.episodes.isEmpty()) err.println("aertrace: " + run.report.source() + ": no AER error or recovery found in "
                    + run.report.lines() + " lines" + (run.report.issues().stream().anyMatch(i -> i.kind() == Issue.Kind.EMPTY_INPUT) ? "" : ""));
        }
        logs.clear();
        if (!unplaced.isEmpty())
            err.println("aertrace: QEMU notifications not placed in time (no -msg timestamp, or a kernel log without wall-clock"
                    + " stamps: use journalctl -o json or dmesg --time-format iso): " + String.join(", ", unplaced));
    }

    private static long firstLine(Episode ep) {
        if (!ep.errors().isEmpty()) return ep.errors().get(0).line();
        return ep.events().isEmpty() ? 0 : ep.events().get(0).line();
    }

    /** The traced episode's start on the log's clock. */
    private static long logStart(TraceEp te, LogRun run) {
        TraceHeader h = te.header[0];
        if (run.clock == LogLine.Clock.REALTIME && h != null && h.realtimeNs() != 0) return h.realtime(te.start);
        return te.start;
    }

    private int match(Episode ep, LogRun run, boolean[] used) {
        int best = -1;
        long bestD = Long.MAX_VALUE;
        long tol = 1_000_000_000L + Math.abs(ep.start()) / 1000;
        for (int i = 0; i < traced.size(); i++) {
            if (used[i]) continue;
            TraceEp te = traced.get(i);
            if (!Objects.equals(te.device, ep.device()) || !Objects.equals(te.severity, ep.severity())) continue;
            TraceHeader h = te.header[0];
            if (run.clock == LogLine.Clock.REALTIME && (h == null || h.realtimeNs() == 0)) continue;
            if (ep.kernel() != null && te.kernel != null && !ep.kernel().equals(te.kernel)) continue;
            String logBoot = run.report.header() == null ? null : run.report.header().bootId();
            if (logBoot != null && h != null && h.bootId() != null && !sameBoot(logBoot, h.bootId())) continue;
            long d = Math.abs(logStart(te, run) - ep.start());
            if (d <= tol && d < bestD) {
                bestD = d;
                best = i;
            }
        }
        return best;
    }

    /** journald writes boot ids without dashes, /proc/sys/kernel/random/boot_id with them. */
    private static boolean sameBoot(String a, String b) {
        return a.replace("-", "").equalsIgnoreCase(b.replace("-", ""));
    }
}
