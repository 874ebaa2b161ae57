package dev.aertrace.chart;

import org.jfree.chart.text.G2TextMeasurer;
import org.jfree.chart.text.TextBlock;
import org.jfree.chart.text.TextFragment;
import org.jfree.chart.text.TextLine;
import org.jfree.chart.text.TextUtils;

import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.Paint;
import java.text.BreakIterator;
import java.util.Arrays;

/**
 * The lines JFreeChart's {@code TextUtils.createTextBlock} makes of a title, without running
 * {@link BreakIterator} over all of it. Its {@code following()} call per word was 22% of a timeline PNG's CPU
 * (chart-bench, issue 13): most of a chart's text is the race sentences.
 *
 * <p>The line-break opportunities are the JDK's own. In text of the characters our titles use ({@link #fast}), a
 * break always falls after a run of spaces that is followed by a letter, a digit or one of {@link #PLAIN}'s
 * characters, and a word made only of those has no break inside; every other stretch of text goes through a
 * {@link BreakIterator} of its own, which breaks it as it would the whole text. {@code LineBreakerTest} holds
 * both claims against the JDK on random text and the blocks against {@code createTextBlock} pixel for pixel. Text
 * with any other character (or with JFreeChart told to measure by string bounds) takes {@code createTextBlock}
 * itself. Widths are measured as it measures them: one
 * {@link FontMetrics#stringWidth} per stretch between breaks, in the graphics' current font.
 */
final class LineBreaker {
    /** Characters that never make a break inside a word, nor stop one before it (ASCII letters and digits too). */
    static final String PLAIN = "/_=+#&*@^`|~<>'$\\";
    /** Besides printable ASCII and newline: the non-ASCII characters the analyzer itself writes into titles. */
    static final String EXTRA = "\u00b7\u00b5\u00d7\u2013\u2014\u2026\u2190\u2192";
    private static final boolean[] IS_PLAIN = new boolean[128];

    static {
        for (char c = '0'; c <= '9'; c++) IS_PLAIN[c] = true;
        for (char c = 'A'; c <= 'Z'; c++) IS_PLAIN[c] = true;
        for (char c = 'a'; c <= 'z'; c++) IS_PLAIN[c] = true;
        for (char c : PLAIN.toCharArray()) IS_PLAIN[c] = true;
    }

    private LineBreaker() {}

    private static boolean plain(char c) {
        return c < 128 && IS_PLAIN[c];
    }

    /** Whether every character of {@code s} is one whose breaking {@link #boundaries} has been checked for. */
    static boolean fast(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if ((c < ' ' || c > '~') && c != '\n' && EXTRA.indexOf(c) < 0) return false;
        }
        return true;
    }

    /** Every line-break boundary of {@code s} (0 and its length included), as the JDK's line iterator gives them. */
    static int[] boundaries(String s) {
        int[] out = new int[16];
        int n = 0;
        out[n++] = 0;
        BreakIterator it = null;
        int from = 0, i = 0, len = s.length();
        while (i < len) {
            int word = i;
            boolean plain = true;
            for (; i < len && s.charAt(i) != ' '; i++) plain &= plain(s.charAt(i));
            while (i < len && s.charAt(i) == ' ') i++;
            if (i < len && !plain(s.charAt(i))) continue; // no break certain here: the stretch goes on
            if (plain && from == word) {
                if (n == out.length) out = Arrays.copyOf(out, 2 * n);
                out[n++] = i;
            } else {
                if (it == null) it = BreakIterator.getLineInstance();
                it.setText(s.substring(from, i));
                for (int b = it.next(); b != BreakIterator.DONE; b = it.next()) {
                    if (n == out.length) out = Arrays.copyOf(out, 2 * n);
                    out[n++] = from + b;
                }
            }
            from = i;
        }
        return Arrays.copyOf(out, n);
    }

    /** {@code TextUtils.createTextBlock(text, font, paint, maxWidth, maxLines, new G2TextMeasurer(g2))}. */
    static TextBlock block(String text, Font font, Paint paint, float maxWidth, int maxLines, Graphics2D g2) {
        if (!fast(text) || TextUtils.getUseFontMetricsGetStringBounds()) return TextUtils.createTextBlock(text, font, paint, maxWidth, maxLines, new G2TextMeasurer(g2));
        FontMetrics fm = g2.getFontMetrics();
        int[] b = boundaries(text);
        TextBlock result = new TextBlock();
        int current = 0, lines = 0, length = text.length();
        while (current < length && lines < maxLines) {
            int next = nextLineBreak(text, current, maxWidth, b, fm);
            if (next == BreakIterator.DONE) {
                result.addLine(text.substring(current), font, paint);
                return result;
            } else if (next == current) {
                next++; // as createTextBlock: at least one character a line
            }
            result.addLine(text.substring(current, next), font, paint);
            lines++;
            current = next;
            while (current < length && text.charAt(current) == '\n') current++;
        }
        if (current < length) { // cut at maxLines: the last line ends in "...", as createTextBlock ends it
            TextLine last = result.getLastLine();
            TextFragment frag = last.getLastTextFragment();
            String old = frag.getText();
            last.removeFragment(frag);
            last.addFragment(new TextFragment(old.length() > 3 ? old.substring(0, old.length() - 3) + "..." : "...",
                    frag.getFont(), frag.getPaint()));
        }
        return result;
    }

    /** {@code TextUtils.nextLineBreak} over the boundaries {@code b}: following(x) is the first one after x. */
    private static int nextLineBreak(String text, int start, float width, int[] b, FontMetrics fm) {
        int current = start;
        float x = 0.0f;
        boolean firstWord = true;
        int newline = text.indexOf('\n', start);
        if (newline < 0) newline = Integer.MAX_VALUE;
        int k = Arrays.binarySearch(b, current);
        k = k >= 0 ? k + 1 : -k - 1;
        for (; k < b.length; k++) {
            int end = b[k];
            x += width(fm, text, current, end);
            if (x > width) {
                if (!firstWord) return b[k - 1]; // previous(): current, a boundary once a word has fitted
                while (width(fm, text, start, end) > width) {
                    end--;
                    if (end <= start) return end;
                }
                return end;
            }
            if (end > newline) return newline;
            firstWord = false;
            current = end;
        }
        return BreakIterator.DONE;
    }

    /** {@code G2TextMeasurer.getStringWidth}: JFreeChart measures with {@code FontMetrics.stringWidth} by default. */
    private static float width(FontMetrics fm, String text, int start, int end) {
        return fm.stringWidth(text.substring(start, end));
    }
}
