package dev.aertrace.ingest;

/**
 * One of {@link LineScanner}'s shapes: a line the agent wrote with its numbers cut out (the literals between them),
 * the fields its numbers go to, and the scratch the line left but for its numbers.
 */
final class LineShape {
    /** The line's bytes without its numbers (for a literal at the very end of a buffer, compared byte by byte). */
    final byte[] lit;
    /** The end in lit of the literal before number k; cut[n]: the end of the last literal. */
    final int[] cut;
    /** Each literal's length, its bytes as little-endian words (a last partial word zero-filled) and that word's mask. */
    final int[] lens;
    final long[] words, masks;
    /** Number k's field, and whether it is a numeric field whose flags the scratch already has (a plain store). */
    final int[] ids;
    final boolean[] plain;
    final int n;
    /** Numbers 0..3 are ts, cpu, pid and tid, plain (every line the agent writes but the footer and dump markers). */
    final boolean thread;
    /** The scratch the shape's line left (its numbers aside). */
    final Scratch state = new Scratch();

    LineShape(byte[] lit, int[] cut, int[] ids, boolean[] plain, int n) {
        this.lit = lit;
        this.cut = cut;
        this.ids = ids;
        this.plain = plain;
        this.n = n;
        thread = n >= 4 && ids[0] == 1 && ids[1] == 2 && ids[2] == 3 && ids[3] == 4 && plain[0] && plain[1] && plain[2] && plain[3];
        lens = new int[n + 1];
        masks = new long[n + 1];
        int count = 0;
        for (int k = 0; k <= n; k++) {
            lens[k] = cut[k] - (k == 0 ? 0 : cut[k - 1]);
            count += (lens[k] + 7) >>> 3;
            int rest = lens[k] & 7;
            masks[k] = rest == 0 ? -1L : (1L << (8 * rest)) - 1;
        }
        words = new long[count];
        int w = 0;
        for (int k = 0; k <= n; k++) {
            int at = k == 0 ? 0 : cut[k - 1];
            for (int j = 0; j < lens[k]; j += 8, w++)
                for (int x = 0; x < 8 && j + x < lens[k]; x++) words[w] |= (lit[at + j + x] & 0xffL) << (8 * x);
        }
    }

    /**
     * Which of LineScanner's sets of shapes a line tries: the type's name, or what is there, from the 16 bytes after {"type":" up to the
     * first quote in the second 8 (a type of up to 15 bytes: the name alone, not the first digits of ts, which
     * would spread one shape over several sets). vfio.rw.enter and vfio.rw.exit share their first 8 bytes: by those
     * alone, most lines tried the other's shape first. Any set gives the same reading (a shape is tried in full).
     */
    static int set(byte[] b, int from) {
        long w = (long) LineSplitter.LONGS.get(b, from + 17), q = w ^ 0x2222222222222222L;
        long z = (q - 0x0101010101010101L) & ~q & 0x8080808080808080L; // the first quote's top bit is z's lowest
        long name = w & ((z & -z) - 1); // z == 0: all of w
        // the top 4 bits: LineScanner.SETS (16)
        return (int) ((((long) LineSplitter.LONGS.get(b, from + 9) * 0x9E3779B97F4A7C15L) ^ (name * 0xC2B2AE3D27D4EB4FL)) >>> 60);
    }

    /** The shape of line {@code b[from, end)}, whose n numbers are at [start[k], end[k]) for field id[k]. */
    static LineShape of(byte[] b, int from, int end, int n, int[] start, int[] stop, int[] id) {
        byte[] lit = new byte[end - from + 8];
        int[] cut = new int[n + 1], ids = new int[n];
        boolean[] plain = new boolean[n];
        int l = 0, i = from;
        for (int k = 0; k < n; k++) {
            int len = start[k] - i;
            System.arraycopy(b, i, lit, l, len);
            l += len;
            cut[k] = l;
            i = stop[k];
            ids[k] = id[k];
            plain[k] = Scratch.KIND[ids[k]] == Scratch.K_NUM;
        }
        System.arraycopy(b, i, lit, l, end - i);
        l += end - i;
        cut[n] = l;
        return new LineShape(java.util.Arrays.copyOf(lit, l + 8), cut, ids, plain, n);
    }

    /**
     * {@code lit[l, l+len)} equals {@code b[i, i+len)}, both in bounds; eight bytes a step (lit is padded, so its last
     * word is whole; b's is masked, or compared byte by byte at the very end of b). For a literal that ends within 8
     * bytes of the end of b.
     */
    static boolean region(byte[] lit, int l, byte[] b, int i, int len) {
        int j = 0;
        for (; j + 8 <= len; j += 8)
            if ((long) LineSplitter.LONGS.get(lit, l + j) != (long) LineSplitter.LONGS.get(b, i + j)) return false;
        int rest = len - j;
        if (rest == 0) return true;
        if (i + j + 8 <= b.length)
            return (((long) LineSplitter.LONGS.get(lit, l + j) ^ (long) LineSplitter.LONGS.get(b, i + j)) & ((1L << (8 * rest)) - 1)) == 0;
        for (; j < len; j++) if (lit[l + j] != b[i + j]) return false;
        return true;
    }
}
