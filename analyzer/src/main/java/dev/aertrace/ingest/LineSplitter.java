package dev.aertrace.ingest;

import java.io.IOException;
import java.io.InputStream;

/**
 * Cuts a byte stream into lines by hand, so a broken line costs only itself and a line's number is exact whatever
 * it holds. A line longer than {@link #MAX_LINE} is corrupt by definition and is never buffered whole: bounding it
 * bounds memory.
 */
final class LineSplitter {
    /** Lines longer than this are corrupt by definition; bounding it bounds memory. */
    static final int MAX_LINE = 1 << 20;

    /** What the splitter finds. */
    interface Lines {
        /** One line without its '\n'; {@code terminated}: false for a last line the input cut off. */
        void line(byte[] b, int off, int len, boolean terminated);

        void overlong();

        /**
         * A line may start at {@code b[from]}, from &lt; n: if it is read and handled whole before a '\n' in
         * {@code b[from, n)}, that '\n''s index (the line is {@code b[from, index)}, as {@link #line} would have
         * been given it), else -1 and nothing done.
         */
        default int whole(byte[] b, int from, int n) { return -1; }

        /** A live stream has been quiet for a while: time passes. */
        default void quiet() {}
    }

    private final Lines out;
    private final TraceReader.Live live;

    LineSplitter(Lines out, TraceReader.Live live) {
        this.out = out;
        this.live = live;
    }

    /** Opens {@code raw}, transparently gunzipping it (detected by its magic bytes). */
    static InputStream decode(InputStream raw) throws IOException {
        java.io.BufferedInputStream in = new java.io.BufferedInputStream(raw, 1 << 16);
        in.mark(2);
        int a = in.read(), b = in.read();
        in.reset();
        if (a == 0x1f && b == 0x8b) return new java.util.zip.GZIPInputStream(in, 1 << 16); // unbuffered: a truncated .gz still yields what it had
        return in;
    }

    void split(InputStream in) throws IOException {
        byte[] buf = new byte[1 << 16];
        byte[] line = new byte[4096];
        int len = 0;
        boolean overlong = false;
        int n;
        while ((n = readLive(in, buf)) > 0) {
            int from = 0;
            while (true) {
                if (len == 0 && !overlong && from < n) {
                    int e = out.whole(buf, from, n);
                    if (e >= 0) {
                        from = e + 1;
                        continue;
                    }
                }
                int i = nextNewline(buf, from, n);
                if (i >= n) break;
                if (len == 0 && !overlong) {
                    out.line(buf, from, i - from, true);
                } else {
                    if (!overlong) {
                        line = append(line, len, buf, from, i - from);
                        len += i - from;
                        if (len > MAX_LINE) overlong = true;
                    }
                    if (overlong) out.overlong(); else out.line(line, 0, len, true);
                    len = 0;
                    overlong = false;
                }
                from = i + 1;
            }
            if (from < n && !overlong) {
                if (len + (n - from) > MAX_LINE) overlong = true;
                else {
                    line = append(line, len, buf, from, n - from);
                    len += n - from;
                }
            }
        }
        if (overlong) out.overlong();
        else if (len > 0) out.line(line, 0, len, false);
    }

    static final java.lang.invoke.VarHandle LONGS =
            java.lang.invoke.MethodHandles.byteArrayViewVarHandle(long[].class, java.nio.ByteOrder.LITTLE_ENDIAN);
    private static final long NL = 0x0a0a0a0a0a0a0a0aL, LO = 0x0101010101010101L, HI = 0x8080808080808080L;

    /**
     * Index of the next '\n' in b[from, n), or n. Eight bytes per step (the classic has-zero-byte test on
     * x ^ "\n\n\n\n\n\n\n\n"): scanning for line ends was the largest single cost of ingest.
     */
    static int nextNewline(byte[] b, int from, int n) {
        int i = from;
        for (; i + 8 <= n; i += 8) {
            long x = (long) LONGS.get(b, i) ^ NL;
            long z = (x - LO) & ~x & HI;
            if (z != 0) return i + (Long.numberOfTrailingZeros(z) >>> 3);
        }
        for (; i < n; i++) if (b[i] == '\n') return i;
        return n;
    }

    /**
     * A read that, on a live stream, tells the pipeline that time passes while the producer is quiet: by polling
     * available() while the producer lives (a pipe from a child process), or through the socket's read timeout
     * (a TCP stream: producerAlive false, SO_TIMEOUT set by the caller).
     */
    private int readLive(InputStream in, byte[] buf) throws IOException {
        if (live == null) return in.read(buf);
        long quietSince = System.nanoTime();
        while (true) {
            try {
                while (in.available() == 0 && live.producerAlive().getAsBoolean()) {
                    try {
                        Thread.sleep(50);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        return in.read(buf);
                    }
                    quietSince = tick(quietSince);
                }
                return in.read(buf);
            } catch (java.net.SocketTimeoutException quiet) {
                quietSince = tick(quietSince);
            }
        }
    }

    private long tick(long quietSince) {
        if (System.nanoTime() - quietSince < 250_000_000L) return quietSince;
        out.quiet();
        return System.nanoTime();
    }

    private static byte[] append(byte[] line, int len, byte[] src, int off, int n) {
        if (len + n > line.length) line = java.util.Arrays.copyOf(line, Math.max(line.length * 2, len + n));
        System.arraycopy(src, off, line, len, n);
        return line;
    }
}
