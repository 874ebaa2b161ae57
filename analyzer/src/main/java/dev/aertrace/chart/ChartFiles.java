package dev.aertrace.chart;

import org.jfree.chart.JFreeChart;
import org.jfree.svg.SVGGraphics2D;
import org.jfree.svg.SVGUtils;

import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.GraphicsEnvironment;
import java.awt.geom.Rectangle2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;

/** Writes charts as PNG (JFreeChart) or SVG (JFreeSVG), chosen by the file extension. Headless. */
public final class ChartFiles {
    public static final int WIDTH = 1200;
    public static final int HEIGHT = 600;

    static {
        // Charts are files, never windows: no display needed, and AWT must not look for one.
        System.setProperty("java.awt.headless", "true");
    }

    private ChartFiles() {}

    public enum Format {
        PNG, SVG;

        public String ext() { return name().toLowerCase(); }

        public static Format of(Path p) {
            String n = p.getFileName().toString().toLowerCase();
            if (n.endsWith(".png")) return PNG;
            if (n.endsWith(".svg")) return SVG;
            throw new IllegalArgumentException("chart file must end in .png or .svg: " + p);
        }
    }

    public static void write(JFreeChart chart, Path out, int width, int height) throws IOException {
        checkFonts();
        Path parent = out.toAbsolutePath().getParent();
        if (parent != null) Files.createDirectories(parent);
        switch (Format.of(out)) {
            case PNG -> {
                try (OutputStream os = Files.newOutputStream(out)) {
                    os.write(png(chart, width, height));
                }
            }
            case SVG -> SVGUtils.writeToSVG(out.toFile(), svgGraphics(chart, width, height).getSVGElement());
        }
    }

    /**
     * Drawn without antialiasing, opaque: our charts are axis-aligned bars, ticks and hinted text, which stay crisp,
     * and the picture then has a few dozen colours, which {@link PngEncoder} writes as a palette image. With
     * antialiasing a timeline chart had ~1,500 colours and cost 2.5x the CPU (chart-bench, issue 13); SVG output keeps
     * the chart's own rendering hints for whoever wants vector quality.
     */
    public static byte[] png(JFreeChart chart, int width, int height) {
        checkFonts();
        boolean aa = chart.getAntiAlias();
        chart.setAntiAlias(false);
        try {
            BufferedImage img = canvas(width, height, chart);
            Graphics2D g = img.createGraphics();
            try {
                chart.draw(g, new Rectangle2D.Double(0, 0, width, height), null, null);
            } finally {
                g.dispose();
            }
            return PngEncoder.encode(img);
        } finally {
            chart.setAntiAlias(aa);
        }
    }

    /**
     * One image per thread, drawn over for every chart: a 1200x600 image is 2.9 MB to allocate and zero, a tenth of a
     * chart's CPU with the garbage it leaves (chart-bench). It never leaves {@link #png}: the caller gets the encoded
     * bytes. A chart whose background is not an opaque colour would show the previous chart through it, so the
     * canvas is cleared first then.
     */
    private static final ThreadLocal<BufferedImage> CANVAS = new ThreadLocal<>();

    private static BufferedImage canvas(int width, int height, JFreeChart chart) {
        BufferedImage img = CANVAS.get();
        if (img == null || img.getWidth() != width || img.getHeight() != height) {
            img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
            CANVAS.set(img);
        } else if (!(chart.getBackgroundPaint() instanceof Color c) || c.getAlpha() != 255) {
            java.util.Arrays.fill(((java.awt.image.DataBufferInt) img.getRaster().getDataBuffer()).getData(), 0);
        }
        return img;
    }

    public static String svg(JFreeChart chart, int width, int height) {
        checkFonts();
        return svgGraphics(chart, width, height).getSVGDocument();
    }

    private static SVGGraphics2D svgGraphics(JFreeChart chart, int width, int height) {
        SVGGraphics2D g = new SVGGraphics2D(width, height);
        // JFreeSVG's default id prefix is the clock: a fixed one makes regenerated files diff only where they changed.
        g.setDefsKeyPrefix("aertrace");
        chart.draw(g, new Rectangle2D.Double(0, 0, width, height));
        return g;
    }

    private static volatile boolean fontsChecked;

    /** Java's font lookup on Linux goes through fontconfig; without any font the failure is an obscure NPE. */
    static void checkFonts() {
        if (fontsChecked) return;
        try {
            String[] fams = GraphicsEnvironment.getLocalGraphicsEnvironment().getAvailableFontFamilyNames();
            if (fams.length == 0) throw new IllegalStateException("no fonts");
            new Font(Font.SANS_SERIF, Font.PLAIN, 12).getStringBounds("x",
                    new java.awt.font.FontRenderContext(null, true, true));
        } catch (RuntimeException | Error e) {
            throw new IllegalStateException("charts need fonts: install them with "
                    + "`apt-get install fontconfig fonts-dejavu-core` (" + e + ")", e);
        }
        fontsChecked = true;
    }
}
