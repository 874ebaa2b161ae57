package dev.aertrace.fleet;

import java.nio.charset.StandardCharsets;

/**
 * A glance at one agent line as bytes, without parsing it: the fleet must route and count every record of every
 * host (its type, a lost line's count) at the rate Kafka delivers them; the pipeline parses each line properly later.
 */
final class RecordPeek {
    private RecordPeek() {}

    /** The value of "type" when the line starts like the agent writes it; null otherwise (the reader decides). */
    static String typeOf(byte[] v) {
        int i = indexOf(v, "\"type\":\"".getBytes(StandardCharsets.US_ASCII), 0, Math.min(v.length, 64));
        if (i < 0) return null;
        int from = i + 8, to = from;
        while (to < v.length && v[to] != '"' && to - from < 32) to++;
        return new String(v, from, to - from, StandardCharsets.US_ASCII);
    }

    static long longField(byte[] v, String field) {
        int i = indexOf(v, field.getBytes(StandardCharsets.US_ASCII), 0, v.length);
        if (i < 0) return -1;
        long n = 0;
        int j = i + field.length(), k = j;
        while (k < v.length && v[k] >= '0' && v[k] <= '9' && k - j < 18) n = n * 10 + (v[k++] - '0');
        return k == j ? -1 : n;
    }

    private static int indexOf(byte[] a, byte[] p, int from, int to) {
        outer:
        for (int i = from; i + p.length <= to; i++) {
            for (int j = 0; j < p.length; j++) if (a[i + j] != p[j]) continue outer;
            return i;
        }
        return -1;
    }
}
