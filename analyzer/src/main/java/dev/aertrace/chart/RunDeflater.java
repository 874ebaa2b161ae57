package dev.aertrace.chart;

import java.util.Arrays;
import java.util.PriorityQueue;

/**
 * A zlib stream (RFC 1950/1951) for a PNG's filtered rows, told as runs of one byte value. An Up-filtered chart is
 * 720,600 bytes of which ~94% are zeros (rows equal to the row above), and zlib's fastest level still spent ~2 ms
 * of a timeline PNG's ~9 ms of CPU walking them (chart-bench, issue 13). Here a run costs a literal and a few
 * copies (distance 1, up to 258 bytes each) and no work per byte, zeros and the long edges of bars alike; the
 * other bytes are literals. One dynamic Huffman block, its code built from the image's own symbol counts. The
 * Adler-32 of a run is computed in closed form, not per byte.
 */
final class RunDeflater {
    private static final int MOD = 65521;
    private static final int MAX_BITS = 15, MAX_CL_BITS = 7;
    /** Length codes 257..285 (RFC 1951 3.2.5): base length and extra bits. */
    private static final int[] LEN_BASE = {3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59,
            67, 83, 99, 115, 131, 163, 195, 227, 258};
    private static final int[] LEN_EXTRA = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5,
            5, 5, 5, 0};
    /** The order the code-length code's lengths are written in (RFC 1951 3.2.7). */
    private static final int[] CL_ORDER = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};
    /** Length 3..258 to its code's index in LEN_BASE. */
    private static final byte[] LEN_CODE = new byte[259];

    static {
        for (int c = 0; c < LEN_BASE.length; c++) {
            int top = c + 1 < LEN_BASE.length ? LEN_BASE[c + 1] : 259;
            for (int l = LEN_BASE[c]; l < top && l <= 258; l++) LEN_CODE[l] = (byte) c;
        }
    }

    /** Tokens: 0..255 a literal byte, 256 + L a copy of L bytes from distance 1 (the byte before, L times). */
    private int[] tok = new int[1 << 14];
    private int n;
    /** The last byte in the tokens, -1 before any. */
    private int last = -1;
    /** Bytes told but not yet tokenized: {@code pendingCount} times {@code pendingByte}. */
    private int pendingByte = -1, pendingCount;

    /** {@code count} times the byte {@code b}: runs of one value (zeros above all) become copies. */
    void bytes(int b, int count) {
        b &= 0xFF;
        if (b == pendingByte) {
            pendingCount += count;
            return;
        }
        flush();
        pendingByte = b;
        pendingCount = count;
    }

    private void flush() {
        int b = pendingByte, count = pendingCount;
        pendingCount = 0;
        if (count <= 0) return;
        if (last != b) {
            add(b); // a copy from distance 1 repeats the byte before it
            count--;
            last = b;
        }
        while (count >= 3) {
            int l = Math.min(258, count);
            if (count - l > 0 && count - l < 3) l = count - 3; // leave 3 or more for the next copy
            add(256 + l);
            count -= l;
        }
        for (; count > 0; count--) add(b);
    }

    private void add(int t) {
        if (n == tok.length) grow();
        tok[n++] = t;
    }

    private void grow() {
        tok = Arrays.copyOf(tok, 2 * tok.length);
    }

    /** The complete zlib stream: header, one final dynamic-Huffman block, Adler-32. */
    byte[] finish() {
        flush();
        int[] litFreq = new int[286];
        long s1 = 1, s2 = 0;
        int prev = 0;
        for (int i = 0; i < n; i++) {
            int t = tok[i];
            if (t < 256) {
                litFreq[t]++;
                s1 += t;
                s2 += s1;
                prev = t;
            } else {
                litFreq[257 + LEN_CODE[t - 256]]++;
                long l = t - 256; // l times the byte before: s2 gains s1 + b, s1 + 2b, ..., s1 + l*b
                s2 += l * s1 + prev * (l * (l + 1) / 2);
                s1 += l * prev;
            }
            if ((i & 1023) == 0) { // s1 and s2 stay far below 2^63 between reductions
                s1 %= MOD;
                s2 %= MOD;
            }
        }
        long adler = (s2 % MOD) << 16 | (s1 % MOD);
        litFreq[256]++; // end of block
        byte[] litLen = lengths(litFreq, MAX_BITS);
        int hlit = 286;
        while (hlit > 257 && litLen[hlit - 1] == 0) hlit--;
        Bits out = new Bits(n + 1024);
        out.put(0x78, 8).put(0x01, 8); // deflate, 32 KiB window, fastest
        out.put(1, 1).put(2, 2); // final block, dynamic Huffman
        byte[] all = Arrays.copyOf(litLen, hlit + 1);
        all[hlit] = 1; // the only distance, 1 (code 0): one code of one bit, as RFC 1951 allows
        codeLengths(out, all, hlit, 1);
        int[] litCode = codes(litLen);
        int[] sym = new int[286]; // code | length << 24; a length code's extra bits are added per copy
        for (int c = 0; c < 286; c++) sym[c] = litCode[c] | litLen[c] << 24;
        out.tokens(tok, n, sym);
        out.put(litCode[256], litLen[256]).align();
        for (int sh = 24; sh >= 0; sh -= 8) out.put((int) (adler >>> sh) & 0xFF, 8);
        return out.bytes();
    }

    /** The literal/length and distance code lengths, run-length coded with the code-length code (RFC 1951 3.2.7). */
    private static void codeLengths(Bits out, byte[] all, int hlit, int hdist) {
        int[] sym = new int[all.length], extra = new int[all.length];
        int m = 0;
        for (int i = 0; i < all.length; ) {
            int v = all[i], run = 1;
            while (i + run < all.length && all[i + run] == v) run++;
            if (v == 0 && run >= 3) {
                int r = Math.min(run, 138);
                sym[m] = r >= 11 ? 18 : 17;
                extra[m++] = r >= 11 ? r - 11 : r - 3;
                i += r;
            } else if (v != 0 && run >= 4) {
                sym[m++] = v; // the value once, then "repeat the previous" 3..6 times
                int r = Math.min(run - 1, 6);
                sym[m] = 16;
                extra[m++] = r - 3;
                i += 1 + r;
            } else {
                sym[m++] = v;
                i++;
            }
        }
        int[] clFreq = new int[19];
        for (int i = 0; i < m; i++) clFreq[sym[i]]++;
        byte[] clLen = lengths(clFreq, MAX_CL_BITS);
        int[] clCode = codes(clLen);
        int hclen = 19;
        while (hclen > 4 && clLen[CL_ORDER[hclen - 1]] == 0) hclen--;
        out.put(hlit - 257, 5).put(hdist - 1, 5).put(hclen - 4, 4);
        for (int i = 0; i < hclen; i++) out.put(clLen[CL_ORDER[i]], 3);
        for (int i = 0; i < m; i++) {
            int s = sym[i];
            out.put(clCode[s], clLen[s]);
            if (s == 16) out.put(extra[i], 2);
            else if (s == 17) out.put(extra[i], 3);
            else if (s == 18) out.put(extra[i], 7);
        }
    }

    /**
     * Huffman code lengths of at most {@code limit} bits for the symbols counted. At least two symbols get a code
     * (a one-symbol code is incomplete, which inflaters refuse outside the distance code). Past the limit, the
     * counts are halved (keeping every used symbol) and the code built again.
     */
    static byte[] lengths(int[] freq, int limit) {
        int[] f = freq.clone();
        int used = 0;
        for (int v : f) if (v > 0) used++;
        for (int i = 0; used < 2 && i < f.length; i++) if (f[i] == 0) { f[i] = 1; used++; }
        while (true) {
            byte[] len = huffman(f);
            int max = 0;
            for (byte b : len) max = Math.max(max, b);
            if (max <= limit) return len;
            for (int i = 0; i < f.length; i++) if (f[i] > 0) f[i] = (f[i] >> 1) | 1;
        }
    }

    /** Depth of each leaf in a Huffman tree over the counts (0 for a count of 0). */
    private static byte[] huffman(int[] f) {
        int k = f.length;
        int[] parent = new int[2 * k];
        PriorityQueue<long[]> q = new PriorityQueue<>((a, b) -> a[0] != b[0] ? Long.compare(a[0], b[0]) : Long.compare(a[1], b[1]));
        for (int i = 0; i < k; i++) if (f[i] > 0) q.add(new long[] {f[i], i});
        int next = k;
        while (q.size() > 1) {
            long[] a = q.poll(), b = q.poll();
            parent[(int) a[1]] = next;
            parent[(int) b[1]] = next;
            q.add(new long[] {a[0] + b[0], next++});
        }
        int root = next - 1;
        byte[] len = new byte[k];
        for (int i = 0; i < k; i++) {
            if (f[i] == 0) continue;
            int d = 0;
            for (int x = i; x != root; x = parent[x]) d++;
            len[i] = (byte) d;
        }
        return len;
    }

    /** Canonical codes for the lengths (RFC 1951 3.2.2), bit-reversed: deflate packs Huffman codes from their top bit. */
    static int[] codes(byte[] len) {
        int[] count = new int[MAX_BITS + 2], next = new int[MAX_BITS + 2];
        for (byte l : len) count[l]++;
        count[0] = 0;
        for (int bits = 1, code = 0; bits <= MAX_BITS; bits++) {
            code = (code + count[bits - 1]) << 1;
            next[bits] = code;
        }
        int[] out = new int[len.length];
        for (int s = 0; s < len.length; s++) {
            int l = len[s];
            if (l > 0) out[s] = Integer.reverse(next[l]++) >>> (32 - l);
        }
        return out;
    }

    /** Bits written from the least significant end of each byte, as deflate packs them. */
    private static final class Bits {
        private byte[] buf;
        private int pos, cnt;
        private long acc;

        Bits(int capacity) { buf = new byte[capacity]; }

        Bits put(int value, int bits) {
            acc |= (long) (value & ((1 << bits) - 1)) << cnt;
            cnt += bits;
            while (cnt >= 8) {
                if (pos == buf.length) buf = Arrays.copyOf(buf, 2 * pos + 8);
                buf[pos++] = (byte) acc;
                acc >>>= 8;
                cnt -= 8;
            }
            return this;
        }

        /**
         * Every token in one loop, the bit buffer in locals: under the launcher's C1 a call per token was a third of
         * the encoder's time. A token is at most 15 + 5 + 1 bits, so 32 bits are written out whenever they are there.
         */
        void tokens(int[] tok, int n, int[] sym) {
            long a = acc;
            int c = cnt, p = pos;
            byte[] b = buf;
            for (int i = 0; i < n; i++) {
                if (p + 8 > b.length) b = Arrays.copyOf(b, 2 * b.length);
                int t = tok[i];
                if (t < 256) {
                    int s = sym[t];
                    a |= (long) (s & 0xFFFFFF) << c;
                    c += s >>> 24;
                } else {
                    int l = t - 256, lc = LEN_CODE[l], s = sym[257 + lc];
                    a |= (long) (s & 0xFFFFFF) << c;
                    c += s >>> 24;
                    a |= (long) (l - LEN_BASE[lc]) << c;
                    c += LEN_EXTRA[lc] + 1; // then distance code 0: one 0 bit
                }
                if (c >= 32) {
                    b[p] = (byte) a;
                    b[p + 1] = (byte) (a >>> 8);
                    b[p + 2] = (byte) (a >>> 16);
                    b[p + 3] = (byte) (a >>> 24);
                    p += 4;
                    a >>>= 32;
                    c -= 32;
                }
            }
            buf = b;
            pos = p;
            acc = a;
            cnt = c;
            put(0, 0); // write out whole bytes left over, as put keeps it
        }

        void align() {
            if (cnt > 0) put(0, 8 - cnt);
        }

        byte[] bytes() { return Arrays.copyOf(buf, pos); }
    }
}
