package dev.aertrace.timeline;

import dev.aertrace.ingest.Event;
import dev.aertrace.ingest.TraceGap;

import java.util.Iterator;
import java.util.Set;

/**
 * The host's side of an episode: AER events, pcie_do_recovery, the driver callbacks, host resets, the error
 * eventfd and the config lock, tied to a recovery by the thread that runs it (pcie_do_recovery runs the callbacks
 * and the reset on its own thread). Host events whose recovery.enter is not in the trace find their episode here
 * too ({@link #orphanHome}).
 */
final class HostSide {
    private final BuildState st;
    private final Pairing pairing;
    private final EpisodeCloser closer;

    HostSide(BuildState st, Pairing pairing, EpisodeCloser closer) {
        this.st = st;
        this.pairing = pairing;
        this.closer = closer;
    }

    void aer(Event.AerError a) {
        for (EpisodeDraft b : st.open) {
            // One AER interrupt can log several devices before its recovery starts, on the same thread.
            if (b.tid == a.tid() && b.recoveryStart == null && !b.recoveryDone && a.ts() - b.start <= st.opt.settleNs()) {
                b.errors.add(a);
                b.add(a);
                b.cover(a.dev());
                return;
            }
        }
        EpisodeDraft b = null;
        for (EpisodeDraft o : st.open) {
            // All-ones reads on the device just before its AER event are the same error, seen from the user first.
            if (o.deviceLoss && o.affected.contains(a.dev())) {
                b = o;
                b.deviceLoss = false;
                b.tid = a.tid();
                String bridge = st.topo.recoveryBridge(a.dev());
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
        b.closeAt = a.ts() + st.opt.settleNs();
    }

    private EpisodeDraft newEpisode(Event first, int tid) {
        EpisodeDraft b = new EpisodeDraft(st.nextId++, first.ts(), tid, st.opt.maxEventsPerEpisode(), st.topo);
        String bridge = st.topo.recoveryBridge(first.dev());
        b.bridge = bridge;
        b.cover(first.dev());
        if (bridge != null) b.coverBelow(bridge);
        // Back-to-back errors: a settling episode on the same devices ends where the new one starts.
        for (EpisodeDraft o : st.open) {
            if (o.recoveryStart != null && !o.recoveryDone) continue;
            if (shares(o.affected, b.affected)) o.closeAt = Math.min(o.closeAt, first.ts() - 1);
        }
        closer.closeDue(st.now);
        if (st.lastGap != null && first.ts() - st.lastGapTs <= st.opt.preGapNs()) b.addGap(st.lastGap);
        for (String d : b.affected) {
            Access before = st.lastCommandRead.get(d);
            if (before != null) b.accesses.add(before);
        }
        closer.admit(b, first);
        return b;
    }

    private static boolean shares(Set<String> a, Set<String> b) {
        for (String d : a) if (b.contains(d)) return true;
        return false;
    }

    private EpisodeDraft recoveryOf(int tid) {
        for (EpisodeDraft b : st.open) if (b.tid == tid && b.recoveryStart != null && !b.recoveryDone) return b;
        for (EpisodeDraft b : st.open) if (b.tid == tid && b.midStart && !b.recoveryDone) return b;
        return null;
    }

    void recoveryEnter(Event.RecoveryEnter r) {
        pairing.push(r);
        EpisodeDraft b = null;
        for (EpisodeDraft o : st.open)
            if (o.tid == r.tid() && o.recoveryStart == null && !o.recoveryDone && !o.midStart) b = o;
        if (b == null) {
            b = newEpisode(r, r.tid());
            b.device = r.dev();
        }
        b.recoveryStart = r.ts();
        b.recoveryDev = r.dev();
        String bridge = st.topo.recoveryBridge(r.dev());
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

    void recoveryExit(Event.RecoveryExit r) {
        Event enter = pairing.pop(r, "recovery.enter");
        EpisodeDraft b = recoveryOf(r.tid());
        if (b == null) b = orphanHome(r);
        if (b == null) return; // an exit without its enter in mid-trace: a gap (recorded by pop), not an episode
        b.recoveryEnd = r.ts();
        b.result = r.ret();
        b.recoveryDone = true;
        b.closeAt = r.ts() + st.opt.settleNs();
        b.add(r);
        if (enter == null && !b.midStart) b.addGap(r);
    }

    /**
     * Where a host event goes whose recovery.enter is not in the trace: the episode its AER event opened on the
     * same thread (the enter was lost), else a new episode only when the trace begins inside this recovery (the
     * thread's first event, and no gap before it but the trace start). Anywhere else it is a gap, not an episode.
     */
    private EpisodeDraft orphanHome(Event e) {
        for (EpisodeDraft o : st.open) if (o.tid == e.tid() && !o.recoveryDone) {
            if (o.recoveryStart == null) o.midStart = true; // its recovery.enter is missing: the start is unknown
            return o;
        }
        return atTraceStart(e) ? midStart(e) : null;
    }

    private boolean atTraceStart(Event e) {
        if (st.lastByTid.get(e.tid()) != null) return false;
        for (TraceGap g : st.ledger.overlapping(Long.MIN_VALUE, e.ts()))
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

    /** A driver callback (or vfio's error_detected handler) entering or returning. */
    void callback(Event e, boolean enter) {
        EpisodeDraft b = recoveryOf(e.tid());
        if (enter) pairing.push(e);
        Event matched = enter ? null : pairing.pop(e, Calls.pairType(e));
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

    void signal(Event.EventfdSignal s) {
        if (s.dev() == null && pairing.insideVfioHandler(s.tid())) {
            // The agent names the device of every signal raised inside vfio's error_detected: one without is a
            // damaged line, a gap where it stands rather than a notification of no device.
            st.ledger.add(TraceGap.Kind.INPUT, s.common().cpu(), s.ts(), s.ts(), s.line(), s.line(), s.line(), 0,
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
        for (EpisodeDraft o : st.open) if (o.affected.contains(s.dev())) {
            o.add(s);
            o.notifications.add(new Notification(s.dev(), s.ctx(), s.ts(), s));
        }
    }

    void cfgLock(Event.CfgLock c) {
        EpisodeDraft b = recoveryOf(c.tid());
        if (b != null) {
            b.add(c);
            return;
        }
        for (EpisodeDraft o : st.open) if (o.affected.contains(c.dev())) o.add(c);
    }

    void reset(Event.ResetEnter r) {
        int depth = pairing.resetDepth(r.tid());
        pairing.push(r);
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
        for (EpisodeDraft o : st.open) if (st.coversAny(r.dev(), o)) {
            o.add(r);
            o.openResets.add(new EpisodeDraft.OpenReset(r, depth, false));
        }
    }

    void resetExit(Event.ResetExit x) {
        Event enter = pairing.pop(x, "reset.enter");
        EpisodeDraft b = recoveryOf(x.tid());
        if (b == null && enter == null && pairing.idle(x.tid())) {
            b = orphanHome(x); // trace began during the host reset, or a gap ate the reset's enter
            if (b == null) return;
            b.coverBelow(x.dev());
            if (b.resetBridge == null) b.resetBridge = x.dev();
            b.add(x);
            b.resets.add(new HostReset(x.dev(), x.fn(), x.ts(), x.ts(), x.ret(), 0, true, null, x));
            return;
        }
        for (EpisodeDraft o : st.open) {
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
}
