package dev.aertrace.ingest;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * {@link EventSpill}'s bytes: written once, then read once from the start. Chunks on the heap up to a cap, the rest
 * in a temp file under {@code java.io.tmpdir}, unlinked as soon as it is open (nothing is left behind, however the
 * JVM ends). Any failure to write (no tmpdir, a full disk, past {@link #MAX_BYTES}) marks it {@link #failed()}: the
 * writes after it do nothing, and the caller reads its input again instead.
 */
final class SpillBytes {
    /** A spill larger than this is given up (the input is read again): no temp file fills a disk on its own. */
    static final long MAX_BYTES = Long.getLong("aertrace.spill.max", 16L << 30);
    /**
     * Distinct short strings given a number (comm, dev, region, ...), so a repeat costs a byte or two; past that,
     * or longer, they are written whole each time (a hostile trace's distinct strings cannot grow the table).
     */
    static final int MAX_STRINGS = 4096, MAX_NUMBERED_LENGTH = 64;
    private static final int CHUNK = 1 << 16;

    private final long memoryCap;
    private boolean failed;
    private byte[] buf = new byte[CHUNK];
    private int pos;
    private final List<byte[]> memory = new ArrayList<>();
    private long memoryBytes;
    private Path path;
    private FileChannel file;
    private long fileBytes;
    private final Map<String, Integer> ids = new HashMap<>();

    SpillBytes(long memoryCap) { this.memoryCap = memoryCap; }

    boolean failed() { return failed; }

    boolean inFile() { return fileBytes > 0; }

    void fail() {
        if (failed) return;
        failed = true;
        release();
    }

    void release() {
        memory.clear();
        buf = null;
        if (file != null) try {
            file.close();
        } catch (IOException e) {
            // nothing to keep
        }
        file = null;
        if (path != null) try {
            Files.deleteIfExists(path);
        } catch (IOException e) {
            // left to DELETE_ON_CLOSE
        }
        path = null;
    }

    // ---- writing ---------------------------------------------------------------------------------------------

    void putByte(int b) {
        if (pos == CHUNK) flush();
        if (!failed) buf[pos++] = (byte) b;
    }

    void putBool(boolean b) { putByte(b ? 1 : 0); }

    /** Zigzag varint: small magnitudes of either sign in one or two bytes. */
    void putLong(long v) {
        if (pos + 10 > CHUNK) flush();
        if (failed) return;
        long z = (v << 1) ^ (v >> 63);
        while ((z & ~0x7FL) != 0) {
            buf[pos++] = (byte) ((z & 0x7F) | 0x80);
            z >>>= 7;
        }
        buf[pos++] = (byte) z;
    }

    /** A boxed value: 0 for null, else 1 and the value. */
    void putLong(Long v) {
        if (v == null) putLong(0L);
        else {
            putLong(1L);
            putLong(v.longValue());
        }
    }

    void putInt(Integer v) { putLong(v == null ? null : Long.valueOf(v.longValue())); }

    /** 0: null; 1: a new numbered string follows; 2: an unnumbered one follows; n + 3: string number n. */
    void putString(String s) {
        if (s == null) {
            putLong(0L);
            return;
        }
        // most strings are the reader's shared instances (a region, a comm): found by identity first, by a slot
        // its hash picks, before the map (whose lookup and equals were ~2% of a run)
        int slot = s.hashCode() & (RECENT - 1);
        if (recent[slot] == s) {
            putLong(recentId[slot] + 3L);
            return;
        }
        Integer id = ids.get(s);
        if (id != null) {
            recent[slot] = s;
            recentId[slot] = id;
            putLong(id + 3L);
            return;
        }
        if (ids.size() < MAX_STRINGS && s.length() <= MAX_NUMBERED_LENGTH) {
            ids.put(s, ids.size());
            putLong(1L);
        } else putLong(2L);
        chars(s);
    }

    /**
     * What {@link #putString} writes for {@code s} when that needs no lookup beyond the recent table: 0 for null, the
     * number + 3 of a string found there by identity; -1 otherwise (then putString it).
     */
    long recentCode(String s) {
        if (s == null) return 0;
        int slot = s.hashCode() & (RECENT - 1);
        return recent[slot] == s ? recentId[slot] + 3L : -1;
    }

    /**
     * Room for {@code n} more bytes in the chunk, flushed first if need be; false once given up. After it, up to n
     * bytes go in by the raw puts below, which check nothing (one check per record instead of one per field).
     */
    boolean room(int n) {
        if (pos + n > CHUNK) flush();
        return !failed;
    }

    void rawByte(int v) { buf[pos++] = (byte) v; }

    /** {@link #putLong}'s bytes, after {@link #room}. */
    void rawLong(long v) {
        byte[] buf = this.buf;
        int p = pos;
        long z = (v << 1) ^ (v >> 63);
        while ((z & ~0x7FL) != 0) {
            buf[p++] = (byte) ((z & 0x7F) | 0x80);
            z >>>= 7;
        }
        buf[p++] = (byte) z;
        pos = p;
    }

    /** {@link #putLong(Long)}'s bytes, after {@link #room}. */
    void rawBoxed(Long v) {
        if (v == null) buf[pos++] = 0;
        else {
            buf[pos++] = 2; // zigzag 1
            rawLong(v);
        }
    }

    private static final int RECENT = 32;
    private final String[] recent = new String[RECENT];
    private final int[] recentId = new int[RECENT];

    /** A string seldom repeated (an issue's or gap's detail): never numbered. */
    void putText(String s) {
        if (s == null) {
            putLong(0L);
            return;
        }
        putLong(2L);
        chars(s);
    }

    private void chars(String s) {
        putLong(s.length());
        for (int i = 0; i < s.length(); i++) putLong(s.charAt(i));
    }

    /** Everything written so far to memory or the file. */
    void flush() {
        if (failed || pos == 0) return;
        try {
            if (file == null && memoryBytes + pos <= memoryCap) {
                memory.add(Arrays.copyOf(buf, pos));
                memoryBytes += pos;
            } else {
                if (fileBytes + pos > MAX_BYTES) {
                    fail();
                    return;
                }
                if (file == null) open();
                ByteBuffer b = ByteBuffer.wrap(buf, 0, pos);
                while (b.hasRemaining()) file.write(b);
                fileBytes += pos;
            }
            pos = 0;
        } catch (IOException | RuntimeException e) {
            fail(); // no room on the disk, no tmpdir: the caller reads the input again
        }
    }

    private void open() throws IOException {
        path = Files.createTempFile("aertrace-spill-", ".bin");
        file = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE, StandardOpenOption.DELETE_ON_CLOSE);
        try {
            Files.delete(path); // unlinked now: the open channel keeps it, and nothing is left if the JVM dies
            path = null;
        } catch (java.nio.file.NoSuchFileException e) {
            path = null; // the JDK's DELETE_ON_CLOSE unlinked it at open (Linux): never delete that name again
        } catch (IOException e) {
            // a system that cannot unlink an open file: DELETE_ON_CLOSE removes it at close()
        }
    }

    // ---- reading ---------------------------------------------------------------------------------------------

    private byte[] in;
    private int ip, il;
    private int chunk;
    private long fileRead;
    private String[] table;
    private int tableSize;

    /** Switches to reading, from the first byte. */
    void rewind() {
        if (failed) throw new IllegalStateException("spill failed");
        buf = null;
        chunk = 0;
        il = ip = 0;
        in = null;
        table = new String[64];
        tableSize = 0;
    }

    /** False at the end of what was written. */
    boolean more() {
        return ip < il || refill();
    }

    /** The next chunk: from memory first, then from the file; false at the end. */
    private boolean refill() {
        if (chunk < memory.size()) {
            in = memory.get(chunk);
            memory.set(chunk++, null); // read once: let it go
            ip = 0;
            il = in.length;
            return true;
        }
        if (file == null || fileRead >= fileBytes) return false;
        if (in == null || in.length != CHUNK) in = new byte[CHUNK];
        ByteBuffer b = ByteBuffer.wrap(in);
        int n = 0;
        try {
            while (b.hasRemaining() && fileRead + n < fileBytes) {
                int r = file.read(b, fileRead + n);
                if (r < 0) break;
                n += r;
            }
        } catch (IOException e) {
            throw new UncheckedIOException("reading the spill file", e);
        }
        if (n == 0) throw new UncheckedIOException(new IOException("spill file ended early"));
        fileRead += n;
        ip = 0;
        il = n;
        return true;
    }

    int getByte() {
        if (ip == il && !refill()) throw new UncheckedIOException(new IOException("spill ended mid-record"));
        return in[ip++] & 0xFF;
    }

    /** Whether {@code n} bytes can be read from the chunk in hand with the raw gets below (no refill between). */
    boolean ready(int n) { return il - ip >= n; }

    /**
     * {@link #getLong} inside the chunk (after {@link #ready}). A one-byte value (most of a record's fields: line
     * steps, sizes, flags, numbered strings) is read by a method small enough for C2 to inline at the launcher's
     * limit (FreqInlineSize=40), where the whole decoder, a call per field, was not.
     */
    long rawLong() {
        int b = in[ip];
        if (b < 0) return rawLonger();
        ip++;
        return (b >>> 1) ^ -(b & 1);
    }

    private long rawLonger() {
        byte[] in = this.in;
        int p = ip;
        long z = 0;
        int shift = 0;
        while (true) {
            int b = in[p++];
            z |= (long) (b & 0x7F) << shift;
            if (b >= 0) break;
            shift += 7;
        }
        ip = p;
        return (z >>> 1) ^ -(z & 1);
    }

    int rawByte() { return in[ip++] & 0xFF; }

    Long rawBoxed() { return rawLong() == 0 ? null : Long.valueOf(rawLong()); }

    /** {@link #getString} of null or a string numbered before (what {@link #recentCode} wrote), inside the chunk. */
    String rawString() {
        long k = rawLong();
        if (k == 0) return null;
        if (k < 3) throw new IllegalStateException("spill: a string where a numbered one was written");
        return table[(int) (k - 3)];
    }

    long getLong() {
        long z = 0;
        int shift = 0;
        while (true) {
            int b = ip < il ? in[ip++] & 0xFF : getByte();
            z |= (long) (b & 0x7F) << shift;
            if (b < 0x80) break;
            shift += 7;
        }
        return (z >>> 1) ^ -(z & 1);
    }

    boolean getBool() { return (ip < il ? in[ip++] : getByte()) != 0; }

    Long getBoxed() { return getLong() == 0 ? null : Long.valueOf(getLong()); }

    Integer getInt() { return getLong() == 0 ? null : Integer.valueOf((int) getLong()); }

    String getString() {
        long k = getLong();
        if (k == 0) return null;
        if (k >= 3) return table[(int) (k - 3)];
        int n = (int) getLong();
        char[] cs = new char[n];
        for (int i = 0; i < n; i++) cs[i] = (char) getLong();
        String s = StringCache.literal(new String(cs));
        if (k == 1) {
            if (tableSize == table.length) table = Arrays.copyOf(table, tableSize * 2);
            table[tableSize++] = s;
        }
        return s;
    }
}
