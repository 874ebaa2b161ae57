package dev.aertrace.chart;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.util.Random;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link RunDeflater}'s streams through the JDK's zlib inflater, which also checks their Adler-32. */
class RunDeflaterTest {
    private static byte[] inflate(byte[] z) throws DataFormatException {
        Inflater inf = new Inflater();
        inf.setInput(z);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buf = new byte[1 << 16];
        while (!inf.finished()) {
            int k = inf.inflate(buf);
            if (k == 0 && !inf.finished() && (inf.needsInput() || inf.needsDictionary())) throw new DataFormatException("stream ends early");
            out.write(buf, 0, k);
        }
        assertEquals(0, inf.getRemaining(), "nothing after the Adler-32");
        inf.end();
        return out.toByteArray();
    }

    @Test
    void randomRunsInflateToTheBytesTold() throws Exception {
        Random r = new Random(5);
        for (int k = 0; k < 3_000; k++) {
            RunDeflater z = new RunDeflater();
            ByteArrayOutputStream want = new ByteArrayOutputStream();
            int runs = r.nextInt(k % 10 == 0 ? 5 : 400);
            int values = 1 + r.nextInt(k % 3 == 0 ? 3 : 256);
            for (int i = 0; i < runs; i++) {
                int b = r.nextInt(4) == 0 ? 0 : r.nextInt(values);
                int len = r.nextInt(5) == 0 ? 1 + r.nextInt(3000) : 1 + r.nextInt(6);
                z.bytes(b, len);
                for (int j = 0; j < len; j++) want.write(b);
            }
            assertArrayEquals(want.toByteArray(), inflate(z.finish()), "case " + k);
        }
    }

    @Test
    void aChartSizedRunAndOneByte() throws Exception {
        RunDeflater z = new RunDeflater();
        z.bytes(0, 720_600);
        byte[] out = inflate(z.finish());
        assertEquals(720_600, out.length);
        for (byte b : out) assertEquals(0, b);
        assertArrayEquals(new byte[] {7}, inflate(one(7)));
        assertArrayEquals(new byte[0], inflate(new RunDeflater().finish()));
    }

    private static byte[] one(int b) {
        RunDeflater z = new RunDeflater();
        z.bytes(b, 1);
        return z.finish();
    }

    /** Counts growing like Fibonacci numbers make a Huffman tree deeper than deflate's 15 bits. */
    @Test
    void skewedCountsStayWithinFifteenBits() throws Exception {
        int[] freq = new int[286];
        long a = 1, b = 1;
        for (int i = 0; i < 30; i++) {
            freq[i] = (int) a;
            long c = a + b;
            a = b;
            b = c;
        }
        byte[] len = RunDeflater.lengths(freq, 15);
        int max = 0;
        double kraft = 0;
        for (byte l : len) {
            max = Math.max(max, l);
            if (l > 0) kraft += Math.pow(2, -l);
        }
        assertTrue(max <= 15, "longest code " + max);
        assertEquals(1.0, kraft, 1e-12, "a complete code");
        for (int i = 0; i < 30; i++) assertTrue(len[i] > 0, "symbol " + i + " keeps a code");

        RunDeflater z = new RunDeflater();
        ByteArrayOutputStream want = new ByteArrayOutputStream();
        for (int i = 0; i < 30; i++) {
            for (int j = 0; j < Math.min(freq[i], 50_000); j++) {
                z.bytes(i, 1);
                z.bytes(255 - i, 1); // no runs: every byte a literal
                want.write(i);
                want.write(255 - i);
            }
        }
        assertArrayEquals(want.toByteArray(), inflate(z.finish()));
    }
}
