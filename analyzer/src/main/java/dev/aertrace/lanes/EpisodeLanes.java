package dev.aertrace.lanes;

import dev.aertrace.ingest.Event;
import dev.aertrace.race.AnalyzedEpisode;
import dev.aertrace.pci.Pci;
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
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * One episode laid out as lanes — one per actor — for drawing: the chart and the trace-event export both
 * read this, so a slice in Perfetto and a bar in the PNG are the same span by construction.
 *
 * <p>Lanes, top to bottom: the hardware (AER events), the host recovery thread (pcie_do_recovery and its
 * phases), one lane per device for its driver's callbacks, one per bridge for host resets, then one per
 * user thread for its vfio accesses. Windows are time ranges drawn across lanes: each host reset of the
 * recovery, and each race (the part of a user access that overlapped a host reset, or the evidence span).
 */
public record EpisodeLanes(AnalyzedEpisode analyzed, List<Lane> lanes, List<Window> windows, List<RaceMark> races,
                           long t0, long t1) {

    /** QEMU: the guest's accesses as QEMU served them and the VM's run state (only with QEMU's uprobe events). */
    public enum Actor { HW, HOST, USER, QEMU }

    /** What a span is, so the chart colours and the export categories agree. */
    public enum Role { RECOVERY, PHASE, CALLBACK, HOST_RESET, USER_ACCESS, USER_IOCTL, USER_RESET, GUEST_ACCESS }

    /** LINK: a port's link went up/down; VM_STATE: QEMU's vm_stop, runstate_set or qemu_system_reset. */
    public enum MarkKind { AER, NOTIFY, ALL_ONES, GAP, LINK, VM_STATE }

    /** {@code open}: no exit was seen; the span was closed at the episode end for drawing. */
    public record Span(String name, Role role, long start, long end, boolean open, boolean race,
                       Map<String, Object> args) {
        public long duration() { return end - start; }
    }

    public record Mark(String name, MarkKind kind, long ts, Map<String, Object> args) {}

    /** {@code pid}/{@code tid}: the real ids for user lanes, the recovery thread's for the host's, -1 when none. */
    public record Lane(String key, String label, Actor actor, int pid, int tid, String comm,
                       List<Span> spans, List<Mark> marks) {}

    public record Window(String name, String kind, long start, long end) {}

    /** A race verdict placed in time: {@code laneKeys} are the lanes its evidence sits on. */
    public record RaceMark(Verdict verdict, String label, long start, long end, List<String> laneKeys) {}

    /**
     * Time zero for displays: the first AER event (what a reader counts from), else the recovery start, else
     * the episode start.
     */
    public long origin() {
        Episode e = analyzed.episode();
        if (!e.errors().isEmpty()) return e.errors().get(0).ts();
        if (e.recoveryStart() != null) return e.recoveryStart();
        return t0;
    }

    /**
     * The part of the episode worth a picture: from shortly before the error to a while after the recovery
     * (or the last host reset) ended. The settle window after a recovery can be 20 times longer than the
     * recovery itself and would squeeze it into a sliver. Returns {from, to} in trace ns, inside [t0, t1].
     */
    public long[] focus() {
        Episode e = analyzed.episode();
        long from = origin();
        long end = e.recoveryEnd() != null ? e.recoveryEnd() : Long.MIN_VALUE;
        for (Window w : windows) end = Math.max(end, w.end());
        for (RaceMark r : races) end = Math.max(end, r.end());
        // No recovery (a correctable error): the error itself and what the user did right after it.
        if (end == Long.MIN_VALUE) end = Math.min(t1, from + 20_000_000L);
        // Keep the raced accesses whole: their end is the evidence of how long they were held.
        for (Lane l : lanes) for (Span s : l.spans()) if (s.race()) end = Math.max(end, s.end());
        long span = Math.max(end - from, 1_000_000L);
        long lo = Math.max(t0, from - Math.max(span / 12, 200_000L));
        long hi = Math.min(t1, end + Math.max(span / 4, 1_000_000L));
        return new long[] {lo, Math.max(hi, lo + 1)};
    }

    public static EpisodeLanes of(AnalyzedEpisode a) {
        Episode e = a.episode();
        long t0 = e.start();
        long t1 = Math.max(e.end(), t0 + 1);
        Map<String, Lane> lanes = new LinkedHashMap<>();

        // Hardware: what the device reported.
        Lane hw = lane(lanes, "hw", "AER " + e.device(), Actor.HW, -1, -1, null);
        for (Event.AerError err : e.errors()) {
            Map<String, Object> args = new LinkedHashMap<>();
            args.put("dev", err.dev());
            args.put("severity", Pci.severity(err.severity()));
            args.put("status", String.format("0x%08x", err.status()));
            args.put("line", err.line());
            hw.marks().add(new Mark("AER " + Pci.severity(err.severity()) + " " + err.dev(), MarkKind.AER, err.ts(), args));
        }

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
        Lane rec = lane(lanes, "recovery", "host recovery" + (e.recoveryDev() == null ? "" : " " + e.recoveryDev()),
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

        // One lane per device for the drivers' callbacks; the error eventfd is raised from vfio's callback.
        for (CallbackCall c : e.callbacks()) {
            Lane l = lane(lanes, "cb " + c.dev(), "callbacks " + c.dev() + driverSuffix(c.driver()), Actor.HOST,
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

        // One lane per reset bridge; nested calls (aer_root_reset → pci_reset_secondary_bus) nest here too.
        List<Window> windows = new ArrayList<>();
        for (HostReset r : e.resets()) {
            Lane l = lane(lanes, "reset " + r.bridge(), "host reset " + r.bridge(), Actor.HOST,
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

        // Races: find the accesses the verdicts name, so those bars can be marked.
        Set<Event> raceEvidence = new HashSet<>();
        for (Verdict v : a.verdicts()) if (v.kind().category == Verdict.Category.RACE) raceEvidence.addAll(v.evidence());

        // One lane per user thread.
        List<Access> accesses = new ArrayList<>(e.accesses());
        accesses.sort(Comparator.comparingLong(Access::start));
        for (Access x : accesses) {
            Lane l = lane(lanes, "user " + x.pid() + "/" + x.tid(), x.comm() + " " + x.pid() + "/" + x.tid(), Actor.USER,
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

        // One lane per QEMU process holding an affected device: the guest's accesses as QEMU served them, the VM's state.
        for (dev.aertrace.qemu.QemuLane q : a.qemu()) {
            Lane l = lane(lanes, "qemu " + q.pid(), "QEMU " + q.pid() + " guest + VM", Actor.QEMU, q.pid(), -1, q.comm());
            for (dev.aertrace.qemu.QemuLane.GuestAccess x : q.accesses()) {
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
                String name = "guest " + (x.space() == dev.aertrace.ingest.QemuEvents.Space.CONFIG
                        ? "cfg " + (x.write() ? "write " : "read ") + register(x.offset())
                        : "bar " + (x.write() ? "write" : "read") + " 0x" + Long.toHexString(x.offset()))
                        + (x.value() != null && (x.write() || x.exit() != null) ? (x.write() ? " ← " : " = ") + hex(x.value(), Math.min(x.size(), 4)) : "")
                        + (x.served() == dev.aertrace.qemu.QemuLane.Served.PASSED ? " → device"
                           : x.served() == dev.aertrace.qemu.QemuLane.Served.EMULATED ? " (emulated)" : "");
                l.spans().add(new Span(name, Role.GUEST_ACCESS, x.start(),
                        open ? t1 : x.end(), open, race, args));
            }
            for (dev.aertrace.ingest.QemuEvents.RunState r : q.states()) {
                if (r.ts() < t0) continue; // the state before the error is in the lane's summary
                l.marks().add(new Mark(r.vmStop() ? "vm_stop(" + r.label() + ")" : "runstate " + r.label(), MarkKind.VM_STATE,
                        r.ts(), Map.of("state", r.label(), "line", r.line())));
            }
            for (dev.aertrace.ingest.QemuEvents.SystemReset r : q.resets())
                l.marks().add(new Mark("system_reset (" + r.label() + ")", MarkKind.VM_STATE, r.ts(),
                        Map.of("reason", r.label(), "line", r.line())));
            for (Event.EventfdRead r : q.notificationReads())
                l.marks().add(new Mark("QEMU read the error notification", MarkKind.NOTIFY, r.ts(),
                        Map.of("dev", String.valueOf(r.dev()), "ctx", String.valueOf(r.ctx()), "line", r.line())));
        }

        // Gaps: lost events or unreadable lines inside the window make verdicts tentative: show where.
        for (Event g : e.gaps()) {
            hw.marks().add(new Mark(g instanceof Event.Lost l ? "lost " + l.count() + " events" : "gap: " + g.type(),
                    MarkKind.GAP, g.ts(), Map.of("line", g.line())));
        }

        List<RaceMark> races = new ArrayList<>();
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

        return new EpisodeLanes(a, List.copyOf(lanes.values()), windows, races, t0, t1);
    }

    private static Lane lane(Map<String, Lane> lanes, String key, String label, Actor actor, int pid, int tid, String comm) {
        return lanes.computeIfAbsent(key, k -> new Lane(k, label, actor, pid, tid, comm, new ArrayList<>(), new ArrayList<>()));
    }

    /** Short label for a race mark: the verdict id plus the tentative flag. */
    public static String raceLabel(Verdict v) {
        return "RACE: " + v.kind().id + (v.tentative() ? " (tentative: events lost)" : "");
    }

    public static String phaseName(Phase.Kind k) {
        return switch (k) {
            case RECOVERY -> "pcie_do_recovery";
            case ERROR_DETECTED -> "error_detected";
            case MMIO_ENABLED -> "mmio_enabled";
            case RESET -> "reset link";
            case SLOT_RESET -> "slot_reset";
            case RESUME -> "resume";
            case AER -> "AER";
            case SETTLE -> "settle";
        };
    }

    public static Role accessRole(Access x) {
        if (x.isReset()) return Role.USER_RESET;
        return x.kind() == Access.Kind.IOCTL ? Role.USER_IOCTL : Role.USER_ACCESS;
    }

    public static String accessName(Access x) {
        return switch (x.kind()) {
            case CONFIG_READ -> "cfg read " + register(x.offset()) + (x.value() == null ? "" : " = " + hex(x.value(), x.size()));
            case CONFIG_WRITE -> "cfg write " + register(x.offset()) + (x.value() == null ? "" : " ← " + hex(x.value(), x.size()));
            case BAR_READ -> x.region() + " read 0x" + Long.toHexString(x.offset());
            case BAR_WRITE -> x.region() + " write 0x" + Long.toHexString(x.offset());
            case IOCTL -> x.name() == null ? "ioctl" : x.name();
            case USER_RESET -> x.name() == null ? "user reset" : x.name();
            case OPEN -> "vfio open";
            case CLOSE -> "vfio close";
        };
    }

    /** "COMMAND" for the standard header's registers, the offset elsewhere (capabilities, extended space). */
    public static String register(long off) {
        String n = dev.aertrace.pci.Pci.configRegister(off);
        return n.equals("ext") || n.equals("cap") ? String.format("0x%03x", off) : n;
    }

    public static String hex(long v, int size) {
        int digits = size >= 1 && size <= 8 ? size * 2 : 8;
        return String.format("0x%0" + digits + "x", v);
    }

    /** Config reads are 1, 2 or 4 bytes; all ones in that width is what a dead link returns. */
    public static boolean allOnes(long v, int size) {
        return (size == 1 || size == 2 || size == 4) && v == Pci.allOnes(size);
    }

    private static String driverSuffix(String driver) {
        return driver == null || driver.isEmpty() ? "" : " (" + driver + ")";
    }

    /** Episode title: what failed, where, on which kernel. */
    public static String title(Episode e) {
        return String.format(Locale.ROOT, "%s AER on %s — host %s, kernel %s",
                cap(Pci.severity(e.severity())), e.device(), e.host() == null ? "?" : e.host(), e.kernel() == null ? "?" : e.kernel());
    }

    private static String cap(String s) { return s.isEmpty() ? s : Character.toUpperCase(s.charAt(0)) + s.substring(1); }
}
