package dev.aertrace.chart;

import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.CategoryAxis;
import org.jfree.chart.axis.CategoryLabelPositions;
import org.jfree.chart.axis.LogAxis;
import org.jfree.chart.block.BlockBorder;
import org.jfree.chart.plot.CategoryPlot;
import org.jfree.chart.renderer.category.BoxAndWhiskerRenderer;
import org.jfree.chart.title.LegendTitle;
import org.jfree.chart.ui.HorizontalAlignment;
import org.jfree.chart.ui.RectangleEdge;
import org.jfree.data.statistics.DefaultBoxAndWhiskerCategoryDataset;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Phase durations across many episodes as box plots, one box per phase and group (kernel or label), on a
 * log axis because recovery phases span five orders of magnitude (µs callbacks, 100 ms link resets).
 * Boxes are quartiles, whiskers 1.5 IQR (JFreeChart's convention), dots the outliers.
 */
public final class PhaseChart {
    private static final Font FONT = new Font(TimelineChart.FONT, Font.PLAIN, 12);

    private PhaseChart() {}

    /**
     * @param groups group name → phase → durations in ns (phase order taken from {@code phaseOrder}, then first seen)
     * @param note   optional one-line subtitle (e.g. the verdicts)
     */
    public static JFreeChart create(String title, Map<String, Map<String, double[]>> groups, List<String> phaseOrder,
                                    String note) {
        return create(title, groups, phaseOrder, note, Map.of());
    }

    /**
     * @param verdicts phase → short verdict lines ("▲ slower ×1.55") written under the phase name in bold, so the
     *                 picture carries the test's result
     */
    public static JFreeChart create(String title, Map<String, Map<String, double[]>> groups, List<String> phaseOrder,
                                    String note, Map<String, String> verdicts) {
        Set<String> phases = new LinkedHashSet<>();
        for (String p : phaseOrder) {
            for (Map<String, double[]> g : groups.values()) if (g.containsKey(p) && g.get(p).length > 0) { phases.add(p); break; }
        }
        for (Map<String, double[]> g : groups.values()) g.forEach((p, v) -> { if (v.length > 0) phases.add(p); });

        DefaultBoxAndWhiskerCategoryDataset data = new DefaultBoxAndWhiskerCategoryDataset();
        Map<String, String> columnLabel = new LinkedHashMap<>();
        double[] range = data(groups, phases, verdicts, data, columnLabel);
        CategoryPlot plot = new CategoryPlot(data, phaseAxis(verdicts, columnLabel), durationAxis(range[0], range[1]), renderer(groups));
        plot.setBackgroundPaint(Color.WHITE);
        plot.setRangeGridlinePaint(new Color(0xDDDDDD));
        plot.setOutlinePaint(new Color(0x888888));

        JFreeChart chart = new JFreeChart(null, null, plot, false);
        chart.setBackgroundPaint(Color.WHITE);
        if (title != null) chart.addSubtitle(new PlainTitle(title, new Font(TimelineChart.FONT, Font.BOLD, 18))); // drawn first, as JFreeChart's own
        if (note != null && !note.isBlank()) chart.addSubtitle(new PlainTitle(note, new Font(TimelineChart.FONT, Font.PLAIN, 13)));
        LegendTitle legend = new LegendTitle(plot);
        legend.setPosition(RectangleEdge.BOTTOM);
        legend.setItemFont(FONT);
        legend.setFrame(BlockBorder.NONE);
        chart.addSubtitle(legend);
        chart.addSubtitle(new PlainTitle("box: quartiles, line: median, whiskers: 1.5 IQR, circles/triangles: outliers",
                new Font(TimelineChart.FONT, Font.ITALIC, 10)).at(RectangleEdge.BOTTOM, HorizontalAlignment.CENTER).paint(new Color(0x555555)));
        return chart;
    }

    /** Fills {@code data} (ms, clamped to 1 ns for the log axis) and the column labels; returns {min, max} in ms. */
    private static double[] data(Map<String, Map<String, double[]>> groups, Set<String> phases, Map<String, String> verdicts,
                                 DefaultBoxAndWhiskerCategoryDataset data, Map<String, String> columnLabel) {
        double min = Double.MAX_VALUE, max = 0;
        for (String p : phases) {
            StringBuilder n = new StringBuilder(p).append(" (n=");
            boolean firstGroup = true;
            for (Map<String, double[]> g : groups.values()) {
                n.append(firstGroup ? "" : "/").append(g.getOrDefault(p, new double[0]).length);
                firstGroup = false;
            }
            n.append(")");
            if (verdicts.containsKey(p)) n.append("\n").append(verdicts.get(p));
            columnLabel.put(p, n.toString());
        }
        for (var g : groups.entrySet()) {
            for (String p : phases) {
                double[] v = g.getValue().getOrDefault(p, new double[0]);
                List<Double> ms = new ArrayList<>(v.length);
                for (double d : v) {
                    double x = Math.max(d, 1) / 1e6; // log axis: clamp 0 ns to 1 ns
                    ms.add(x);
                    min = Math.min(min, x);
                    max = Math.max(max, x);
                }
                data.add(ms, g.getKey(), columnLabel.get(p));
            }
        }
        if (max == 0) { min = 1e-3; max = 1; }

        return new double[] {min, max};
    }

    private static BoxAndWhiskerRenderer renderer(Map<String, Map<String, double[]>> groups) {
        BoxAndWhiskerRenderer r = new BoxAndWhiskerRenderer();
        r.setMeanVisible(false);
        r.setMedianVisible(true);
        r.setFillBox(true);
        r.setMaxOutlierVisible(true);
        r.setMinOutlierVisible(true);
        r.setUseOutlinePaintForWhiskers(true);
        r.setDefaultOutlinePaint(Color.BLACK);
        r.setDefaultOutlineStroke(new BasicStroke(1f));
        // JFreeChart sizes outlier circles from the box width: keep boxes narrow when there are few groups.
        r.setMaximumBarWidth(Math.min(0.12, 0.035 * Math.max(1, groups.size())));
        r.setItemMargin(0.15);
        r.setAutoPopulateSeriesOutlinePaint(false);
        r.setAutoPopulateSeriesOutlineStroke(false);
        int i = 0;
        for (String g : groups.keySet()) r.setSeriesPaint(i++, Palette.series(i - 1));

        return r;
    }

    private static CategoryAxis phaseAxis(Map<String, String> verdicts, Map<String, String> columnLabel) {
        CategoryAxis x = new CategoryAxis(null);
        x.setTickLabelFont(FONT);
        // Horizontal labels, wrapped: phase, sample sizes, then one line per verdict.
        x.setCategoryLabelPositions(CategoryLabelPositions.STANDARD);
        x.setMaximumCategoryLabelLines(8);
        x.setMaximumCategoryLabelWidthRatio(1.0f);
        for (var v : verdicts.entrySet()) {
            String label = columnLabel.get(v.getKey());
            if (label == null) continue;
            // Bold black, arrows for the direction: colours here would be confused with the groups' colours.
            x.setTickLabelFont(label, FONT.deriveFont(Font.BOLD));
        }
        return x;
    }

    private static org.jfree.chart.axis.ValueAxis durationAxis(double min, double max) {
        org.jfree.chart.axis.ValueAxis y;
        if (max / min > 30) {
            LogAxis log = new LogAxis("duration (ms, log scale)");
            log.setSmallestValue(1e-6);
            log.setRange(min / 2, max * 2);
            // Ticks at powers of ten with unlabelled minor ticks between: readable, unlike LogAxis' default 10^0.2 steps.
            log.setTickUnit(new org.jfree.chart.axis.NumberTickUnit(1.0, new java.text.DecimalFormat("0.####"), 9));
            log.setMinorTickMarksVisible(true);
            log.setNumberFormatOverride(new java.text.DecimalFormat("0.####"));
            y = log;
        } else {
            // Phases of one order of magnitude (e.g. only the ~100 ms resets): linear shows a 10% shift, log hides it.
            org.jfree.chart.axis.NumberAxis lin = new org.jfree.chart.axis.NumberAxis("duration (ms)");
            lin.setAutoRangeIncludesZero(false);
            double pad = (max - min) * 0.08 + 1e-6;
            lin.setRange(Math.max(0, min - pad), max + pad);
            y = lin;
        }
        y.setLabelFont(FONT);
        y.setTickLabelFont(FONT);

        return y;
    }
}
