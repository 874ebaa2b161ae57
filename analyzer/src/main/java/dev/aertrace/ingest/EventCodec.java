package dev.aertrace.ingest;

/**
 * Typed events to {@link SpillBytes} and back, every field of each record: a tag byte ({@link #FIRST_TAG} + the
 * kind; {@link #HISTORY} set for a flight-recorder record, {@link #WHOLE} for a one-line access's enter), the common fields (ts and line as differences from the
 * previous event's: a few bytes instead of eight), then the type's own.
 */
final class EventCodec {
    /** Tags below this are {@link EventSpill}'s own records. */
    static final int FIRST_TAG = 16, HISTORY = 0x80, WHOLE = 0x40;
    private static final int RW_ENTER = 0, RW_EXIT = 1, AER = 2, RECOVERY_ENTER = 3, RECOVERY_EXIT = 4, CB_ENTER = 5,
            CB_EXIT = 6, RESET_ENTER = 7, RESET_EXIT = 8, ERR_DETECTED_ENTER = 9, ERR_DETECTED_EXIT = 10,
            EVENTFD_SIGNAL = 11, EVENTFD_READ = 12, IOCTL_ENTER = 13, IOCTL_EXIT = 14, OPEN = 15, CLOSE = 16,
            USER_RESET_ENTER = 17, USER_RESET_EXIT = 18, CFG_LOCK = 19, LOST = 20, DEVICE_GONE = 21, LINK_CHANGE = 22,
            GAP = 23, Q_ENTER = 24, Q_EXIT = 25, Q_RUNSTATE = 26, Q_RESET = 27,
            // an access whose strings (comm, dev, region) are all null or numbered before: written and read in one go
            // (one room check, raw varints) if the chunk has room for the longest such record
            RW_ENTER_RAW = 28, RW_EXIT_RAW = 29;
    /** The most bytes a RW_*_RAW record takes: tag, 3 + 3 + 5 varints, write, 2 boxed values (11 each). */
    private static final int RAW_MAX = 1 + 11 * 10 + 1 + 2 * 11;
    private static final Event.GapKind[] GAP_KINDS = Event.GapKind.values();
    private static final Event.Callback[] CALLBACKS = Event.Callback.values();
    private static final QemuEvents.Space[] SPACES = QemuEvents.Space.values();

    private final SpillBytes b;
    private long prevTs, prevLine;

    EventCodec(SpillBytes b) { this.b = b; }

    /** From the start of the stream (before reading it back). */
    void rewind() {
        prevTs = prevLine = 0;
        prevCpu = prevPid = prevTid = 0;
        prevComm = prevDev = null;
    }

    /** False for a type this code does not know (nothing written). {@code history}: the tag's flag bits. */
    boolean put(Event e, int history) {
        // the common types first: vfio.rw is ~98% of a busy trace
        if (e instanceof Event.RwEnter r) {
            if (raw(RW_ENTER_RAW, history, r.common(), r.region(), r.offset(), r.size(), r.write(), false, null, r.value())) return true;
            common(RW_ENTER, history, r.common());
            b.putString(r.region());
            b.putLong(r.offset());
            b.putLong(r.size());
            b.putBool(r.write());
            b.putLong(r.value());
        } else if (e instanceof Event.RwExit r) {
            if (raw(RW_EXIT_RAW, history, r.common(), r.region(), r.offset(), r.size(), r.write(), true, r.ret(), r.value())) return true;
            common(RW_EXIT, history, r.common());
            b.putString(r.region());
            b.putLong(r.offset());
            b.putLong(r.size());
            b.putBool(r.write());
            b.putLong(r.ret());
            b.putLong(r.value());
        } else if (e instanceof Event.Gap g) {
            common(GAP, history, g.common());
            b.putLong(g.kind().ordinal());
            b.putText(g.detail());
        } else if (e instanceof Event.CfgLock c) {
            common(CFG_LOCK, history, c.common());
            b.putString(c.op());
            b.putLong(c.ret());
        } else if (e instanceof Event.ResetEnter r) {
            common(RESET_ENTER, history, r.common());
            b.putString(r.fn());
        } else if (e instanceof Event.ResetExit r) {
            common(RESET_EXIT, history, r.common());
            b.putString(r.fn());
            b.putLong(r.ret());
        } else if (e instanceof Event.IoctlEnter i) {
            common(IOCTL_ENTER, history, i.common());
            b.putLong(i.cmd());
            b.putString(i.cmdName());
        } else if (e instanceof Event.IoctlExit i) {
            common(IOCTL_EXIT, history, i.common());
            b.putLong(i.cmd());
            b.putString(i.cmdName());
            b.putLong(i.ret());
        } else if (e instanceof Event.Lost l) {
            common(LOST, history, l.common());
            b.putLong(l.count());
            b.putLong(l.since());
            b.putLong(l.until());
            b.putBool(l.anyCpu());
        } else return putRecovery(e, history) || putOther(e, history);
        return true;
    }

    private boolean putRecovery(Event e, int history) {
        if (e instanceof Event.AerError a) {
            common(AER, history, a.common());
            b.putLong(a.severity());
            b.putLong(a.status());
            b.putBool(a.tlpValid());
            long[] t = a.tlp();
            b.putLong(t == null ? -1 : t.length);
            if (t != null) for (long v : t) b.putLong(v);
        } else if (e instanceof Event.RecoveryEnter r) {
            common(RECOVERY_ENTER, history, r.common());
            b.putInt(r.state());
        } else if (e instanceof Event.RecoveryExit r) {
            common(RECOVERY_EXIT, history, r.common());
            b.putInt(r.ret());
        } else if (e instanceof Event.CallbackEnter c) {
            common(CB_ENTER, history, c.common());
            b.putLong(c.cb() == null ? -1 : c.cb().ordinal());
            b.putString(c.driver());
            b.putInt(c.state());
        } else if (e instanceof Event.CallbackExit c) {
            common(CB_EXIT, history, c.common());
            b.putLong(c.cb() == null ? -1 : c.cb().ordinal());
            b.putInt(c.result());
        } else if (e instanceof Event.VfioErrDetectedEnter v) {
            common(ERR_DETECTED_ENTER, history, v.common());
            b.putInt(v.state());
        } else if (e instanceof Event.VfioErrDetectedExit v) {
            common(ERR_DETECTED_EXIT, history, v.common());
            b.putInt(v.ret());
        } else if (e instanceof Event.EventfdSignal s) {
            common(EVENTFD_SIGNAL, history, s.common());
            b.putString(s.ctx());
        } else if (e instanceof Event.EventfdRead r) {
            common(EVENTFD_READ, history, r.common());
            b.putString(r.ctx());
            b.putLong(r.ret());
            b.putLong(r.entered());
        } else return false;
        return true;
    }

    private boolean putOther(Event e, int history) {
        if (e instanceof Event.VfioOpen o) {
            common(OPEN, history, o.common());
        } else if (e instanceof Event.VfioClose c) {
            common(CLOSE, history, c.common());
        } else if (e instanceof Event.UserResetEnter u) {
            common(USER_RESET_ENTER, history, u.common());
            b.putString(u.fn());
        } else if (e instanceof Event.UserResetExit u) {
            common(USER_RESET_EXIT, history, u.common());
            b.putString(u.fn());
            b.putLong(u.ret());
        } else if (e instanceof Event.DeviceGone d) {
            common(DEVICE_GONE, history, d.common());
            b.putString(d.type());
            b.putString(d.what());
        } else if (e instanceof Event.LinkChange l) {
            common(LINK_CHANGE, history, l.common());
            b.putString(l.type());
            b.putLong(l.up() == null ? -1 : l.up() ? 1 : 0);
            b.putString(l.what());
        } else if (e instanceof QemuEvents.AccessEnter q) {
            common(Q_ENTER, history, q.common());
            qemuAccess(q.space(), q.offset(), q.size(), q.write(), q.value());
        } else if (e instanceof QemuEvents.AccessExit q) {
            common(Q_EXIT, history, q.common());
            qemuAccess(q.space(), q.offset(), q.size(), q.write(), q.value());
        } else if (e instanceof QemuEvents.RunState q) {
            common(Q_RUNSTATE, history, q.common());
            b.putBool(q.vmStop());
            b.putLong(q.state());
            b.putString(q.name());
        } else if (e instanceof QemuEvents.SystemReset q) {
            common(Q_RESET, history, q.common());
            b.putLong(q.reason());
            b.putString(q.name());
        } else return false;
        return true;
    }

    private void qemuAccess(QemuEvents.Space space, long offset, int size, boolean write, Long value) {
        b.putLong(space.ordinal());
        b.putLong(offset);
        b.putLong(size);
        b.putBool(write);
        b.putLong(value);
    }

    // the previous event's cpu, pid, tid, comm and dev: a thread's accesses repeat them, so a flag byte says which
    private int prevCpu, prevPid, prevTid;
    private String prevComm, prevDev;
    private static final int SAME_CPU = 1, SAME_PID = 2, SAME_TID = 4, SAME_COMM = 8, SAME_DEV = 16;

    private void common(int kind, int history, Event.Common c) {
        b.putByte((FIRST_TAG + kind) | history);
        b.putLong(c.ts() - prevTs);
        prevTs = c.ts();
        b.putLong(c.line() - prevLine);
        prevLine = c.line();
        // strings compared by identity: equal values the reader did not share are written again, never confused
        int same = (c.cpu() == prevCpu ? SAME_CPU : 0) | (c.pid() == prevPid ? SAME_PID : 0) | (c.tid() == prevTid ? SAME_TID : 0)
                | (c.comm() == prevComm ? SAME_COMM : 0) | (c.dev() == prevDev ? SAME_DEV : 0);
        b.putByte(same);
        if ((same & SAME_CPU) == 0) b.putLong(prevCpu = c.cpu());
        if ((same & SAME_PID) == 0) b.putLong(prevPid = c.pid());
        if ((same & SAME_TID) == 0) b.putLong(prevTid = c.tid());
        if ((same & SAME_COMM) == 0) b.putString(prevComm = c.comm());
        if ((same & SAME_DEV) == 0) b.putString(prevDev = c.dev());
    }

    /**
     * An access as RW_ENTER_RAW / RW_EXIT_RAW (the same fields as RW_ENTER / RW_EXIT, in the same order) when its
     * strings need no lookup beyond SpillBytes' recent table; false (nothing written, nothing changed) otherwise.
     */
    private boolean raw(int kind, int history, Event.Common c, String region, long offset, int size, boolean write,
                        boolean exit, Long ret, Long value) {
        long reg = b.recentCode(region);
        if (reg < 0) return false;
        int same = (c.cpu() == prevCpu ? SAME_CPU : 0) | (c.pid() == prevPid ? SAME_PID : 0) | (c.tid() == prevTid ? SAME_TID : 0)
                | (c.comm() == prevComm ? SAME_COMM : 0) | (c.dev() == prevDev ? SAME_DEV : 0);
        long comm = 0, dev = 0;
        if ((same & SAME_COMM) == 0 && (comm = b.recentCode(c.comm())) < 0) return false;
        if ((same & SAME_DEV) == 0 && (dev = b.recentCode(c.dev())) < 0) return false;
        if (!b.room(RAW_MAX)) return true; // given up: nothing is written any more
        b.rawByte((FIRST_TAG + kind) | history);
        b.rawLong(c.ts() - prevTs);
        prevTs = c.ts();
        b.rawLong(c.line() - prevLine);
        prevLine = c.line();
        b.rawByte(same);
        if ((same & SAME_CPU) == 0) b.rawLong(prevCpu = c.cpu());
        if ((same & SAME_PID) == 0) b.rawLong(prevPid = c.pid());
        if ((same & SAME_TID) == 0) b.rawLong(prevTid = c.tid());
        if ((same & SAME_COMM) == 0) {
            b.rawLong(comm);
            prevComm = c.comm();
        }
        if ((same & SAME_DEV) == 0) {
            b.rawLong(dev);
            prevDev = c.dev();
        }
        b.rawLong(reg);
        b.rawLong(offset);
        b.rawLong(size);
        b.rawByte(write ? 1 : 0);
        if (exit) b.rawBoxed(ret);
        b.rawBoxed(value);
        return true;
    }

    /** A RW_*_RAW record whose bytes are all in the chunk in hand: read without a check per field. */
    private Event raw(int kind) {
        long ts = prevTs + b.rawLong();
        prevTs = ts;
        long line = prevLine + b.rawLong();
        prevLine = line;
        int same = b.rawByte();
        if ((same & SAME_CPU) == 0) prevCpu = (int) b.rawLong();
        if ((same & SAME_PID) == 0) prevPid = (int) b.rawLong();
        if ((same & SAME_TID) == 0) prevTid = (int) b.rawLong();
        if ((same & SAME_COMM) == 0) prevComm = b.rawString();
        if ((same & SAME_DEV) == 0) prevDev = b.rawString();
        Event.Common c = new Event.Common(ts, prevCpu, prevPid, prevTid, prevComm, prevDev, line);
        String region = b.rawString();
        long offset = b.rawLong();
        int size = (int) b.rawLong();
        boolean write = b.rawByte() != 0;
        return kind == RW_ENTER_RAW ? new Event.RwEnter(c, region, offset, size, write, b.rawBoxed())
                : new Event.RwExit(c, region, offset, size, write, b.rawBoxed(), b.rawBoxed());
    }

    /** The event after its tag (whose kind is {@code tag & ~(HISTORY | WHOLE)} - FIRST_TAG). */
    Event get(int tag) {
        int kind = (tag & ~(HISTORY | WHOLE)) - FIRST_TAG;
        if (kind >= RW_ENTER_RAW && b.ready(RAW_MAX - 1)) return raw(kind);
        long ts = prevTs + b.getLong();
        prevTs = ts;
        long line = prevLine + b.getLong();
        prevLine = line;
        int same = b.getByte();
        if ((same & SAME_CPU) == 0) prevCpu = (int) b.getLong();
        if ((same & SAME_PID) == 0) prevPid = (int) b.getLong();
        if ((same & SAME_TID) == 0) prevTid = (int) b.getLong();
        if ((same & SAME_COMM) == 0) prevComm = b.getString();
        if ((same & SAME_DEV) == 0) prevDev = b.getString();
        Event.Common c = new Event.Common(ts, prevCpu, prevPid, prevTid, prevComm, prevDev, line);
        return switch (kind) {
            case RW_ENTER, RW_ENTER_RAW -> new Event.RwEnter(c, b.getString(), b.getLong(), (int) b.getLong(), b.getBool(), b.getBoxed());
            case RW_EXIT, RW_EXIT_RAW -> new Event.RwExit(c, b.getString(), b.getLong(), (int) b.getLong(), b.getBool(), b.getBoxed(), b.getBoxed());
            case GAP -> new Event.Gap(c, GAP_KINDS[(int) b.getLong()], b.getString());
            case CFG_LOCK -> new Event.CfgLock(c, b.getString(), b.getBoxed());
            case RESET_ENTER -> new Event.ResetEnter(c, b.getString());
            case RESET_EXIT -> new Event.ResetExit(c, b.getString(), b.getBoxed());
            case IOCTL_ENTER -> new Event.IoctlEnter(c, b.getLong(), b.getString());
            case IOCTL_EXIT -> new Event.IoctlExit(c, b.getLong(), b.getString(), b.getBoxed());
            case LOST -> new Event.Lost(c, b.getLong(), b.getBoxed(), b.getBoxed(), b.getBool());
            case AER -> aer(c);
            case RECOVERY_ENTER -> new Event.RecoveryEnter(c, b.getInt());
            case RECOVERY_EXIT -> new Event.RecoveryExit(c, b.getInt());
            case CB_ENTER -> new Event.CallbackEnter(c, callback(), b.getString(), b.getInt());
            case CB_EXIT -> new Event.CallbackExit(c, callback(), b.getInt());
            case ERR_DETECTED_ENTER -> new Event.VfioErrDetectedEnter(c, b.getInt());
            case ERR_DETECTED_EXIT -> new Event.VfioErrDetectedExit(c, b.getInt());
            case EVENTFD_SIGNAL -> new Event.EventfdSignal(c, b.getString());
            case EVENTFD_READ -> new Event.EventfdRead(c, b.getString(), b.getBoxed(), b.getBoxed());
            case OPEN -> new Event.VfioOpen(c);
            case CLOSE -> new Event.VfioClose(c);
            case USER_RESET_ENTER -> new Event.UserResetEnter(c, b.getString());
            case USER_RESET_EXIT -> new Event.UserResetExit(c, b.getString(), b.getBoxed());
            case DEVICE_GONE -> new Event.DeviceGone(c, b.getString(), b.getString());
            case LINK_CHANGE -> linkChange(c);
            case Q_ENTER -> new QemuEvents.AccessEnter(c, SPACES[(int) b.getLong()], b.getLong(), (int) b.getLong(), b.getBool(), b.getBoxed());
            case Q_EXIT -> new QemuEvents.AccessExit(c, SPACES[(int) b.getLong()], b.getLong(), (int) b.getLong(), b.getBool(), b.getBoxed());
            case Q_RUNSTATE -> new QemuEvents.RunState(c, b.getBool(), (int) b.getLong(), b.getString());
            case Q_RESET -> new QemuEvents.SystemReset(c, (int) b.getLong(), b.getString());
            default -> throw new IllegalStateException("spill event kind " + kind);
        };
    }

    private Event aer(Event.Common c) {
        int severity = (int) b.getLong();
        long status = b.getLong();
        boolean valid = b.getBool();
        int n = (int) b.getLong();
        long[] tlp = n < 0 ? null : new long[n];
        for (int i = 0; i < n; i++) tlp[i] = b.getLong();
        return new Event.AerError(c, severity, status, valid, tlp);
    }

    private Event linkChange(Event.Common c) {
        String type = b.getString();
        long up = b.getLong();
        return new Event.LinkChange(c, type, up < 0 ? null : up == 1, b.getString());
    }

    private Event.Callback callback() {
        int o = (int) b.getLong();
        return o < 0 ? null : CALLBACKS[o];
    }
}
