package dev.aertrace.timeline;

import dev.aertrace.ingest.Event;
import dev.aertrace.ingest.Topology;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** Mutable state of one open episode, and the recovery phases it adds up to when it closes. */
final class EpisodeDraft {
record OpenReset(Event.ResetEnter enter, int depth, boolean byRecovery) {}

private final int maxEvents;
private final Topology topo;

    final int id;
    final long start;
    int tid;
    String device;
    Integer severity;
    Long status;
    final List<Event.AerError> errors = new ArrayList<>(2);
    String recoveryDev, bridge, resetBridge;
    final java.util.Set<String> affected = new java.util.HashSet<>();
    Long recoveryStart, recoveryEnd;
    Integer result;
    boolean recoveryDone, midStart, deviceLoss;
    /** A device-loss episode in which the kernel started removing a device (or asked its user to let go). */
    boolean removing;
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

    EpisodeDraft(int id, long start, int tid, int maxEvents, Topology topo) {
        this.id = id;
        this.start = start;
        this.tid = tid;
        this.maxEvents = maxEvents;
        this.topo = topo;
    }

    long elidedFrom = Long.MAX_VALUE, elidedTo = Long.MIN_VALUE;
    long gapsElided, gapsFrom = Long.MAX_VALUE, gapsTo = Long.MIN_VALUE;
    /** Where the open-episode bound closed it (MIN_VALUE: it closed normally). */
    long cutAt = Long.MIN_VALUE;

    void addGap(Event g) {
        if (gaps.size() < TimelineBuilder.MAX_GAPS_PER_EPISODE) gaps.add(g);
        else elideGap(g);
    }

    void elideGap(Event g) {
        gapsElided++;
        gapsFrom = Math.min(gapsFrom, g.ts());
        gapsTo = Math.max(gapsTo, g.ts());
    }

    void add(Event e) {
        if (events.size() < maxEvents) events.add(e);
        else elide(e.ts());
    }

    void elide(long ts) {
        elided++;
        elidedFrom = Math.min(elidedFrom, ts);
        elidedTo = Math.max(elidedTo, ts);
    }

    void cover(String dev) {
        if (dev != null) affected.add(dev);
    }

    void coverBelow(String bridge) {
        if (bridge == null) return;
        affected.add(bridge);
        affected.addAll(topo.below(bridge));
    }

    long firstAccess() {
        long m = Long.MAX_VALUE;
        for (Access a : accesses) m = Math.min(m, a.start());
        return m;
    }

    List<Phase> phases(long end) {
        List<Phase> p = new ArrayList<>();
        if (!errors.isEmpty()) {
            Event.AerError a = errors.get(0);
            p.add(new Phase(Phase.Kind.AER, a.ts(), a.ts(), a.dev(), null));
        }
        if (recoveryStart != null || midStart) {
            long s = recoveryStart != null ? recoveryStart : start;
            p.add(new Phase(Phase.Kind.RECOVERY, s, recoveryEnd, recoveryDev, null));
        }
        for (Event.Callback cb : Event.Callback.values()) {
            long s = Long.MAX_VALUE;
            Long e = null;
            boolean openOne = false;
            int n = 0;
            java.util.Set<String> devs = new java.util.HashSet<>();
            for (CallbackCall c : callbacks) {
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
            if (cb == Event.Callback.MMIO_ENABLED || cb == Event.Callback.ERROR_DETECTED) addReset(p, cb);
        }
        if (p.stream().noneMatch(x -> x.kind() == Phase.Kind.RESET)) addReset(p, null);
        if (recoveryEnd != null && end > recoveryEnd)
            p.add(new Phase(Phase.Kind.SETTLE, recoveryEnd, end, null, null));
        p.sort(Comparator.comparingLong(Phase::start).thenComparing(x -> x.kind().ordinal()));
        return List.copyOf(p);
    }

    private void addReset(List<Phase> p, Event.Callback after) {
        if (p.stream().anyMatch(x -> x.kind() == Phase.Kind.RESET)) return;
        for (HostReset r : resets) {
            if (!r.byRecovery() || r.depth() != 0) continue;
            p.add(new Phase(Phase.Kind.RESET, r.start(), r.end(), r.bridge(), r.fn()));
            return;
        }
    }
}
