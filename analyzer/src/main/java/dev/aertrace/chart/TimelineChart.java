package dev.aertrace.chart;

import dev.aertrace.pci.Pci;
import dev.aertrace.lanes.EpisodeLanes;
import dev.aertrace.race.AnalyzedEpisode;
import dev.aertrace.race.Verdict;
import dev.aertrace.timeline.Episode;
import dev.aertrace.timeline.HostReset;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.LegendItem;
import org.jfree.chart.LegendItemCollection;
import org.jfree.chart.annotations.XYTextAnnotation;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.axis.SymbolAxis;
import org.jfree.chart.block.BlockBorder;
import org.jfree.chart.plot.DatasetRenderingOrder;
import org.jfree.chart.plot.IntervalMarker;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.SeriesRenderingOrder;
import org.jfree.chart.annotations.XYBoxAnnotation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.StandardXYBarPainter;
import org.jfree.chart.renderer.xy.XYBarRenderer;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.chart.title.LegendTitle;
import org.jfree.chart.title.TextTitle;
import org.jfree.chart.ui.HorizontalAlignment;
import org.jfree.chart.ui.Layer;
import org.jfree.chart.ui.RectangleAnchor;
import org.jfree.chart.ui.RectangleEdge;
import org.jfree.chart.ui.RectangleInsets;
import org.jfree.chart.ui.TextAnchor;
import org.jfree.data.xy.XYIntervalSeries;
import org.jfree.data.xy.XYIntervalSeriesCollection;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Shape;
import java.awt.geom.Path2D;
import java.awt.geom.Rectangle2D;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;

/**
 * One episode as a picture: lanes top to bottom (hardware, host recovery, callbacks per device, host reset per
 * bridge, each user thread), time in ms since the episode start left to right. The host reset window is shaded
 * orange across all lanes; where a user access overlaps it, the race window is shaded vermillion, the access
 * bar is vermillion, and a label names the verdict. Okabe–Ito colours throughout.
 */
public final class TimelineChart {
    static final String FONT = "DejaVu Sans";
    private static final Font TITLE = new Font(FONT, Font.BOLD, 18);
    private static final Font SUB = new Font(FONT, Font.PLAIN, 13);
    private static final Font LANE = new Font(FONT, Font.PLAIN, 12);
    private static final Font LABEL = new Font(FONT, Font.PLAIN, 11);
    private static final Font RACE_LABEL = new Font(FONT, Font.BOLD, 12);
    /** Approximate advance of one LABEL character in px, to keep labels of one lane from overlapping. */
    private static final double CHAR_PX = 6.6;

    private TimelineChart() {}

    /** Draw series: order is paint order, outer spans first so nested ones sit on top. */
    private enum Series {
        RECOVERY("host recovery (pcie_do_recovery)", Palette.RECOVERY, 0.30),
        PHASE("recovery phase", Palette.CALLBACK, 0.18),
        CALLBACK("driver callback", Palette.CALLBACK, 0.30),
        HOST_RESET("host reset", Palette.HOST_RESET, 0.30),
        HOST_RESET_INNER("nested reset step", Palette.translucent(Palette.BLACK, 90), 0.12),
        USER_ACCESS("user config/BAR access", Palette.USER_ACCESS, 0.30),
        USER_IOCTL("user ioctl", Palette.USER_IOCTL, 0.30),
        USER_RESET("user-requested reset", Palette.YELLOW, 0.30),
        GUEST_ACCESS("guest access via QEMU", Palette.GUEST_ACCESS, 0.30),
        RACE("user access in a race", Palette.RACE, 0.34);

        final String legend;
        final Color color;
        final double half;

        Series(String legend, Color color, double half) {
            this.legend = legend;
            this.color = color;
            this.half = half;
        }
    }

    public static JFreeChart create(AnalyzedEpisode a) {
        EpisodeLanes lanes = EpisodeLanes.of(a);
        Episode e = a.episode();
        List<EpisodeLanes.Lane> ls = new ArrayList<>(lanes.lanes());
        double t0 = lanes.origin();
        long[] focus = lanes.focus();
        double axisLo = (focus[0] - t0) / 1e6, axisHi = (focus[1] - t0) / 1e6;
        double spanMs = Math.max(axisHi - axisLo, 1e-3);
        double minMs = spanMs / 400; // thinnest bar drawn: ~2.5 px at 1200 px
        int hiddenUser = 0;
        // A user thread with nothing inside the window would be an empty lane: count its accesses as hidden.
        for (var it = ls.iterator(); it.hasNext(); ) {
            EpisodeLanes.Lane l = it.next();
            if (l.actor() == EpisodeLanes.Actor.HOST && l.spans().isEmpty() && l.marks().isEmpty()) { it.remove(); continue; }
            if (l.actor() != EpisodeLanes.Actor.USER && l.actor() != EpisodeLanes.Actor.QEMU) continue;
            boolean any = l.spans().stream().anyMatch(s -> s.end() >= focus[0] && s.start() <= focus[1])
                    || l.marks().stream().anyMatch(m -> m.ts() >= focus[0] && m.ts() <= focus[1]);
            if (!any) { hiddenUser += l.spans().size(); it.remove(); }
        }

        Map<Series, XYIntervalSeries> bars = new EnumMap<>(Series.class);
        for (Series s : Series.values()) bars.put(s, new XYIntervalSeries(s.legend));
        List<XYTextAnnotation> labels = new ArrayList<>();
        XYSeries aer = new XYSeries("AER error", false), notify = new XYSeries("eventfd: user notified", false),
                ones = new XYSeries("config read returned all ones", false), gaps = new XYSeries("lost events / gap", false),
                vm = new XYSeries("QEMU: VM stopped / state / reset", false), link = new XYSeries("link up/down (port)", false);
        boolean widened = false;

        String[] names = new String[ls.size()];
        for (int i = 0; i < ls.size(); i++) {
            EpisodeLanes.Lane l = ls.get(i);
            names[i] = laneLabel(l);
            List<Object[]> candidates = new ArrayList<>();
            List<EpisodeLanes.Span> spans = new ArrayList<>(l.spans());
            spans.sort((p, q) -> p.start() != q.start() ? Long.compare(p.start(), q.start()) : Long.compare(q.end(), p.end()));
            List<long[]> outer = new ArrayList<>();
            for (EpisodeLanes.Span s : spans) {
                // Recovery steps already have their own lanes (callbacks per device, resets per bridge) with
                // device names; repeating them inside the recovery bar only adds a colour to decode.
                if (s.role() == EpisodeLanes.Role.PHASE) continue;
                if (s.end() < focus[0] || s.start() > focus[1]) {
                    if (l.actor() == EpisodeLanes.Actor.USER || l.actor() == EpisodeLanes.Actor.QEMU) hiddenUser++;
                    continue;
                }
                int depth = 0;
                for (long[] o : outer) if (o[0] <= s.start() && s.end() <= o[1] && !(o[0] == s.start() && o[1] == s.end())) depth++;
                outer.add(new long[] {s.start(), s.end()});
                Series ser = series(s, depth);
                double from = (s.start() - t0) / 1e6, to = (s.end() - t0) / 1e6;
                if (to - from < minMs) { to = from + minMs; widened = true; }
                bars.get(ser).add(i, i - ser.half, i + ser.half, from, from, to);
                boolean wanted = s.race() || ser == Series.RECOVERY || ser == Series.HOST_RESET || ser == Series.CALLBACK
                        || ser == Series.PHASE || (to - from) > spanMs * 0.05;
                if (wanted) {
                    // Raced and long spans first: the held read must be labelled, not the blip before it.
                    double prio = (s.race() ? 2 : 0) + Math.min(1, (to - from) / spanMs);
                    candidates.add(new Object[] {prio, s, ser, Math.max(from, axisLo)});
                }
            }
            candidates.sort((x, y) -> Double.compare((double) y[0], (double) x[0]));
            List<double[]> taken = new ArrayList<>();
            for (Object[] c : candidates) {
                EpisodeLanes.Span s = (EpisodeLanes.Span) c[1];
                Series ser = (Series) c[2];
                double at = (double) c[3];
                String text = s.name() + "  " + duration(s.duration());
                double px0 = (at - axisLo) / spanMs * 1000, px1 = px0 + text.length() * CHAR_PX + 8;
                if (taken.stream().anyMatch(r -> px0 < r[1] && r[0] < px1)) continue;
                taken.add(new double[] {px0, px1});
                XYTextAnnotation t = new XYTextAnnotation(text, i - ser.half - 0.02, at);
                t.setFont(s.race() ? RACE_LABEL : LABEL);
                t.setPaint(s.race() ? Palette.RACE : Color.BLACK);
                t.setTextAnchor(TextAnchor.BOTTOM_LEFT);
                labels.add(t);
            }
            for (EpisodeLanes.Mark m : l.marks()) {
                if (m.ts() < focus[0] || m.ts() > focus[1]) continue;
                double at = (m.ts() - t0) / 1e6;
                switch (m.kind()) {
                    case AER -> aer.add(i, at);
                    case NOTIFY -> notify.add(i, at);
                    case ALL_ONES -> ones.add(i, at);
                    case GAP -> gaps.add(i, at);
                    case VM_STATE -> {
                        vm.add(i, at);
                        // The stop is the answer to "why did this VM pause?": say it on the chart.
                        if (m.name().startsWith("vm_stop")) {
                            XYTextAnnotation t = new XYTextAnnotation(m.name() + "  " + duration(m.ts() - lanes.origin()), i - 0.32, at);
                            t.setFont(RACE_LABEL);
                            t.setPaint(Color.BLACK);
                            t.setTextAnchor(TextAnchor.BOTTOM_LEFT);
                            labels.add(t);
                        }
                    }
                    case LINK -> link.add(i, at);
                }
            }
        }

        XYIntervalSeriesCollection barData = new XYIntervalSeriesCollection();
        List<Series> used = new ArrayList<>();
        for (Series s : Series.values()) {
            if (bars.get(s).getItemCount() == 0) continue;
            barData.addSeries(bars.get(s));
            used.add(s);
        }
        XYBarRenderer barR = new XYBarRenderer();
        barR.setUseYInterval(true);
        barR.setBarPainter(new StandardXYBarPainter());
        barR.setShadowVisible(false);
        barR.setDrawBarOutline(true);
        barR.setDefaultOutlinePaint(new Color(0, 0, 0, 110));
        barR.setDefaultOutlineStroke(new BasicStroke(0.6f));
        for (int k = 0; k < used.size(); k++) {
            barR.setSeriesPaint(k, used.get(k).color);
            if (used.get(k) == Series.RACE) {
                barR.setSeriesOutlinePaint(k, Color.BLACK);
                barR.setSeriesOutlineStroke(k, new BasicStroke(1.8f));
            }
        }

        XYSeriesCollection markData = new XYSeriesCollection();
        XYLineAndShapeRenderer markR = new XYLineAndShapeRenderer(false, true);
        int mk = 0;
        for (Object[] m : new Object[][] {{aer, diamond(9), Palette.AER_EVENT}, {notify, triangle(8), Palette.YELLOW},
                {ones, cross(8), Palette.RACE}, {gaps, square(6), Palette.GREY}, {link, triangle(8), Palette.GREY},
                {vm, diamond(10), Palette.VM_STATE}}) {
            XYSeries s = (XYSeries) m[0];
            if (s.getItemCount() == 0) continue;
            markData.addSeries(s);
            markR.setSeriesShape(mk, (Shape) m[1]);
            markR.setSeriesPaint(mk, (Color) m[2]);
            markR.setSeriesOutlinePaint(mk, Color.BLACK);
            markR.setUseOutlinePaint(true);
            markR.setDrawOutlines(true);
            mk++;
        }

        SymbolAxis laneAxis = new SymbolAxis(null, names);
        laneAxis.setInverted(true);
        laneAxis.setGridBandsVisible(true);
        laneAxis.setGridBandPaint(new Color(0xF4F4F4));
        laneAxis.setGridBandAlternatePaint(Color.WHITE);
        laneAxis.setTickLabelFont(LANE);
        laneAxis.setRange(-0.6, ls.size() - 0.4);
        NumberAxis timeAxis = new NumberAxis("ms since the AER error (CLOCK_MONOTONIC of the traced host)");
        timeAxis.setLabelFont(LANE);
        timeAxis.setTickLabelFont(LANE);
        double axLo = axisLo - spanMs * 0.005, axHi = axisHi + spanMs * 0.01;
        // Damaged timestamps (near Long.MIN/MAX) can collapse the span below a double's resolution; JFreeChart
        // refuses an empty range, so widen it by a few ulps rather than fail the whole chart command.
        if (!Double.isFinite(axLo) || !Double.isFinite(axHi)) { axLo = 0; axHi = 1; }
        if (!(axHi > axLo)) axHi = axLo + Math.max(1.0, 4 * Math.ulp(axLo));
        timeAxis.setRange(axLo, axHi);

        XYPlot plot = new XYPlot(barData, laneAxis, timeAxis, barR);
        plot.setOrientation(PlotOrientation.HORIZONTAL);
        plot.setDataset(1, markData);
        plot.setRenderer(1, markR);
        plot.setDatasetRenderingOrder(DatasetRenderingOrder.FORWARD);
        plot.setSeriesRenderingOrder(SeriesRenderingOrder.FORWARD); // outer spans first, nested ones on top
        plot.setBackgroundPaint(Color.WHITE);
        plot.setDomainGridlinesVisible(false);
        plot.setRangeGridlinePaint(new Color(0xDDDDDD));
        plot.setOutlinePaint(new Color(0x888888));
        plot.setAxisOffset(RectangleInsets.ZERO_INSETS);
        for (XYTextAnnotation t : labels) plot.addAnnotation(t);

        // Host reset windows across every lane, then the race windows on top of them.
        for (EpisodeLanes.Window w : lanes.windows()) {
            IntervalMarker m = new IntervalMarker((w.start() - t0) / 1e6, (w.end() - t0) / 1e6,
                    Palette.translucent(Palette.HOST_RESET, 38));
            m.setLabel("host reset window  " + duration(w.end() - w.start()));
            m.setLabelFont(LABEL);
            m.setLabelPaint(new Color(0x8A5A00));
            m.setLabelAnchor(RectangleAnchor.TOP_LEFT);
            m.setLabelTextAnchor(TextAnchor.TOP_LEFT);
            m.setLabelOffset(new RectangleInsets(2, 4, 2, 2));
            plot.addRangeMarker(m, Layer.BACKGROUND);
        }
        // Each race: a dashed vermillion box over the lanes involved (the host reset lanes down to the user's
        // lane) for the time the user's access overlapped the reset, with the verdict written next to it.
        int firstReset = -1;
        for (int i = 0; i < ls.size(); i++) if (ls.get(i).key().startsWith("reset ") && firstReset < 0) firstReset = i;
        // Overlapping races (one held read is often several verdicts) become one box listing their kinds.
        List<EpisodeLanes.RaceMark> marks = new ArrayList<>(lanes.races());
        marks.sort(java.util.Comparator.comparingLong(EpisodeLanes.RaceMark::start));
        List<long[]> clusters = new ArrayList<>(); // {start, end, lo lane, hi lane}
        List<java.util.LinkedHashSet<String>> kinds = new ArrayList<>();
        for (EpisodeLanes.RaceMark r : marks) {
            int lo = Integer.MAX_VALUE, hi = -1;
            for (int i = 0; i < ls.size(); i++) {
                if (r.laneKeys().contains(ls.get(i).key())) { lo = Math.min(lo, i); hi = Math.max(hi, i); }
            }
            if (hi < 0) { lo = 0; hi = ls.size() - 1; }
            if (firstReset >= 0) lo = Math.min(lo, firstReset);
            long[] last = clusters.isEmpty() ? null : clusters.get(clusters.size() - 1);
            if (last != null && r.start() <= last[1]) {
                last[1] = Math.max(last[1], r.end());
                last[2] = Math.min(last[2], lo);
                last[3] = Math.max(last[3], hi);
                kinds.get(kinds.size() - 1).add(r.verdict().kind().id);
            } else {
                clusters.add(new long[] {r.start(), r.end(), lo, hi});
                kinds.add(new java.util.LinkedHashSet<>(List.of(r.verdict().kind().id)));
            }
        }
        for (int c = 0; c < clusters.size(); c++) {
            long[] k = clusters.get(c);
            double from = (k[0] - t0) / 1e6, to = Math.max((k[1] - t0) / 1e6, from + minMs);
            // The lane axis is inverted (first lane on top) and XYBoxAnnotation assumes it is not: pass the
            // lanes bottom-first so the box gets a positive height.
            XYBoxAnnotation box = new XYBoxAnnotation(k[3] + 0.46, from, k[2] - 0.46, to,
                    new BasicStroke(2.2f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10, new float[] {7, 4}, 0),
                    Palette.RACE, Palette.translucent(Palette.RACE, 40));
            plot.addAnnotation(box);
            List<String> ks = new ArrayList<>(kinds.get(c));
            ks.sort(java.util.Comparator.comparingInt(id -> {
                for (Verdict.Kind vk : Verdict.Kind.values()) if (vk.id.equals(id)) return vk.ordinal();
                return Integer.MAX_VALUE;
            }));
            String text = "RACE: " + String.join(", ", ks.subList(0, Math.min(2, ks.size())))
                    + (ks.size() > 2 ? " +" + (ks.size() - 2) : "") + " (" + duration(k[1] - k[0]) + ")";
            XYTextAnnotation t = new XYTextAnnotation(" " + text + " ", k[3] + 0.44, Math.max(from, axisLo));
            t.setFont(RACE_LABEL);
            t.setPaint(Color.WHITE);
            t.setBackgroundPaint(Palette.RACE);
            t.setTextAnchor(TextAnchor.BOTTOM_LEFT);
            plot.addAnnotation(t);
        }

        JFreeChart chart = new JFreeChart(EpisodeLanes.title(e), TITLE, plot, false);
        chart.setBackgroundPaint(Color.WHITE);
        chart.addSubtitle(new TextTitle(summary(a), SUB));
        // Race sentences under the plot, most central kind first: what a reader needs without the tool.
        List<Verdict> rv = new ArrayList<>();
        TreeSet<String> seen = new TreeSet<>();
        for (Verdict v : a.verdicts()) if (v.kind().category == Verdict.Category.RACE) rv.add(v);
        rv.sort(java.util.Comparator.comparingInt(v -> v.kind().ordinal()));
        List<String> raceLines = new ArrayList<>();
        for (Verdict v : rv) {
            if (!seen.add(v.kind().id)) continue;
            raceLines.add("RACE " + v.kind().id + (v.tentative() ? " (tentative)" : "") + ": " + clip(v.sentence(), 250));
        }
        if (raceLines.size() > 2) {
            int more = raceLines.size() - 2;
            raceLines = new ArrayList<>(raceLines.subList(0, 2));
            raceLines.add("… and " + more + " more kind" + (more == 1 ? "" : "s") + " of race verdict (aertrace analyze lists all)");
        }
        if (!raceLines.isEmpty()) {
            TextTitle t = new TextTitle(String.join("\n", raceLines), new Font(FONT, Font.BOLD, 12));
            t.setPaint(Palette.RACE);
            t.setPosition(RectangleEdge.BOTTOM);
            t.setHorizontalAlignment(HorizontalAlignment.LEFT);
            t.setTextAlignment(HorizontalAlignment.LEFT);
            t.setMaximumLinesToDisplay(6);
            chart.addSubtitle(t);
        }
        boolean anyWindow = !lanes.windows().isEmpty();
        LegendTitle legend = new LegendTitle(() -> legendItems(used, markData, anyWindow));
        legend.setPosition(RectangleEdge.BOTTOM);
        legend.setItemFont(LABEL);
        legend.setFrame(BlockBorder.NONE);
        chart.addSubtitle(legend);
        List<String> notes = new ArrayList<>();
        if (widened) notes.add("bars shorter than " + duration((long) (minMs * 1e6)) + " drawn that wide; labels give true durations");
        if (hiddenUser > 0) notes.add(hiddenUser + " user accesses outside this window not drawn (aertrace export shows all)");
        if (!notes.isEmpty()) {
            TextTitle t = new TextTitle(String.join("; ", notes),
                    new Font(FONT, Font.ITALIC, 10));
            t.setPosition(RectangleEdge.BOTTOM);
            t.setHorizontalAlignment(HorizontalAlignment.RIGHT);
            t.setPaint(new Color(0x555555));
            chart.addSubtitle(t);
        }
        return chart;
    }

    private static LegendItemCollection legendItems(List<Series> used, XYSeriesCollection marks, boolean windows) {
        LegendItemCollection items = new LegendItemCollection();
        for (Series s : used) {
            LegendItem li = new LegendItem(s.legend, null, null, null, new Rectangle2D.Double(-6, -5, 12, 10), s.color);
            li.setLabelFont(LABEL);
            items.add(li);
        }
        Object[][] shapes = {{"AER error", diamond(9), Palette.AER_EVENT}, {"eventfd: user notified", triangle(8), Palette.YELLOW},
                {"config read returned all ones", cross(8), Palette.RACE}, {"lost events / gap", square(6), Palette.GREY},
                {"link up/down (port)", triangle(8), Palette.GREY}, {"QEMU: VM stopped / state / reset", diamond(10), Palette.VM_STATE}};
        for (Object[] s : shapes) {
            if (marks.getSeriesIndex((String) s[0]) < 0) continue;
            LegendItem li = new LegendItem((String) s[0], null, null, null, (Shape) s[1], (Color) s[2]);
            li.setLabelFont(LABEL);
            items.add(li);
        }
        if (windows) {
            LegendItem win = new LegendItem("host reset window", null, null, null, new Rectangle2D.Double(-6, -5, 12, 10),
                    Palette.translucent(Palette.HOST_RESET, 90));
            win.setLabelFont(LABEL);
            items.add(win);
        }
        return items;
    }

    private static Series series(EpisodeLanes.Span s, int depth) {
        if (s.race()) return Series.RACE;
        return switch (s.role()) {
            case RECOVERY -> Series.RECOVERY;
            case PHASE -> Series.PHASE;
            case CALLBACK -> Series.CALLBACK;
            case HOST_RESET -> depth == 0 ? Series.HOST_RESET : Series.HOST_RESET_INNER;
            case USER_ACCESS -> Series.USER_ACCESS;
            case USER_IOCTL -> Series.USER_IOCTL;
            case USER_RESET -> Series.USER_RESET;
            case GUEST_ACCESS -> Series.GUEST_ACCESS;
        };
    }

    private static String laneLabel(EpisodeLanes.Lane l) {
        String label = l.label();
        if (l.actor() == EpisodeLanes.Actor.HOST && label.startsWith("host ")) label = label.substring(5);
        String who = switch (l.actor()) {
            case HW -> "HW: ";
            case HOST -> "host: ";
            case USER -> "user: ";
            case QEMU -> "";
        };
        return clip(who + label.replace("0000:", ""), 34);
    }

    static String summary(AnalyzedEpisode a) {
        Episode e = a.episode();
        StringBuilder sb = new StringBuilder();
        sb.append("episode ").append(e.id()).append(" · ").append(a.outcome().id());
        if (e.result() != null) sb.append(" · recovery returned ").append(Pci.ers(e.result()));
        if (e.recoveryStart() != null && e.recoveryEnd() != null) {
            sb.append(" in ").append(duration(e.recoveryEnd() - e.recoveryStart()));
        }
        List<HostReset> rr = e.recoveryResets();
        if (!rr.isEmpty() && rr.get(0).end() != null) {
            sb.append(" · reset ").append(rr.get(0).bridge()).append(" for ").append(duration(rr.get(0).end() - rr.get(0).start()));
        }
        if (!e.hasRecovery()) {
            sb.append(e.severity() != null && e.severity() == 2 ? " · no host recovery (correctable: fixed by the hardware)" : " · no recovery seen");
        }
        long races = a.verdicts().stream().filter(v -> v.kind().category == Verdict.Category.RACE).count();
        sb.append(" · ").append(races == 0 ? "no race" : races + (races == 1 ? " race verdict" : " race verdicts"));
        if (!e.gaps().isEmpty()) sb.append(" · ").append(e.gaps().size()).append(" gap(s) in the window");
        return sb.toString();
    }

    /** Human duration from ns: 850 ns, 12.3 µs, 4.56 ms, 1.23 s. */
    public static String duration(long ns) {
        if (ns < 1_000) return ns + " ns";
        if (ns < 1_000_000) return fmt(ns / 1e3) + " µs";
        if (ns < 1_000_000_000) return fmt(ns / 1e6) + " ms";
        return fmt(ns / 1e9) + " s";
    }

    private static String fmt(double v) {
        if (v >= 100) return String.format(Locale.ROOT, "%.0f", v);
        if (v >= 10) return String.format(Locale.ROOT, "%.1f", v);
        return String.format(Locale.ROOT, "%.2f", v);
    }

    static String clip(String s, int max) {
        return s.length() <= max ? s : s.substring(0, max - 1) + "…";
    }

    private static Shape diamond(double s) {
        Path2D p = new Path2D.Double();
        p.moveTo(0, -s);
        p.lineTo(s, 0);
        p.lineTo(0, s);
        p.lineTo(-s, 0);
        p.closePath();
        return p;
    }

    private static Shape triangle(double s) {
        Path2D p = new Path2D.Double();
        p.moveTo(0, -s);
        p.lineTo(s, s);
        p.lineTo(-s, s);
        p.closePath();
        return p;
    }

    private static Shape cross(double s) {
        Path2D p = new Path2D.Double();
        double w = s / 3;
        p.moveTo(-s, -s + w);
        p.lineTo(-s + w, -s);
        p.lineTo(0, -w);
        p.lineTo(s - w, -s);
        p.lineTo(s, -s + w);
        p.lineTo(w, 0);
        p.lineTo(s, s - w);
        p.lineTo(s - w, s);
        p.lineTo(0, w);
        p.lineTo(-s + w, s);
        p.lineTo(-s, s - w);
        p.lineTo(-w, 0);
        p.closePath();
        return p;
    }

    private static Shape square(double s) {
        return new Rectangle2D.Double(-s / 2, -s / 2, s, s);
    }

}
