package dev.aertrace.chart;

import dev.aertrace.lanes.EpisodeLanes;
import dev.aertrace.race.AnalyzedEpisode;
import dev.aertrace.race.Verdict;
import dev.aertrace.text.Text;

import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.util.List;

/**
 * chart-bench's floor: about the least a timeline PNG of an episode can cost on this machine, for comparison in the
 * same run. The episode's lanes, its spans inside the chart's window as outlined bars in their series' colours,
 * the lane labels, the title, summary and race sentences as plain lines, on a cleared canvas of the chart's size,
 * encoded by {@link PngEncoder} — with plain Java2D calls: no JFreeChart datasets, layout, axes, legend,
 * annotations or line breaking. What {@link TimelineChart} costs above this is its own.
 */
public final class ChartFloor {
    private static final ThreadLocal<BufferedImage> CANVAS =
            ThreadLocal.withInitial(() -> new BufferedImage(ChartFiles.WIDTH, ChartFiles.HEIGHT, BufferedImage.TYPE_INT_RGB));

    private ChartFloor() {}

    public static byte[] png(AnalyzedEpisode a) {
        ChartFiles.checkFonts();
        EpisodeLanes lanes = EpisodeLanes.of(a);
        BufferedImage img = CANVAS.get();
        Graphics2D g = img.createGraphics();
        try {
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, img.getWidth(), img.getHeight());
            g.setColor(Color.BLACK);
            g.setFont(TimelineChart.TITLE);
            g.drawString(EpisodeLanes.title(a.episode()), 200, 22);
            g.setFont(TimelineChart.SUB);
            g.drawString(TimelineChart.summary(a), 220, 40);
            long[] focus = lanes.focus();
            double pxPerNs = 960.0 / Math.max(1, focus[1] - focus[0]);
            List<EpisodeLanes.Lane> ls = lanes.lanes();
            int laneH = Math.max(8, 400 / Math.max(1, ls.size()));
            for (int i = 0; i < ls.size(); i++) {
                EpisodeLanes.Lane l = ls.get(i);
                int y = 60 + i * laneH;
                g.setColor(Color.BLACK);
                g.setFont(TimelineChart.LANE);
                g.drawString(TimelineChart.laneLabel(l), 4, y + laneH / 2);
                for (EpisodeLanes.Span s : l.spans()) {
                    if (s.end() < focus[0] || s.start() > focus[1]) continue;
                    int x = 220 + (int) ((Math.max(s.start(), focus[0]) - focus[0]) * pxPerNs);
                    int w = Math.max(2, (int) ((Math.min(s.end(), focus[1]) - Math.max(s.start(), focus[0])) * pxPerNs));
                    Color c = TimelineChart.series(s, 0).color;
                    g.setColor(c);
                    g.fillRect(x, y + laneH / 4, w, laneH / 2);
                    g.setColor(c.darker());
                    g.drawRect(x, y + laneH / 4, w, laneH / 2);
                }
            }
            g.setColor(Palette.RACE);
            g.setFont(TimelineChart.RACE_LABEL);
            int line = 0;
            for (Verdict v : a.verdicts()) {
                if (v.kind().category != Verdict.Category.RACE || line == 2) continue;
                g.drawString("RACE " + v.kind().id + ": " + Text.clip(v.sentence(), 130), 4, 540 + 16 * line++);
            }
        } finally {
            g.dispose();
        }
        return PngEncoder.encode(img);
    }
}
