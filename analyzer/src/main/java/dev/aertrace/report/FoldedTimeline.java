package dev.aertrace.report;

import dev.aertrace.ingest.Event;
import dev.aertrace.ingest.TraceGap;
import dev.aertrace.pci.Pci;
import dev.aertrace.text.Durations;
import dev.aertrace.text.Text;
import dev.aertrace.timeline.Access;
import dev.aertrace.timeline.CallbackCall;
import dev.aertrace.timeline.Episode;
import dev.aertrace.timeline.HostReset;
import dev.aertrace.timeline.QemuLane;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;

import static dev.aertrace.text.Durations.dur;

/**
 * The text report's timeline: one row per host step, access, gap and QEMU lane event, in time order; repeated
 * user lines folded; cut at the caller's cap. Built for every episode though only a few dozen rows are printed,
 * so nothing here is formatted before it is known to be needed.
 */
final class FoldedTimeline {
    private FoldedTimeline() {}

    /** The episode's timeline rows appended to {@code L}: at most {@code maxTimelineLines}, repeats folded. */
    static void append(List<String> L, Episode ep, Set<Event> evidence, List<QemuLane> qemu, int maxTimelineLines) {
        fold(L, timeline(ep, evidence, qemu), maxTimelineLines);
    }

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
        TextReport.left(sb, row.offset(), 10).append(' ');
        TextReport.right(sb, r[2], 4).append(' ');
        TextReport.right(sb, r[3], 8).append(' ').append(r[4]);
        return TextReport.cut(sb.toString());
    }

    /** One folded run: a single repeat is shown as itself, longer runs as a count up to the last one's time. */
    private static String fold(int n, Row last, boolean guest) {
        if (n == 1) return row(last);
        return TextReport.cut(" ".repeat(17) + "… " + n + " repeats of the " + (guest ? "user and guest" : "user") + " lines above, to "
                + last.offset().strip());
    }

    /** A timeline row; its offset column (cols[1]) is null until printed, then {@code ns} formatted. */
    private record Row(long ts, int order, String[] cols, long ns) {
        Row(long ts, int order, String[] cols) { this(ts, order, cols, 0); }

        String offset() {
            if (cols[1] == null) cols[1] = Durations.offsetMs(ns);
            return cols[1];
        }
    }

    private static List<Row> timeline(Episode ep, Set<Event> evidence, List<QemuLane> qemu) {
        List<Row> rows = new ArrayList<>(ep.accesses().size() + 64);
        EvidenceSet marks = new EvidenceSet(evidence);
        int o = 0;
        for (Event e : ep.steps()) { // the accesses' own enters and exits are rows below, one per access
            String what = stepText(e);
            if (what != null) rows.add(new Row(e.ts(), o++, new String[]{mark(marks, e, null), Durations.offsetMs(e.ts() - ep.start()), "host", Text.shortDev(e.dev()), what}));
        }
        for (CallbackCall c : ep.callbacks()) {
            String what = c.cb().wire + " " + (c.driver() == null || c.driver().isEmpty() ? "(no driver)" : c.driver())
                    + (c.result() != null ? " → " + Pci.ers(c.result()) : "") + (c.end() != null ? " " + dur(c.end() - c.start()) : " (no exit)");
            rows.add(new Row(c.start(), o++, new String[]{mark(marks, c.enter(), c.exit()), Durations.offsetMs(c.start() - ep.start()), "host", Text.shortDev(c.dev()), what}));
        }
        for (HostReset r : ep.resets()) {
            String what = "  ".repeat(Math.min(r.depth(), 3)) + r.fn() + (r.byRecovery() ? "" : " (not recovery)")
                    + (r.end() != null ? " " + dur(r.end() - r.start()) : " (no exit)") + (r.ret() != null ? " ret " + r.ret() : "");
            rows.add(new Row(r.start(), o++, new String[]{mark(marks, r.enter(), r.exit()), Durations.offsetMs(r.start() - ep.start()), "host", Text.shortDev(r.bridge()), what}));
        }
        o = accessRows(rows, ep, marks, o);
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
        rows.sort(ROW_ORDER);
        return rows;
    }

    /** Time, then the order rows were made in: written out, as the key-extractor chain's lambdas cost per compare. */
    private static final Comparator<Row> ROW_ORDER = (x, y) -> x.ts != y.ts ? Long.compare(x.ts, y.ts) : Integer.compare(x.order, y.order);

    /** A host step's row text; null for the events that are not a row of their own. */
    private static String stepText(Event e) {
        if (e instanceof Event.AerError x) return "AER " + Pci.severity(x.severity()) + " " + Pci.aerStatus(x.severity(), x.status());
        if (e instanceof Event.RecoveryEnter x) return "pcie_do_recovery enter" + (x.state() != null ? " state=" + Pci.channel(x.state()) : "");
        if (e instanceof Event.RecoveryExit x) return "pcie_do_recovery exit → " + Pci.ers(x.ret());
        if (e instanceof Event.EventfdSignal) return "eventfd signal (error irq to user)";
        if (e instanceof Event.CfgLock x) return "pci_cfg_access_" + x.op() + (x.ret() != null ? " ret " + x.ret() : "");
        if (e instanceof Event.VfioErrDetectedEnter) return "vfio err_detected enter";
        // a device loss's own steps (pciehp's slot event, the removal, vfio's request): the verdicts cite them
        if (e instanceof Event.DeviceGone x) return lossStep(x);
        return null;
    }

    /**
     * One row per access, numbered from {@code o}; returns the next number. Its own method: this loop runs for every
     * access of every episode, and kept small the JIT compiles it without the rest of the rows' string building.
     */
    private static int accessRows(List<Row> rows, Episode ep, EvidenceSet marks, int o) {
        String lastDev = null, shortDev = null; // one device for most of an episode's accesses: its short name once
        ConfigTexts texts = new ConfigTexts();
        for (Access a : ep.accesses()) {
            if (a.dev() == null || !a.dev().equals(lastDev)) {
                lastDev = a.dev();
                shortDev = Text.shortDev(lastDev);
            }
            rows.add(new Row(a.start(), o++, new String[]{mark(marks, a.enter(), a.exit()), null, "user", shortDev,
                    describe(a, ep, texts)}, a.start() - ep.start()));
        }
        return o;
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

    static String describe(Access a) { return describe(a, null, null); }

    /** A duration is shown only when no gap of the episode lies between the access's enter and exit. */
    static String describe(Access a, Episode ep, ConfigTexts texts) {
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
        // nothing held or returned to say: the text is the phrase, value and comm alone, as ConfigTexts keys it
        if (texts != null && held.isEmpty() && !showRet && a.isConfig() && a.value() != null) return texts.of(a);
        return a.phraseWithValue() + (showRet ? " ret " + a.ret() : "") + held + " " + who;
    }

    /**
     * The text of a config access with nothing held or returned to say: {@code phraseWithValue() + " " + comm},
     * which depends on the direction, offset, size, value and comm alone. A polling user repeats a handful of those
     * thousands of times an episode, and the phrase, the hex value and the joins were built anew for each.
     * Direct-mapped: a slot whose key differs is simply rebuilt, so the text is always the one that key gives.
     */
    static final class ConfigTexts {
        private static final int SLOTS = 64;
        private final long[] offset = new long[SLOTS], value = new long[SLOTS];
        private final int[] sizeAndWrite = new int[SLOTS];
        private final String[] comm = new String[SLOTS], text = new String[SLOTS];

        String of(Access a) {
            long off = a.offset(), v = a.value();
            int sw = a.size() << 1 | (a.kind() == Access.Kind.CONFIG_WRITE ? 1 : 0);
            String c = a.comm();
            int h = Long.hashCode(off * 31 + v) * 31 + sw;
            int slot = (h ^ h >>> 16) & (SLOTS - 1);
            String t = text[slot];
            if (t != null && offset[slot] == off && value[slot] == v && sizeAndWrite[slot] == sw
                    && java.util.Objects.equals(comm[slot], c)) return t;
            t = a.phraseWithValue() + " " + c;
            offset[slot] = off;
            value[slot] = v;
            sizeAndWrite[slot] = sw;
            comm[slot] = c;
            text[slot] = t;
            return t;
        }
    }

    /** The '!' of a row whose event ({@code a}, or {@code b} when not null) is evidence. */
    private static String mark(EvidenceSet evidence, Event a, Event b) {
        return evidence.contains(a) || evidence.contains(b) ? "!" : " ";
    }
}
