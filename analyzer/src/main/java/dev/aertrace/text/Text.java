package dev.aertrace.text;

import java.util.List;

/** Fitting text into columns and paragraphs: clipping, wrapping, short device names, ASCII for mails. */
public final class Text {
    private Text() {}

    /** At most {@code max} characters, the last one "…" when cut. */
    public static String clip(String s, int max) {
        return s.length() <= max ? s : s.substring(0, max - 1) + "…";
    }

    /** A table cell of width {@code w}: cut with "~", which reads as "cell cut" rather than "sentence cut". */
    public static String fit(String s, int w) {
        return s.length() <= w ? s : s.substring(0, w - 1) + "~";
    }

    /** "0000:01:00.0" → "01:00.0" (domain 0 is the common case and eats columns); "-" for none. */
    public static String shortDev(String d) {
        if (d == null) return "-";
        return d.startsWith("0000:") ? d.substring(5) : d;
    }

    /** For plain-ASCII outputs (mailing-list mails): the few non-ASCII characters the phrases use. */
    public static String ascii(String s) {
        return s.replace('µ', 'u').replace('→', '>').replace('←', '<').replace('—', '-').replace('…', '.')
                .replace('·', '|');
    }

    /**
     * Word-wraps {@code s} to {@code width}, continuation lines starting with {@code indent}, at most
     * {@code maxLines} lines, the last saying what was cut. One pass over {@code s}: re-slicing the rest for every
     * line was quadratic, and a damaged trace's megabyte-long evidence list took minutes.
     */
    public static void wrap(List<String> out, String s, String indent, int width, int maxLines) {
        int pos = 0, n = s.length(), lines = 0;
        boolean first = true;
        while (pos < n) {
            String prefix = first ? "" : indent;
            int room = width - prefix.length();
            if (n - pos <= room) {
                out.add(prefix + s.substring(pos));
                return;
            }
            if (lines == maxLines - 1) {
                out.add(prefix + "... " + (n - pos) + " more characters (--format json has all)");
                return;
            }
            int cutAt = s.lastIndexOf(' ', pos + room);
            if (cutAt <= (first ? indent.length() : pos)) cutAt = pos + room;
            out.add(prefix + s.substring(pos, cutAt));
            pos = cutAt;
            while (pos < n && Character.isWhitespace(s.charAt(pos))) pos++;
            first = false;
            lines++;
        }
    }
}
