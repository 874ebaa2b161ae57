package dev.aertrace.timeline;

import dev.aertrace.ingest.Event;

/** What a traced call is: the enter an exit pairs with, its identity, whether it is the user's, the access it makes. */
final class Calls {
    private Calls() {}

    static String pairType(Event e) {
        // constant strings: this runs for every exit
        String t = e.type();
        switch (t) {
            case "vfio.rw.exit": return "vfio.rw.enter";
            case "vfio.ioctl.exit": return "vfio.ioctl.enter";
            case "user_reset.exit": return "user_reset.enter";
            case "cb.exit": return "cb.enter";
            case "reset.exit": return "reset.enter";
            case "recovery.exit": return "recovery.enter";
            case "vfio.err_detected.exit": return "vfio.err_detected.enter";
            default: return t.substring(0, t.length() - "exit".length()) + "enter";
        }
    }

    /**
     * User-side operations cannot nest on one thread (a thread inside vfio_pci_core_read is not also inside an
     * ioctl or another read): a new one while another is open means the open one lost its exit.
     */
    static boolean userOp(Event e) { return e instanceof Event.RwEnter || e instanceof Event.IoctlEnter; }

    /**
     * Identity of a call beyond its type: what an exit must repeat to close an enter. The device too: a read whose
     * enter names another device than its exit is two halves of damaged records, not one access to either.
     */
    static String keyOf(Event e) {
        if (e instanceof Event.RwEnter r) return r.region() + "/" + r.offset() + "/" + r.size() + "/" + r.write() + "/" + r.dev();
        if (e instanceof Event.RwExit r) return r.region() + "/" + r.offset() + "/" + r.size() + "/" + r.write() + "/" + r.dev();
        if (e instanceof Event.IoctlEnter i) return i.cmd() + "/" + i.dev();
        if (e instanceof Event.IoctlExit i) return i.cmd() + "/" + i.dev();
        if (e instanceof Event.ResetEnter r) return r.fn() + "/" + r.dev();
        if (e instanceof Event.ResetExit r) return r.fn() + "/" + r.dev();
        if (e instanceof Event.UserResetEnter u) return u.fn() + "/" + u.dev();
        if (e instanceof Event.UserResetExit u) return u.fn() + "/" + u.dev();
        if (e instanceof Event.CallbackEnter c) return c.cb().wire + "/" + c.dev();
        if (e instanceof Event.CallbackExit c) return c.cb().wire + "/" + c.dev();
        return "";
    }

    /**
     * {@code keyOf(a).equals(keyOf(b))} for two events of one call's form (the callers compare types first), without
     * building the two strings: pairing runs for every enter and exit, and the concatenations were a tenth of the
     * timeline's CPU. The device is the last part of every key and every part between the first and it is a number
     * or a boolean: with the same device the keys are equal exactly when the parts are; with different ones only a
     * '/' in a device can make them equal.
     */
    static boolean sameKey(Event a, Event b) {
        if (!keyed(a) || !keyed(b)) return keyOf(a).equals(keyOf(b)); // "" for the rest, whatever their device
        String da = String.valueOf(a.dev()), db = String.valueOf(b.dev());
        if (da != db && !da.equals(db)) { // the reader's strings repeat by instance; equals is a call under C2's limits
            // Different devices: only a '/' in one could shift the parts so that the joined keys still match.
            if (da.indexOf('/') < 0 && db.indexOf('/') < 0) return false;
            return keyOf(a).equals(keyOf(b));
        }
        // The same device ends both keys, and every part between the first and it is a number or a boolean (no
        // '/'): the keys are equal exactly when the parts are, wherever a '/' is.
        boolean rwB = b instanceof Event.RwEnter || b instanceof Event.RwExit;
        if (a instanceof Event.RwEnter r && rwB) return sameRw(r.region(), r.offset(), r.size(), r.write(), b);
        else if (a instanceof Event.RwExit r && rwB) return sameRw(r.region(), r.offset(), r.size(), r.write(), b);
        else if (a instanceof Event.IoctlEnter i && b instanceof Event.IoctlEnter j) return i.cmd() == j.cmd();
        else if (a instanceof Event.IoctlEnter i && b instanceof Event.IoctlExit j) return i.cmd() == j.cmd();
        else if (a instanceof Event.IoctlExit i && b instanceof Event.IoctlEnter j) return i.cmd() == j.cmd();
        else if (a instanceof Event.IoctlExit i && b instanceof Event.IoctlExit j) return i.cmd() == j.cmd();
        Object first = callName(a), other;
        if (first == UNNAMED || (other = callName(b)) == UNNAMED) return keyOf(a).equals(keyOf(b));
        return String.valueOf(first).equals(String.valueOf(other));
    }

    /** Not a named call (a reset's or user reset's function, a callback's name): paired by its whole key. */
    private static final Object UNNAMED = new Object();

    /** The name a reset, user reset or callback is paired by; {@link #UNNAMED} for every other event. */
    private static Object callName(Event e) {
        if (e instanceof Event.ResetEnter r) return r.fn();
        if (e instanceof Event.ResetExit r) return r.fn();
        if (e instanceof Event.UserResetEnter u) return u.fn();
        if (e instanceof Event.UserResetExit u) return u.fn();
        if (e instanceof Event.CallbackEnter c) return c.cb().wire;
        if (e instanceof Event.CallbackExit c) return c.cb().wire;
        return UNNAMED;
    }

    private static boolean keyed(Event e) {
        return e instanceof Event.RwEnter || e instanceof Event.RwExit || e instanceof Event.IoctlEnter || e instanceof Event.IoctlExit
                || e instanceof Event.ResetEnter || e instanceof Event.ResetExit || e instanceof Event.UserResetEnter
                || e instanceof Event.UserResetExit || e instanceof Event.CallbackEnter || e instanceof Event.CallbackExit;
    }

    private static boolean sameRw(String region, long offset, int size, boolean write, Event b) {
        if (b instanceof Event.RwEnter r)
            return offset == r.offset() && size == r.size() && write == r.write() && sameRegion(region, r.region());
        Event.RwExit r = (Event.RwExit) b;
        return offset == r.offset() && size == r.size() && write == r.write() && sameRegion(region, r.region());
    }

    /** As the keys compare them (null as "null"); by instance first: the reader's regions repeat, equals is a call under C2's limits. */
    private static boolean sameRegion(String a, String b) {
        return a == b || String.valueOf(a).equals(String.valueOf(b));
    }

    static boolean userEnterOp(Event e) {
        return e instanceof Event.RwEnter || e instanceof Event.IoctlEnter || e instanceof Event.UserResetEnter;
    }

    static Access access(Event enter, Event exit) {
        Event ref = enter != null ? enter : exit;
        Long end = exit == null ? null : exit.ts();
        long start = enter != null ? enter.ts() : exit.ts();
        Event.Common c = ref.common();
        if (ref instanceof Event.RwEnter r)
            return rw(r.region(), r.offset(), r.size(), r.write(), r.value(), c, start, end, enter, exit);
        if (ref instanceof Event.RwExit r)
            return rw(r.region(), r.offset(), r.size(), r.write(), r.value(), c, start, end, enter, exit);
        Long ret = exit instanceof Event.IoctlExit ix ? ix.ret() : exit instanceof Event.UserResetExit ux ? ux.ret() : null;
        if (ref instanceof Event.IoctlEnter i)
            return new Access(Access.Kind.IOCTL, c.dev(), c.pid(), c.tid(), c.comm(), start, end, null, 0, 0, null, ret, i.cmdName(), enter, exit);
        if (ref instanceof Event.IoctlExit i)
            return new Access(Access.Kind.IOCTL, c.dev(), c.pid(), c.tid(), c.comm(), start, end, null, 0, 0, null, ret, i.cmdName(), enter, exit);
        if (ref instanceof Event.UserResetEnter u)
            return new Access(Access.Kind.USER_RESET, c.dev(), c.pid(), c.tid(), c.comm(), start, end, null, 0, 0, null, ret, u.fn(), enter, exit);
        if (ref instanceof Event.UserResetExit u)
            return new Access(Access.Kind.USER_RESET, c.dev(), c.pid(), c.tid(), c.comm(), start, end, null, 0, 0, null, ret, u.fn(), enter, exit);
        throw new IllegalArgumentException(ref.type());
    }

    private static Access rw(String region, long offset, int size, boolean write, Long enterValue, Event.Common c,
                             long start, Long end, Event enter, Event exit) {
        boolean config = "config".equals(region);
        Access.Kind k = config ? (write ? Access.Kind.CONFIG_WRITE : Access.Kind.CONFIG_READ)
                : (write ? Access.Kind.BAR_WRITE : Access.Kind.BAR_READ);
        Long value = write ? (enter instanceof Event.RwEnter re ? re.value() : null)
                : (exit instanceof Event.RwExit rx ? rx.value() : null);
        Long ret = exit instanceof Event.RwExit rx ? rx.ret() : null;
        return new Access(k, c.dev(), c.pid(), c.tid(), c.comm(), start, end, region, offset, size, value, ret, null,
                enter, exit);
    }

    /** A config read that got all ones: nobody answered (device gone, link down, or mid-reset). */
    static boolean allOnes(Access a) {
        return a.kind() == Access.Kind.CONFIG_READ && a.value() != null && a.size() > 0 && a.size() <= 4
                && a.value() == dev.aertrace.pci.Pci.allOnes(a.size()) && (a.ret() == null || a.ret() > 0);
    }
}
