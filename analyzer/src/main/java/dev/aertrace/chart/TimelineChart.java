package dev.aertrace.chart;

import dev.aertrace.text.Durations;
import dev.aertrace.text.Text;

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
    static final Font TITLE = new Font(FONT, Font.BOLD, 18);
    static final Font SUB = new Font(FONT, Font.PLAIN, 13);
    static final Font LANE = new Font(FONT, Font.PLAIN, 12);
    static final Font LABEL = new Font(FONT, Font.PLAIN, 11);
    static final Font RACE_LABEL = new Font(FONT, Font.BOLD, 12);
    /** Approximate advance of one LABEL character in px, to keep labels of one lane from overlapping. */
    static final double CHAR_PX = 6.6;

    private TimelineChart() {}

    /** Draw series: order is paint order, outer spans first so nested ones sit on top. */
    enum Series {
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

    /** Point marks, in paint and legend order: one table for the renderer and the legend. */
    enum MarkStyle {
        AER("AER error", diamond(9), Palette.AER_EVENT),
        NOTIFY("eventfd: user notified", triangle(8), Palette.YELLOW),
        ALL_ONES("config read returned all ones", cross(8), Palette.RACE),
        GAP("lost events / gap", square(6), Palette.GREY),
        LINK("link up/down (port)", triangle(8), Palette.GREY),
        VM_STATE("QEMU: VM stopped / state / reset", diamond(10), Palette.VM_STATE);

        final String legend;
        final Shape shape;
        final Color color;

        MarkStyle(String legend, Shape shape, Color color) {
            this.legend = legend;
            this.shape = shape;
            this.color = color;
        }
    }

    public static JFreeChart create(AnalyzedEpisode a) {
        return new TimelineLayers(a).chart();
    }

    static LegendItemCollection legendItems(List<Series> used, Map<MarkStyle, XYSeries> marks, boolean windows) {
        LegendItemCollection items = new LegendItemCollection();
        for (Series s : used) {
            LegendItem li = new LegendItem(s.legend, null, null, null, new Rectangle2D.Double(-6, -5, 12, 10), s.color);
            li.setLabelFont(LABEL);
            items.add(li);
        }
        for (MarkStyle m : MarkStyle.values()) {
            if (marks.get(m).getItemCount() == 0) continue;
            LegendItem li = new LegendItem(m.legend, null, null, null, m.shape, m.color);
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

    static Series series(EpisodeLanes.Span s, int depth) {
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

    static String laneLabel(EpisodeLanes.Lane l) {
        String label = l.label();
        if (l.actor() == EpisodeLanes.Actor.HOST && label.startsWith("host ")) label = label.substring(5);
        String who = switch (l.actor()) {
            case HW -> "HW: ";
            case HOST -> "host: ";
            case USER -> "user: ";
            case QEMU -> "";
        };
        return Text.clip(who + label.replace("0000:", ""), 34);
    }

    static String summary(AnalyzedEpisode a) {
        Episode e = a.episode();
        StringBuilder sb = new StringBuilder();
        sb.append("episode ").append(e.id()).append(" · ").append(a.outcome().id());
        if (e.result() != null) sb.append(" · recovery returned ").append(Pci.ers(e.result()));
        if (e.recoveryStart() != null && e.recoveryEnd() != null) {
            sb.append(" in ").append(Durations.dur(e.recoveryEnd() - e.recoveryStart()));
        }
        List<HostReset> rr = e.recoveryResets();
        if (!rr.isEmpty() && rr.get(0).end() != null) {
            sb.append(" · reset ").append(rr.get(0).bridge()).append(" for ").append(Durations.dur(rr.get(0).end() - rr.get(0).start()));
        }
        if (!e.hasRecovery()) {
            sb.append(e.severity() != null && e.severity() == 2 ? " · no host recovery (correctable: fixed by the hardware)" : " · no recovery seen");
        }
        long races = a.verdicts().stream().filter(v -> v.kind().category == Verdict.Category.RACE).count();
        sb.append(" · ").append(races == 0 ? "no race" : races + (races == 1 ? " race verdict" : " race verdicts"));
        if (!e.gaps().isEmpty()) sb.append(" · ").append(e.gaps().size()).append(" gap(s) in the window");
        return sb.toString();
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
