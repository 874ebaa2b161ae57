package dev.aertrace.lanes;

import dev.aertrace.ingest.Event;
import dev.aertrace.pci.Pci;
import dev.aertrace.race.AnalyzedEpisode;
import dev.aertrace.race.Verdict;
import dev.aertrace.timeline.Access;
import dev.aertrace.timeline.CallbackCall;
import dev.aertrace.timeline.Episode;
import dev.aertrace.timeline.HostReset;
import dev.aertrace.timeline.Notification;
import dev.aertrace.timeline.Phase;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static dev.aertrace.lanes.EpisodeLanes.*;

/** Lays one episode out as {@link EpisodeLanes}, a lane (or a layer of marks) per step, top to bottom. */
final class LaneBuilder {
    private final AnalyzedEpisode a;
    private final Episode e;
    private final long t0, t1;
    private final Map<String, Lane> lanes = new LinkedHashMap<>();
    private final List<Window> windows = new ArrayList<>();
    private final List<RaceMark> races = new ArrayList<>();
    private final Set<Event> raceEvidence = new HashSet<>();
    private final List<Access> accesses;
    private Lane hw, rec;

    LaneBuilder(AnalyzedEpisode a) {
        this.a = a;
        this.e = a.episode();
        this.t0 = e.start();
        this.t1 = Math.max(e.end(), t0 + 1);
        this.accesses = new ArrayList<>(e.accesses());
        accesses.sort(Comparator.comparingLong(Access::start));
    }

    EpisodeLanes build() {
        hardware();
        recovery();
        callbacks();
        resets();
        links();
        raceEvidence();
        users();
        qemu();
        gaps();
        races();
        return new EpisodeLanes(a, List.copyOf(lanes.values()), windows, races, t0, t1);
    }

    private void hardware() {
        // Hardware: what the device reported.
        hw = lane("hw", "AER " + e.device(), Actor.HW, -1, -1, null);
        for (Event.AerError err : e.errors()) {
            Map<String, Object> args = new LinkedHashMap<>();
            args.put("dev", err.dev());
            args.put("severity", Pci.severity(err.severity()));
            args.put("status", String.format("0x%08x", err.status()));
            args.put("line", err.line());
            hw.marks().add(new Mark("AER " + Pci.severity(err.severity()) + " " + err.dev(), MarkKind.AER, err.ts(), args));
        }
    }

    private void recovery() {
        // Host recovery thread: the whole recovery and its steps.
        int recPid = -1, recTid = -1;
        String recComm = null;
        for (Event ev : e.events()) {
            if (ev instanceof Event.RecoveryEnter r) {
                recPid = r.common().pid();
                recTid = r.common().tid();
                recComm = r.common().comm();
                break;
            }
        }
        rec = lane("recovery", "host recovery" + (e.recoveryDev() == null ? "" : " " + e.recoveryDev()),
                Actor.HOST, recPid, recTid, recComm);
        for (Phase p : e.phases()) {
            if (p.kind() == Phase.Kind.AER || p.kind() == Phase.Kind.SETTLE) continue;
            boolean open = p.end() == null;
            long end = open ? t1 : p.end();
            Map<String, Object> args = new LinkedHashMap<>();
            if (p.dev() != null) args.put("dev", p.dev());
            if (p.detail() != null) args.put("detail", p.detail());
            if (p.kind() == Phase.Kind.RECOVERY && e.result() != null) args.put("result", Pci.ers(e.result()));
            if (open) args.put("open", "no exit seen before the episode ended");
            rec.spans().add(new Span(phaseName(p.kind()), p.kind() == Phase.Kind.RECOVERY ? Role.RECOVERY : Role.PHASE,
                    p.start(), end, open, false, args));
        }
    }

    private void callbacks() {
        // One lane per device for the drivers' callbacks; the error eventfd is raised from vfio's callback.
        for (CallbackCall c : e.callbacks()) {
            Lane l = lane("cb " + c.dev(), "callbacks " + c.dev() + driverSuffix(c.driver()), Actor.HOST,
                    c.enter() == null ? -1 : c.enter().common().pid(), c.enter() == null ? -1 : c.enter().common().tid(),
                    c.enter() == null ? null : c.enter().common().comm());
            boolean open = c.end() == null;
            Map<String, Object> args = new LinkedHashMap<>();
            args.put("dev", c.dev());
            args.put("driver", c.driver());
            if (c.result() != null) args.put("vote", Pci.ers(c.result()));
            if (open) args.put("open", "no exit seen before the episode ended");
            String name = c.cb().wire + (c.result() == null ? "" : " → " + Pci.ers(c.result()));
            l.spans().add(new Span(name, Role.CALLBACK, c.start(), open ? t1 : c.end(), open, false, args));
        }
        for (Notification n : e.notifications()) {
            String key = n.dev() == null ? "recovery" : "cb " + n.dev();
            Lane l = lanes.containsKey(key) ? lanes.get(key) : rec;
            Map<String, Object> args = new LinkedHashMap<>();
            args.put("ctx", n.ctx());
            if (n.dev() != null) args.put("dev", n.dev());
            l.marks().add(new Mark("eventfd: user notified", MarkKind.NOTIFY, n.ts(), args));
        }
    }

    private void resets() {
        // One lane per reset bridge; nested calls (aer_root_reset → pci_reset_secondary_bus) nest here too.
        for (HostReset r : e.resets()) {
            Lane l = lane("reset " + r.bridge(), "host reset " + r.bridge(), Actor.HOST,
                    r.enter() == null ? -1 : r.enter().common().pid(), r.enter() == null ? -1 : r.enter().common().tid(),
                    r.enter() == null ? null : r.enter().common().comm());
            boolean open = r.end() == null;
            long end = open ? t1 : r.end();
            Map<String, Object> args = new LinkedHashMap<>();
            args.put("bridge", r.bridge());
            args.put("fn", r.fn());
            if (r.ret() != null) args.put("ret", r.ret());
            args.put("by", r.byRecovery() ? "recovery" : "another thread");
            if (open) args.put("open", "no exit seen before the episode ended");
            l.spans().add(new Span(r.fn(), Role.HOST_RESET, r.start(), end, open, false, args));
            if (r.depth() == 0) windows.add(new Window("host reset " + r.bridge() + " (" + r.fn() + ")", "host-reset", r.start(), end));
        }
    }

    private void links() {
        // Link changes on a port (7.0+): on that port's reset lane, named by the reset they fall in (the link flap
        // a secondary bus reset causes), else on the hardware lane.
        for (Event ev : e.events()) {
            if (!(ev instanceof Event.LinkChange lc)) continue;
            String in = null;
            for (HostReset r : e.resets()) {
                if (lc.dev().equals(r.bridge()) && lc.ts() >= r.start() && (r.end() == null || lc.ts() <= r.end())) in = r.fn();
            }
            Map<String, Object> args = new LinkedHashMap<>();
            args.put("dev", lc.dev());
            args.put("detail", lc.what());
            if (in != null) args.put("during", "host reset " + in);
            args.put("line", lc.line());
            Lane l = lanes.getOrDefault("reset " + lc.dev(), hw);
            l.marks().add(new Mark((lc.up() == null ? "link status" : lc.up() ? "link up" : "link down") + " " + lc.dev(),
                    MarkKind.LINK, lc.ts(), args));
        }
    }

    private void raceEvidence() {
        // Races: find the accesses the verdicts name, so those bars can be marked.
        for (Verdict v : a.verdicts()) if (v.kind().category == Verdict.Category.RACE) raceEvidence.addAll(v.evidence());
    }

    private void users() {
        // One lane per user thread.
        for (Access x : accesses) {
            Lane l = lane("user " + x.pid() + "/" + x.tid(), x.comm() + " " + x.pid() + "/" + x.tid(), Actor.USER,
                    x.pid(), x.tid(), x.comm());
            boolean open = x.end() == null;
            boolean race = (x.enter() != null && raceEvidence.contains(x.enter())) || (x.exit() != null && raceEvidence.contains(x.exit()));
            Map<String, Object> args = new LinkedHashMap<>();
            args.put("dev", x.dev());
            if (x.region() != null) {
                args.put("region", x.region());
                args.put("offset", String.format("0x%x", x.offset()));
                args.put("size", x.size());
            }
            if (x.value() != null) args.put("value", hex(x.value(), x.size()));
            if (x.ret() != null) args.put("ret", x.ret());
            if (open) args.put("open", "no exit seen before the episode ended");
            if (x.enter() != null) args.put("line", x.enter().line());
            l.spans().add(new Span(accessName(x), accessRole(x), x.start(), open ? t1 : x.end(), open, race, args));
            if (x.kind() == Access.Kind.CONFIG_READ && x.value() != null && allOnes(x.value(), x.size()) && x.end() != null) {
                l.marks().add(new Mark("all-ones read " + hex(x.value(), x.size()), MarkKind.ALL_ONES, x.end(), java.util.Collections.singletonMap("dev", x.dev())));
            }
        }
    }

    private void qemu() {
        // One lane per QEMU process holding an affected device: the guest's accesses as QEMU served them, the VM's state.
        for (dev.aertrace.timeline.QemuLane q : a.qemu()) {
            Lane l = lane("qemu " + q.pid(), "QEMU " + q.pid() + " guest + VM", Actor.QEMU, q.pid(), -1, q.comm());
            for (dev.aertrace.timeline.QemuLane.GuestAccess x : q.accesses()) {
                boolean open = x.end() == null;
                boolean race = raceEvidence.contains(x.enter()) || (x.exit() != null && raceEvidence.contains(x.exit()));
                Map<String, Object> args = new LinkedHashMap<>();
                args.put("dev", x.dev());
                args.put("space", x.space().wire);
                args.put("offset", String.format("0x%x", x.offset()));
                args.put("size", x.size());
                if (x.value() != null) args.put("value", hex(x.value(), Math.min(x.size(), 4)));
                args.put("served", x.served().phrase);
                args.put("tid", x.tid());
                if (open) args.put("open", "no exit seen before the episode ended");
                args.put("line", x.enter().line());
                String name = "guest " + x.phraseWithValue()
                        + (x.served() == dev.aertrace.timeline.QemuLane.Served.PASSED ? " → device"
                           : x.served() == dev.aertrace.timeline.QemuLane.Served.EMULATED ? " (emulated)" : "");
                l.spans().add(new Span(name, Role.GUEST_ACCESS, x.start(),
                        open ? t1 : x.end(), open, race, args));
            }
            for (dev.aertrace.ingest.QemuEvents.RunState r : q.states()) {
                if (r.ts() < t0) continue; // the state before the error is in the lane's summary
                l.marks().add(new Mark(r.vmStop() ? "vm_stop(" + r.label() + ")" : "runstate " + r.label(), MarkKind.VM_STATE,
                        r.ts(), dev.aertrace.text.OrderedMap.of("state", r.label(), "line", r.line())));
            }
            for (dev.aertrace.ingest.QemuEvents.SystemReset r : q.resets())
                l.marks().add(new Mark("system_reset (" + r.label() + ")", MarkKind.VM_STATE, r.ts(),
                        dev.aertrace.text.OrderedMap.of("reason", r.label(), "line", r.line())));
            for (Event.EventfdRead r : q.notificationReads())
                l.marks().add(new Mark("QEMU read the error notification", MarkKind.NOTIFY, r.ts(),
                        dev.aertrace.text.OrderedMap.of("dev", String.valueOf(r.dev()), "ctx", String.valueOf(r.ctx()), "line", r.line())));
        }
    }

    private void gaps() {
        // Gaps: lost events or unreadable lines inside the window make verdicts tentative: show where.
        for (Event g : e.gaps()) {
            hw.marks().add(new Mark(g instanceof Event.Lost l ? "lost " + l.count() + " events" : "gap: " + g.type(),
                    MarkKind.GAP, g.ts(), Map.of("line", g.line())));
        }
    }

    private void races() {
        for (Verdict v : a.verdicts()) {
            if (v.kind().category != Verdict.Category.RACE || v.evidence().isEmpty()) continue;
            long s = Long.MAX_VALUE, t = Long.MIN_VALUE;
            Set<String> keys = new java.util.LinkedHashSet<>();
            for (Event ev : v.evidence()) {
                s = Math.min(s, ev.ts());
                t = Math.max(t, ev.ts());
                for (Lane l : lanes.values()) {
                    if (l.actor() == Actor.USER && l.tid() == ev.tid() && l.pid() == ev.common().pid()) keys.add(l.key());
                }
            }
            // When the evidence is an access overlapping a host reset, the race is that overlap: shade it, not
            // the union of everything the verdict cites.
            long os = Long.MAX_VALUE, ot = Long.MIN_VALUE;
            for (Access x : accesses) {
                // List.copyOf lists throw on contains(null): an access may lack its enter (exit without enter).
                if ((x.enter() == null || !v.evidence().contains(x.enter())) && (x.exit() == null || !v.evidence().contains(x.exit()))) continue;
                long xe = x.end() == null ? t1 : x.end();
                for (Window w : windows) {
                    long a0 = Math.max(x.start(), w.start()), a1 = Math.min(xe, w.end());
                    if (a0 <= a1) { os = Math.min(os, a0); ot = Math.max(ot, a1); }
                }
            }
            if (os <= ot) { s = os; t = ot; }
            races.add(new RaceMark(v, raceLabel(v), s, Math.max(t, s), List.copyOf(keys)));
        }
    }

    private Lane lane(String key, String label, Actor actor, int pid, int tid, String comm) {
        return lanes.computeIfAbsent(key, k -> new Lane(k, label, actor, pid, tid, comm, new ArrayList<>(), new ArrayList<>()));
    }
}
