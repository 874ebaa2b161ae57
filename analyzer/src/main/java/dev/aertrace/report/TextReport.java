package dev.aertrace.report;

import dev.aertrace.ingest.Event;
import dev.aertrace.ingest.Issue;
import dev.aertrace.ingest.SourceReport;
import dev.aertrace.ingest.TraceGap;
import dev.aertrace.race.AnalyzedEpisode;
import dev.aertrace.pci.Pci;
import dev.aertrace.race.Verdict;
import dev.aertrace.timeline.Episode;
import dev.aertrace.timeline.Phase;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

import static dev.aertrace.text.Durations.dur;

import dev.aertrace.text.Durations;
import dev.aertrace.text.Text;

/**
 * Plain text for people. Every line fits in 80 columns so an episode can be pasted into a mailing-list mail;
 * the compact timeline marks with '!' the lines that are evidence for a verdict.
 */
public final class TextReport implements ReportSink {
    public static final int WIDTH = 80;

    private final PrintStream out;
    private final int maxTimelineLines;

    public TextReport(PrintStream out, int maxTimelineLines) {
        this.out = out;
        this.maxTimelineLines = maxTimelineLines;
    }

    @Override
    public void episode(AnalyzedEpisode a) {
        for (String l : render(a, maxTimelineLines)) out.println(l);
        out.println();
        out.flush();
    }

    @Override
    public boolean renders() { return true; }

    /**
     * What {@link #episode} prints, as characters: println is print plus the line separator, so printing this
     * gives the same bytes in whatever charset the stream has.
     */
    @Override
    public Rendered render(AnalyzedEpisode a) {
        String nl = System.lineSeparator();
        StringBuilder sb = new StringBuilder(4096);
        for (String l : render(a, maxTimelineLines)) sb.append(l).append(nl);
        return new Rendered.Text(sb.append(nl).toString());
    }

    @Override
    public void write(Rendered r) {
        if (!(r instanceof Rendered.Text t)) throw new IllegalArgumentException("not a text episode: " + r);
        out.print(t.text());
        out.flush();
    }

    /** The kernel's return value, flagged when the evidence says the recovery failed anyway. */
    private static String returned(AnalyzedEpisode a) {
        Integer r = a.episode().result();
        boolean failed = a.verdicts().stream().anyMatch(v -> v.kind() == Verdict.Kind.RECOVERY_FAILED);
        return Pci.ers(r) + (r != null && r == 5 && failed ? " (but FAILED)" : "");
    }

    /**
     * What every "+x ms" of the episode counts from: a device loss (neither an AER event nor a recovery; lanes'
     * EpisodeLanes.deviceLoss, a layer above this one) has no error, and counts from its own first event.
     */
    static String origin(Episode ep) {
        return ep.errors().isEmpty() && !ep.hasRecovery() ? "the first event of the device loss" : "the error";
    }

    /** The episode as lines of at most {@link #WIDTH} columns. */
    public static List<String> render(AnalyzedEpisode a, int maxTimelineLines) {
        Episode ep = a.episode();
        List<String> L = new ArrayList<>();
        String sev = ep.severity() != null ? Pci.severity(ep.severity()) : (ep.fatal() ? "fatal?" : "no AER event");
        L.add(cut("== #" + ep.id() + " " + a.outcome().name() + "  " + ep.device() + "  " + sev
                + (ep.recoveryEnd() != null ? "  " + returned(a) + " in " + dur(ep.recoveryEnd()
                    - (ep.recoveryStart() != null ? ep.recoveryStart() : ep.start())) : "")
                + "  (" + shortSource(ep.source()) + ")"));
        if (ep.status() != null)
            wrap(L, "   AER status " + Pci.aerStatus(ep.severity(), ep.status())
                    // aer_get_device_error_info skips the status read of an endpoint on a fatal error (link down)
                    + (ep.status() == 0 && ep.severity() != null && ep.severity() == 1
                        ? " (not read: the kernel skips an endpoint's status on a fatal error)" : "")
                    + (ep.errors().size() > 1 ? " (+" + (ep.errors().size() - 1) + " more AER events)" : ""), "     ");
        wrap(L, "   kernel " + nz(ep.kernel()) + " on " + nz(ep.host()) + "; bridge " + nz(ep.bridge())
                + "; affected " + String.join(" ", ep.affected()), "     ");
        if (ep.startedMidRecovery()) L.add("   trace starts inside this recovery");
        if (ep.endedMidRecovery()) L.add("   trace ends inside this recovery");
        L.add("   phases (ms since " + origin(ep) + "):");
        for (Phase p : ep.phases()) {
            String d = p.kind() == Phase.Kind.AER ? "" : p.end() == null ? "open" : dur(p.end() - p.start());
            StringBuilder sb = new StringBuilder("     ");
            right(sb, p.kind().name().toLowerCase(Locale.ROOT), 14).append(' ');
            left(sb, Durations.offsetMs(p.start() - ep.start()), 10).append("  ");
            right(sb, d, 12).append(' ').append((p.dev() != null && p.kind() != Phase.Kind.AER ? p.dev() + " " : "")
                    + (p.kind() == Phase.Kind.RECOVERY && ep.result() != null ? "→ " + Pci.ers(ep.result())
                       : p.detail() != null ? p.detail() : ""));
            L.add(cut(sb.toString()));
        }
        if (a.outcome() == dev.aertrace.race.Outcome.CLEAN) L.add("   verdict: clean — no user access raced the host recovery");
        if (!a.verdicts().isEmpty()) L.add(a.outcome() == dev.aertrace.race.Outcome.CLEAN ? "   notices:" : "   verdicts:");
        Set<Event> evidence = new HashSet<>();
        for (Verdict v : a.verdicts()) {
            L.add(cut("   * " + v.kind().id + (v.tentative() ? " (tentative)" : "") + " [" + v.kind().category.name()
                    .toLowerCase(Locale.ROOT) + "] " + nz(v.dev())));
            wrap(L, "     " + v.sentence(), "     ");
            StringBuilder lines = evidenceLines(v, evidence);
            if (lines.length() > 0) wrap(L, "     evidence lines " + lines, "       ");
            if (v.kind() != Verdict.Kind.INCONCLUSIVE)
                for (TraceGap g : v.gaps().subList(0, Math.min(3, v.gaps().size())))
                    wrap(L, "     gap " + g.describe(), "       ");
        }
        for (String q : dev.aertrace.qemu.QemuText.summary(a)) wrap(L, "   " + q, "     ");
        L.add("   timeline (ms since " + origin(ep) + "; ! = evidence):");
        FoldedTimeline.append(L, ep, evidence, a.qemu(), maxTimelineLines);
        if (ep.elidedEvents() > 0) L.add("     (" + ep.elidedEvents() + " events beyond the per-episode cap not kept)");
        return L;
    }

    /**
     * The verdict's evidence added to {@code evidence}, and its line numbers. Apart from render: a verdict's evidence
     * may be thousands of reads, and a loop that long in render made C2 compile all of render (its largest
     * compilation at 10 M events, 0.11 s), which runs once per episode.
     */
    private static StringBuilder evidenceLines(Verdict v, Set<Event> evidence) {
        StringBuilder lines = new StringBuilder();
        for (Event e : v.evidence()) {
            evidence.add(e);
            long line = e.line();
            if (line > 0) lines.append(lines.length() == 0 ? "" : ",").append(line);
        }
        return lines;
    }

    /** {@code s} right-aligned in {@code w} columns ("%10s"). */
    static StringBuilder left(StringBuilder sb, String s, int w) {
        String v = String.valueOf(s);
        for (int i = v.length(); i < w; i++) sb.append(' ');
        return sb.append(v);
    }

    /** {@code s} left-aligned in {@code w} columns ("%-4s"). */
    static StringBuilder right(StringBuilder sb, String s, int w) {
        String v = String.valueOf(s);
        sb.append(v);
        for (int i = v.length(); i < w; i++) sb.append(' ');
        return sb;
    }

    private static String nz(String s) { return s == null ? "?" : s; }

    private static String shortSource(String s) {
        int i = s.lastIndexOf('/');
        return i >= 0 ? s.substring(i + 1) : s;
    }
    static String cut(String s) {
        return Text.clip(s, WIDTH);
    }

    /** A paragraph longer than this (a sentence or evidence list of thousands of items) is cut: the mail stays readable. */
    static final int MAX_WRAPPED_LINES = 24;

    /** Word-wraps {@code s} to {@link #WIDTH}; continuation lines start with {@code indent}. */
    static void wrap(List<String> out, String s, String indent) {
        Text.wrap(out, s, indent, WIDTH, MAX_WRAPPED_LINES);
    }

    @Override
    public void source(SourceReport r) {
        List<String> L = new ArrayList<>();
        String h = r.header() == null ? "no header" : "kernel " + r.header().kernel() + ", host " + r.header().host()
                + ", agent " + r.header().agent();
        wrap(L, "-- input " + r.source() + ": " + r.lines() + " lines, " + r.events() + " events; " + h, "   ");
        if (Totals.notATrace(r)) L.add("   not an aertrace trace: no header and no readable event line");
        if (r.footer() != null)
            L.add(cut("   footer: " + r.footer().events() + " events, " + r.footer().lost() + " lost, reason "
                    + r.footer().reason()));
        if (r.lostEvents() > 0) L.add("   the agent reported " + r.lostEvents() + " lost events");
        for (Issue i : r.issues()) {
            StringBuilder lines = new StringBuilder();
            for (Long l : i.lines()) lines.append(lines.length() == 0 ? "" : ",").append(l);
            wrap(L, "   " + i.kind().id() + " ×" + i.count() + (lines.length() > 0 ? " (line " + lines
                    + (i.count() > i.lines().size() ? ",…" : "") + ")" : "") + ": " + i.kind().meaning
                    + (i.detail() != null ? " — first: " + i.detail() : ""), "     ");
        }
        for (Map.Entry<String, Long> e : new java.util.TreeMap<>(r.unknownTypes()).entrySet()) // Map.copyOf: salted order
            L.add(cut("   unknown type \"" + e.getKey() + "\" ×" + e.getValue()));
        for (String l : L) out.println(l);
        out.flush();
    }

    @Override
    public void finish(Totals t) {
        StringBuilder s = new StringBuilder("== summary: " + t.episodes + " episode" + (t.episodes == 1 ? "" : "s"));
        t.outcomes.forEach((k, v) -> { if (v > 0) s.append(", ").append(v).append(" ").append(k.id()); });
        s.append("; exit ").append(t.exitCode());
        List<String> L = new ArrayList<>();
        wrap(L, s.toString(), "   ");
        if (!t.verdicts.isEmpty()) {
            StringBuilder v = new StringBuilder("   verdicts:");
            t.verdicts.forEach((k, n) -> v.append(" ").append(k).append("×").append(n));
            wrap(L, v.toString(), "     ");
        }
        if (t.unreported > 0)
            wrap(L, "   bound: " + t.unreported + " episodes after the first " + Totals.MAX_REPORTED + " are counted above"
                    + " but not written (analyze a part of the input to see them), so the result is not confident", "     ");
        if (t.inputGaps)
            wrap(L, "   the input has holes (see the issues above): errors may be missing entirely, so a clean"
                    + " result is not confident", "     ");
        for (String l : L) out.println(l);
        out.flush();
    }
}
