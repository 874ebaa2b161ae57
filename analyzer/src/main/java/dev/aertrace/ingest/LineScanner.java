package dev.aertrace.ingest;

/**
 * The fast path of ingest: reads the flat event object the agent writes ({@code {"type":"…","ts":…,…}}: no
 * whitespace, known field names, ASCII strings without escapes, integers, booleans, null) straight from the line's
 * bytes into the {@link Scratch}, with no parser object, no token objects and no per-line allocation beyond the
 * few strings the cache has not seen and the few shapes it learns (a line read from an earlier one's bytes but for
 * its numbers: see "shapes" below). Anything else — an escape, a byte of 0x80 or more, a list or object, a
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
        int set = -1;
        if (from + 25 <= b.length) {
            set = LineShape.set(b, from);
            if (credit[set] < CREDITS) credit[set]++;
            if (shaped(b, from, end, set, false)) return true;
        }
        tokens = 0;
        fieldCount = 0;
        if (!fields(b, i, end)) return false;
        if (set >= 0) learn(b, from, end, set);
        return true;
    }

    /** The generic reading of the fields from {@code i} (at the first name's quote) to the closing brace. */
    private boolean fields(byte[] b, int i, int end) {
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
            fieldCount++;
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

    private static int[] filled(int n) { return filled(n, -1); }

    private static int[] filled(int n, int v) {
        int[] a = new int[n];
        java.util.Arrays.fill(a, v);
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

    /** The value of the integer {@link #integer} read last. */
    private long integerValue;

    /**
     * The end of the integer at {@code b[i]} (i &lt; end) as JSON writes it (no leading zero, no fraction or exponent),
     * at most 18 digits: it fits a long ({@link #integerValue}); -1 if there is none.
     */
    private int integer(byte[] b, int i, int end) {
        boolean neg = b[i] == '-';
        if (neg) i++;
        int digits = i;
        long n = 0;
        while (i < end && b[i] >= '0' && b[i] <= '9') n = n * 10 + (b[i++] - '0');
        int count = i - digits;
        if (count == 0 || count > 18 || (count > 1 && b[digits] == '0')) return -1;
        integerValue = neg ? -n : n;
        return i;
    }

    private int number(byte[] b, int i, int end, int id) {
        int start = i;
        i = integer(b, i, end);
        if (i < 0) return -1;
        if (i < end && b[i] != ',' && b[i] != '}') return -1; // a fraction, an exponent or garbage: the full parser says
        String text = Scratch.KIND[id] == Scratch.K_REASON
                ? new String(b, start, i - start, java.nio.charset.StandardCharsets.ISO_8859_1) : null;
        s.value(id, Scratch.INT, integerValue, text);
        if (tokens < MAX_NUMBERS) {
            tokenStart[tokens] = start;
            tokenEnd[tokens] = i;
            tokenId[tokens] = id;
        }
        tokens++;
        return i;
    }

    // ---------------------------------------------------------------- shapes

    /*
     * The agent writes a type's lines alike but for their numbers: the same names in the same order, and mostly the
     * same strings (type, comm, dev, region) and booleans. A shape is such a line with its numbers cut out: its
     * other bytes (the literals between the numbers) and the scratch the line left, but for its numbers. A line
     * whose literals are those bytes, with an integer of the scanner's form (integer()) in each number's place,
     * reads as the shape's line with those numbers: the field-by-field reading of the literals looks at no byte
     * outside them (a number ends at the ',' or '}' that starts the next literal), and what a string, boolean or
     * null does to the scratch does not depend on anything before it. So the line is compared literal by literal,
     * eight bytes a step, its numbers read in place, and the scratch is the shape's with the numbers stored: no
     * name lookups, no per-field dispatch. A line that matches no shape is read field by field as before, and
     * teaches a shape. Bounded: SETS x WAYS shapes of at most MAX_NUMBERS numbers, each a copy of one line.
     * LineScannerTest holds the long-lived scanner to a fresh one on every committed line, mutants and renumbered
     * copies of them.
     */
    static final int SETS = 16, WAYS = 4, MAX_NUMBERS = 32;

    private final LineShape[] shapes = new LineShape[SETS * WAYS];
    /**
     * Per set: the way that matched last (tried first), the next way to replace, and the budget: a line of the set
     * earns one credit (up to CREDITS), a shape made costs SHAPE_COST. Lines that never repeat make at most one shape
     * per SHAPE_COST lines; a set never stops learning (a new device or task gets its shape within SHAPE_COST lines).
     */
    private final int[] lastWay = new int[SETS], victim = new int[SETS], credit = filled(SETS, CREDITS);
    static final int CREDITS = 64, SHAPE_COST = 8;
    /**
     * Reads the line that starts at {@code b[from]} by a shape, if one reads it up to a '\n' before {@code n} (the
     * end of the bytes in hand): the '\n''s index; else -1, nothing read (the scratch as reset), and the caller
     * splits and {@link #scan}s the line as ever. Exact: a shape's literals hold no '\n' (they are bytes of a line)
     * and a number's are digits or '-', so the '\n' found is the line's first, where the splitter would have cut it;
     * and a shape reads b[from, that '\n') alike whether its end is known or not (every literal but the last ends
     * before it; a number's digits stop at the '\n' at the latest; the ways are tried in the same order). So the
     * splitter need not look for the line's end first (a tenth of the reading).
     */
    int line(byte[] b, int from, int n) {
        if (from + 25 > b.length) return -1;
        int set = LineShape.set(b, from);
        if (!shaped(b, from, n, set, true)) return -1;
        if (credit[set] < CREDITS) credit[set]++; // as scan() would have (on -1, scan() will)
        return lineEnd;
    }

    /** Where the line read by {@link #line} ended. */
    private int lineEnd;

    /** Lines read by a shape, and shapes tried in vain (tests). */
    long shapeHits, shapeMisses;

    // the number tokens of the line being read field by field: start, end, field
    private int tokens, fieldCount;
    private final int[] tokenStart = new int[MAX_NUMBERS], tokenEnd = new int[MAX_NUMBERS], tokenId = new int[MAX_NUMBERS];

    private boolean shaped(byte[] b, int from, int end, int set, boolean open) {
        int base = set * WAYS, first = lastWay[set];
        for (int w = 0; w < WAYS; w++) {
            int way = (first + w) & (WAYS - 1);
            LineShape sh = shapes[base + way];
            if (sh == null) continue;
            if (match(sh, b, from, end, open)) {
                lastWay[set] = way;
                shapeHits++;
                return true;
            }
            shapeMisses++;
        }
        return false;
    }

    /**
     * Reads the line by shape {@code sh} if it is one of its lines (then true), else leaves the scratch as reset.
     * {@code open}: b[from, end) holds the line and more, the line ends where the shape's last literal is followed
     * by a '\n' (then {@link #lineEnd}); else b[from, end) is the line.
     * One loop: a literal compared a word a step against the shape's words, then the number after it read as
     * {@link #integer} reads it (inline: a call per literal and per number was a fifth of the reading under C2).
     */
    private boolean match(LineShape sh, byte[] b, int from, int end, boolean open) {
        long[] words = sh.words, masks = sh.masks, values = this.values;
        int[] lens = sh.lens, starts = this.starts, ends = this.ends;
        int n = sh.n;
        int i = from, w = 0;
        for (int k = 0; ; k++) {
            int stop = i + lens[k];
            // a number follows a literal (at least one byte); the last literal ends the line
            if (k < n || open ? stop >= end : stop != end) return false;
            for (; i + 8 <= stop; i += 8) if ((long) LineSplitter.LONGS.get(b, i) != words[w++]) return false;
            if (i < stop) {
                if (i + 8 <= b.length) {
                    if ((((long) LineSplitter.LONGS.get(b, i) ^ words[w]) & masks[k]) != 0) return false;
                } else if (!LineShape.region(sh.lit, k == 0 ? 0 : sh.cut[k - 1], b, stop - lens[k], lens[k])) return false;
                w++;
                i = stop;
            }
            if (k == n) {
                if (open && b[stop] != '\n') return false;
                lineEnd = stop;
                break;
            }
            starts[k] = i;
            // integer()'s rules, written out: under the launcher's C2 limits (FreqInlineSize=40) the call stayed a
            // call per number, and this loop runs for every number of nearly every line
            boolean neg = b[i] == '-';
            if (neg) i++;
            int digits = i;
            long v = 0;
            while (i < end && b[i] >= '0' && b[i] <= '9') v = v * 10 + (b[i++] - '0');
            int count = i - digits;
            if (count == 0 || count > 18 || (count > 1 && b[digits] == '0')) return false;
            values[k] = neg ? -v : v;
            ends[k] = i;
        }
        s.shape(sh.state);
        int[] ids = sh.ids;
        boolean[] plain = sh.plain;
        int k = 0;
        if (sh.thread) { // what num() stores, without its switch (a call each under either JIT: too big to inline)
            s.ts = values[0];
            s.cpu = values[1];
            s.pid = values[2];
            s.tid = values[3];
            k = 4;
        }
        for (; k < n; k++) {
            if (plain[k]) s.num(ids[k], values[k]);
            else s.value(ids[k], Scratch.INT, values[k], Scratch.KIND[ids[k]] == Scratch.K_REASON // the number as written ("-0")
                    ? new String(b, starts[k], ends[k] - starts[k], java.nio.charset.StandardCharsets.ISO_8859_1) : null);
        }
        return true;
    }

    private final long[] values = new long[MAX_NUMBERS];
    private final int[] starts = new int[MAX_NUMBERS], ends = new int[MAX_NUMBERS];

    /** After a field-by-field reading of {@code b[from, end)}: makes it a shape of its set, if it can be one and the budget allows. */
    private void learn(byte[] b, int from, int end, int set) {
        int n = tokens;
        if (n > MAX_NUMBERS || Long.bitCount(s.fields) != fieldCount) return; // too many numbers, or a name twice
        long numbered = 0;
        for (int k = 0; k < n; k++) numbered |= 1L << tokenId[k];
        // a numeric field given a string, boolean or null is set to 0: not kept in the shape's state
        if ((s.fields & NUMERIC & ~numbered) != 0) return;
        if (credit[set] < SHAPE_COST) return;
        credit[set] -= SHAPE_COST;
        LineShape sh = LineShape.of(b, from, end, n, tokenStart, tokenEnd, tokenId);
        sh.state.shape(s);
        int way = victim[set];
        victim[set] = (way + 1) & (WAYS - 1);
        shapes[set * WAYS + way] = sh;
        lastWay[set] = way;
    }

    /** The fields of numeric kind (the ones a non-integer value sets to 0), as a {@link Scratch#fields} mask. */
    private static final long NUMERIC;

    static {
        long m = 0;
        for (int id = 0; id < Scratch.KIND.length; id++) if (Scratch.KIND[id] == Scratch.K_NUM) m |= 1L << id;
        NUMERIC = m;
    }
}
