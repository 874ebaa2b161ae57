package dev.aertrace.report;

import dev.aertrace.ingest.Event;
import dev.aertrace.ingest.Issue;
import dev.aertrace.ingest.SourceReport;
import dev.aertrace.ingest.TraceGap;
import dev.aertrace.race.AnalyzedEpisode;
import dev.aertrace.pci.Pci;
import dev.aertrace.race.Verdict;
import dev.aertrace.timeline.Access;
import dev.aertrace.timeline.CallbackCall;
import dev.aertrace.timeline.Episode;
import dev.aertrace.timeline.HostReset;
import dev.aertrace.timeline.Phase;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Comparator;
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
            StringBuilder lines = new StringBuilder();
            for (Event e : v.evidence()) {
                evidence.add(e);
                if (e.line() > 0) lines.append(lines.length() == 0 ? "" : ",").append(e.line());
            }
            if (lines.length() > 0) wrap(L, "     evidence lines " + lines, "       ");
            if (v.kind() != Verdict.Kind.INCONCLUSIVE)
                for (TraceGap g : v.gaps().subList(0, Math.min(3, v.gaps().size())))
                    wrap(L, "     gap " + g.describe(), "       ");
        }
        for (String q : dev.aertrace.qemu.QemuText.summary(a)) wrap(L, "   " + q, "     ");
        L.add("   timeline (ms since " + origin(ep) + "; ! = evidence):");
        fold(L, timeline(ep, evidence, a.qemu()), maxTimelineLines);
        if (ep.elidedEvents() > 0) L.add("     (" + ep.elidedEvents() + " events beyond the per-episode cap not kept)");
        return L;
    }

    /** The timeline's rows, at most {@code maxTimelineLines}, repeated user lines folded. */
    private static void fold(List<String> L, List<Row> rows, int maxTimelineLines) {
        // A polling user repeats the same reads; after the first occurrence, runs of identical user lines that
        // are not evidence fold into one "… N repeats" line so the mail shows what changed.
        String[][] recent = new String[RECENT][]; // the last RECENT shown rows' columns, a ring
        int recentN = 0, recentAt = 0;
        int shown = 0, folded = 0, left = rows.size();
        Row lastFolded = null;
        boolean guestFolded = false;
        for (Row row : rows) {
            String[] r = row.cols;
            left--;
            if (r[0].equals(" ") && (r[2].equals("user") || r[2].equals("qemu")) && seen(recent, recentN, r)) {
                folded++;
                lastFolded = row;
                guestFolded |= r[2].equals("qemu");
                continue;
            }
            if (folded > 0) {
                L.add(fold(folded, lastFolded, guestFolded));
                shown++;
                folded = 0;
                guestFolded = false;
            }
            if (shown >= maxTimelineLines) {
                L.add("     … " + (left + 1) + " more lines (--timeline-lines N, or --format json)");
                break;
            }
            L.add(row(row));
            shown++;
            recent[recentAt] = r;
            recentAt = (recentAt + 1) % RECENT;
            if (recentN < RECENT) recentN++;
        }
        if (folded > 0) L.add(fold(folded, lastFolded, guestFolded));
    }

    /** How many shown rows a repeat is looked for in. */
    private static final int RECENT = 6;

    private static boolean seen(String[][] recent, int n, String[] r) {
        for (int i = 0; i < n; i++) if (sameKey(recent[i], r)) return true;
        return false;
    }

    /**
     * A row's key is its side, device and text as one string (cols 2, 3 and 4 joined): two rows repeat each other
     * when those strings are equal. Compared part by part without joining them: a polling user makes thousands of
     * rows per episode, and the joined strings were a large part of the report's cost.
     */
    static boolean sameKey(String[] a, String[] b) {
        String a2 = a[2], a3 = a[3], a4 = a[4], b2 = b[2], b3 = b[3], b4 = b[4];
        // Parts of equal length at the same place: the joined strings are equal only if those parts are.
        if (a2.length() == b2.length()) {
            if (!a2.equals(b2)) return false;
            if (a3.length() == b3.length()) return a3.equals(b3) && a4.equals(b4);
        }
        int n = a2.length() + a3.length() + a4.length();
        if (n != b2.length() + b3.length() + b4.length()) return false;
        for (int i = 0; i < n; i++) if (charAt(a2, a3, a4, i) != charAt(b2, b3, b4, i)) return false;
        return true;
    }

    private static char charAt(String x, String y, String z, int i) {
        if (i < x.length()) return x.charAt(i);
        i -= x.length();
        return i < y.length() ? y.charAt(i) : z.charAt(i - y.length());
    }

    /** A timeline line: mark, offset (formatted only now: most rows are folded or past the cap), side, device, what. */
    private static String row(Row row) {
        String[] r = row.cols;
        StringBuilder sb = new StringBuilder(96).append(r[0]);
        left(sb, row.offset(), 10).append(' ');
        right(sb, r[2], 4).append(' ');
        right(sb, r[3], 8).append(' ').append(r[4]);
        return cut(sb.toString());
    }

    /** {@code s} right-aligned in {@code w} columns ("%10s"). */
    private static StringBuilder left(StringBuilder sb, String s, int w) {
        String v = String.valueOf(s);
        for (int i = v.length(); i < w; i++) sb.append(' ');
        return sb.append(v);
    }

    /** {@code s} left-aligned in {@code w} columns ("%-4s"). */
    private static StringBuilder right(StringBuilder sb, String s, int w) {
        String v = String.valueOf(s);
        sb.append(v);
        for (int i = v.length(); i < w; i++) sb.append(' ');
        return sb;
    }

    /** One folded run: a single repeat is shown as itself, longer runs as a count up to the last one's time. */
    private static String fold(int n, Row last, boolean guest) {
        if (n == 1) return row(last);
        return cut(" ".repeat(17) + "… " + n + " repeats of the " + (guest ? "user and guest" : "user") + " lines above, to "
                + last.offset().strip());
    }

    private static String nz(String s) { return s == null ? "?" : s; }

    private static String shortSource(String s) {
        int i = s.lastIndexOf('/');
        return i >= 0 ? s.substring(i + 1) : s;
    }
    /** A timeline row; its offset column (cols[1]) is null until printed, then {@code ns} formatted. */
    private record Row(long ts, int order, String[] cols, long ns) {
        Row(long ts, int order, String[] cols) { this(ts, order, cols, 0); }

        String offset() {
            if (cols[1] == null) cols[1] = Durations.offsetMs(ns);
            return cols[1];
        }
    }

    private static List<Row> timeline(Episode ep, Set<Event> evidence, List<dev.aertrace.timeline.QemuLane> qemu) {
        List<Row> rows = new ArrayList<>(ep.accesses().size() + 64);
        Marks marks = new Marks(evidence);
        int o = 0;
        for (Event e : ep.events()) {
            // the accesses' own enters and exits (most of the list) are rows below, one per access
            if (e instanceof Event.RwEnter || e instanceof Event.RwExit) continue;
            String what = null;
            String side = "host";
            if (e instanceof Event.AerError x) what = "AER " + Pci.severity(x.severity()) + " " + Pci.aerStatus(x.severity(), x.status());
            else if (e instanceof Event.RecoveryEnter x) what = "pcie_do_recovery enter" + (x.state() != null ? " state=" + Pci.channel(x.state()) : "");
            else if (e instanceof Event.RecoveryExit x) what = "pcie_do_recovery exit → " + Pci.ers(x.ret());
            else if (e instanceof Event.EventfdSignal x) what = "eventfd signal (error irq to user)";
            else if (e instanceof Event.CfgLock x) what = "pci_cfg_access_" + x.op() + (x.ret() != null ? " ret " + x.ret() : "");
            else if (e instanceof Event.VfioErrDetectedEnter x) what = "vfio err_detected enter";
            // a device loss's own steps (pciehp's slot event, the removal, vfio's request): the verdicts cite them
            else if (e instanceof Event.DeviceGone x) what = lossStep(x);
            if (what != null) rows.add(new Row(e.ts(), o++, new String[]{marks.of(e), Durations.offsetMs(e.ts() - ep.start()), side, Text.shortDev(e.dev()), what}));
        }
        for (CallbackCall c : ep.callbacks()) {
            String what = c.cb().wire + " " + (c.driver() == null || c.driver().isEmpty() ? "(no driver)" : c.driver())
                    + (c.result() != null ? " → " + Pci.ers(c.result()) : "") + (c.end() != null ? " " + dur(c.end() - c.start()) : " (no exit)");
            rows.add(new Row(c.start(), o++, new String[]{marks.of(c.enter(), c.exit()), Durations.offsetMs(c.start() - ep.start()), "host", Text.shortDev(c.dev()), what}));
        }
        for (HostReset r : ep.resets()) {
            String what = "  ".repeat(Math.min(r.depth(), 3)) + r.fn() + (r.byRecovery() ? "" : " (not recovery)")
                    + (r.end() != null ? " " + dur(r.end() - r.start()) : " (no exit)") + (r.ret() != null ? " ret " + r.ret() : "");
            rows.add(new Row(r.start(), o++, new String[]{marks.of(r.enter(), r.exit()), Durations.offsetMs(r.start() - ep.start()), "host", Text.shortDev(r.bridge()), what}));
        }
        String lastDev = null, shortDev = null; // one device for most of an episode's accesses: its short name once
        for (Access a : ep.accesses()) {
            if (a.dev() == null || !a.dev().equals(lastDev)) {
                lastDev = a.dev();
                shortDev = Text.shortDev(lastDev);
            }
            rows.add(new Row(a.start(), o++, new String[]{marks.of(a.enter(), a.exit()), null, "user", shortDev,
                    describe(a, ep)}, a.start() - ep.start()));
        }
        for (Event g : ep.gaps()) {
            String what = g instanceof Event.Lost l ? "LOST " + l.count() + " events (cpu " + l.common().cpu() + ")"
                    : "GAP " + (g instanceof Event.Gap x ? x.detail() : g.type() + " out of place");
            rows.add(new Row(g.ts(), o++, new String[]{"!", Durations.offsetMs(g.ts() - ep.start()), "gap", "line " + g.line(), what}));
        }
        for (TraceGap g : ep.holes()) {
            if (g.kind() != TraceGap.Kind.LOSS && g.kind() != TraceGap.Kind.LATE && g.kind() != TraceGap.Kind.INPUT
                    && g.kind() != TraceGap.Kind.CAP) continue; // unpaired enters/exits show as their accesses
            long at = Math.max(g.from(), ep.start());
            String what = "GAP " + g.kind().id() + (g.kind() == TraceGap.Kind.LOSS ? " " + g.count() + " records" : "")
                    + (g.cpu() != null ? " cpu " + g.cpu() : "") + " " + g.bounds();
            rows.add(new Row(at, o++, new String[]{"!", Durations.offsetMs(at - ep.start()), "gap", g.line() > 0 ? "line " + g.line() : "", what}));
        }
        for (dev.aertrace.qemu.QemuText.Row q : dev.aertrace.qemu.QemuText.rows(ep, qemu, evidence))
            rows.add(new Row(q.ts(), o++, q.cols()));
        rows.sort(Comparator.comparingLong(Row::ts).thenComparingInt(Row::order));
        return rows;
    }

    /** A device-loss step as one timeline row (the verdicts give the long phrase). */
    static String lossStep(Event.DeviceGone x) {
        return switch (x.type()) {
            case "pci.remove.enter" -> "removal: pci_stop_and_remove_bus_device";
            case "vfio.remove.enter" -> "vfio_pci_remove: the host takes the device";
            case "vfio.request" -> "vfio request: the user is asked to release it";
            default -> x.what().replace("pciehp handled a slot event", "pciehp slot event").replace(" on the port above it", "");
        };
    }

    static String describe(Access a) { return describe(a, null); }

    /** A duration is shown only when no gap of the episode lies between the access's enter and exit. */
    static String describe(Access a, Episode ep) {
        String who = a.comm();
        boolean gap = false;
        if (ep != null && a.end() != null)
            for (TraceGap g : ep.holes())
                if (g.from() < a.end() && g.to() > a.start() && g.kind() != TraceGap.Kind.TRACE_START) {
                    gap = true;
                    break;
                }
        String held = a.unpaired() ? (a.enter() == null ? " (enter unpaired: gap)" : " (exit unpaired: gap)")
                : a.enter() == null ? " (enter not in trace)" : a.end() == null ? " (no exit)"
                : gap ? " (gap inside)" : a.end() - a.start() >= 10_000_000 ? " held " + dur(a.end() - a.start()) : "";
        boolean showRet = a.ret() != null && switch (a.kind()) {
            case IOCTL, USER_RESET -> true;
            case CONFIG_READ -> a.ret() < 0;
            default -> false;
        };
        if (a.kind() == Access.Kind.OPEN || a.kind() == Access.Kind.CLOSE) return a.phrase() + " " + who;
        return a.phraseWithValue() + (showRet ? " ret " + a.ret() : "") + held + " " + who;
    }

    /**
     * The '!' of a row whose event is evidence. Equal events have the same line, so the evidence's sorted line
     * numbers rule out nearly every row without hashing its event (a record's hash walks all its fields).
     */
    private static final class Marks {
        private final Set<Event> evidence;
        private final long[] lines;

        Marks(Set<Event> evidence) {
            this.evidence = evidence;
            long[] l = new long[evidence.size()];
            int i = 0;
            for (Event e : evidence) l[i++] = e.line();
            java.util.Arrays.sort(l);
            lines = l;
        }

        String of(Event e) { return is(e) ? "!" : " "; }

        String of(Event a, Event b) { return is(a) || is(b) ? "!" : " "; }

        private boolean is(Event e) {
            return e != null && java.util.Arrays.binarySearch(lines, e.line()) >= 0 && evidence.contains(e);
        }
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
