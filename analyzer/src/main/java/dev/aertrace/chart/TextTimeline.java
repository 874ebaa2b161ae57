package dev.aertrace.chart;

import dev.aertrace.lanes.EpisodeLanes;
import dev.aertrace.race.AnalyzedEpisode;
import dev.aertrace.race.Verdict;
import dev.aertrace.text.Durations;
import dev.aertrace.text.Text;
import dev.aertrace.timeline.Episode;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

import static dev.aertrace.text.Text.ascii;
import static dev.aertrace.text.Text.fit;
import static dev.aertrace.text.Text.shortDev;

/**
 * The episode as three plain-text lanes — HW, host kernel, user — with time flowing down, at most 80 columns
 * and ASCII only, to paste into a mailing-list mail (the real counterpart of the hand-drawn host/QEMU/guest
 * sketches such threads argue over). Rows inside a race window carry a "!" in the margin, and the window's
 * start and end are ruled across all lanes.
 *
 * <p>This is the lane view for mails; {@code aertrace analyze}'s text report keeps its own event list with
 * evidence marks. Both are built from the same episode.
 */
public final class TextTimeline {
    public static final int WIDTH = 80;
    private static final int TIME = 9, HW = 11, HOST = 29; // USER 26: "G< 108.050 ms dev = 0x0000" whole
    private static final int USER = WIDTH - 2 - TIME - HW - HOST - 3; // margin(2) + 3 separators

    private TextTimeline() {}

    /** One pass, at most 24 lines (see Text.wrap: the quadratic version hung on a damaged trace). */
    private static void wrap(List<String> out, String s) {
        Text.wrap(out, s, "  ", WIDTH, 24);
    }

    private record Row(long ts, int order, int col, String text) {}

    public static List<String> render(AnalyzedEpisode a, int maxRows) {
        EpisodeLanes lanes = EpisodeLanes.of(a);
        Episode e = a.episode();
        long t0 = lanes.origin();
        long[] focus = lanes.focus();
        int[] hidden = {0};
        List<Row> rows = collapse(rows(lanes, focus, hidden));

        List<String> out = new ArrayList<>();
        out.add(ascii(Text.clip(EpisodeLanes.title(e), WIDTH)));
        wrap(out, ascii(TimelineChart.summary(a)));
        out.add(line("", "ms", "HW " + shortDev(e.device()), "host kernel", "user" + users(lanes)));
        out.add("-".repeat(WIDTH));
        List<long[]> windows = new ArrayList<>();
        List<String> names = new ArrayList<>();
        raceWindows(lanes, windows, names);
        rowsWithRules(out, rows, windows, names, maxRows, t0);
        if (hidden[0] > 0) wrap(out, "  (" + hidden[0] + " spans outside " + Durations.offsetMs(focus[0] - t0) + " .. "
                + Durations.offsetMs(focus[1] - t0) + " ms not shown; aertrace export lists all)");
        out.add("-".repeat(WIDTH));
        for (Verdict v : a.verdicts()) {
            if (v.kind().category != Verdict.Category.RACE && !(v.kind() == Verdict.Kind.VM_STOPPED && !a.qemu().isEmpty())) continue;
            wrap(out, "! " + v.kind().id + (v.tentative() ? " (tentative)" : "") + ": " + ascii(v.sentence()));
        }
        return out;
    }

    /** Every span's begin and end row and every mark's row, in time order; spans outside the focus counted in {@code hidden}. */
    private static List<Row> rows(EpisodeLanes lanes, long[] focus, int[] hidden) {
        List<Row> rows = new ArrayList<>();
        int[] order = {0};
        for (EpisodeLanes.Lane l : lanes.lanes()) {
            int col = switch (l.actor()) {
                case HW -> 0;
                case HOST -> 1;
                case USER, QEMU -> 2; // QEMU is the vfio user: its guest lane shares the user column, marked "G"
            };
            for (EpisodeLanes.Span s : l.spans()) {
                // Recovery phases repeat what the callback and reset lanes show with device names: skip them here.
                if (s.role() == EpisodeLanes.Role.PHASE) continue;
                // Outside the focus window (a user polling for seconds after the recovery) only on request.
                if (s.end() < focus[0] || s.start() > focus[1]) { hidden[0]++; continue; }
                String who = l.actor() == EpisodeLanes.Actor.USER && userThreads(lanes) > 1 ? l.tid() + " " : "";
                String where = l.actor() == EpisodeLanes.Actor.HOST && s.role() == EpisodeLanes.Role.CALLBACK
                        ? shortDev((String) s.args().get("dev")) + " " : s.role() == EpisodeLanes.Role.HOST_RESET
                        ? shortDev((String) s.args().get("bridge")) + " " : "";
                if (s.role() == EpisodeLanes.Role.GUEST_ACCESS) {
                    String n = s.name().startsWith("guest ") ? s.name().substring(6) : s.name();
                    rows.add(new Row(s.start(), order[0]++, col, "G> " + beginName(n).replace(" (emulated)", "")));
                    rows.add(new Row(s.end(), order[0]++, col, "G< " + (s.open() ? "no exit" : Durations.dur(s.duration()))
                            + (n.endsWith(" → device") ? " dev" : n.endsWith(" (emulated)") ? " emul" : "")
                            + (s.args().get("value") != null && n.contains(" = ") ? " = " + s.args().get("value") : "")));
                    continue;
                }
                rows.add(new Row(s.start(), order[0]++, col, "> " + where + who + beginName(s.name())));
                rows.add(new Row(s.end(), order[0]++, col, "< " + (s.open() ? "no exit, " : "")
                        + Durations.dur(s.duration()) + " " + endName(s)));
            }
            for (EpisodeLanes.Mark m : l.marks()) {
                if (m.ts() < focus[0] || m.ts() > focus[1]) continue;
                rows.add(new Row(m.ts(), order[0]++, col, markText(m)));
            }
        }
        rows.sort(Comparator.comparingLong(Row::ts).thenComparingInt(Row::order));
        return rows;
    }

    private static String markText(EpisodeLanes.Mark m) {
        return switch (m.kind()) {
            case AER -> "* AER " + m.args().get("severity");
            // vfio's signal in the host column; QEMU's read of it in the user column (QemuLanes' mark)
            case NOTIFY -> m.name().startsWith("QEMU read") ? "* reads error eventfd" : "* eventfd -> user";
            case ALL_ONES -> "* " + m.name();
            case GAP -> "? " + m.name();
            case VM_STATE -> "* " + m.name().replace("vm_stop(", "vm_stop ").replace("runstate ", "state ")
                    .replace(")", "").replace("(", "");
            case LINK -> "* " + shortDev((String) m.args().get("dev")) + " " + m.name().substring(0, m.name().lastIndexOf(' '))
                    + (m.args().containsKey("during") ? " in reset" : "");
        };
    }

    /** Overlapping race windows (one held read is often several verdicts) share one pair of rules. */
    private static void raceWindows(EpisodeLanes lanes, List<long[]> windows, List<String> names) {
        List<EpisodeLanes.RaceMark> rms = new ArrayList<>(lanes.races());
        rms.sort(Comparator.comparingLong(EpisodeLanes.RaceMark::start));
        for (EpisodeLanes.RaceMark rm : rms) {
            long[] last = windows.isEmpty() ? null : windows.get(windows.size() - 1);
            String id = rm.verdict().kind().id;
            if (last != null && rm.start() <= last[1]) {
                last[1] = Math.max(last[1], rm.end());
                int k = names.size() - 1;
                if (!(", " + names.get(k) + ",").contains(", " + id + ",")) names.set(k, names.get(k) + ", " + id);
            } else {
                windows.add(new long[] {rm.start(), rm.end()});
                names.add(id);
            }
        }
        // Most central verdict first, as in the chart: "access-during-reset" before "notified-before-reset".
        for (int k = 0; k < names.size(); k++) {
            List<String> ids = new ArrayList<>(List.of(names.get(k).split(", ")));
            ids.sort(Comparator.comparingInt(id -> {
                for (Verdict.Kind vk : Verdict.Kind.values()) if (vk.id.equals(id)) return vk.ordinal();
                return Integer.MAX_VALUE;
            }));
            names.set(k, String.join(", ", ids));
        }
    }

    /** The rows, a rule where each race window begins and ends, at most {@code maxRows}. */
    private static void rowsWithRules(List<String> out, List<Row> rows, List<long[]> windows, List<String> names, int maxRows, long t0) {
        boolean[] begun = new boolean[windows.size()], ended = new boolean[windows.size()];
        int shown = 0;
        for (Row r : rows) {
            for (int i = 0; i < windows.size(); i++) {
                if (begun[i] && !ended[i] && r.ts() > windows.get(i)[1]) {
                    ended[i] = true;
                    out.add(rule("!! race window ends after " + ascii(Durations.dur(windows.get(i)[1] - windows.get(i)[0])) + " "));
                }
            }
            for (int i = 0; i < windows.size(); i++) {
                if (!begun[i] && r.ts() >= windows.get(i)[0]) {
                    begun[i] = true;
                    out.add(rule("!! race window begins: " + names.get(i) + " "));
                }
            }
            if (shown++ >= maxRows) {
                out.add("  ... " + (rows.size() - maxRows) + " more rows (aertrace export --format chrome shows all)");
                break;
            }
            boolean inRace = false;
            for (long[] w : windows) inRace |= r.ts() >= w[0] && r.ts() <= w[1];
            String[] cols = {"", "", ""};
            cols[r.col()] = ascii(r.text());
            out.add(line(inRace ? "!" : "", (Durations.offsetMs(r.ts() - t0) + " "), cols[0], cols[1], cols[2]));
        }
        for (int i = 0; i < windows.size(); i++) {
            if (begun[i] && !ended[i]) {
                out.add(rule("!! race window ends after " + ascii(Durations.dur(windows.get(i)[1] - windows.get(i)[0])) + " "));
            }
        }
    }

    /** Repeated identical rows of one lane (a user polling a register) become one row "×N". */
    private static List<Row> collapse(List<Row> rows) {
        List<Row> out = new ArrayList<>();
        int i = 0;
        while (i < rows.size()) {
            Row r = rows.get(i);
            int j = i + 1;
            while (j < rows.size() && rows.get(j).col() == r.col() && rows.get(j).text().equals(r.text())) j++;
            out.add(j - i > 1 ? new Row(r.ts(), r.order(), r.col(), r.text() + " x" + (j - i)) : r);
            i = j;
        }
        return out;
    }

    private static String line(String margin, String time, String hw, String host, String user) {
        return (String.format(Locale.ROOT, "%-2s%" + TIME + "s|%-" + HW + "s|%-" + HOST + "s|%s",
                margin, time, fit(hw, HW), fit(host, HOST), fit(user, USER))).stripTrailing();
    }

    private static String rule(String text) {
        String s = "--" + text;
        return s.length() >= WIDTH - 2 ? s.substring(0, WIDTH - 4) + "~ --" : s + "-".repeat(WIDTH - s.length());
    }

    /** What is known when a span starts: not the value it returned nor the vote it cast. */
    private static String beginName(String n) {
        for (String sep : new String[] {" = ", " → "}) {
            int i = n.indexOf(sep);
            if (i > 0) n = n.substring(0, i);
        }
        return n;
    }

    /** End rows say what came back (value, vote, return code); others repeat the name. */
    private static String endName(EpisodeLanes.Span s) {
        if (s.role() == EpisodeLanes.Role.USER_ACCESS && s.args().get("value") != null) return "= " + s.args().get("value");
        if (s.role() == EpisodeLanes.Role.CALLBACK) {
            return s.args().get("vote") != null ? "vote " + s.args().get("vote") : beginName(s.name());
        }
        if (s.args().get("ret") != null && s.role() != EpisodeLanes.Role.HOST_RESET) return "ret " + s.args().get("ret");
        int i = s.name().indexOf(" = ");
        return i > 0 ? s.name().substring(0, i) : s.name();
    }

    private static long userThreads(EpisodeLanes lanes) {
        return lanes.lanes().stream().filter(l -> l.actor() == EpisodeLanes.Actor.USER).count();
    }

    /** " vfio-user 300" when one user process, so rows need not repeat it. */
    private static String users(EpisodeLanes lanes) {
        java.util.Set<String> who = new java.util.LinkedHashSet<>();
        for (EpisodeLanes.Lane l : lanes.lanes()) if (l.actor() == EpisodeLanes.Actor.USER) who.add(l.comm() + " " + l.pid());
        return who.size() == 1 ? " " + who.iterator().next() : " (vfio)";
    }
}
