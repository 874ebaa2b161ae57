package dev.aertrace.ingest;

/**
 * Reuses String instances for the few values that repeat on every line (type, comm, dev, region, fn, ...),
 * so the hot path does not allocate one String per field. Fixed size, direct-mapped: a miss just replaces
 * the slot, so memory stays bounded whatever the input. Keyed by the parser's chars ({@link JacksonLine}) or
 * by the line's ASCII bytes ({@link LineScanner}), each in a table of its own.
 */
final class StringCache {
    private static final int SIZE = 1024, MAX_LEN = 64;
    private final String[] slots = new String[SIZE];
    private final char[][] keys = new char[SIZE][];
    private final String[] byteSlots = new String[SIZE];
    private final byte[][] byteKeys = new byte[SIZE][];

    String get(char[] buf, int off, int len) {
        if (len > MAX_LEN) return new String(buf, off, len);
        if (len == 0) return "";
        // A few sampled chars are enough to spread the handful of recurring values; a collision only costs a miss.
        int h = len * 31 + buf[off] * 7 + buf[off + len - 1] * 131 + buf[off + (len >> 1)] * 1031
                + buf[off + (len >> 2)] * 8191 + buf[off + len - 1 - (len >> 2)] * 65599;
        int idx = (h ^ (h >>> 16)) & (SIZE - 1);
        char[] k = keys[idx];
        if (k != null && java.util.Arrays.equals(k, 0, k.length, buf, off, off + len)) return slots[idx];
        String s = new String(buf, off, len);
        slots[idx] = s;
        keys[idx] = java.util.Arrays.copyOfRange(buf, off, off + len);
        return s;
    }

    /** The same for ASCII bytes (the caller has checked every byte is below 0x80). */
    String ascii(byte[] buf, int off, int len) {
        if (len > MAX_LEN) {
            lastKey = null;
            return new String(buf, off, len, java.nio.charset.StandardCharsets.ISO_8859_1);
        }
        if (len == 0) {
            lastKey = EMPTY;
            return "";
        }
        int h = len * 31 + buf[off] * 7 + buf[off + len - 1] * 131 + buf[off + (len >> 1)] * 1031
                + buf[off + (len >> 2)] * 8191 + buf[off + len - 1 - (len >> 2)] * 65599;
        int idx = (h ^ (h >>> 16)) & (SIZE - 1);
        byte[] k = byteKeys[idx];
        if (k != null && LineScanner.same(k, buf, off, len)) {
            lastKey = k;
            return byteSlots[idx];
        }
        String s = literal(new String(buf, off, len, java.nio.charset.StandardCharsets.ISO_8859_1));
        byteSlots[idx] = s;
        byteKeys[idx] = lastKey = java.util.Arrays.copyOfRange(buf, off, off + len);
        return s;
    }

    private static final byte[] EMPTY = {};

    /**
     * "config" as the literal's own instance (for the reader and the spill's decoder alike): every access is checked
     * "config".equals(region) three times or more (size, return, read value; the timeline's calls), and equals()
     * returns at once for the same instance. Which instance a value is never changes what it means: identity is only
     * ever a shortcut before equals or a lookup.
     */
    static String literal(String s) {
        return s.length() == 6 && s.equals("config") ? "config" : s;
    }

    /** The bytes of the string {@link #ascii} returned last (its slot's key, not to be changed), or null if not cached. */
    byte[] lastKey;
}
