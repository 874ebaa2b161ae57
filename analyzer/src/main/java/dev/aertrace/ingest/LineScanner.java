package dev.aertrace.ingest;

/**
 * The fast path of ingest: reads the flat event object the agent writes ({@code {"type":"…","ts":…,…}}: no
 * whitespace, known field names, ASCII strings without escapes, integers, booleans, null) straight from the line's
 * bytes into the {@link Scratch}, with no parser object, no token objects and no per-line allocation beyond the
 * few strings the cache has not seen. Anything else — an escape, a byte of 0x80 or more, a list or object, a
 * fraction, a number of more than 18 digits, whitespace, a field name the schema's event lines do not use,
 * malformed JSON — is declined ({@code false}) and the line goes to {@link JacksonLine}, which reads it as it
 * always did: one strict parser decides what is wrong with a damaged line, so its issue reads the same.
 */
final class LineScanner {
    private static final int TABLE = 256;
    private static final byte[][] KEYS = new byte[TABLE][];
    private static final int[] IDS = new int[TABLE];

    static {
        for (int id = 0; id < Scratch.NAMES.length; id++) {
            byte[] k = Scratch.NAMES[id].getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            int h = hash(k, 0, k.length);
            while (KEYS[h] != null) h = (h + 1) & (TABLE - 1);
            KEYS[h] = k;
            IDS[h] = id;
        }
    }

    private static int hash(byte[] b, int off, int len) {
        return (len * 31 + b[off] * 7 + b[off + len - 1] * 13 + b[off + (len >> 1)] * 3) & (TABLE - 1);
    }

    private final Scratch s;
    private final StringCache strings;

    LineScanner(Scratch s, StringCache strings) {
        this.s = s;
        this.strings = strings;
    }

    /** Reads {@code b[from, end)} (from at its '{') into the scratch (already reset); false: not this fast path's shape. */
    boolean scan(byte[] b, int from, int end) {
        int i = from + 1;
        if (i >= end || b[i] != '"') return false;
        int prev = Scratch.NAMES.length; // "before the first field"
        while (true) {
            if (i >= end || b[i] != '"') return false;
            int ks = ++i;
            int id = predicted(b, ks, end, prev);
            if (id >= 0) i = ks + NAME_BYTES[id].length;
            else {
                while (i < end && b[i] != '"') {
                    if (b[i] == '\\' || b[i] < 0x20) return false; // an escaped or non-ASCII name: the full parser's case
                    i++;
                }
                if (i + 1 >= end || b[i + 1] != ':') return false;
                id = key(b, ks, i - ks);
                if (id < 0) return false;
                next[prev] = id;
            }
            prev = id;
            i = value(b, i + 2, end, id);
            if (i < 0 || i >= end) return false;
            if (b[i] == '}') return i + 1 == end;
            if (b[i] != ',') return false;
            i++;
        }
    }

    /** Each field's name as bytes, by id. */
    private static final byte[][] NAME_BYTES = new byte[Scratch.NAMES.length][];

    static {
        for (int id = 0; id < NAME_BYTES.length; id++) NAME_BYTES[id] = Scratch.NAMES[id].getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    }

    /** The field that followed field {@code prev} on the last line that had it (the agent writes its fields in one order): -1 none. */
    private final int[] next = filled(Scratch.NAMES.length + 1);

    private static int[] filled(int n) {
        int[] a = new int[n];
        java.util.Arrays.fill(a, -1);
        return a;
    }

    /**
     * The id of the name at {@code ks} if it is the one predicted after {@code prev}, with its closing quote and the
     * colon, else -1. A known name holds no quote, backslash or control byte, so a match is exactly what the
     * byte-by-byte search below and the table lookup would have found, without hashing the name.
     */
    private int predicted(byte[] b, int ks, int end, int prev) {
        int id = next[prev];
        if (id < 0) return -1;
        byte[] k = NAME_BYTES[id];
        int q = ks + k.length;
        if (q + 1 >= end) return -1;
        // Most names with their closing quote and colon fit one little-endian word: one load and compare (the
        // bytes past them in the buffer are masked off); the rest byte by byte.
        if (k.length <= 6 && ks + 8 <= b.length)
            return ((long) LineSplitter.LONGS.get(b, ks) & NAME_MASK[id]) == NAME_WORD[id] ? id : -1;
        return b[q] == '"' && b[q + 1] == ':' && same(k, b, ks, k.length) ? id : -1;
    }

    /** For names of up to 6 bytes: the name, '"' and ':' as a little-endian word, and the mask of their bytes. */
    private static final long[] NAME_WORD = new long[Scratch.NAMES.length], NAME_MASK = new long[Scratch.NAMES.length];

    static {
        for (int id = 0; id < NAME_BYTES.length; id++) {
            byte[] k = (Scratch.NAMES[id] + "\":").getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            if (k.length > 8) continue;
            for (int j = 0; j < k.length; j++) NAME_WORD[id] |= (k[j] & 0xffL) << (8 * j);
            NAME_MASK[id] = k.length == 8 ? -1L : (1L << (8 * k.length)) - 1;
        }
    }

    private static int key(byte[] b, int off, int len) {
        if (len == 0) return -1;
        for (int h = hash(b, off, len); KEYS[h] != null; h = (h + 1) & (TABLE - 1))
            if (same(KEYS[h], b, off, len)) return IDS[h];
        return -1;
    }

    /**
     * {@code k} equals {@code b[off, off+len)}: eight bytes per step, then a plain loop; not Arrays.equals, whose
     * vectorised mismatch costs more than it saves on names and values of a few bytes (it was a tenth of ingest),
     * and the byte loop alone was a tenth again under C1, which runs the launcher's analyze.
     */
    static boolean same(byte[] k, byte[] b, int off, int len) {
        if (k.length != len) return false;
        int i = 0;
        for (; i + 8 <= len; i += 8) if ((long) LineSplitter.LONGS.get(k, i) != (long) LineSplitter.LONGS.get(b, off + i)) return false;
        for (; i < len; i++) if (k[i] != b[off + i]) return false;
        return true;
    }

    /** Reads the value at {@code i} into field {@code id}; returns the index after it, or -1 to decline the line. */
    private int value(byte[] b, int i, int end, int id) {
        if (i >= end) return -1;
        byte c = b[i];
        if (c == '"') {
            int v = i + 1;
            byte[] k = lastBytes[id];
            if (k != null) {
                // The field's last value again (comm, dev, type... repeat line after line): its bytes passed the loop
                // below when first read, so the loop would stop at the same quote; no byte loop and no hashing.
                int q = v + k.length;
                if (q < end && b[q] == '"' && same(k, b, v, k.length)) {
                    s.value(id, Scratch.STRING, 0, lastString[id]);
                    return q + 1;
                }
            }
            int j = v;
            while (j < end && b[j] != '"') {
                if (b[j] == '\\' || b[j] < 0x20) return -1; // escapes, control and non-ASCII bytes (negative)
                j++;
            }
            if (j >= end) return -1;
            String str = strings.ascii(b, v, j - v);
            lastBytes[id] = strings.lastKey; // the cache's own copy (never changed, only replaced): no allocation
            lastString[id] = str;
            s.value(id, Scratch.STRING, 0, str);
            return j + 1;
        }
        if (c == '-' || (c >= '0' && c <= '9')) return number(b, i, end, id);
        int tok = matches(b, i, end, TRUE) ? Scratch.TRUE : matches(b, i, end, FALSE) ? Scratch.FALSE
                : matches(b, i, end, NULL) ? Scratch.NULL : -1;
        if (tok < 0) return -1;
        int next = i + (tok == Scratch.FALSE ? 5 : 4);
        if (next < end && b[next] != ',' && b[next] != '}') return -1; // "truex": the full parser refuses the token whole
        s.value(id, tok, 0, null);
        return next;
    }

    /** Per field id: the bytes (null: none kept) and String of its last string value. */
    private final byte[][] lastBytes = new byte[Scratch.NAMES.length][];
    private final String[] lastString = new String[Scratch.NAMES.length];

    private static final byte[] TRUE = {'t', 'r', 'u', 'e'}, FALSE = {'f', 'a', 'l', 's', 'e'}, NULL = {'n', 'u', 'l', 'l'};

    private static boolean matches(byte[] b, int i, int end, byte[] word) {
        return i + word.length <= end && same(word, b, i, word.length);
    }

    /** An integer as JSON writes it (no leading zero, no fraction or exponent), at most 18 digits: it fits a long. */
    private int number(byte[] b, int i, int end, int id) {
        int start = i;
        boolean neg = b[i] == '-';
        if (neg) i++;
        int digits = i;
        long n = 0;
        while (i < end && b[i] >= '0' && b[i] <= '9') n = n * 10 + (b[i++] - '0');
        int count = i - digits;
        if (count == 0 || count > 18 || (count > 1 && b[digits] == '0')) return -1;
        if (i < end && b[i] != ',' && b[i] != '}') return -1; // a fraction, an exponent or garbage: the full parser says
        String text = Scratch.KIND[id] == Scratch.K_REASON
                ? new String(b, start, i - start, java.nio.charset.StandardCharsets.ISO_8859_1) : null;
        s.value(id, Scratch.INT, neg ? -n : n, text);
        return i;
    }
}
