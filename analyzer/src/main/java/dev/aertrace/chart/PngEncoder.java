package dev.aertrace.chart;

import java.awt.image.BufferedImage;
import java.awt.image.DataBufferInt;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.zip.CRC32;
import java.util.zip.Deflater;

/**
 * A PNG writer for the opaque RGB images our charts are drawn into. ImageIO's PNG writer spent 60% of a timeline
 * chart's CPU (issue 13, JFR): it tries every row filter in Java and by default spools through a temporary file.
 * Deflate's cost is per byte it is given, so the lever is fewer bytes: a chart drawn without antialiasing has a few
 * dozen colours and is written as a palette image (one byte a pixel instead of three); any image with more than
 * 256 colours falls back to truecolour. Rows are "Up"-filtered (each minus the row above), which turns the lanes'
 * repeated rows into zeros; a palette image's rows go to {@link RunDeflater}, which codes those zeros as runs
 * (zlib, even at its fastest level, walked every one of them), a truecolour image's to zlib's fastest level. Only the specification's minimum is written (IHDR,
 * PLTE, IDAT, IEND; 8 bits, no interlace): any reader decodes exactly the pixels drawn, which a test checks.
 */
final class PngEncoder {
    private static final byte[] SIGNATURE = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    private static final byte FILTER_UP = 2;
    private static final int MAX_PALETTE = 256;

    private PngEncoder() {}

    /** The image must be {@link BufferedImage#TYPE_INT_RGB}, as {@link ChartFiles#png} draws it. */
    static byte[] encode(BufferedImage img) {
        if (img.getType() != BufferedImage.TYPE_INT_RGB) throw new IllegalArgumentException("PngEncoder takes TYPE_INT_RGB, got " + img.getType());
        int w = img.getWidth(), h = img.getHeight();
        int[] px = ((DataBufferInt) img.getRaster().getDataBuffer()).getData();
        ColourIndex pal = new ColourIndex();
        RunDeflater z = new RunDeflater();
        boolean indexed = upIndexed(px, w, h, pal, z);
        ByteArrayOutputStream out = new ByteArrayOutputStream(64 * 1024);
        out.writeBytes(SIGNATURE);
        chunk(out, "IHDR", ByteBuffer.allocate(13).putInt(w).putInt(h)
                .put((byte) 8).put((byte) (indexed ? 3 : 2)).put((byte) 0).put((byte) 0).put((byte) 0).array());
        if (indexed) {
            chunk(out, "PLTE", pal.plte());
            chunk(out, "IDAT", z.finish());
        } else {
            idat(out, upRgb(px, w, h));
        }
        chunk(out, "IEND", new byte[0]);
        return out.toByteArray();
    }

    /** Colour to palette index, open addressing; the last colour is cached, since colours come in runs. */
    private static final class ColourIndex {
        private final int[] keys = new int[1024];
        private final byte[] vals = new byte[1024];
        private final boolean[] used = new boolean[1024];
        private final int[] colours = new int[MAX_PALETTE];
        private int n;
        private int last = -1;
        private int lastIdx;

        /** The colour's index, added if new; -1 past 256 colours. */
        int index(int rgb) {
            int c = rgb & 0xFFFFFF;
            if (c == last) return lastIdx;
            int s = (c * 0x9E3779B1) >>> 22;
            while (used[s] && keys[s] != c) s = (s + 1) & 1023;
            if (!used[s]) {
                if (n == MAX_PALETTE) return -1;
                used[s] = true;
                keys[s] = c;
                vals[s] = (byte) n;
                colours[n++] = c;
            }
            last = c;
            lastIdx = vals[s] & 0xFF;
            return lastIdx;
        }

        byte[] plte() {
            byte[] b = new byte[3 * n];
            for (int i = 0, o = 0; i < n; i++) {
                b[o++] = (byte) (colours[i] >>> 16);
                b[o++] = (byte) (colours[i] >>> 8);
                b[o++] = (byte) colours[i];
            }
            return b;
        }
    }

    /**
     * The Up-filtered palette image, told to {@code z} as runs of bytes; false past 256 colours. A
     * pixel equal to the one above filters to zero, so only the pixels that differ from the row above are looked up,
     * once each: the row above's indices are kept in {@code above}. {@code Arrays.mismatch} finds the runs of pixels
     * equal to the row above (a chart's bands repeat whole rows), which go to {@code z} as one count, and each run of
     * differing pixels is walked to its end without another call: under the launcher's C1 a call per differing
     * pixel cost 2.2 ms a chart, this 1.35 (issue 13).
     */
    private static boolean upIndexed(int[] px, int w, int h, ColourIndex pal, RunDeflater z) {
        byte[] above = new byte[w];
        for (int y = 0; y < h; y++) {
            int i = y * w;
            z.bytes(FILTER_UP, 1);
            if (y == 0) { // the row above the first is zeros: its filtered bytes are its indices
                for (int x = 0; x < w; x++) {
                    int a = pal.index(px[x]);
                    if (a < 0) return false;
                    above[x] = (byte) a;
                    z.bytes(a, 1);
                }
                continue;
            }
            int x = 0;
            while (x < w) {
                int m = Arrays.mismatch(px, i + x, i + w, px, i - w + x, i);
                if (m < 0) break;
                z.bytes(0, m);
                x += m;
                do {
                    int a = pal.index(px[i + x]);
                    if (a < 0) return false;
                    z.bytes(a - above[x], 1);
                    above[x] = (byte) a;
                    x++;
                } while (x < w && px[i + x] != px[i - w + x]);
            }
            z.bytes(0, w - x);
        }
        return true;
    }

    private static byte[] upRgb(int[] px, int w, int h) {
        int stride = 1 + 3 * w;
        byte[] raw = new byte[stride * h];
        for (int y = 0; y < h; y++) {
            int o = y * stride, i = y * w;
            raw[o++] = FILTER_UP;
            for (int x = 0; x < w; x++, i++, o += 3) {
                int p = px[i], q = y == 0 ? 0 : px[i - w];
                if (p == q) continue;
                raw[o] = (byte) ((p >>> 16) - (q >>> 16));
                raw[o + 1] = (byte) ((p >>> 8) - (q >>> 8));
                raw[o + 2] = (byte) (p - q);
            }
        }
        return raw;
    }

    private static void idat(ByteArrayOutputStream out, byte[] raw) {
        Deflater d = new Deflater(Deflater.BEST_SPEED);
        try {
            d.setInput(raw);
            d.finish();
            byte[] buf = new byte[64 * 1024];
            while (!d.finished()) {
                int n = d.deflate(buf);
                if (n > 0) chunk(out, "IDAT", Arrays.copyOf(buf, n));
            }
        } finally {
            d.end();
        }
    }

    private static void chunk(ByteArrayOutputStream out, String type, byte[] data) {
        byte[] t = type.getBytes(StandardCharsets.US_ASCII);
        out.writeBytes(ByteBuffer.allocate(4).putInt(data.length).array());
        out.writeBytes(t);
        out.writeBytes(data);
        CRC32 crc = new CRC32();
        crc.update(t);
        crc.update(data);
        out.writeBytes(ByteBuffer.allocate(4).putInt((int) crc.getValue()).array());
    }
}
