package dev.aertrace.ingest;

import java.util.ArrayList;
import java.util.List;

/**
 * Field values of the line being read; one per reader, reused so the hot path makes no garbage. Both line parsers
 * ({@link LineScanner}, the byte-level fast path, and {@link JacksonLine}, the fallback) hand every value through
 * {@link #value}, so a line means the same whichever parser read it.
 */
final class Scratch {
    String type, comm, dev, cb, driver, fn, ctx, cmdName, region, op, reason, event, slot, handler, stateName, reasonName;
    long ts, cpu, pid, tid, severity, status, state, ret, result, cmd, offset, size, value, count, events, lost, since, until, reasonNum, entered,
            records, dropped, exitTs;
    boolean tlpValid, write, history, dllla;
    long width;
    long[] tlp;
    int has; // bit set of F_* below
    /** The ids (bit i: {@link #NAMES}[i]) of the fields the line gave, whatever their values: {@link FieldSets}. */
    long fields;
    List<String> unknown;
    /** The last dev that passed the PCI-name check (Plausible): kept across lines, compared by identity. */
    String pciName;

    static final int F_TS = 1, F_CPU = 2, F_PID = 4, F_TID = 8, F_SEVERITY = 16, F_STATUS = 32, F_STATE = 64,
            F_RET = 128, F_RESULT = 256, F_CMD = 512, F_OFFSET = 1024, F_SIZE = 2048, F_VALUE = 4096, F_COUNT = 8192,
            F_WRITE = 16384, F_TLPVALID = 32768, F_EVENTS = 65536, F_LOST = 131072, F_HISTORY = 1 << 18,
            F_SINCE = 1 << 21, F_UNTIL = 1 << 22, F_BADTYPE = 1 << 20, F_DLLLA = 1 << 23, F_WIDTH = 1 << 24,
            F_BADSTRING = 1 << 25, F_REASON_NUM = 1 << 26, F_ENTERED = 1 << 27, F_RECORDS = 1 << 28, F_DROPPED = 1 << 29,
            F_EXIT_TS = 1 << 30;

    /** The JSON value kinds a field can be given; OTHER: a float, list or object (wrong for every scalar field). */
    static final int STRING = 0, INT = 1, TRUE = 2, FALSE = 3, NULL = 4, OTHER = 5;

    /** What a field holds: a string, an integer, a boolean, the two-typed "reason", the "tlp" list. */
    static final int K_STR = 0, K_NUM = 1, K_BOOL = 2, K_REASON = 3, K_TLP = 4;

    /** Every field a schema-v1/v2/v3 event line may carry, by id; the ids index {@link #KIND} and {@link #FLAG}. */
    static final String[] NAMES = {"type", "ts", "cpu", "pid", "tid", "comm", "dev", "severity", "status", "tlp_valid",
            "tlp", "state", "ret", "result", "cb", "driver", "fn", "ctx", "cmd", "cmd_name", "region", "offset", "size",
            "write", "value", "op", "count", "events", "lost", "reason", "handler", "dllla", "width", "state_name",
            "reason_name", "since", "event", "slot", "until", "entered", "history", "records", "dropped", "exit_ts"};
    static final int[] KIND = {K_STR, K_NUM, K_NUM, K_NUM, K_NUM, K_STR, K_STR, K_NUM, K_NUM, K_BOOL,
            K_TLP, K_NUM, K_NUM, K_NUM, K_STR, K_STR, K_STR, K_STR, K_NUM, K_STR, K_STR, K_NUM, K_NUM,
            K_BOOL, K_NUM, K_STR, K_NUM, K_NUM, K_NUM, K_REASON, K_STR, K_BOOL, K_NUM, K_STR,
            K_STR, K_NUM, K_STR, K_STR, K_NUM, K_NUM, K_BOOL, K_NUM, K_NUM, K_NUM};
    static final int[] FLAG = {0, F_TS, F_CPU, F_PID, F_TID, 0, 0, F_SEVERITY, F_STATUS, F_TLPVALID,
            0, F_STATE, F_RET, F_RESULT, 0, 0, 0, 0, F_CMD, 0, 0, F_OFFSET, F_SIZE,
            F_WRITE, F_VALUE, 0, F_COUNT, F_EVENTS, F_LOST, F_REASON_NUM, 0, F_DLLLA, F_WIDTH, 0,
            0, F_SINCE, 0, 0, F_UNTIL, F_ENTERED, F_HISTORY, F_RECORDS, F_DROPPED, F_EXIT_TS};

    private static final java.util.Map<String, Integer> IDS = new java.util.HashMap<>();
    static {
        for (int i = 0; i < NAMES.length; i++) IDS.put(NAMES[i], i);
    }

    /** The id of field {@code name}, or -1 for a name the schema's event lines do not use. */
    static int id(String name) {
        Integer i = IDS.get(name);
        return i == null ? -1 : i;
    }

    void reset() {
        type = comm = dev = cb = driver = fn = ctx = cmdName = region = op = reason = event = slot = handler = stateName = reasonName = null;
        tlp = null;
        has = 0;
        fields = 0;
        if (unknown != null) unknown.clear();
    }

    void unknown(String name) {
        if (unknown == null) unknown = new ArrayList<>(2);
        unknown.add(name);
    }

    /**
     * Field {@code id} was given a value of kind {@code tok}: {@code n} for an INT, {@code str} for a STRING (for an
     * INT, the number as written, which "reason" keeps). A value of the wrong kind marks the line F_BADTYPE, and so
     * does null: events.schema.json allows null only inside the header's topology, which this does not read, and
     * the agent writes none on an event line. A null "history" had turned a flight-recorder record into a live
     * read and moved the trace's start before it (long run, seed 601 mutant 44812).
     */
    void value(int id, int tok, long n, String str) {
        fields |= 1L << id;
        switch (KIND[id]) {
            case K_STR -> str(id, tok == STRING ? str : null, tok);
            case K_NUM -> {
                if (tok == INT) has |= FLAG[id];
                else has |= F_BADTYPE;
                num(id, tok == INT ? n : 0);
            }
            case K_BOOL -> {
                if (tok == TRUE || tok == FALSE) has |= FLAG[id];
                else has |= F_BADTYPE;
                bool(id, tok == TRUE);
            }
            case K_REASON -> {
                // a string on the footer (why the agent stopped), an integer on hotplug.event (disable_request's
                // reason), pcie.link_event (the kernel's enum pcie_link_change_reason), kept as its digits, and
                // qemu.system_reset (QEMU's ShutdownCause)
                if (tok == INT) {
                    has |= F_REASON_NUM;
                    reasonNum = n;
                    reason = str;
                } else str(id, tok == STRING ? str : null, tok);
            }
            default -> { // K_TLP: a list is read by the parser itself (JacksonLine); anything else is wrong
                has |= F_BADTYPE;
                tlp = null;
            }
        }
    }

    private void str(int id, String v, int tok) {
        if (tok != STRING) has |= F_BADTYPE;
        switch (id) {
            case 0 -> type = v;
            case 5 -> comm = v;
            case 6 -> dev = v;
            case 14 -> cb = v;
            case 15 -> driver = v;
            case 16 -> fn = v;
            case 17 -> ctx = v;
            case 19 -> cmdName = v;
            case 20 -> region = v;
            case 25 -> op = v;
            case 29 -> reason = v;
            case 30 -> handler = v;
            case 33 -> stateName = v;
            case 34 -> reasonName = v;
            case 36 -> event = v;
            case 37 -> slot = v;
            default -> throw new IllegalArgumentException(NAMES[id]);
        }
    }

    /**
     * The strings, flags and present booleans of {@code o} (LineScanner's shapes: a line read alike but for its
     * numbers, which the caller stores after). Absent numbers and booleans keep their values, as on any line.
     */
    void shape(Scratch o) {
        type = o.type;
        comm = o.comm;
        dev = o.dev;
        cb = o.cb;
        driver = o.driver;
        fn = o.fn;
        ctx = o.ctx;
        cmdName = o.cmdName;
        region = o.region;
        op = o.op;
        reason = o.reason;
        event = o.event;
        slot = o.slot;
        handler = o.handler;
        stateName = o.stateName;
        reasonName = o.reasonName;
        tlp = o.tlp;
        has = o.has;
        fields = o.fields;
        if ((fields & (1L << 9)) != 0) tlpValid = o.tlpValid;
        if ((fields & (1L << 23)) != 0) write = o.write;
        if ((fields & (1L << 31)) != 0) dllla = o.dllla;
        if ((fields & (1L << 40)) != 0) history = o.history;
    }

    void num(int id, long v) {
        switch (id) {
            case 1 -> ts = v;
            case 2 -> cpu = v;
            case 3 -> pid = v;
            case 4 -> tid = v;
            case 7 -> severity = v;
            case 8 -> status = v;
            case 11 -> state = v;
            case 12 -> ret = v;
            case 13 -> result = v;
            case 18 -> cmd = v;
            case 21 -> offset = v;
            case 22 -> size = v;
            case 24 -> value = v;
            case 26 -> count = v;
            case 27 -> events = v;
            case 28 -> lost = v;
            case 32 -> width = v;
            case 35 -> since = v;
            case 38 -> until = v;
            case 39 -> entered = v;
            case 41 -> records = v;
            case 42 -> dropped = v;
            case 43 -> exitTs = v;
            default -> throw new IllegalArgumentException(NAMES[id]);
        }
    }

    private void bool(int id, boolean v) {
        switch (id) {
            case 9 -> tlpValid = v;
            case 23 -> write = v;
            case 31 -> dllla = v;
            case 40 -> history = v;
            default -> throw new IllegalArgumentException(NAMES[id]);
        }
    }
}
