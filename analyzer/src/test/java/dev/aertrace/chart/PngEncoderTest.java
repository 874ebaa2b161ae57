package dev.aertrace.chart;

import org.junit.jupiter.api.Test;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Our PNG writer against the JDK's PNG reader: every pixel decodes to the colour drawn, in both colour types. */
class PngEncoderTest {
    private static BufferedImage decode(byte[] png) throws IOException {
        return ImageIO.read(new ByteArrayInputStream(png));
    }

    private static void assertSamePixels(BufferedImage want, BufferedImage got) {
        assertEquals(want.getWidth(), got.getWidth());
        assertEquals(want.getHeight(), got.getHeight());
        for (int y = 0; y < want.getHeight(); y++)
            for (int x = 0; x < want.getWidth(); x++)
                assertEquals(want.getRGB(x, y) & 0xFFFFFF, got.getRGB(x, y) & 0xFFFFFF, "pixel " + x + "," + y);
    }

    /** Bands of repeated rows, runs, and a sprinkle of noise: the paths the Up filter and the run skip take. */
    private static BufferedImage image(int w, int h, int colours, long seed) {
        Random r = new Random(seed);
        int[] pal = new int[colours];
        for (int i = 0; i < colours; i++) pal[i] = r.nextInt(1 << 24);
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) {
            boolean repeat = y > 0 && r.nextInt(3) == 0;
            for (int x = 0; x < w; x++) {
                int c = repeat ? img.getRGB(x, y - 1) : (r.nextInt(8) == 0 ? pal[r.nextInt(colours)] : pal[(x / 7) % colours]);
                img.setRGB(x, y, c);
            }
        }
        return img;
    }

    @Test
    void paletteImageDecodesToTheSamePixels() throws IOException {
        for (int colours : new int[]{1, 2, 42, 256}) {
            BufferedImage img = image(301, 97, colours, colours);
            byte[] png = PngEncoder.encode(img);
            assertEquals(3, png[25], "colour type: palette for " + colours + " colours");
            assertSamePixels(img, decode(png));
        }
    }

    @Test
    void moreThan256ColoursFallBackToTruecolour() throws IOException {
        BufferedImage img = image(257, 40, 300, 7);
        byte[] png = PngEncoder.encode(img);
        assertEquals(2, png[25], "colour type: truecolour");
        assertSamePixels(img, decode(png));
    }

    @Test
    void aRealTimelineChartDecodesToWhatWasDrawn() throws IOException {
        var a = dev.aertrace.Scenarios.stalled().analyze().only();
        var chart = TimelineChart.create(a);
        chart.setAntiAlias(false);
        BufferedImage img = chart.createBufferedImage(ChartFiles.WIDTH, ChartFiles.HEIGHT, BufferedImage.TYPE_INT_RGB, null);
        assertSamePixels(img, decode(PngEncoder.encode(img)));
        assertSamePixels(img, decode(ChartFiles.png(TimelineChart.create(a), ChartFiles.WIDTH, ChartFiles.HEIGHT)));
    }

    @Test
    void onlyOpaqueRgbIsTaken() {
        assertThrows(IllegalArgumentException.class, () -> PngEncoder.encode(new BufferedImage(2, 2, BufferedImage.TYPE_INT_ARGB)));
    }
}
