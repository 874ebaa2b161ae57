package dev.aertrace.chart;

import org.jfree.chart.block.LengthConstraintType;
import org.jfree.chart.block.RectangleConstraint;
import org.jfree.chart.text.TextBlock;
import org.jfree.chart.text.TextBlockAnchor;
import org.jfree.chart.title.TextTitle;
import org.jfree.chart.title.Title;
import org.jfree.chart.ui.HorizontalAlignment;
import org.jfree.chart.ui.RectangleEdge;
import org.jfree.chart.ui.Size2D;
import org.jfree.data.Range;

import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.Paint;
import java.awt.geom.Rectangle2D;

/**
 * JFreeChart's {@link TextTitle} above or below a chart, drawn the same, with its lines broken by
 * {@link LineBreaker} instead of a {@code BreakIterator} run per word (issue 13: 22% of a timeline PNG's CPU).
 * Only what our charts use: no background, border, tooltip or entity, and titles at the top or bottom.
 * {@link #reference()} is the {@link TextTitle} it stands for, which {@code LineBreakerTest} draws beside it.
 */
final class PlainTitle extends Title {
    private final String text;
    private final Font font;
    private Paint paint = Color.BLACK; // TextTitle.DEFAULT_TEXT_PAINT
    private HorizontalAlignment textAlignment;
    private int maxLines = Integer.MAX_VALUE;
    private TextBlock content;

    PlainTitle(String text, Font font) {
        this.text = text;
        this.font = font;
        this.textAlignment = getHorizontalAlignment(); // as TextTitle: the text aligned as the title is
    }

    PlainTitle paint(Paint p) {
        this.paint = p;
        return this;
    }

    /** Where the title's box sits; as in TextTitle, its lines stay aligned as they were ({@link #textAlign}). */
    PlainTitle at(RectangleEdge edge, HorizontalAlignment align) {
        setPosition(edge);
        setHorizontalAlignment(align);
        return this;
    }

    /** How lines are aligned to each other inside the title's box. */
    PlainTitle textAlign(HorizontalAlignment align) {
        this.textAlignment = align;
        return this;
    }

    PlainTitle maxLines(int n) {
        this.maxLines = n;
        return this;
    }

    /** The JFreeChart title this one draws like. */
    TextTitle reference() {
        TextTitle t = new TextTitle(text, font);
        t.setPaint(paint);
        t.setPosition(getPosition());
        t.setHorizontalAlignment(getHorizontalAlignment());
        t.setTextAlignment(textAlignment);
        t.setMaximumLinesToDisplay(maxLines);
        return t;
    }

    /** TextTitle.arrange for a title at the top or bottom; every constraint our charts give comes to arrangeRR. */
    @Override
    public Size2D arrange(Graphics2D g2, RectangleConstraint constraint) {
        RectangleConstraint cc = toContentConstraint(constraint);
        LengthConstraintType w = cc.getWidthConstraintType();
        float maxWidth;
        if (w == LengthConstraintType.NONE && cc.getHeightConstraintType() == LengthConstraintType.NONE) {
            maxWidth = Float.MAX_VALUE; // arrangeNN: arrangeRR over (0, Float.MAX_VALUE)
        } else if (w == LengthConstraintType.RANGE && cc.getHeightConstraintType() == LengthConstraintType.RANGE) {
            maxWidth = (float) cc.getWidthRange().getUpperBound();
        } else if (w == LengthConstraintType.FIXED && cc.getHeightConstraintType() == LengthConstraintType.NONE) {
            maxWidth = (float) cc.getWidth();
        } else if (w == LengthConstraintType.RANGE && cc.getHeightConstraintType() == LengthConstraintType.NONE) {
            return rangeNone(g2, cc.getWidthRange());
        } else {
            throw new IllegalStateException("title constraint not used by our charts: " + cc);
        }
        Size2D s = content(g2, maxWidth);
        return new Size2D(calculateTotalWidth(s.getWidth()), calculateTotalHeight(s.getHeight()));
    }

    /** TextTitle.arrangeRN: unbounded first, then again at the nearest allowed width. */
    private Size2D rangeNone(Graphics2D g2, Range widthRange) {
        Size2D s = content(g2, Float.MAX_VALUE);
        if (!widthRange.contains(s.getWidth())) s = content(g2, (float) widthRange.constrain(s.getWidth()));
        return new Size2D(calculateTotalWidth(s.getWidth()), calculateTotalHeight(s.getHeight()));
    }

    private Size2D content(Graphics2D g2, float maxWidth) {
        RectangleEdge p = getPosition();
        if (p != RectangleEdge.TOP && p != RectangleEdge.BOTTOM) throw new IllegalStateException("title at " + p);
        g2.setFont(font);
        content = LineBreaker.block(text, font, paint, maxWidth, maxLines, g2);
        content.setLineAlignment(textAlignment);
        return content.calculateDimensions(g2);
    }

    @Override
    public void draw(Graphics2D g2, Rectangle2D area) {
        draw(g2, area, null);
    }

    /** TextTitle.draw and drawHorizontal, without background, border or entities. */
    @Override
    public Object draw(Graphics2D g2, Rectangle2D area, Object params) {
        if (content == null) return null;
        area = trimMargin(area);
        drawBorder(g2, area);
        if (text.isEmpty()) return null;
        area = trimPadding(trimBorder(area));
        g2.setFont(font);
        g2.setPaint(paint);
        boolean top = getPosition() == RectangleEdge.TOP;
        HorizontalAlignment h = getHorizontalAlignment();
        float x = (float) (h == HorizontalAlignment.LEFT ? area.getX() : h == HorizontalAlignment.RIGHT ? area.getMaxX() : area.getCenterX());
        float y = (float) (top ? area.getY() : area.getMaxY());
        TextBlockAnchor anchor = h == HorizontalAlignment.LEFT ? (top ? TextBlockAnchor.TOP_LEFT : TextBlockAnchor.BOTTOM_LEFT)
                : h == HorizontalAlignment.RIGHT ? (top ? TextBlockAnchor.TOP_RIGHT : TextBlockAnchor.BOTTOM_RIGHT)
                : (top ? TextBlockAnchor.TOP_CENTER : TextBlockAnchor.BOTTOM_CENTER);
        content.draw(g2, x, y, anchor);
        return null;
    }
}
