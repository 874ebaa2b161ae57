package dev.aertrace.ingest;

import java.io.Closeable;
import java.util.ArrayList;
import java.util.List;

/**
 * What a {@link TraceReader} told its listener and its {@link Diagnostics}, in the order it said it, kept in a
 * compact binary form so the analyzer's second pass replays it instead of reading every line again (issue 13:
 * reading a line — split, scan, rules, typed event — was half of a run's CPU, and it happened twice). Bounded:
 * up to {@link #MEMORY} bytes on the heap, the rest in an unlinked temp file ({@link SpillBytes}). Anything it
 * cannot keep — a file it cannot write, more headers than {@link #MAX_HEADERS}, an event type it does not know —
 * gives it up: {@link #complete()} is then false and the caller reads the input again, as before.
 *
 * <p>Exact by construction: each listener call and each diagnostics call is one record, every field of the typed
 * event is written ({@link EventCodec}), and {@link #replay} makes the same calls with equal arguments in the same
 * order; {@code EventSpillTest} holds that to every committed trace and a damaged copy of each.
 */
public final class EventSpill implements TraceListener, Diagnostics.Recorder, Closeable {
    /** Bytes kept on the heap before the rest goes to a file (1 M lab events take ~20 MB). */
    static final long MEMORY = Long.getLong("aertrace.spill.memory", 8L << 20);
    /** Headers are kept as objects (a topology can be large, and one per segment is rare); past this, give up. */
    static final int MAX_HEADERS = 64;

    // record tags below EventCodec.FIRST_TAG
    private static final int T_HEADER = 1, T_FOOTER = 2, T_DUMP = 3, T_ADVANCE = 4, T_END = 5, T_ISSUE = 6,
            T_UNKNOWN_TYPE = 7, T_UNKNOWN_FIELD = 8;
    private static final Issue.Kind[] KINDS = Issue.Kind.values();

    private final TraceListener next;
    private Diagnostics tapped;
    private boolean ended;
    private final SpillBytes b;
    private final EventCodec codec;
    private final List<TraceHeader> headers = new ArrayList<>();

    /** Records what the reader gives {@code next} (forwarded unchanged) and says to {@code diag}. */
    public EventSpill(TraceListener next, Diagnostics diag) {
        this(next, diag, MEMORY);
    }

    EventSpill(TraceListener next, Diagnostics diag, long memory) {
        this.next = next;
        this.tapped = diag;
        this.b = new SpillBytes(memory);
        this.codec = new EventCodec(b);
        diag.record(this);
    }

    /** Whether part of it went to the temp file (tests). */
    boolean spilledToFile() { return b.inFile(); }

    /** True when everything the reader said is here (not given up). */
    public boolean complete() { return ended && !b.failed(); }

    private boolean off() { return b.failed(); }

    private void giveUp() {
        b.fail();
        untap();
    }

    private void untap() {
        if (tapped != null) tapped.record(null);
        tapped = null;
    }

    @Override public void header(TraceHeader h) {
        next.header(h);
        if (off()) return;
        if (headers.size() >= MAX_HEADERS) {
            giveUp();
            return;
        }
        headers.add(h);
        b.putByte(T_HEADER);
        b.putLong(headers.size() - 1);
    }

    @Override public void event(Event e) {
        next.event(e);
        if (!off() && !codec.put(e, 0)) giveUp(); // a type this code does not know yet: read again rather than guess
    }

    @Override public void history(Event e) {
        next.history(e);
        if (!off() && !codec.put(e, EventCodec.HISTORY)) giveUp();
    }

    @Override public void wholeEnter(Event e) {
        next.wholeEnter(e);
        if (!off() && !codec.put(e, EventCodec.WHOLE)) giveUp();
    }

    @Override public void historyDump() {
        next.historyDump();
        b.putByte(T_DUMP);
    }

    @Override public void footer(TraceFooter f) {
        next.footer(f);
        b.putByte(T_FOOTER);
        b.putLong(f.ts());
        b.putLong(f.events());
        b.putLong(f.lost());
        b.putString(f.reason());
        b.putLong(f.line());
    }

    @Override public void advance(long ts) {
        next.advance(ts);
        b.putByte(T_ADVANCE);
        b.putLong(ts);
    }

    /** The reader's last call: what was recorded is now complete. */
    @Override public void end() {
        next.end();
        b.putByte(T_END);
        untap();
        b.flush();
        ended = true;
    }

    @Override public void issue(Issue.Kind kind, long line, String detail) {
        b.putByte(T_ISSUE);
        b.putLong(kind.ordinal());
        b.putLong(line);
        b.putText(detail);
    }

    @Override public void unknownType(String type, long line) {
        b.putByte(T_UNKNOWN_TYPE);
        b.putString(type);
        b.putLong(line);
    }

    @Override public void unknownField(String type, String field, long line) {
        b.putByte(T_UNKNOWN_FIELD);
        b.putString(type);
        b.putString(field);
        b.putLong(line);
    }

    /** Makes the reader's calls again, in order, on {@code out} and {@code diag}. Only when {@link #complete()}; once. */
    public void replay(TraceListener out, Diagnostics diag) {
        if (!complete()) throw new IllegalStateException("spill not complete");
        b.rewind();
        codec.rewind();
        while (b.more()) {
            int t = b.getByte();
            if (t >= EventCodec.FIRST_TAG) {
                Event e = codec.get(t);
                if ((t & EventCodec.HISTORY) != 0) out.history(e);
                else if ((t & EventCodec.WHOLE) != 0) out.wholeEnter(e);
                else out.event(e);
                continue;
            }
            switch (t) {
                case T_HEADER -> out.header(headers.get((int) b.getLong()));
                case T_FOOTER -> out.footer(new TraceFooter(b.getLong(), b.getLong(), b.getLong(), b.getString(), b.getLong()));
                case T_DUMP -> out.historyDump();
                case T_ADVANCE -> out.advance(b.getLong());
                case T_END -> out.end();
                case T_ISSUE -> diag.issue(KINDS[(int) b.getLong()], b.getLong(), b.getString());
                case T_UNKNOWN_TYPE -> diag.unknownType(b.getString(), b.getLong());
                case T_UNKNOWN_FIELD -> diag.unknownField(b.getString(), b.getString(), b.getLong());
                default -> throw new IllegalStateException("spill record " + t);
            }
        }
    }

    @Override public void close() {
        untap();
        b.release();
    }
}
