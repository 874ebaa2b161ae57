package dev.aertrace.ingest;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;

import java.io.IOException;

/**
 * The full JSON parser for one line, used when {@link LineScanner} cannot read it (an escape, non-ASCII text, a
 * list or object value, a field name the schema does not use, malformed JSON): Jackson's strictness and its error
 * messages decide what is wrong with a damaged line, so issues read as they always did.
 */
final class JacksonLine {
    private static final JsonFactory FACTORY = new JsonFactory();

    private final Scratch s;
    private final StringCache strings;

    JacksonLine(Scratch s, StringCache strings) {
        this.s = s;
        this.strings = strings;
    }

    /** A line that is not one JSON object: why, without a stack trace (it would cost ~20 µs a line). */
    static final class BadLine extends Exception {
        BadLine(String m) { super(m, null, false, false); }
    }

    /** Reads the object in {@code b[off, off+len)} into the scratch (already reset). */
    void parse(byte[] b, int off, int len) throws IOException, BadLine {
        try (JsonParser p = FACTORY.createParser(b, off, len)) {
            if (p.nextToken() != JsonToken.START_OBJECT) throw new BadLine("not a JSON object");
            JsonToken t;
            while ((t = p.nextToken()) == JsonToken.FIELD_NAME) field(p, p.currentName());
            if (t != JsonToken.END_OBJECT) throw new BadLine("unexpected " + t);
            if (p.nextToken() != null) throw new BadLine("trailing data after the object");
        }
    }

    private void field(JsonParser p, String name) throws IOException {
        JsonToken v = p.nextToken();
        int id = Scratch.id(name);
        if (id < 0) {
            p.skipChildren();
            s.unknown(name);
            return;
        }
        if (Scratch.KIND[id] == Scratch.K_TLP && v == JsonToken.START_ARRAY) {
            s.fields |= 1L << id;
            s.tlp = longs(p);
            return;
        }
        switch (v) {
            case VALUE_STRING -> {
                char[] c = p.getTextCharacters();
                int off = p.getTextOffset(), len = p.getTextLength();
                int k = Scratch.KIND[id];
                if ((k == Scratch.K_STR || k == Scratch.K_REASON) && unpairedSurrogate(c, off, len)) s.has |= Scratch.F_BADSTRING;
                s.value(id, Scratch.STRING, 0, strings.get(c, off, len));
            }
            case VALUE_NUMBER_INT -> {
                long n = 0;
                try {
                    n = p.getLongValue();
                } catch (com.fasterxml.jackson.core.exc.InputCoercionException tooBig) {
                    s.has |= Scratch.F_BADTYPE; // beyond 64 bits: no field of the schema is
                }
                s.value(id, Scratch.INT, n, Scratch.KIND[id] == Scratch.K_REASON ? p.getText() : null);
            }
            case VALUE_TRUE -> s.value(id, Scratch.TRUE, 0, null);
            case VALUE_FALSE -> s.value(id, Scratch.FALSE, 0, null);
            case VALUE_NULL -> s.value(id, Scratch.NULL, 0, null);
            default -> {
                p.skipChildren();
                s.value(id, Scratch.OTHER, 0, null);
            }
        }
    }

    /**
     * The agent decodes kernel strings with errors="replace", so it never writes a lone UTF-16 surrogate
     * (\\ud800): one is damage, and the name it spoils (a comm in a verdict's sentence) is not evidence.
     */
    private static boolean unpairedSurrogate(char[] c, int off, int len) {
        for (int i = off, end = off + len; i < end; i++) {
            char x = c[i];
            if (x < Character.MIN_SURROGATE || x > Character.MAX_SURROGATE) continue;
            if (Character.isHighSurrogate(x) && i + 1 < end && Character.isLowSurrogate(c[i + 1])) i++;
            else return true;
        }
        return false;
    }

    /** The TLP header: up to four 32-bit words; anything else in the list marks the line. */
    private long[] longs(JsonParser p) throws IOException {
        long[] a = new long[4];
        int n = 0;
        JsonToken t;
        while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
            if (t == JsonToken.VALUE_NUMBER_INT && n < 4) a[n++] = p.getLongValue();
            else {
                s.has |= Scratch.F_BADTYPE;
                p.skipChildren();
            }
        }
        return n == 4 ? a : java.util.Arrays.copyOf(a, n);
    }
}
