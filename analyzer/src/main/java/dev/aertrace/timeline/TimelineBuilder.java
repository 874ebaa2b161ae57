package dev.aertrace.timeline;

import dev.aertrace.ingest.Diagnostics;
import dev.aertrace.ingest.Event;
import dev.aertrace.ingest.Issue;
import dev.aertrace.ingest.Topology;
import dev.aertrace.ingest.TraceFooter;
import dev.aertrace.ingest.TraceHeader;
import dev.aertrace.ingest.TraceListener;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.function.Consumer;

/**
 * Cuts a time-ordered event stream into {@link Episode}s. Host-side events are tied to a recovery by the thread
 * that runs it (pcie_do_recovery runs the callbacks and the reset on its own thread); user-side events by device:
 * an access belongs to every open episode whose affected devices include it and whose window it overlaps.
 * State kept: open episodes, open enters per thread, and the last COMMAND read per device (the "before" value
 * for state-change verdicts) — nothing that grows with the trace's length.
 */
public final class TimelineBuilder implements TraceListener {

    /** Tunables; all times in ns. */
    public record Options(long settleNs, long preGapNs, long maxHoldNs, int maxEventsPerEpisode) {
        public static Options defaults() {
            return new Options(2_000_000_000L, 100_000_000L, 10_000_000_000L, 100_000);
        }
    }

    private final String source;
    private final Options opt;
    private final Diagnostics diag;
    private final Consumer<Episode> sink;

    private Topology topo = Topology.EMPTY;
    private String kernel;
    private String host;
    private boolean footerSeen;
    private int nextId = 1;
    private long now = Long.MIN_VALUE;
    private long lastGapTs = Long.MIN_VALUE;
    private Event lastGap;

    private final List<Builder> open = new ArrayList<>();
    private final TidMap stacks = new TidMap();
    private final Map<String, Access> lastCommandRead = new HashMap<>();

    public TimelineBuilder(String source, Options opt, Diagnostics diag, Consumer<Episode> sink) {
        this.source = source;
        this.opt = opt;
        this.diag = diag;
        this.sink = sink;
    }

    // ---------------------------------------------------------------- stream

    @Override
    public void header(TraceHeader h) {
        closeAll(); // a new segment (another boot) starts: its clock is unrelated
        stacks.clear();
        lastCommandRead.clear();
        lastGapTs = Long.MIN_VALUE;
        now = Long.MIN_VALUE;
        topo = h.topology();
        kernel = h.kernel();
        host = h.host();
        footerSeen = false;
    }

    @Override
    public void footer(TraceFooter f) {
        footerSeen = true;
    }

    @Override
    public void end() {
        closeAll();
    }

    @Override
    public void advance(long ts) {
        // Time passes even when no event for us arrives: windows that ended before the watermark can close.
        if (ts > now && ts != Long.MIN_VALUE) {
            now = ts;
            closeDue(now);
        }
    }

    @Override
    public void event(Event e) {
        if (e.ts() > now) now = e.ts();
        closeDue(now);
        // most frequent first: user reads/writes dominate every trace
        if (e instanceof Event.RwExit) userExit(e);
        else if (e instanceof Event.RwEnter) userEnter(e);
        else if (e instanceof Event.Gap || e instanceof Event.Lost) gap(e);
        else if (e instanceof Event.AerError a) aer(a);
        else if (e instanceof Event.RecoveryEnter r) recoveryEnter(r);
        else if (e instanceof Event.RecoveryExit r) recoveryExit(r);
        else if (e instanceof Event.CallbackEnter || e instanceof Event.VfioErrDetectedEnter) host(e, true);
        else if (e instanceof Event.CallbackExit || e instanceof Event.VfioErrDetectedExit) host(e, false);
        else if (e instanceof Event.ResetEnter r) reset(r);
        else if (e instanceof Event.ResetExit r) resetExit(r);
        else if (e instanceof Event.EventfdSignal s) signal(s);
        else if (e instanceof Event.CfgLock c) cfgLock(c);
        else if (e instanceof Event.RwEnter || e instanceof Event.IoctlEnter || e instanceof Event.UserResetEnter) userEnter(e);
        else if (e instanceof Event.RwExit || e instanceof Event.IoctlExit || e instanceof Event.UserResetExit) userExit(e);
        else if (e instanceof Event.VfioOpen) openClose(e, Access.Kind.OPEN);
        else if (e instanceof Event.VfioClose) openClose(e, Access.Kind.CLOSE);
    }

    // ---------------------------------------------------------------- host side

    private void gap(Event g) {
        lastGapTs = g.ts();
        lastGap = g;
        for (Builder b : open) b.gaps.add(g);
    }

    private void aer(Event.AerError a) {
        for (Builder b : open) {
            // One AER interrupt can log several devices before its recovery starts, on the same thread.
            if (b.tid == a.tid() && b.recoveryStart == null && !b.recoveryDone && a.ts() - b.start <= opt.settleNs) {
                b.errors.add(a);
                b.add(a);
                b.cover(a.dev());
                return;
            }
        }
        Builder b = newEpisode(a, a.tid());
        b.errors.add(a);
        b.device = a.dev();
        b.severity = a.severity();
        b.status = a.status();
        b.add(a);
        b.closeAt = a.ts() + opt.settleNs;
    }

    private Builder newEpisode(Event first, int tid) {
        Builder b = new Builder(nextId++, first.ts(), tid);
        String bridge = topo.recoveryBridge(first.dev());
        b.bridge = bridge;
        b.cover(first.dev());
        if (bridge != null) b.coverBelow(bridge);
        // Back-to-back errors: a settling episode on the same devices ends where the new one starts.
        for (Builder o : open) {
            if (o.recoveryStart != null && !o.recoveryDone) continue;
            if (o.affected.stream().anyMatch(b.affected::contains)) o.closeAt = Math.min(o.closeAt, first.ts() - 1);
        }
        closeDue(now);
        if (lastGap != null && first.ts() - lastGapTs <= opt.preGapNs) b.gaps.add(lastGap);
        for (String d : b.affected) {
            Access before = lastCommandRead.get(d);
            if (before != null) b.accesses.add(before);
        }
        open.add(b);
        return b;
    }

    private Builder recoveryOf(int tid) {
        for (Builder b : open) if (b.tid == tid && b.recoveryStart != null && !b.recoveryDone) return b;
        for (Builder b : open) if (b.tid == tid && b.midStart && !b.recoveryDone) return b;
        return null;
    }

    private void recoveryEnter(Event.RecoveryEnter r) {
        push(r);
        Builder b = null;
        for (Builder o : open)
            if (o.tid == r.tid() && o.recoveryStart == null && !o.recoveryDone && !o.midStart) b = o;
        if (b == null) {
            b = newEpisode(r, r.tid());
            b.device = r.dev();
        }
        b.recoveryStart = r.ts();
        b.recoveryDev = r.dev();
        String bridge = topo.recoveryBridge(r.dev());
        if (bridge != null) {
            b.bridge = bridge;
            b.coverBelow(bridge);
        } else if (b.bridge == null) {
            b.bridge = r.dev();
        }
        b.cover(r.dev());
        b.closeAt = Long.MAX_VALUE;
        b.add(r);
    }

    private void recoveryExit(Event.RecoveryExit r) {
        Event enter = pop(r, "recovery.enter", null);
        Builder b = recoveryOf(r.tid());
        if (b == null) {
            b = midStart(r);
        }
        b.recoveryEnd = r.ts();
        b.result = r.ret();
        b.recoveryDone = true;
        b.closeAt = r.ts() + opt.settleNs;
        b.add(r);
        if (enter == null && !b.midStart) b.gaps.add(r);
    }

    /** The trace begins inside a recovery: its first events are callbacks/resets/exits on a recovery thread. */
    private Builder midStart(Event e) {
        Builder b = newEpisode(e, e.tid());
        b.midStart = true;
        b.device = e.dev();
        b.closeAt = Long.MAX_VALUE;
        return b;
    }

    private void host(Event e, boolean enter) {
        Builder b = recoveryOf(e.tid());
        if (enter) push(e);
        Event matched = enter ? null : pop(e, pairType(e), e instanceof Event.CallbackExit x ? x.cb().wire : null);
        if (b == null) {
            if (enter || matched == null) b = midStart(e);
            else return; // an exit whose enter we saw outside any recovery (already counted, nothing to attach)
        }
        b.add(e);
        if (e instanceof Event.CallbackEnter c) {
            b.cover(c.dev());
            b.openCallbacks.put(c.dev() + "/" + c.cb().wire, c);
        } else if (e instanceof Event.CallbackExit x) {
            Event.CallbackEnter c = b.openCallbacks.remove(x.dev() + "/" + x.cb().wire);
            if (c != null) b.callbacks.add(new CallbackCall(c.dev(), c.cb(), c.driver(), c.state(), c.ts(), x.ts(), x.result(), c, x));
            else b.callbacks.add(new CallbackCall(x.dev(), x.cb(), null, null, x.ts(), x.ts(), x.result(), null, x));
        }
    }

    private void signal(Event.EventfdSignal s) {
        Builder b = recoveryOf(s.tid());
        if (b != null) {
            b.add(s);
            b.notifications.add(new Notification(s.dev(), s.ctx(), s.ts(), s));
            return;
        }
        if (s.dev() == null) return;
        for (Builder o : open) if (o.affected.contains(s.dev())) {
            o.add(s);
            o.notifications.add(new Notification(s.dev(), s.ctx(), s.ts(), s));
        }
    }

    private void cfgLock(Event.CfgLock c) {
        Builder b = recoveryOf(c.tid());
        if (b != null) {
            b.add(c);
            return;
        }
        for (Builder o : open) if (o.affected.contains(c.dev())) o.add(c);
    }

    private void reset(Event.ResetEnter r) {
        ArrayDeque<Event> st = stacks.get(r.tid());
        int depth = 0;
        if (st != null) for (Event x : st) if (x instanceof Event.ResetEnter) depth++;
        push(r);
        Builder b = recoveryOf(r.tid());
        if (b != null) {
            b.add(r);
            b.coverBelow(r.dev());
            if (depth == 0 && b.resetBridge == null) b.resetBridge = r.dev();
            b.openResets.add(new OpenReset(r, depth, true));
            return;
        }
        // Not on a recovery thread: a reset the user asked for (inside its ioctl) or an admin's; it still
        // changes the device under everybody else, so every open episode it covers records it.
        for (Builder o : open) if (coversAny(r.dev(), o)) {
            o.add(r);
            o.openResets.add(new OpenReset(r, depth, false));
        }
    }

    private boolean coversAny(String bridge, Builder o) {
        if (o.affected.contains(bridge)) return true;
        for (String d : o.affected) if (topo.covers(bridge, d)) return true;
        return false;
    }

    private void resetExit(Event.ResetExit x) {
        Event enter = pop(x, "reset.enter", x.fn());
        Builder b = recoveryOf(x.tid());
        if (b == null && enter == null && (stacks.get(x.tid()) == null || stacks.get(x.tid()).isEmpty())) {
            b = midStart(x); // trace began during the host reset
            b.coverBelow(x.dev());
            if (b.resetBridge == null) b.resetBridge = x.dev();
            b.add(x);
            b.resets.add(new HostReset(x.dev(), x.fn(), x.ts(), x.ts(), x.ret(), 0, true, null, x));
            return;
        }
        for (Builder o : open) {
            for (Iterator<OpenReset> it = o.openResets.iterator(); it.hasNext(); ) {
                OpenReset r = it.next();
                if (r.enter == enter) {
                    it.remove();
                    o.add(x);
                    o.resets.add(new HostReset(r.enter.dev(), r.enter.fn(), r.enter.ts(), x.ts(), x.ret(), r.depth,
                            r.byRecovery, r.enter, x));
                }
            }
        }
    }

    private record OpenReset(Event.ResetEnter enter, int depth, boolean byRecovery) {}

    // ---------------------------------------------------------------- user side

    private void userEnter(Event e) {
        push(e);
    }

    private void userExit(Event x) {
        Event enter = pop(x, pairType(x), x instanceof Event.UserResetExit u ? u.fn() : null);
        Access a = access(enter, x);
        attribute(a);
    }

    private void openClose(Event e, Access.Kind kind) {
        attribute(new Access(kind, e.dev(), e.common().pid(), e.tid(), e.common().comm(), e.ts(), e.ts(), null, 0, 0,
                null, null, null, e, null));
    }

    private static Access access(Event enter, Event exit) {
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

    private void attribute(Access a) {
        for (Builder b : open) {
            if (!b.affected.contains(a.dev())) continue;
            if (!a.overlaps(b.start, b.closeAt == Long.MAX_VALUE ? null : b.closeAt)) continue;
            // Bounded like the event list: a user hammering the device cannot grow one episode without limit.
            if (b.accesses.size() < opt.maxEventsPerEpisode()) b.accesses.add(a);
            else b.elided++;
            if (a.enter() != null) b.add(a.enter());
            if (a.exit() != null) b.add(a.exit());
        }
        if (a.kind() == Access.Kind.CONFIG_READ && a.end() != null && coversCommand(a) && a.value() != null) {
            lastCommandRead.put(a.dev(), a);
        }
    }

    /** PCI_COMMAND is the 16-bit register at config offset 4. */
    public static boolean coversCommand(Access a) {
        return a.isConfig() && a.offset() <= 4 && a.offset() + a.size() >= 6;
    }

    // ---------------------------------------------------------------- enter/exit pairing

    private static String pairType(Event e) {
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

    private void push(Event e) {
        ArrayDeque<Event> st = stacks.getOrCreate(e.tid());
        // A thread cannot be inside the same function twice here (no recursion in these paths): the older
        // enter lost its exit.
        for (Iterator<Event> it = st.iterator(); it.hasNext(); ) {
            Event o = it.next();
            if (o.type().equals(e.type()) && sameKey(o, e)) {
                it.remove();
                missingExit(o);
                break;
            }
        }
        st.push(e);
        if (st.size() > 64) missingExit(st.removeLast()); // bound per thread
    }

    private static boolean sameKey(Event a, Event b) {
        if (a instanceof Event.ResetEnter x && b instanceof Event.ResetEnter y) return x.fn().equals(y.fn());
        if (a instanceof Event.UserResetEnter x && b instanceof Event.UserResetEnter y) return x.fn().equals(y.fn());
        return true;
    }

    /** Pops the enter matching an exit; anything above it on the stack lost its own exit. */
    private Event pop(Event exit, String enterType, String key) {
        ArrayDeque<Event> st = stacks.get(exit.tid());
        if (st != null) {
            for (Event o : st) {
                if (!o.type().equals(enterType)) continue;
                if (key != null && !key.equals(keyOf(o))) continue;
                while (st.peek() != o) missingExit(st.pop());
                st.pop();
                if (st.isEmpty()) stacks.remove(exit.tid());
                return o;
            }
        }
        diag.issue(Issue.Kind.UNMATCHED_EXIT, exit.line(), exit.type() + " on tid " + exit.tid() + " without "
                + enterType);
        Event.Gap g = new Event.Gap(exit.common(), Event.GapKind.INVALID_EVENT, exit.type() + " without its enter");
        for (Builder b : open) if (b.tid == exit.tid() || b.affected.contains(exit.dev())) b.gaps.add(g);
        return null;
    }

    private static String keyOf(Event e) {
        if (e instanceof Event.ResetEnter r) return r.fn();
        if (e instanceof Event.UserResetEnter u) return u.fn();
        if (e instanceof Event.CallbackEnter c) return c.cb().wire;
        return null;
    }

    private void missingExit(Event enter) {
        diag.issue(Issue.Kind.MISSING_EXIT, enter.line(), enter.type() + " on tid " + enter.tid() + " never exited");
        Event.Gap g = new Event.Gap(enter.common(), Event.GapKind.INVALID_EVENT, enter.type() + " without its exit");
        for (Builder b : open) if (b.tid == enter.tid() || b.affected.contains(enter.dev())) b.gaps.add(g);
        if (enter instanceof Event.RwEnter || enter instanceof Event.IoctlEnter || enter instanceof Event.UserResetEnter)
            attribute(access(enter, null));
    }

    // ---------------------------------------------------------------- closing

    private void closeDue(long ts) {
        if (open.isEmpty()) return; // the common case, on every event
        for (Iterator<Builder> it = open.iterator(); it.hasNext(); ) {
            Builder b = it.next();
            if (b.closeAt >= ts) continue;
            // Keep the window open while an access that began inside it is still blocked (bounded by maxHold).
            if (ts - b.closeAt < opt.maxHoldNs && hasOpenAccess(b)) continue;
            it.remove();
            emit(b, Math.min(b.closeAt, ts), false);
        }
    }

    private boolean hasOpenAccess(Builder b) {
        for (ArrayDeque<Event> st : stacks.values())
            for (Event e : st)
                if ((e instanceof Event.RwEnter || e instanceof Event.IoctlEnter || e instanceof Event.UserResetEnter)
                        && b.affected.contains(e.dev()) && e.ts() <= b.closeAt) return true;
        return false;
    }

    private void closeAll() {
        // Open user enters at the end: report them (an access with no exit) before episodes close.
        for (ArrayDeque<Event> st : stacks.values()) {
            for (Event e : st) {
                if (footerSeen) diag.issue(Issue.Kind.MISSING_EXIT, e.line(), e.type() + " on tid " + e.tid() + " never exited");
                if (e instanceof Event.RwEnter || e instanceof Event.IoctlEnter || e instanceof Event.UserResetEnter)
                    attribute(access(e, null));
            }
        }
        stacks.clear();
        for (Builder b : open) emit(b, Math.min(b.closeAt, now), true);
        open.clear();
    }

    private void emit(Builder b, long end, boolean atEnd) {
        boolean midEnd = !b.recoveryDone && (b.recoveryStart != null || b.midStart);
        for (OpenReset r : b.openResets)
            b.resets.add(new HostReset(r.enter.dev(), r.enter.fn(), r.enter.ts(), null, null, r.depth, r.byRecovery, r.enter, null));
        for (Event.CallbackEnter c : b.openCallbacks.values())
            b.callbacks.add(new CallbackCall(c.dev(), c.cb(), c.driver(), c.state(), c.ts(), null, null, c, null));
        b.events.sort(Comparator.comparingLong(Event::ts));
        b.accesses.sort(Comparator.comparingLong(Access::start));
        b.callbacks.sort(Comparator.comparingLong(CallbackCall::start));
        b.resets.sort(Comparator.comparingLong(HostReset::start).thenComparingInt(HostReset::depth));
        long last = b.events.isEmpty() ? b.start : b.events.get(b.events.size() - 1).ts();
        long epEnd = Math.max(atEnd ? Math.min(end, Math.max(last, now)) : end, last);
        if (b.device == null) b.device = b.recoveryDev;
        sink.accept(new Episode(source, b.id, b.device, b.severity, b.status, List.copyOf(b.errors), b.recoveryDev,
                b.resetBridge != null ? b.resetBridge : b.bridge, List.copyOf(new TreeSet<>(b.affected)), b.start, epEnd,
                b.recoveryStart, b.recoveryEnd, b.result, phases(b, epEnd), List.copyOf(b.callbacks),
                List.copyOf(b.resets), List.copyOf(b.accesses), List.copyOf(b.notifications), List.copyOf(b.events),
                b.elided, List.copyOf(b.gaps), b.midStart, midEnd, kernel, host));
    }

    private static List<Phase> phases(Builder b, long end) {
        List<Phase> p = new ArrayList<>();
        if (!b.errors.isEmpty()) {
            Event.AerError a = b.errors.get(0);
            p.add(new Phase(Phase.Kind.AER, a.ts(), a.ts(), a.dev(), null));
        }
        if (b.recoveryStart != null || b.midStart) {
            long s = b.recoveryStart != null ? b.recoveryStart : b.start;
            p.add(new Phase(Phase.Kind.RECOVERY, s, b.recoveryEnd, b.recoveryDev, null));
        }
        for (Event.Callback cb : Event.Callback.values()) {
            long s = Long.MAX_VALUE;
            Long e = null;
            boolean openOne = false;
            int n = 0;
            java.util.Set<String> devs = new java.util.HashSet<>();
            for (CallbackCall c : b.callbacks) {
                if (c.cb() != cb) continue;
                // The perm_failure notice after a failed reset is not part of the error_detected walk.
                if (c.state() != null && c.state() == 3 && cb == Event.Callback.ERROR_DETECTED) continue;
                n++;
                devs.add(c.dev());
                s = Math.min(s, c.start());
                if (c.end() == null) openOne = true;
                else e = e == null ? c.end() : Math.max(e, c.end());
            }
            if (n == 0) continue;
            Phase.Kind k = switch (cb) {
                case ERROR_DETECTED -> Phase.Kind.ERROR_DETECTED;
                case MMIO_ENABLED -> Phase.Kind.MMIO_ENABLED;
                case SLOT_RESET -> Phase.Kind.SLOT_RESET;
                case RESUME -> Phase.Kind.RESUME;
            };
            p.add(new Phase(k, s, openOne ? null : e, null, devs.size() + (devs.size() == 1 ? " device" : " devices")
                    + (n > devs.size() ? ", " + n + " calls" : "")));
            if (cb == Event.Callback.MMIO_ENABLED || cb == Event.Callback.ERROR_DETECTED) addReset(b, p, cb);
        }
        if (p.stream().noneMatch(x -> x.kind() == Phase.Kind.RESET)) addReset(b, p, null);
        if (b.recoveryEnd != null && end > b.recoveryEnd)
            p.add(new Phase(Phase.Kind.SETTLE, b.recoveryEnd, end, null, null));
        p.sort(Comparator.comparingLong(Phase::start).thenComparing(x -> x.kind().ordinal()));
        return List.copyOf(p);
    }

    private static void addReset(Builder b, List<Phase> p, Event.Callback after) {
        if (p.stream().anyMatch(x -> x.kind() == Phase.Kind.RESET)) return;
        for (HostReset r : b.resets) {
            if (!r.byRecovery() || r.depth() != 0) continue;
            p.add(new Phase(Phase.Kind.RESET, r.start(), r.end(), r.bridge(), r.fn()));
            return;
        }
    }

    /** Mutable state of one open episode. */
    private final class Builder {
        final int id;
        final long start;
        final int tid;
        String device;
        Integer severity;
        Long status;
        final List<Event.AerError> errors = new ArrayList<>(2);
        String recoveryDev, bridge, resetBridge;
        final java.util.Set<String> affected = new java.util.HashSet<>();
        Long recoveryStart, recoveryEnd;
        Integer result;
        boolean recoveryDone, midStart;
        long closeAt = Long.MAX_VALUE;
        final List<CallbackCall> callbacks = new ArrayList<>();
        final Map<String, Event.CallbackEnter> openCallbacks = new HashMap<>();
        final List<HostReset> resets = new ArrayList<>();
        final List<OpenReset> openResets = new ArrayList<>();
        final List<Access> accesses = new ArrayList<>();
        final List<Notification> notifications = new ArrayList<>();
        final List<Event> events = new ArrayList<>();
        final List<Event> gaps = new ArrayList<>();
        long elided;

        Builder(int id, long start, int tid) {
            this.id = id;
            this.start = start;
            this.tid = tid;
        }

        void add(Event e) {
            if (events.size() < opt.maxEventsPerEpisode()) events.add(e);
            else elided++;
        }

        void cover(String dev) {
            if (dev != null) affected.add(dev);
        }

        void coverBelow(String bridge) {
            if (bridge == null) return;
            affected.add(bridge);
            affected.addAll(topo.below(bridge));
        }
    }
}
