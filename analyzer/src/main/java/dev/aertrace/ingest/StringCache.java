package dev.aertrace.ingest;

/**
 * Reuses String instances for the few values that repeat on every line (type, comm, dev, region, fn, ...),
 * so the hot path does not allocate one String per field. Fixed size, direct-mapped: a miss just replaces
 * the slot, so memory stays bounded whatever the input.
 */
final class StringCache {
    private static final int SIZE = 1024, MAX_LEN = 64;
    private final String[] slots = new String[SIZE];
    private final char[][] keys = new char[SIZE][];

    String get(char[] buf, int off, int len) {
        if (len > MAX_LEN) return new String(buf, off, len);
        int h = len;
        for (int i = 0; i < len; i++) h = 31 * h + buf[off + i];
        int idx = (h ^ (h >>> 16)) & (SIZE - 1);
        char[] k = keys[idx];
        if (k != null && java.util.Arrays.equals(k, 0, k.length, buf, off, off + len)) return slots[idx];
        String s = new String(buf, off, len);
        slots[idx] = s;
        keys[idx] = java.util.Arrays.copyOfRange(buf, off, off + len);
        return s;
    }
}
