package dev.aertrace.timeline;

import dev.aertrace.pci.Pci;

import dev.aertrace.ingest.Diagnostics;
import dev.aertrace.ingest.Event;
import dev.aertrace.ingest.GapLedger;
import dev.aertrace.ingest.Issue;
import dev.aertrace.ingest.Topology;
import dev.aertrace.ingest.TraceFooter;
import dev.aertrace.ingest.TraceHeader;
import dev.aertrace.ingest.TraceGap;
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

    private final List<EpisodeDraft> open = new ArrayList<>();
    private final TidMap stacks = new TidMap();
    private final Map<String, Access> lastCommandRead = new HashMap<>();
    private final GapLedger ledger;
    /** Last event per thread (bounded): the lower bound of the gap an exit without its enter reveals. */
    private final LastSeen lastByTid = new LastSeen();

    /*
     * Bounds (analyzer/README.md "Bounds"): what a hostile or broken input can make this class hold. Each overflow
     * is a gap (TraceGap.Kind.CAP or a missing exit) in the episodes it touches, so they become tentative, and an
     * issue of kind "bound" in the report.
     */
    /** Episodes open at once; past it the oldest is closed early (a recovery never seen to end holds one). */
    public static final int MAX_OPEN_EPISODES = 256;
    /** Open episodes one access or gap is copied into; the rest record it as elided (CAP). */
    public static final int MAX_COPIES = 16;
    /** Gap events listed per episode (every gap still reaches the episode through the ledger). */
    public static final int MAX_GAPS_PER_EPISODE = 50;
    /** Threads with open enters; past it one thread's enters are dropped as missing exits. */
    public static final int MAX_THREADS = 65_536;
    /** Open enters per thread (nesting deeper than any real call chain). */
    public static final int MAX_STACK = 64;
    /** Devices whose last COMMAND read is remembered. */
    public static final int MAX_DEVICES = 65_536;

    /** Start times of the open user operations per device: hasOpenAccess without walking every thread. */
    private final Map<String, java.util.TreeMap<Long, Integer>> openUser = new HashMap<>();

    public TimelineBuilder(String source, Options opt, Diagnostics diag, Consumer<Episode> sink) {
        this(source, opt, diag, new GapLedger(), sink);
    }

    public TimelineBuilder(String source, Options opt, Diagnostics diag, GapLedger ledger, Consumer<Episode> sink) {
        this.source = source;
        this.opt = opt;
        this.diag = diag;
        this.ledger = ledger;
        this.sink = sink;
    }

    // ---------------------------------------------------------------- stream

    @Override
    public void header(TraceHeader h) {
        closeAll(); // a new segment (another boot) starts: its clock is unrelated
        stacks.clear();
        openUser.clear();
        lastCommandRead.clear();
        lastByTid.clear();
        ledger.segment(h.line(), true);
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
        dispatch(e);
        if (!(e instanceof Event.Gap || e instanceof Event.Lost)) seenTid(e);
    }

    private void dispatch(Event e) {
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
        else if (e instanceof Event.DeviceGone g) deviceGone(g);
        else if (e instanceof Event.LinkChange l) linkChange(l);
        else if (e instanceof Event.VfioOpen) openClose(e, Access.Kind.OPEN);
        else if (e instanceof Event.VfioClose) openClose(e, Access.Kind.CLOSE);
    }

    // ---------------------------------------------------------------- host side

    /**
     * Holes in the input (unreadable lines, late events) stay visible in the episodes whose window they fall in.
     * A lost line's timestamp is when the agent wrote it, not where the records were lost: losses reach episodes
     * only through the ledger, with their inferred bounds.
     */
    private void gap(Event g) {
        if (g instanceof Event.Lost) return;
        lastGapTs = g.ts();
        lastGap = g;
        int copies = 0;
        for (EpisodeDraft b : open) {
            if (copies++ < MAX_COPIES) b.addGap(g);
            else b.elideGap(g);
        }
    }

    private void seenTid(Event e) {
        lastByTid.seen(e);
    }

    private void aer(Event.AerError a) {
        for (EpisodeDraft b : open) {
            // One AER interrupt can log several devices before its recovery starts, on the same thread.
            if (b.tid == a.tid() && b.recoveryStart == null && !b.recoveryDone && a.ts() - b.start <= opt.settleNs) {
                b.errors.add(a);
                b.add(a);
                b.cover(a.dev());
                return;
            }
        }
        EpisodeDraft b = null;
        for (EpisodeDraft o : open) {
            // All-ones reads on the device just before its AER event are the same error, seen from the user first.
            if (o.deviceLoss && o.affected.contains(a.dev())) {
                b = o;
                b.deviceLoss = false;
                b.tid = a.tid();
                String bridge = topo.recoveryBridge(a.dev());
                b.bridge = bridge;
                if (bridge != null) b.coverBelow(bridge);
                break;
            }
        }
        if (b == null) b = newEpisode(a, a.tid());
        b.errors.add(a);
        b.device = a.dev();
        b.severity = a.severity();
        b.status = a.status();
        b.add(a);
        b.closeAt = a.ts() + opt.settleNs;
    }

    private EpisodeDraft newEpisode(Event first, int tid) {
        EpisodeDraft b = new EpisodeDraft(nextId++, first.ts(), tid, opt.maxEventsPerEpisode(), topo);
        String bridge = topo.recoveryBridge(first.dev());
        b.bridge = bridge;
        b.cover(first.dev());
        if (bridge != null) b.coverBelow(bridge);
        // Back-to-back errors: a settling episode on the same devices ends where the new one starts.
        for (EpisodeDraft o : open) {
            if (o.recoveryStart != null && !o.recoveryDone) continue;
            if (shares(o.affected, b.affected)) o.closeAt = Math.min(o.closeAt, first.ts() - 1);
        }
        closeDue(now);
        if (lastGap != null && first.ts() - lastGapTs <= opt.preGapNs) b.addGap(lastGap);
        for (String d : b.affected) {
            Access before = lastCommandRead.get(d);
            if (before != null) b.accesses.add(before);
        }
        admit(b, first);
        return b;
    }

    private static boolean shares(java.util.Set<String> a, java.util.Set<String> b) {
        for (String d : a) if (b.contains(d)) return true;
        return false;
    }

    /** Opens {@code b}; at the bound the oldest open episode is closed early, its end marked as a gap. */
    private void admit(EpisodeDraft b, Event first) {
        if (open.size() >= MAX_OPEN_EPISODES) {
            EpisodeDraft o = open.remove(0);
            bound(first.line(), "more than " + MAX_OPEN_EPISODES + " episodes open at once: the oldest closed early");
            o.cutAt = Math.max(o.start, first.ts());
            emit(o, Math.min(o.closeAt, o.cutAt), false);
        }
        open.add(b);
    }

    private EpisodeDraft recoveryOf(int tid) {
        for (EpisodeDraft b : open) if (b.tid == tid && b.recoveryStart != null && !b.recoveryDone) return b;
        for (EpisodeDraft b : open) if (b.tid == tid && b.midStart && !b.recoveryDone) return b;
        return null;
    }

    private void recoveryEnter(Event.RecoveryEnter r) {
        push(r);
        EpisodeDraft b = null;
        for (EpisodeDraft o : open)
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
        EpisodeDraft b = recoveryOf(r.tid());
        if (b == null) b = orphanHome(r);
        if (b == null) return; // an exit without its enter in mid-trace: a gap (recorded by pop), not an episode
        b.recoveryEnd = r.ts();
        b.result = r.ret();
        b.recoveryDone = true;
        b.closeAt = r.ts() + opt.settleNs;
        b.add(r);
        if (enter == null && !b.midStart) b.addGap(r);
    }

    /**
     * Where a host event goes whose recovery.enter is not in the trace: the episode its AER event opened on the
     * same thread (the enter was lost), else a new episode only when the trace begins inside this recovery (the
     * thread's first event, and no gap before it but the trace start). Anywhere else it is a gap, not an episode.
     */
    private EpisodeDraft orphanHome(Event e) {
        for (EpisodeDraft o : open) if (o.tid == e.tid() && !o.recoveryDone) {
            if (o.recoveryStart == null) o.midStart = true; // its recovery.enter is missing: the start is unknown
            return o;
        }
        return atTraceStart(e) ? midStart(e) : null;
    }

    private boolean atTraceStart(Event e) {
        if (lastByTid.get(e.tid()) != null) return false;
        for (TraceGap g : ledger.overlapping(Long.MIN_VALUE, e.ts()))
            if (g.kind() != TraceGap.Kind.TRACE_START) return false;
        return true;
    }

    /** The trace begins inside a recovery: its first events are callbacks/resets/exits on a recovery thread. */
    private EpisodeDraft midStart(Event e) {
        EpisodeDraft b = newEpisode(e, e.tid());
        b.midStart = true;
        b.device = e.dev();
        b.closeAt = Long.MAX_VALUE;
        return b;
    }

    private void host(Event e, boolean enter) {
        EpisodeDraft b = recoveryOf(e.tid());
        if (enter) push(e);
        Event matched = enter ? null : pop(e, Calls.pairType(e), e instanceof Event.CallbackExit x ? x.cb().wire : null);
        if (b == null) {
            if (!enter && matched != null) return; // an exit whose enter we saw outside any recovery: nothing to attach
            b = orphanHome(e);
            if (b == null && enter) b = midStart(e); // a callback runs: a recovery is on, its enter was lost
            if (b == null) return;
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
        if (s.dev() == null && insideVfioHandler(s.tid())) {
            // The agent names the device of every signal raised inside vfio's error_detected: one without is a
            // damaged line, a gap where it stands rather than a notification of no device.
            ledger.add(TraceGap.Kind.INPUT, s.common().cpu(), s.ts(), s.ts(), s.line(), s.line(), s.line(), 0,
                    "eventfd.signal without \"dev\" inside vfio's error_detected");
            return;
        }
        EpisodeDraft b = recoveryOf(s.tid());
        if (b != null) {
            b.add(s);
            b.notifications.add(new Notification(s.dev(), s.ctx(), s.ts(), s));
            return;
        }
        if (s.dev() == null) return;
        for (EpisodeDraft o : open) if (o.affected.contains(s.dev())) {
            o.add(s);
            o.notifications.add(new Notification(s.dev(), s.ctx(), s.ts(), s));
        }
    }

    private boolean insideVfioHandler(int tid) {
        ArrayDeque<Event> st = stacks.get(tid);
        if (st != null) for (Event e : st) if (e instanceof Event.VfioErrDetectedEnter) return true;
        return false;
    }

    private void cfgLock(Event.CfgLock c) {
        EpisodeDraft b = recoveryOf(c.tid());
        if (b != null) {
            b.add(c);
            return;
        }
        for (EpisodeDraft o : open) if (o.affected.contains(c.dev())) o.add(c);
    }

    private void reset(Event.ResetEnter r) {
        ArrayDeque<Event> st = stacks.get(r.tid());
        int depth = 0;
        if (st != null) for (Event x : st) if (x instanceof Event.ResetEnter) depth++;
        push(r);
        EpisodeDraft b = recoveryOf(r.tid());
        if (b != null) {
            b.add(r);
            b.coverBelow(r.dev());
            if (depth == 0 && b.resetBridge == null) b.resetBridge = r.dev();
            b.openResets.add(new EpisodeDraft.OpenReset(r, depth, true));
            return;
        }
        // Not on a recovery thread: a reset the user asked for (inside its ioctl) or an admin's; it still
        // changes the device under everybody else, so every open episode it covers records it.
        for (EpisodeDraft o : open) if (coversAny(r.dev(), o)) {
            o.add(r);
            o.openResets.add(new EpisodeDraft.OpenReset(r, depth, false));
        }
    }

    private boolean coversAny(String bridge, EpisodeDraft o) {
        if (o.affected.contains(bridge)) return true;
        for (String d : o.affected) if (topo.covers(bridge, d)) return true;
        return false;
    }

    private void resetExit(Event.ResetExit x) {
        Event enter = pop(x, "reset.enter", x.fn());
        EpisodeDraft b = recoveryOf(x.tid());
        if (b == null && enter == null && (stacks.get(x.tid()) == null || stacks.get(x.tid()).isEmpty())) {
            b = orphanHome(x); // trace began during the host reset, or a gap ate the reset's enter
            if (b == null) return;
            b.coverBelow(x.dev());
            if (b.resetBridge == null) b.resetBridge = x.dev();
            b.add(x);
            b.resets.add(new HostReset(x.dev(), x.fn(), x.ts(), x.ts(), x.ret(), 0, true, null, x));
            return;
        }
        for (EpisodeDraft o : open) {
            for (Iterator<EpisodeDraft.OpenReset> it = o.openResets.iterator(); it.hasNext(); ) {
                EpisodeDraft.OpenReset r = it.next();
                if (r.enter() == enter) {
                    it.remove();
                    o.add(x);
                    o.resets.add(new HostReset(r.enter().dev(), r.enter().fn(), r.enter().ts(), x.ts(), x.ret(), r.depth(),
                            r.byRecovery(), r.enter(), x));
                }
            }
        }
    }

    // ---------------------------------------------------------------- user side

    private void userEnter(Event e) {
        push(e);
    }

    private void userExit(Event x) {
        Event enter = pop(x, Calls.pairType(x), x instanceof Event.UserResetExit u ? u.fn() : null);
        Access a = Calls.access(enter, x);
        attribute(a);
    }

    private void openClose(Event e, Access.Kind kind) {
        attribute(new Access(kind, e.dev(), e.common().pid(), e.tid(), e.common().comm(), e.ts(), e.ts(), null, 0, 0,
                null, null, null, e, null));
    }

    /**
     * A device-loss episode: all-ones reads, a removal or a hotplug/vfio request event on a device no open episode
     * covers, with or without an AER error. It lasts while the signs keep coming (each extends it by the settle
     * window) and is bounded like any episode.
     */
    private EpisodeDraft lossEpisode(String dev, Event first) {
        for (EpisodeDraft b : open) if (b.affected.contains(dev)) return b;
        // A slot event on the port above a device whose loss is already an episode (its all-ones reads came first)
        // is the same loss: one episode, not one per device of the hierarchy.
        if (topo.get(dev).map(Topology.PciDevice::bridge).orElse(false))
            for (EpisodeDraft b : open) if (b.deviceLoss && coversAny(dev, b)) return b;
        EpisodeDraft b = new EpisodeDraft(nextId++, first.ts(), -1, opt.maxEventsPerEpisode(), topo);
        b.device = dev;
        b.deviceLoss = true;
        b.bridge = topo.recoveryBridge(dev);
        b.cover(dev);
        if (lastGap != null && first.ts() - lastGapTs <= opt.preGapNs()) b.addGap(lastGap);
        Access before = lastCommandRead.get(dev);
        if (before != null) b.accesses.add(before);
        admit(b, first);
        return b;
    }

    /**
     * pciehp's attention button: the slot is disabled 5 s after the press unless it is pressed again
     * (pciehp_ctrl.c, pciehp_handle_button_press: schedule_delayed_work(&ctrl->button_work, 5 * HZ)).
     */
    static final long BUTTON_GRACE_NS = 5_000_000_000L;

    private void deviceGone(Event.DeviceGone g) {
        if (g.dev() == null) return;
        boolean port = topo.get(g.dev()).map(Topology.PciDevice::bridge).orElse(false);
        EpisodeDraft b = lossEpisode(g.dev(), g);
        if (b.deviceLoss && port) b.coverBelow(g.dev());
        b.add(g);
        if (b.deviceLoss) {
            if (!port) {
                nameLost(b, g.dev());
                b.removing = true;
            }
            long until = g.ts() + opt.settleNs();
            // An orderly removal (QMP device_del, a button press) waits out pciehp's grace before the slot is
            // disabled: the removal that follows is the same loss.
            if ("hotplug.event".equals(g.type()) && g.what().contains("(button_press)")) until += BUTTON_GRACE_NS;
            b.closeAt = Math.max(b.closeAt == Long.MAX_VALUE ? 0 : b.closeAt, until);
        }
    }

    /** A device-loss episode names the device that is lost, not the port whose slot event told of it first. */
    private void nameLost(EpisodeDraft b, String dev) {
        if (b.device != null && !b.device.equals(dev) && topo.get(b.device).map(Topology.PciDevice::bridge).orElse(false)
                && topo.covers(b.device, dev))
            b.device = dev;
    }

    /**
     * The user's close of a device being removed, and the reset vfio-pci tries on that close, are the removal's own
     * steps (vfio_pci_remove waits for the close): they keep the device-loss episode open like the signs of the loss,
     * so the slot's final presence change after the release lands in it too.
     */
    private void extendRemoval(Access a) {
        if (a.kind() != Access.Kind.CLOSE && a.kind() != Access.Kind.USER_RESET) return;
        long at = a.end() != null ? a.end() : a.start();
        for (EpisodeDraft b : open)
            if (b.deviceLoss && b.removing && b.affected.contains(a.dev())) b.closeAt = Math.max(b.closeAt, at + opt.settleNs());
    }

    /**
     * A link change on a port belongs to every open episode covering the port or a device below it (a host reset
     * of the port flaps its link: placed in the reset). A pciehp link down no episode explains is what it was
     * before link changes were placed: a sign the device is going away.
     */
    private void linkChange(Event.LinkChange l) {
        if (l.dev() == null) return;
        boolean placed = false;
        for (EpisodeDraft o : open) {
            if (o.affected.contains(l.dev()) || coversAny(l.dev(), o)) {
                o.add(l);
                placed = true;
            }
        }
        if (!placed && l.type().equals("pci.hp_event") && Boolean.FALSE.equals(l.up())) {
            deviceGone(new Event.DeviceGone(l.common(), l.type(), "hotplug event LINK_DOWN on the port above it"));
        }
    }

    private void attribute(Access a) {
        extendRemoval(a);
        if (Calls.allOnes(a) && a.dev() != null) {
            Event first = a.enter() != null ? a.enter() : a.exit();
            EpisodeDraft b = lossEpisode(a.dev(), first);
            long end = a.end() != null ? a.end() : a.start();
            if (b.deviceLoss) nameLost(b, a.dev());
            if (b.deviceLoss) b.closeAt = Math.max(b.closeAt == Long.MAX_VALUE ? 0 : b.closeAt, end + opt.settleNs());
        }
        int copies = 0;
        for (EpisodeDraft b : open) {
            if (!b.affected.contains(a.dev())) continue;
            if (!a.overlaps(b.start, b.closeAt == Long.MAX_VALUE ? null : b.closeAt)) continue;
            // Bounded like the event list: a user hammering the device cannot grow one episode without limit, nor
            // can one access be copied into every one of many open episodes (a 1.5 MB trace made a 3.4 GB report).
            if (copies++ >= MAX_COPIES) {
                b.elide(a.start());
                continue;
            }
            if (b.accesses.size() < opt.maxEventsPerEpisode()) b.accesses.add(a);
            else b.elide(a.start());
            if (a.enter() != null) b.add(a.enter());
            if (a.exit() != null) b.add(a.exit());
        }
        if (a.kind() == Access.Kind.CONFIG_READ && a.end() != null && coversCommand(a) && a.value() != null) {
            if (lastCommandRead.size() >= MAX_DEVICES && !lastCommandRead.containsKey(a.dev())) lastCommandRead.clear();
            lastCommandRead.put(a.dev(), a);
        }
    }

    /** PCI_COMMAND is the 16-bit register at config offset 4. */
    public static boolean coversCommand(Access a) {
        return a.isConfig() && a.offset() <= 4 && a.offset() + a.size() >= 6;
    }

    // ---------------------------------------------------------------- enter/exit pairing

    private void push(Event e) {
        if (stacks.size() >= MAX_THREADS && stacks.get(e.tid()) == null) {
            ArrayDeque<Event> evicted = stacks.evictOne();
            bound(e.line(), "more than " + MAX_THREADS + " threads with open enters: one thread's enters dropped");
            if (evicted != null) for (Event o : evicted) {
                untrack(o);
                evicted(o, e);
            }
        }
        ArrayDeque<Event> st = stacks.getOrCreate(e.tid());
        // A thread cannot be inside the same function twice here (no recursion in these paths), nor in two user
        // operations at once: the older enter lost its exit.
        for (Iterator<Event> it = st.iterator(); it.hasNext(); ) {
            Event o = it.next();
            if ((o.type().equals(e.type()) && Calls.keyOf(o).equals(Calls.keyOf(e))) || (Calls.userOp(o) && Calls.userOp(e))) {
                it.remove();
                untrack(o);
                missingExit(o, e.ts(), e.line());
                break;
            }
        }
        st.push(e);
        track(e);
        if (st.size() > MAX_STACK) {
            Event o = st.removeLast();
            untrack(o);
            bound(e.line(), "more than " + MAX_STACK + " open enters on tid " + e.tid());
            missingExit(o, e.ts(), e.line());
        }
    }

    /**
     * Pops the enter an exit closes: the same type and identity (keyOf), searched from the innermost open call;
     * calls above it lost their exits. A user operation pairs only with the innermost open user operation, and
     * never across a gap that could hide other events of its thread (a lost or late record, an unreadable line):
     * two reads of the same register on either side of a loss would otherwise make one read that never was.
     */
    private Event pop(Event exit, String enterType, String unusedKey) {
        ArrayDeque<Event> st = stacks.get(exit.tid());
        String key = Calls.keyOf(exit);
        boolean user = exit instanceof Event.RwExit || exit instanceof Event.IoctlExit;
        if (st != null) {
            for (Event o : st) {
                if (user && Calls.userOp(o) && !(o.type().equals(enterType) && Calls.keyOf(o).equals(key))) {
                    break; // the open user operation is another one: it lost its exit, this exit lost its enter
                }
                if (!o.type().equals(enterType) || !Calls.keyOf(o).equals(key)) continue;
                while (st.peek() != o) {
                    Event lost = st.pop();
                    untrack(lost);
                    missingExit(lost, exit.ts(), exit.line());
                }
                untrack(st.pop());
                if (st.isEmpty()) stacks.remove(exit.tid());
                if ((user || exit instanceof Event.UserResetExit) && acrossGap(o, exit)) {
                    missingExit(o, exit.ts(), exit.line());
                    break;
                }
                return o;
            }
        }
        unmatchedExit(exit, enterType);
        return null;
    }

    /** A gap that could hide events of the pair's thread lies between its enter and exit (any CPU: threads migrate). */
    private boolean acrossGap(Event enter, Event exit) {
        // A gap that ends exactly at the enter or starts at the exit hides nothing in between.
        return ledger.holeBetween(enter.ts(), exit.ts());
    }

    private void unmatchedExit(Event exit, String enterType) {
        diag.issue(Issue.Kind.UNMATCHED_EXIT, exit.line(), exit.type() + " on tid " + exit.tid() + " without "
                + enterType);
        long[] last = lastByTid.get(exit.tid());
        long from = last != null && last[0] <= exit.ts() ? last[0] : Long.MIN_VALUE;
        // Inside a loss (or late/unreadable stretch) the loss already is the gap: one entry, not one per exit.
        // (Covering, not meeting: a late enter at ts -1 met the span, and the exit alone made a confident race.)
        if (!ledger.holeCovering(from, exit.ts())) ledger.add(TraceGap.Kind.UNMATCHED_EXIT, exit.common().cpu(), from, exit.ts(), exit.line(),
                last != null ? last[1] : 0, exit.line(), 0, exit.type() + " on tid " + exit.tid() + " without its enter");
        Event.Gap g = new Event.Gap(exit.common(), Event.GapKind.INVALID_EVENT, exit.type() + " without its enter");
        int copies = 0;
        for (EpisodeDraft b : open)
            if ((b.tid == exit.tid() || b.affected.contains(exit.dev())) && copies++ < MAX_COPIES) b.addGap(g);
    }

    /**
     * Enters dropped at the thread bound: like missing exits, but all of a segment's share one ledger gap that
     * widens (tens of thousands of gaps, each met by every later episode, made a 2.4 GB report).
     */
    private GapLedger.Entry evictions;

    private void evicted(Event enter, Event by) {
        diag.issue(Issue.Kind.MISSING_EXIT, enter.line(), enter.type() + " on tid " + enter.tid() + " dropped at the thread bound");
        long to = Math.max(enter.ts(), by.ts());
        if (evictions == null || !ledger.holds(evictions)) {
            evictions = ledger.add(TraceGap.Kind.CAP, null, enter.ts(), to, by.line(), enter.line(), by.line(), 1,
                    "enters of threads dropped at the bound of " + MAX_THREADS + " threads with open enters");
        } else {
            evictions.widen(enter.ts(), to, by.line());
        }
        // No gap event per dropped enter in the episodes: the one widening ledger gap names them all (one event
        // each, listed in every later episode, was 10 KB of report per episode).
        if (Calls.userEnterOp(enter)) attribute(Calls.access(enter, null).lost(to));
    }

    /** An enter whose exit is not in the trace; {@code seenTs}/{@code seenLine}: the event that showed it. */
    private void missingExit(Event enter, long seenTs, long seenLine) {
        diag.issue(Issue.Kind.MISSING_EXIT, enter.line(), enter.type() + " on tid " + enter.tid() + " never exited");
        if (!ledger.holeCovering(enter.ts(), Math.max(enter.ts(), seenTs))) ledger.add(TraceGap.Kind.MISSING_EXIT, enter.common().cpu(), enter.ts(), Math.max(enter.ts(), seenTs),
                enter.line(), enter.line(), seenLine, 0, enter.type() + " on tid " + enter.tid() + " without its exit");
        Event.Gap g = new Event.Gap(enter.common(), Event.GapKind.INVALID_EVENT, enter.type() + " without its exit");
        int copies = 0;
        for (EpisodeDraft b : open)
            if ((b.tid == enter.tid() || b.affected.contains(enter.dev())) && copies++ < MAX_COPIES) b.addGap(g);
        if (enter instanceof Event.RwEnter || enter instanceof Event.IoctlEnter || enter instanceof Event.UserResetEnter)
            attribute(Calls.access(enter, null).lost(seenTs));
    }

    private void track(Event e) {
        if (!Calls.userEnterOp(e) || e.dev() == null) return;
        openUser.computeIfAbsent(e.dev(), k -> new java.util.TreeMap<>()).merge(e.ts(), 1, Integer::sum);
    }

    private void untrack(Event e) {
        if (!Calls.userEnterOp(e) || e.dev() == null) return;
        java.util.TreeMap<Long, Integer> m = openUser.get(e.dev());
        if (m == null) return;
        m.computeIfPresent(e.ts(), (k, n) -> n > 1 ? n - 1 : null);
        if (m.isEmpty()) openUser.remove(e.dev());
    }

    /** A bound was reached: named once per kind in the report, and a gap where it dropped something. */
    private void bound(long line, String what) {
        diag.issue(Issue.Kind.BOUND, line, what);
    }

    // ---------------------------------------------------------------- closing

    private void closeDue(long ts) {
        if (open.isEmpty()) return; // the common case, on every event
        for (Iterator<EpisodeDraft> it = open.iterator(); it.hasNext(); ) {
            EpisodeDraft b = it.next();
            if (b.closeAt >= ts) continue;
            // Keep the window open while an access that began inside it is still blocked (bounded by maxHold).
            if (ts - b.closeAt < opt.maxHoldNs && hasOpenAccess(b)) continue;
            it.remove();
            emit(b, Math.min(b.closeAt, ts), false);
        }
    }

    /** An access that began inside the window is still open: O(devices of the episode), not O(threads). */
    private boolean hasOpenAccess(EpisodeDraft b) {
        for (String d : b.affected) {
            java.util.TreeMap<Long, Integer> m = openUser.get(d);
            if (m != null && !m.isEmpty() && m.firstKey() <= b.closeAt) return true;
        }
        return false;
    }

    private void closeAll() {
        // Open user enters at the end: report them (an access with no exit) before episodes close.
        for (ArrayDeque<Event> st : stacks.values()) {
            for (Event e : st) {
                if (footerSeen) diag.issue(Issue.Kind.MISSING_EXIT, e.line(), e.type() + " on tid " + e.tid() + " never exited");
                if (!Calls.userEnterOp(e)) continue;
                // Still running at the end, unless a gap after its entry could hold its exit: then where it
                // returned is not known, and the span from its entry on is a gap every verdict counting it meets.
                if (exitMayBeHidden(e))
                    ledger.add(TraceGap.Kind.MISSING_EXIT, e.common().cpu(), e.ts(), Long.MAX_VALUE, e.line(), e.line(), 0, 0,
                            e.type() + " on tid " + e.tid() + " without its exit, which a gap after it could hide");
                attribute(Calls.access(e, null));
            }
        }
        stacks.clear();
        openUser.clear();
        for (EpisodeDraft b : open) emit(b, Math.min(b.closeAt, now), true);
        open.clear();
    }

    /**
     * A gap after {@code enter} could hold its exit: a loss, a late or unreadable stretch, or an exit whose enter is
     * missing (with a damaged thread id or identity it may be this enter's own).
     */
    private boolean exitMayBeHidden(Event enter) {
        for (TraceGap g : ledger.overlapping(enter.ts(), Long.MAX_VALUE))
            switch (g.kind()) {
                case LOSS, LATE, INPUT, UNMATCHED_EXIT -> { return true; }
                default -> { }
            }
        return false;
    }

    private void emit(EpisodeDraft b, long end, boolean atEnd) {
        boolean midEnd = !b.recoveryDone && (b.recoveryStart != null || b.midStart);
        for (EpisodeDraft.OpenReset r : b.openResets)
            b.resets.add(new HostReset(r.enter().dev(), r.enter().fn(), r.enter().ts(), null, null, r.depth(), r.byRecovery(), r.enter(), null));
        for (Event.CallbackEnter c : b.openCallbacks.values())
            b.callbacks.add(new CallbackCall(c.dev(), c.cb(), c.driver(), c.state(), c.ts(), null, null, c, null));
        b.events.sort(Comparator.comparingLong(Event::ts));
        b.accesses.sort(Comparator.comparingLong(Access::start));
        b.callbacks.sort(Comparator.comparingLong(CallbackCall::start));
        b.resets.sort(Comparator.comparingLong(HostReset::start).thenComparingInt(HostReset::depth));
        long last = b.events.isEmpty() ? b.start : b.events.get(b.events.size() - 1).ts();
        long epEnd = Math.max(atEnd ? Math.min(end, Math.max(last, now)) : end, last);
        if (b.device == null) b.device = b.recoveryDev;
        // The rule of evidence looks at every gap whose bounds meet the episode, from the ledger (losses with
        // their inferred bounds, unpaired enters/exits, late events, unreadable lines, trace boundaries).
        // A recovery whose AER event is not in the trace starts the episode at its first event; a gap just before
        // it may hold the AER event, and so the time every "+x ms since the error" counts from (Episode.startGaps).
        long from = b.errors.isEmpty() && (b.recoveryStart != null || b.midStart) ? b.start - Episode.START_GAP_NS : b.start;
        List<TraceGap> holes = new ArrayList<>(ledger.overlapping(Math.min(from, b.firstAccess()), epEnd));
        if (b.elided > 0)
            holes.add(new TraceGap(TraceGap.Kind.CAP, null, b.elidedFrom, b.elidedTo, 0, 0, 0, b.elided,
                    b.elided + " events/accesses beyond the per-episode cap of " + opt.maxEventsPerEpisode()
                            + " (or copied into more than " + MAX_COPIES + " open episodes) not kept"));
        if (b.gapsElided > 0)
            holes.add(new TraceGap(TraceGap.Kind.CAP, null, b.gapsFrom, b.gapsTo, 0, 0, 0, b.gapsElided,
                    b.gapsElided + " gaps beyond the per-episode list of " + MAX_GAPS_PER_EPISODE + " not listed"));
        if (holes.size() > MAX_HOLES) holes = mergeExcess(holes);
        if (b.cutAt != Long.MIN_VALUE)
            holes.add(new TraceGap(TraceGap.Kind.CAP, null, b.cutAt, Long.MAX_VALUE, 0, 0, 0, 0,
                    "closed early: more than " + MAX_OPEN_EPISODES + " episodes were open at once"));
        sink.accept(new Episode(source, b.id, b.device, b.severity, b.status, List.copyOf(b.errors), b.recoveryDev,
                b.resetBridge != null ? b.resetBridge : b.bridge, List.copyOf(new TreeSet<>(b.affected)), b.start, epEnd,
                b.recoveryStart, b.recoveryEnd, b.result, b.phases(epEnd), List.copyOf(b.callbacks),
                List.copyOf(b.resets), List.copyOf(b.accesses), List.copyOf(b.notifications), List.copyOf(b.events),
                b.elided, List.copyOf(b.gaps), List.copyOf(holes), b.midStart, midEnd, kernel, host));
        if (open.isEmpty() && now != Long.MIN_VALUE) ledger.prune(now - PRUNE_AFTER_NS);
    }

    /**
     * Past {@link #MAX_HOLES}, the gaps after the first ones merge into one that covers them all (coarser, never
     * narrower: every verdict they met still meets it), so one episode's report stays bounded.
     */
    private static List<TraceGap> mergeExcess(List<TraceGap> holes) {
        List<TraceGap> out = new ArrayList<>(holes.subList(0, MAX_HOLES - 1));
        long from = Long.MAX_VALUE, to = Long.MIN_VALUE, line = 0, count = 0;
        for (TraceGap g : holes.subList(MAX_HOLES - 1, holes.size())) {
            from = Math.min(from, g.from());
            to = Math.max(to, g.to());
            if (line == 0) line = g.line();
            count = dev.aertrace.ingest.Strict.add(count, Math.max(0, g.count()));
        }
        out.add(new TraceGap(TraceGap.Kind.INPUT, null, from, to, line, 0, 0, count,
                (holes.size() - MAX_HOLES + 1) + " more gaps merged (more than " + MAX_HOLES + " meet this episode)"));
        return out;
    }

    /** Gaps one episode lists; the rest merge into one. */
    public static final int MAX_HOLES = 50;

    /** Gaps that ended this long before the stream's clock cannot meet an episode still to come. */
    private static final long PRUNE_AFTER_NS = 120_000_000_000L;

}
