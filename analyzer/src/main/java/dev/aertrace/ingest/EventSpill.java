package dev.aertrace.ingest;

import java.io.Closeable;
import java.io.IOException;
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
 * What a {@link TraceReader} told its listener and its {@link Diagnostics}, in the order it said it, kept in a
 * compact binary form so the analyzer's second pass replays it instead of reading every line again (issue 13:
 * reading a line — split, scan, rules, typed event — was half of a run's CPU, and it happened twice). Bounded:
 * up to {@link #MEMORY} bytes on the heap, the rest in a temp file under {@code java.io.tmpdir}, unlinked as soon as
 * it is opened (so nothing is left behind, however the JVM ends). Anything it cannot keep — a file it cannot write,
 * more headers than {@link #MAX_HEADERS}, an event type it does not know — gives it up: {@link #complete()} is then
 * false and the caller reads the input again, as before.
 *
 * <p>Exact by construction: each listener call and each diagnostics call is one record, every field of the typed
 * event is written (strings by value), and {@link #replay} makes the same calls with equal arguments in the same
 * order; {@code EventSpillTest} holds that to every committed trace, the fuzz seeds and their mutants.
 */
public final class EventSpill implements TraceListener, Diagnostics.Recorder, Closeable {
    /** Bytes kept on the heap before the rest goes to a file (1 M lab events take ~20 MB). */
    static final long MEMORY = Long.getLong("aertrace.spill.memory", 8L << 20);
    /** A spill larger than this is given up (the input is read again): no temp file fills a disk on its own. */
    static final long MAX_BYTES = Long.getLong("aertrace.spill.max", 16L << 30);
    /** Headers are kept as objects (a topology can be large, and one per segment is rare); past this, give up. */
    static final int MAX_HEADERS = 64;
    /**
     * Distinct short strings given a number (comm, dev, region, ...), so a repeat costs a byte or two; past that,
     * or longer, they are written whole each time (a hostile trace's distinct strings cannot grow the table).
     */
    static final int MAX_STRINGS = 4096, MAX_NUMBERED_LENGTH = 64;
    private static final int CHUNK = 1 << 16;

    // record tags; an event's tag is T_EVENT + its kind, with H set for a listener.history call
    private static final int T_HEADER = 1, T_FOOTER = 2, T_DUMP = 3, T_ADVANCE = 4, T_END = 5, T_ISSUE = 6,
            T_UNKNOWN_TYPE = 7, T_UNKNOWN_FIELD = 8, T_EVENT = 16, H = 0x80;
    private static final int RW_ENTER = 0, RW_EXIT = 1, AER = 2, RECOVERY_ENTER = 3, RECOVERY_EXIT = 4, CB_ENTER = 5,
            CB_EXIT = 6, RESET_ENTER = 7, RESET_EXIT = 8, ERR_DETECTED_ENTER = 9, ERR_DETECTED_EXIT = 10,
            EVENTFD_SIGNAL = 11, EVENTFD_READ = 12, IOCTL_ENTER = 13, IOCTL_EXIT = 14, OPEN = 15, CLOSE = 16,
            USER_RESET_ENTER = 17, USER_RESET_EXIT = 18, CFG_LOCK = 19, LOST = 20, DEVICE_GONE = 21, LINK_CHANGE = 22,
            GAP = 23, Q_ENTER = 24, Q_EXIT = 25, Q_RUNSTATE = 26, Q_RESET = 27;

    private static final Issue.Kind[] KINDS = Issue.Kind.values();
    private static final Event.GapKind[] GAP_KINDS = Event.GapKind.values();
    private static final Event.Callback[] CALLBACKS = Event.Callback.values();
    private static final QemuEvents.Space[] SPACES = QemuEvents.Space.values();

    private final TraceListener next;
    private Diagnostics tapped;
    private boolean given;
    private boolean closed;

    private byte[] buf = new byte[CHUNK];
    private int pos;
    private final List<byte[]> memory = new ArrayList<>();
    private long memoryBytes;
    private Path path;
    private FileChannel file;
    private long fileBytes;

    private final List<TraceHeader> headers = new ArrayList<>();
    private final Map<String, Integer> ids = new HashMap<>();
    private long prevTs, prevLine;

    private final long memoryCap;

    /** Records what the reader gives {@code next} (forwarded unchanged) and says to {@code diag}. */
    public EventSpill(TraceListener next, Diagnostics diag) {
        this(next, diag, MEMORY);
    }

    EventSpill(TraceListener next, Diagnostics diag, long memoryCap) {
        this.memoryCap = memoryCap;
        this.next = next;
        this.tapped = diag;
        diag.record(this);
    }

    /** Whether part of it went to a temp file (tests). */
    boolean spilledToFile() { return fileBytes > 0; }

    /** True when everything the reader said is here (not given up). */
    public boolean complete() { return !given && closed; }

    private void giveUp() {
        if (given) return;
        given = true;
        untap();
        memory.clear();
        buf = null;
        closeFile();
    }

    private void untap() {
        if (tapped != null) tapped.record(null);
        tapped = null;
    }

    // ---- recording -------------------------------------------------------------------------------------------

    @Override public void header(TraceHeader h) {
        next.header(h);
        if (given) return;
        if (headers.size() >= MAX_HEADERS) {
            giveUp();
            return;
        }
        headers.add(h);
        tag(T_HEADER);
        putLong(headers.size() - 1);
    }

    @Override public void event(Event e) {
        next.event(e);
        if (!given) put(e, 0);
    }

    @Override public void history(Event e) {
        next.history(e);
        if (!given) put(e, H);
    }

    @Override public void historyDump() {
        next.historyDump();
        if (!given) tag(T_DUMP);
    }

    @Override public void footer(TraceFooter f) {
        next.footer(f);
        if (given) return;
        tag(T_FOOTER);
        putLong(f.ts());
        putLong(f.events());
        putLong(f.lost());
        putString(f.reason());
        putLong(f.line());
    }

    @Override public void advance(long ts) {
        next.advance(ts);
        if (given) return;
        tag(T_ADVANCE);
        putLong(ts);
    }

    /** The reader's last call: what was recorded is now complete (to memory and the file). */
    @Override public void end() {
        next.end();
        if (given) return;
        tag(T_END);
        untap();
        flush();
        closed = true;
    }

    @Override public void issue(Issue.Kind kind, long line, String detail) {
        if (given) return;
        tag(T_ISSUE);
        putLong(kind.ordinal());
        putLong(line);
        putText(detail);
    }

    @Override public void unknownType(String type, long line) {
        if (given) return;
        tag(T_UNKNOWN_TYPE);
        putString(type);
        putLong(line);
    }

    @Override public void unknownField(String type, String field, long line) {
        if (given) return;
        tag(T_UNKNOWN_FIELD);
        putString(type);
        putString(field);
        putLong(line);
    }

    private void put(Event e, int h) {
        // the common types first: vfio.rw is ~98% of a busy trace
        if (e instanceof Event.RwEnter r) {
            common(RW_ENTER, h, r.common());
            putString(r.region());
            putLong(r.offset());
            putLong(r.size());
            putBool(r.write());
            putLong(r.value());
        } else if (e instanceof Event.RwExit r) {
            common(RW_EXIT, h, r.common());
            putString(r.region());
            putLong(r.offset());
            putLong(r.size());
            putBool(r.write());
            putLong(r.ret());
            putLong(r.value());
        } else if (e instanceof Event.Gap g) {
            common(GAP, h, g.common());
            putLong(g.kind().ordinal());
            putText(g.detail());
        } else if (e instanceof Event.AerError a) {
            common(AER, h, a.common());
            putLong(a.severity());
            putLong(a.status());
            putBool(a.tlpValid());
            long[] t = a.tlp();
            putLong(t == null ? -1 : t.length);
            if (t != null) for (long v : t) putLong(v);
        } else if (e instanceof Event.RecoveryEnter r) {
            common(RECOVERY_ENTER, h, r.common());
            putInt(r.state());
        } else if (e instanceof Event.RecoveryExit r) {
            common(RECOVERY_EXIT, h, r.common());
            putInt(r.ret());
        } else if (e instanceof Event.CallbackEnter c) {
            common(CB_ENTER, h, c.common());
            putLong(c.cb() == null ? -1 : c.cb().ordinal());
            putString(c.driver());
            putInt(c.state());
        } else if (e instanceof Event.CallbackExit c) {
            common(CB_EXIT, h, c.common());
            putLong(c.cb() == null ? -1 : c.cb().ordinal());
            putInt(c.result());
        } else if (e instanceof Event.ResetEnter r) {
            common(RESET_ENTER, h, r.common());
            putString(r.fn());
        } else if (e instanceof Event.ResetExit r) {
            common(RESET_EXIT, h, r.common());
            putString(r.fn());
            putLong(r.ret());
        } else if (e instanceof Event.VfioErrDetectedEnter v) {
            common(ERR_DETECTED_ENTER, h, v.common());
            putInt(v.state());
        } else if (e instanceof Event.VfioErrDetectedExit v) {
            common(ERR_DETECTED_EXIT, h, v.common());
            putInt(v.ret());
        } else if (e instanceof Event.EventfdSignal s) {
            common(EVENTFD_SIGNAL, h, s.common());
            putString(s.ctx());
        } else if (e instanceof Event.EventfdRead r) {
            common(EVENTFD_READ, h, r.common());
            putString(r.ctx());
            putLong(r.ret());
            putLong(r.entered());
        } else if (e instanceof Event.IoctlEnter i) {
            common(IOCTL_ENTER, h, i.common());
            putLong(i.cmd());
            putString(i.cmdName());
        } else if (e instanceof Event.IoctlExit i) {
            common(IOCTL_EXIT, h, i.common());
            putLong(i.cmd());
            putString(i.cmdName());
            putLong(i.ret());
        } else if (e instanceof Event.VfioOpen o) {
            common(OPEN, h, o.common());
        } else if (e instanceof Event.VfioClose c) {
            common(CLOSE, h, c.common());
        } else if (e instanceof Event.UserResetEnter u) {
            common(USER_RESET_ENTER, h, u.common());
            putString(u.fn());
        } else if (e instanceof Event.UserResetExit u) {
            common(USER_RESET_EXIT, h, u.common());
            putString(u.fn());
            putLong(u.ret());
        } else if (e instanceof Event.CfgLock c) {
            common(CFG_LOCK, h, c.common());
            putString(c.op());
            putLong(c.ret());
        } else if (e instanceof Event.Lost l) {
            common(LOST, h, l.common());
            putLong(l.count());
            putLong(l.since());
            putLong(l.until());
            putBool(l.anyCpu());
        } else if (e instanceof Event.DeviceGone d) {
            common(DEVICE_GONE, h, d.common());
            putString(d.type());
            putString(d.what());
        } else if (e instanceof Event.LinkChange l) {
            common(LINK_CHANGE, h, l.common());
            putString(l.type());
            putLong(l.up() == null ? -1 : l.up() ? 1 : 0);
            putString(l.what());
        } else if (e instanceof QemuEvents.AccessEnter q) {
            common(Q_ENTER, h, q.common());
            putLong(q.space().ordinal());
            putLong(q.offset());
            putLong(q.size());
            putBool(q.write());
            putLong(q.value());
        } else if (e instanceof QemuEvents.AccessExit q) {
            common(Q_EXIT, h, q.common());
            putLong(q.space().ordinal());
            putLong(q.offset());
            putLong(q.size());
            putBool(q.write());
            putLong(q.value());
        } else if (e instanceof QemuEvents.RunState q) {
            common(Q_RUNSTATE, h, q.common());
            putBool(q.vmStop());
            putLong(q.state());
            putString(q.name());
        } else if (e instanceof QemuEvents.SystemReset q) {
            common(Q_RESET, h, q.common());
            putLong(q.reason());
            putString(q.name());
        } else {
            giveUp(); // a type this code does not know yet: read the input again rather than guess
        }
    }

    private void common(int kind, int h, Event.Common c) {
        tag((T_EVENT + kind) | h);
        // ts and line as differences from the previous event's: a few bytes each instead of eight
        putLong(c.ts() - prevTs);
        prevTs = c.ts();
        putLong(c.line() - prevLine);
        prevLine = c.line();
        putLong(c.cpu());
        putLong(c.pid());
        putLong(c.tid());
        putString(c.comm());
        putString(c.dev());
    }

    // ---- bytes out -------------------------------------------------------------------------------------------

    private void tag(int t) {
        if (pos + 11 > CHUNK) flush();
        if (given) return;
        buf[pos++] = (byte) t;
    }

    private void putBool(boolean b) {
        if (pos == CHUNK) flush();
        if (!given) buf[pos++] = (byte) (b ? 1 : 0);
    }

    /** Zigzag varint: small magnitudes of either sign in one or two bytes. */
    private void putLong(long v) {
        if (pos + 10 > CHUNK) flush();
        if (given) return;
        long z = (v << 1) ^ (v >> 63);
        while ((z & ~0x7FL) != 0) {
            buf[pos++] = (byte) ((z & 0x7F) | 0x80);
            z >>>= 7;
        }
        buf[pos++] = (byte) z;
    }

    /** A boxed value: 0 for null, else 1 and the value. */
    private void putLong(Long v) {
        if (v == null) putLong(0L);
        else {
            putLong(1L);
            putLong(v.longValue());
        }
    }

    private void putInt(Integer v) { putLong(v == null ? null : Long.valueOf(v.longValue())); }

    /** A string seldom repeated (an issue's or gap's detail): never numbered. */
    private void putText(String s) {
        if (s == null) {
            putLong(0L);
            return;
        }
        putLong(2L);
        putLong(s.length());
        for (int i = 0; i < s.length(); i++) putLong(s.charAt(i));
    }

    /** 0: null; 1: a new numbered string follows; 2: an unnumbered one follows; n + 3: string number n. */
    private void putString(String s) {
        if (s == null) {
            putLong(0L);
            return;
        }
        Integer id = ids.get(s);
        if (id != null) {
            putLong(id + 3L);
            return;
        }
        if (ids.size() < MAX_STRINGS && s.length() <= MAX_NUMBERED_LENGTH) {
            ids.put(s, ids.size());
            putLong(1L);
        } else putLong(2L);
        putLong(s.length());
        for (int i = 0; i < s.length(); i++) putLong(s.charAt(i));
    }

    private void flush() {
        if (given || pos == 0) return;
        try {
            if (file == null && memoryBytes + pos <= memoryCap) {
                memory.add(Arrays.copyOf(buf, pos));
                memoryBytes += pos;
            } else {
                if (fileBytes + pos > MAX_BYTES) {
                    giveUp();
                    return;
                }
                if (file == null) open();
                ByteBuffer b = ByteBuffer.wrap(buf, 0, pos);
                while (b.hasRemaining()) file.write(b);
                fileBytes += pos;
            }
            pos = 0;
        } catch (IOException | RuntimeException e) {
            giveUp(); // no room on the disk, no tmpdir: the caller reads the input again
        }
    }

    private void open() throws IOException {
        path = Files.createTempFile("aertrace-spill-", ".bin");
        file = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE, StandardOpenOption.DELETE_ON_CLOSE);
        try {
            Files.delete(path); // unlinked now: the open channel keeps it, and nothing is left if the JVM dies
            path = null;
        } catch (IOException e) {
            // a system that cannot unlink an open file: DELETE_ON_CLOSE removes it at close()
        }
    }

    private void closeFile() {
        if (file == null) return;
        try {
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
    }

    @Override public void close() {
        untap();
        memory.clear();
        buf = null;
        closeFile();
    }

    // ---- replay ----------------------------------------------------------------------------------------------

    private byte[] in;
    private int ip, il;
    private int chunk;
    private long fileRead;
    private String[] table;
    private int tableSize;

    /**
     * Makes the reader's calls again, in order, on {@code out} and {@code diag}. Only after {@link #complete()};
     * once.
     */
    public void replay(TraceListener out, Diagnostics diag) throws IOException {
        if (!complete()) throw new IllegalStateException("spill not complete");
        buf = null;
        chunk = 0;
        il = ip = 0;
        in = null;
        table = new String[64];
        tableSize = 0;
        prevTs = prevLine = 0;
        while (true) {
            if (ip == il && !refill()) return;
            int t = in[ip++] & 0xFF;
            if (t >= T_EVENT) {
                Event e = event((t & ~H) - T_EVENT);
                if ((t & H) != 0) out.history(e);
                else out.event(e);
                continue;
            }
            switch (t) {
                case T_HEADER -> out.header(headers.get((int) getLong()));
                case T_FOOTER -> out.footer(new TraceFooter(getLong(), getLong(), getLong(), getString(), getLong()));
                case T_DUMP -> out.historyDump();
                case T_ADVANCE -> out.advance(getLong());
                case T_END -> out.end();
                case T_ISSUE -> diag.issue(KINDS[(int) getLong()], getLong(), getString());
                case T_UNKNOWN_TYPE -> diag.unknownType(getString(), getLong());
                case T_UNKNOWN_FIELD -> diag.unknownField(getString(), getString(), getLong());
                default -> throw new IllegalStateException("spill record " + t);
            }
        }
    }

    private Event event(int kind) {
        long ts = prevTs + getLong();
        prevTs = ts;
        long line = prevLine + getLong();
        prevLine = line;
        Event.Common c = new Event.Common(ts, (int) getLong(), (int) getLong(), (int) getLong(), getString(), getString(), line);
        return switch (kind) {
            case RW_ENTER -> new Event.RwEnter(c, getString(), getLong(), (int) getLong(), getBool(), getBoxed());
            case RW_EXIT -> new Event.RwExit(c, getString(), getLong(), (int) getLong(), getBool(), getBoxed(), getBoxed());
            case GAP -> new Event.Gap(c, GAP_KINDS[(int) getLong()], getString());
            case AER -> {
                int severity = (int) getLong();
                long status = getLong();
                boolean valid = getBool();
                int n = (int) getLong();
                long[] tlp = n < 0 ? null : new long[n];
                for (int i = 0; i < n; i++) tlp[i] = getLong();
                yield new Event.AerError(c, severity, status, valid, tlp);
            }
            case RECOVERY_ENTER -> new Event.RecoveryEnter(c, getInt());
            case RECOVERY_EXIT -> new Event.RecoveryExit(c, getInt());
            case CB_ENTER -> new Event.CallbackEnter(c, callback(), getString(), getInt());
            case CB_EXIT -> new Event.CallbackExit(c, callback(), getInt());
            case RESET_ENTER -> new Event.ResetEnter(c, getString());
            case RESET_EXIT -> new Event.ResetExit(c, getString(), getBoxed());
            case ERR_DETECTED_ENTER -> new Event.VfioErrDetectedEnter(c, getInt());
            case ERR_DETECTED_EXIT -> new Event.VfioErrDetectedExit(c, getInt());
            case EVENTFD_SIGNAL -> new Event.EventfdSignal(c, getString());
            case EVENTFD_READ -> new Event.EventfdRead(c, getString(), getBoxed(), getBoxed());
            case IOCTL_ENTER -> new Event.IoctlEnter(c, getLong(), getString());
            case IOCTL_EXIT -> new Event.IoctlExit(c, getLong(), getString(), getBoxed());
            case OPEN -> new Event.VfioOpen(c);
            case CLOSE -> new Event.VfioClose(c);
            case USER_RESET_ENTER -> new Event.UserResetEnter(c, getString());
            case USER_RESET_EXIT -> new Event.UserResetExit(c, getString(), getBoxed());
            case CFG_LOCK -> new Event.CfgLock(c, getString(), getBoxed());
            case LOST -> new Event.Lost(c, getLong(), getBoxed(), getBoxed(), getBool());
            case DEVICE_GONE -> new Event.DeviceGone(c, getString(), getString());
            case LINK_CHANGE -> {
                String type = getString();
                long up = getLong();
                yield new Event.LinkChange(c, type, up < 0 ? null : up == 1, getString());
            }
            case Q_ENTER -> new QemuEvents.AccessEnter(c, SPACES[(int) getLong()], getLong(), (int) getLong(), getBool(), getBoxed());
            case Q_EXIT -> new QemuEvents.AccessExit(c, SPACES[(int) getLong()], getLong(), (int) getLong(), getBool(), getBoxed());
            case Q_RUNSTATE -> new QemuEvents.RunState(c, getBool(), (int) getLong(), getString());
            case Q_RESET -> new QemuEvents.SystemReset(c, (int) getLong(), getString());
            default -> throw new IllegalStateException("spill event kind " + kind);
        };
    }

    private Event.Callback callback() {
        int o = (int) getLong();
        return o < 0 ? null : CALLBACKS[o];
    }

    /** The next chunk: from memory first, then from the file; false at the end. */
    private boolean refill() throws IOException {
        if (chunk < memory.size()) {
            in = memory.get(chunk);
            memory.set(chunk++, null); // replayed once: let it go
            ip = 0;
            il = in.length;
            return true;
        }
        if (file == null || fileRead >= fileBytes) return false;
        if (in == null || in.length != CHUNK) in = new byte[CHUNK];
        ByteBuffer b = ByteBuffer.wrap(in);
        int n = 0;
        while (b.hasRemaining() && fileRead + n < fileBytes) {
            int r = file.read(b, fileRead + n);
            if (r < 0) break;
            n += r;
        }
        if (n == 0) throw new IOException("spill file ended early");
        fileRead += n;
        ip = 0;
        il = n;
        return true;
    }

    private byte get() throws IOException {
        if (ip == il && !refill()) throw new IOException("spill ended mid-record");
        return in[ip++];
    }

    private long getLong() {
        try {
            long z = 0;
            int shift = 0;
            while (true) {
                byte b = ip < il ? in[ip++] : get();
                z |= (long) (b & 0x7F) << shift;
                if (b >= 0) break;
                shift += 7;
            }
            return (z >>> 1) ^ -(z & 1);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private boolean getBool() {
        try {
            return (ip < il ? in[ip++] : get()) != 0;
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private Long getBoxed() {
        return getLong() == 0 ? null : Long.valueOf(getLong());
    }

    private Integer getInt() {
        return getLong() == 0 ? null : Integer.valueOf((int) getLong());
    }

    private String getString() {
        long k = getLong();
        if (k == 0) return null;
        if (k >= 3) return table[(int) (k - 3)];
        int n = (int) getLong();
        char[] cs = new char[n];
        for (int i = 0; i < n; i++) cs[i] = (char) getLong();
        String s = new String(cs);
        if (k == 1) {
            if (tableSize == table.length) table = Arrays.copyOf(table, tableSize * 2);
            table[tableSize++] = s;
        }
        return s;
    }
}
