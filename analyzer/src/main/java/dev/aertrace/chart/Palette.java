package dev.aertrace.chart;

import java.awt.Color;

/**
 * Okabe–Ito colours (Okabe &amp; Ito, "Color Universal Design", 2008): distinguishable under the common
 * colour-vision deficiencies and in greyscale print. Each actor of a timeline keeps one colour in every chart.
 */
public final class Palette {
    public static final Color BLACK = new Color(0x000000);
    public static final Color ORANGE = new Color(0xE69F00);
    public static final Color SKY_BLUE = new Color(0x56B4E9);
    public static final Color BLUISH_GREEN = new Color(0x009E73);
    public static final Color YELLOW = new Color(0xF0E442);
    public static final Color BLUE = new Color(0x0072B2);
    public static final Color VERMILLION = new Color(0xD55E00);
    public static final Color REDDISH_PURPLE = new Color(0xCC79A7);
    public static final Color GREY = new Color(0x999999);

    /** The eight colours in the order used for categorical series (black last: it is reserved for text and marks). */
    public static final Color[] SERIES = {BLUE, ORANGE, BLUISH_GREEN, REDDISH_PURPLE, SKY_BLUE, VERMILLION, YELLOW, BLACK};

    // Roles, so the timeline, the phase chart and the compare chart agree.
    public static final Color AER_EVENT = BLACK;
    public static final Color RECOVERY = SKY_BLUE;
    public static final Color CALLBACK = BLUE;
    public static final Color HOST_RESET = ORANGE;
    public static final Color USER_ACCESS = BLUISH_GREEN;
    public static final Color USER_IOCTL = REDDISH_PURPLE;
    public static final Color USER_RESET = YELLOW;
    public static final Color RACE = VERMILLION;
    /** The QEMU lane: the guest's accesses (a lighter blue than the host's) and the VM's state marks. */
    public static final Color GUEST_ACCESS = SKY_BLUE;
    public static final Color VM_STATE = REDDISH_PURPLE;

    private Palette() {}

    public static Color series(int i) { return SERIES[Math.floorMod(i, SERIES.length)]; }

    /** Same hue with alpha, for shaded windows behind the bars. */
    public static Color translucent(Color c, int alpha) { return new Color(c.getRed(), c.getGreen(), c.getBlue(), alpha); }

    /** The opaque colour {@code c} at {@code alpha} (0..1) makes over white. */
    public static Color overWhite(Color c, double alpha) {
        return new Color((int) Math.round(255 - (255 - c.getRed()) * alpha), (int) Math.round(255 - (255 - c.getGreen()) * alpha),
                (int) Math.round(255 - (255 - c.getBlue()) * alpha));
    }

    /** The opaque colour black at {@code alpha} (0..1) makes over {@code c}; a translucent colour's alpha is kept. */
    public static Color darker(Color c, double alpha) {
        double k = 1 - alpha;
        return new Color((int) Math.round(c.getRed() * k), (int) Math.round(c.getGreen() * k), (int) Math.round(c.getBlue() * k), c.getAlpha());
    }

    public static String hex(Color c) { return String.format("#%02X%02X%02X", c.getRed(), c.getGreen(), c.getBlue()); }
}
