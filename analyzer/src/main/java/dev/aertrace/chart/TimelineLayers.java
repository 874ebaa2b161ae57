package dev.aertrace.chart;

import dev.aertrace.lanes.EpisodeLanes;
import dev.aertrace.race.AnalyzedEpisode;
import dev.aertrace.race.Verdict;
import dev.aertrace.text.Durations;
import dev.aertrace.text.Text;
import dev.aertrace.timeline.Episode;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.annotations.XYBoxAnnotation;
import org.jfree.chart.annotations.XYTextAnnotation;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.axis.SymbolAxis;
import org.jfree.chart.block.BlockBorder;
import org.jfree.chart.plot.DatasetRenderingOrder;
import org.jfree.chart.plot.IntervalMarker;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.SeriesRenderingOrder;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.StandardXYBarPainter;
import org.jfree.chart.renderer.xy.XYBarRenderer;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.chart.title.LegendTitle;
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
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

import static dev.aertrace.chart.TimelineChart.*;

/**
 * Draws one {@link TimelineChart}, layer by layer: the lanes' bars and labels, their marks, the axes, the host
 * reset windows, the race boxes, then the titles (race sentences, legend, notes).
 */
final class TimelineLayers {
    /** How dark a bar's outline is: black at this opacity over the bar's colour. */
    static final double OUTLINE_ALPHA = 110 / 255.0;

    /** A span that may get a label: raced and long spans first. */
    private record Candidate(double prio, EpisodeLanes.Span span, Series series, double at) {}

    private final AnalyzedEpisode a;
    private final EpisodeLanes lanes;
    private final Episode e;
    private final List<EpisodeLanes.Lane> ls;
    private final double t0;
    private final long[] focus;
    private final double axisLo, axisHi, spanMs, minMs;
    private int hiddenUser;
    private boolean widened;
    private final Map<Series, XYIntervalSeries> bars = new EnumMap<>(Series.class);
    private final Map<MarkStyle, XYSeries> marks = new EnumMap<>(MarkStyle.class);
    private final List<XYTextAnnotation> labels = new ArrayList<>();
    private final String[] names;
    private final List<Series> used = new ArrayList<>();

    TimelineLayers(AnalyzedEpisode a) {
        this.a = a;
        this.lanes = EpisodeLanes.of(a);
        this.e = a.episode();
        this.ls = new ArrayList<>(lanes.lanes());
        this.t0 = lanes.origin();
        this.focus = lanes.focus();
        this.axisLo = (focus[0] - t0) / 1e6;
        this.axisHi = (focus[1] - t0) / 1e6;
        this.spanMs = Math.max(axisHi - axisLo, 1e-3);
        this.minMs = spanMs / 400; // thinnest bar drawn: ~2.5 px at 1200 px
        dropEmptyLanes();
        for (Series s : Series.values()) bars.put(s, new XYIntervalSeries(s.legend));
        for (MarkStyle m : MarkStyle.values()) marks.put(m, new XYSeries(m.legend, false));
        this.names = new String[ls.size()];
    }

    JFreeChart chart() {
        for (int i = 0; i < ls.size(); i++) {
            EpisodeLanes.Lane l = ls.get(i);
            names[i] = laneLabel(l);
            spansAndLabels(i, l);
            marks(i, l);
        }
        XYPlot plot = plot();
        resetWindows(plot);
        raceBoxes(plot);
        return titles(plot);
    }

    /** A user thread with nothing inside the window would be an empty lane: its accesses count as hidden. */
    private void dropEmptyLanes() {
        for (var it = ls.iterator(); it.hasNext(); ) {
            EpisodeLanes.Lane l = it.next();
            if (l.actor() == EpisodeLanes.Actor.HOST && l.spans().isEmpty() && l.marks().isEmpty()) { it.remove(); continue; }
            if (l.actor() != EpisodeLanes.Actor.USER && l.actor() != EpisodeLanes.Actor.QEMU) continue;
            boolean any = l.spans().stream().anyMatch(s -> s.end() >= focus[0] && s.start() <= focus[1])
                    || l.marks().stream().anyMatch(m -> m.ts() >= focus[0] && m.ts() <= focus[1]);
            if (!any) { hiddenUser += l.spans().size(); it.remove(); }
        }
    }

    /** Lane {@code i}'s bars, nested spans on top, and the labels that fit without overlapping. */
    private void spansAndLabels(int i, EpisodeLanes.Lane l) {
        List<Candidate> candidates = new ArrayList<>();
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
                candidates.add(new Candidate(prio, s, ser, Math.max(from, axisLo)));
            }
        }
        candidates.sort((x, y) -> Double.compare(y.prio(), x.prio()));
        List<double[]> taken = new ArrayList<>();
        for (Candidate c : candidates) {
            EpisodeLanes.Span s = c.span();
            Series ser = c.series();
            double at = c.at();
            String text = s.name() + "  " + Durations.dur(s.duration());
            double px0 = (at - axisLo) / spanMs * 1000, px1 = px0 + text.length() * CHAR_PX + 8;
            if (taken.stream().anyMatch(r -> px0 < r[1] && r[0] < px1)) continue;
            taken.add(new double[] {px0, px1});
            XYTextAnnotation t = new XYTextAnnotation(text, i - ser.half - 0.02, at);
            t.setFont(s.race() ? RACE_LABEL : LABEL);
            t.setPaint(s.race() ? Palette.RACE : Color.BLACK);
            t.setTextAnchor(TextAnchor.BOTTOM_LEFT);
            labels.add(t);
        }
    }

    private void marks(int i, EpisodeLanes.Lane l) {
        for (EpisodeLanes.Mark m : l.marks()) {
            if (m.ts() < focus[0] || m.ts() > focus[1]) continue;
            double at = (m.ts() - t0) / 1e6;
            switch (m.kind()) {
                case AER -> marks.get(MarkStyle.AER).add(i, at);
                case NOTIFY -> marks.get(MarkStyle.NOTIFY).add(i, at);
                case ALL_ONES -> marks.get(MarkStyle.ALL_ONES).add(i, at);
                case GAP -> marks.get(MarkStyle.GAP).add(i, at);
                case VM_STATE -> {
                    marks.get(MarkStyle.VM_STATE).add(i, at);
                    // The stop is the answer to "why did this VM pause?": say it on the chart.
                    if (m.name().startsWith("vm_stop")) {
                        XYTextAnnotation t = new XYTextAnnotation(m.name() + "  " + Durations.dur(m.ts() - lanes.origin()), i - 0.32, at);
                        t.setFont(RACE_LABEL);
                        t.setPaint(Color.BLACK);
                        t.setTextAnchor(TextAnchor.BOTTOM_LEFT);
                        labels.add(t);
                    }
                }
                case LINK -> marks.get(MarkStyle.LINK).add(i, at);
            }
        }
    }

    private XYPlot plot() {
        XYIntervalSeriesCollection barData = new XYIntervalSeriesCollection();
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
        barR.setDefaultOutlineStroke(new BasicStroke(0.6f));
        for (int k = 0; k < used.size(); k++) {
            barR.setSeriesPaint(k, used.get(k).color);
            // The bar's own colour darkened, opaque: what a translucent black outline made over the bar, without
            // the alpha compositing that cost a fifth of a PNG's drawing (chart-bench, issue 13).
            barR.setSeriesOutlinePaint(k, Palette.darker(used.get(k).color, OUTLINE_ALPHA));
            if (used.get(k) == Series.RACE) {
                barR.setSeriesOutlinePaint(k, Color.BLACK);
                barR.setSeriesOutlineStroke(k, new BasicStroke(1.8f));
            }
        }

        XYSeriesCollection markData = new XYSeriesCollection();
        XYLineAndShapeRenderer markR = new XYLineAndShapeRenderer(false, true);
        int mk = 0;
        for (MarkStyle st : MarkStyle.values()) {
            XYSeries s = marks.get(st);
            if (s.getItemCount() == 0) continue;
            markData.addSeries(s);
            markR.setSeriesShape(mk, st.shape);
            markR.setSeriesPaint(mk, st.color);
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
        NumberAxis timeAxis = new NumberAxis("ms since " + (EpisodeLanes.deviceLoss(e) ? "the first event of the device loss"
                : "the AER error") + " (CLOCK_MONOTONIC of the traced host)");
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
        // Solid: JFreeChart's dashed default goes through the stroke dasher for every tick, a tenth of a chart's drawing.
        plot.setRangeGridlineStroke(new BasicStroke(0.5f));
        plot.setOutlinePaint(new Color(0x888888));
        plot.setAxisOffset(RectangleInsets.ZERO_INSETS);
        for (XYTextAnnotation t : labels) plot.addAnnotation(t);

        return plot;
    }

    /** Host reset windows across every lane, under the race windows. */
    private void resetWindows(XYPlot plot) {
        for (EpisodeLanes.Window w : lanes.windows()) {
            // Opaque, the colour a translucent window had over white (alpha 38 at the marker's 0.8): a translucent fill
            // goes through Java2D's general mask blit, which cost a PNG chart as much as deflating it (chart-bench, JFR).
            // It hides the light lane bands inside the window only.
            IntervalMarker m = new IntervalMarker((w.start() - t0) / 1e6, (w.end() - t0) / 1e6,
                    Palette.overWhite(Palette.HOST_RESET, 38 * 0.8 / 255));
            m.setAlpha(1f);
            m.setLabel("host reset window  " + Durations.dur(w.end() - w.start()));
            m.setLabelFont(LABEL);
            m.setLabelPaint(new Color(0x8A5A00));
            m.setLabelAnchor(RectangleAnchor.TOP_LEFT);
            m.setLabelTextAnchor(TextAnchor.TOP_LEFT);
            m.setLabelOffset(new RectangleInsets(2, 4, 2, 2));
            plot.addRangeMarker(m, Layer.BACKGROUND);
        }
    }

    private void raceBoxes(XYPlot plot) {
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
            // The shade is opaque and behind the bars (the colour the translucent shade had over white); only the
            // dashed outline is drawn over them: a translucent fill over the lanes went through Java2D's mask blit,
            // the largest part of a PNG's drawing left after the bar outlines (chart-bench, issue 13).
            plot.getRenderer().addAnnotation(new XYBoxAnnotation(k[3] + 0.46, from, k[2] - 0.46, to, null, null,
                    Palette.overWhite(Palette.RACE, 40 / 255.0)), Layer.BACKGROUND);
            plot.addAnnotation(new XYBoxAnnotation(k[3] + 0.46, from, k[2] - 0.46, to,
                    new BasicStroke(2.2f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10, new float[] {7, 4}, 0),
                    Palette.RACE, null));
            List<String> ks = new ArrayList<>(kinds.get(c));
            ks.sort(java.util.Comparator.comparingInt(id -> {
                for (Verdict.Kind vk : Verdict.Kind.values()) if (vk.id.equals(id)) return vk.ordinal();
                return Integer.MAX_VALUE;
            }));
            String text = "RACE: " + String.join(", ", ks.subList(0, Math.min(2, ks.size())))
                    + (ks.size() > 2 ? " +" + (ks.size() - 2) : "") + " (" + Durations.dur(k[1] - k[0]) + ")";
            XYTextAnnotation t = new XYTextAnnotation(" " + text + " ", k[3] + 0.44, Math.max(from, axisLo));
            t.setFont(RACE_LABEL);
            t.setPaint(Color.WHITE);
            t.setBackgroundPaint(Palette.RACE);
            t.setTextAnchor(TextAnchor.BOTTOM_LEFT);
            plot.addAnnotation(t);
        }

    }

    private JFreeChart titles(XYPlot plot) {
        // The title as the first subtitle: JFreeChart draws its own title first, then the subtitles in order, so the
        // layout is the same; JFreeChart's TextTitle breaks lines with a BreakIterator per word (PlainTitle).
        JFreeChart chart = new JFreeChart(null, null, plot, false);
        chart.setBackgroundPaint(Color.WHITE);
        chart.addSubtitle(new PlainTitle(EpisodeLanes.title(e), TITLE));
        chart.addSubtitle(new PlainTitle(summary(a), SUB));
        // Race sentences under the plot, most central kind first: what a reader needs without the tool.
        List<Verdict> rv = new ArrayList<>();
        TreeSet<String> seen = new TreeSet<>();
        for (Verdict v : a.verdicts()) if (v.kind().category == Verdict.Category.RACE) rv.add(v);
        rv.sort(java.util.Comparator.comparingInt(v -> v.kind().ordinal()));
        List<String> raceLines = new ArrayList<>();
        for (Verdict v : rv) {
            if (!seen.add(v.kind().id)) continue;
            raceLines.add("RACE " + v.kind().id + (v.tentative() ? " (tentative)" : "") + ": " + Text.clip(v.sentence(), 250));
        }
        if (raceLines.size() > 2) {
            int more = raceLines.size() - 2;
            raceLines = new ArrayList<>(raceLines.subList(0, 2));
            raceLines.add("… and " + more + " more kind" + (more == 1 ? "" : "s") + " of race verdict (aertrace analyze lists all)");
        }
        if (!raceLines.isEmpty()) {
            chart.addSubtitle(new PlainTitle(String.join("\n", raceLines), new Font(FONT, Font.BOLD, 12)).paint(Palette.RACE)
                    .at(RectangleEdge.BOTTOM, HorizontalAlignment.LEFT).textAlign(HorizontalAlignment.LEFT).maxLines(6));
        }
        boolean anyWindow = !lanes.windows().isEmpty();
        LegendTitle legend = new LegendTitle(() -> legendItems(used, marks, anyWindow));
        legend.setPosition(RectangleEdge.BOTTOM);
        legend.setItemFont(LABEL);
        legend.setFrame(BlockBorder.NONE);
        chart.addSubtitle(legend);
        List<String> notes = new ArrayList<>();
        if (widened) notes.add("bars shorter than " + Durations.dur((long) (minMs * 1e6)) + " drawn that wide; labels give true durations");
        if (hiddenUser > 0) notes.add(hiddenUser + " user accesses outside this window not drawn (aertrace export shows all)");
        if (!notes.isEmpty()) {
            chart.addSubtitle(new PlainTitle(String.join("; ", notes), new Font(FONT, Font.ITALIC, 10))
                    .at(RectangleEdge.BOTTOM, HorizontalAlignment.RIGHT).paint(new Color(0x555555)));
        }
        return chart;
    }
}
