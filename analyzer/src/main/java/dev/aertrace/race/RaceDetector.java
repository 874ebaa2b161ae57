package dev.aertrace.race;

import dev.aertrace.pci.Pci;
import dev.aertrace.text.Phrases;

import dev.aertrace.ingest.TraceReader;

import dev.aertrace.ingest.Event;
import dev.aertrace.ingest.TraceHeader;
import dev.aertrace.ingest.Topology;
import dev.aertrace.ingest.TraceGap;
import dev.aertrace.timeline.Access;
import dev.aertrace.timeline.CallbackCall;
import dev.aertrace.timeline.Episode;
import dev.aertrace.timeline.HostReset;
import dev.aertrace.timeline.Notification;
import dev.aertrace.timeline.TimelineBuilder;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;

import static dev.aertrace.text.Durations.dur;

/** Turns one closed {@link Episode} into verdicts. Pure function of the episode (and the trace header). */
public final class RaceDetector {

    /**
     * {@code aerCapOffset}: where the AER extended capability sits in config space when the header's topology has no {@code aer_cap} for the device (older agents, no root);
     * 0x100, the first extended capability, is where QEMU and most devices put it).
     */
    public record Options(long aerCapOffset, int maxEvidence) {
        public static Options defaults() { return new Options(0x100, 40); }
    }

    private final Options opt;

    public RaceDetector(Options opt) { this.opt = opt; }

    public AnalyzedEpisode analyze(Episode ep0, TraceHeader header) {
        Episode ep = withEpisodeGaps(ep0, header);
        List<Verdict> v = new ArrayList<>();
        List<HostReset> resets = ep.resets().stream().filter(r -> r.byRecovery() && r.depth() == 0).toList();
        List<Access> user = ep.accesses().stream()
                .filter(a -> a.kind() != Access.Kind.OPEN && a.kind() != Access.Kind.CLOSE).toList();
        List<Access> inWindow = user.stream().filter(a -> a.end() == null || a.end() >= ep.start()).toList();
        // A refused reset (negative return, no reset function reached) did not touch the device.
        List<Access> touching = inWindow.stream().filter(a -> !refused(ep, a)).toList();

        duringReset(ep, resets, touching, v);
        stalled(ep, resets, touching, v);
        stateChanged(ep, resets, user, v);
        allOnes(ep, inWindow, v);
        refusedResets(ep, inWindow, v);
        doubleReset(ep, inWindow, v);
        recoveryWindow(ep, resets, touching, v);
        notifiedEarly(ep, resets, touching, v);
        aerStatusCleared(ep, header, inWindow, v);
        removed(ep, v);
        recoveryFailed(ep, v);
        notReset(ep, header, v);

        Verdict inconclusive = inconclusive(ep, v);
        List<Verdict> all = new ArrayList<>();
        if (inconclusive != null) all.add(inconclusive);
        all.addAll(v);
        Outcome o = v.stream().anyMatch(x -> x.kind().category == Verdict.Category.RACE && !x.tentative()) ? Outcome.RACE
                : inconclusive != null ? Outcome.INCONCLUSIVE
                : v.stream().anyMatch(x -> x.kind().category == Verdict.Category.RECOVERY) ? Outcome.RECOVERY_FAILED
                : Outcome.CLEAN;
        return new AnalyzedEpisode(ep, List.copyOf(all), o, List.of());
    }

    /**
     * Gaps that are about the episode rather than a time in the trace: a trace that starts or ends inside the
     * recovery, a missing header or probe. They join the episode's holes so the one rule judges them too.
     */
    private static Episode withEpisodeGaps(Episode ep, TraceHeader header) {
        List<TraceGap> extra = new ArrayList<>();
        if (ep.startedMidRecovery())
            extra.add(new TraceGap(TraceGap.Kind.TRACE_START, null, Long.MIN_VALUE, ep.start(), 0, 0, 0, 0,
                    "the trace starts in the middle of this recovery"));
        if (ep.endedMidRecovery())
            extra.add(new TraceGap(TraceGap.Kind.TRACE_END, null, ep.end(), Long.MAX_VALUE, 0, 0, 0, 0,
                    "the trace ends before the recovery finished"));
        if (header == null)
            extra.add(new TraceGap(TraceGap.Kind.INPUT, null, Long.MIN_VALUE, Long.MAX_VALUE, 0, 0, 0, 0,
                    "no header: the device topology is unknown"));
        else {
            if (!TraceReader.knowsSchema(header.schemaVersion()))
                extra.add(new TraceGap(TraceGap.Kind.INPUT, null, Long.MIN_VALUE, Long.MAX_VALUE, header.line(), 0, 0, 0,
                        "the trace is schema_version " + header.schemaVersion() + ", not 1 or 2"));
            for (String p : List.of("vfio.rw", "reset", "recovery"))
                if (header.probeMissing(p) && header.attached().stream().noneMatch(a -> a.event() != null && a.event().startsWith(p)))
                    extra.add(new TraceGap(TraceGap.Kind.INPUT, null, Long.MIN_VALUE, Long.MAX_VALUE, header.line(), 0, 0, 0,
                            "the agent could not attach the " + p + " probe"));
        }
        if (extra.isEmpty()) return ep;
        List<TraceGap> holes = new ArrayList<>(ep.holes());
        holes.addAll(extra);
        return new Episode(ep.source(), ep.id(), ep.device(), ep.severity(), ep.status(), ep.errors(), ep.recoveryDev(),
                ep.bridge(), ep.affected(), ep.start(), ep.end(), ep.recoveryStart(), ep.recoveryEnd(), ep.result(),
                ep.phases(), ep.callbacks(), ep.resets(), ep.accesses(), ep.notifications(), ep.events(),
                ep.elidedEvents(), ep.gaps(), List.copyOf(holes), ep.startedMidRecovery(), ep.endedMidRecovery(),
                ep.kernel(), ep.host());
    }

    // ------------------------------------------------------------------------------------------ helpers

    private String t(Episode ep, long ts) { return dev.aertrace.text.Durations.rel(ep.start(), ts); }

    private static boolean resetCovers(Episode ep, HostReset r, String dev) {
        return dev.equals(r.bridge()) || ep.affected().contains(dev);
    }

    private static long endOf(Episode ep, HostReset r) { return r.end() != null ? r.end() : ep.end(); }

    private List<Event> evidence(Event... first) {
        List<Event> out = new ArrayList<>();
        for (Event e : first) if (e != null) out.add(e);
        return out;
    }

    private void addAccess(List<Event> ev, Access a) {
        if (ev.size() >= opt.maxEvidence()) return;
        if (a.enter() != null) ev.add(a.enter());
        if (a.exit() != null && ev.size() < opt.maxEvidence()) ev.add(a.exit());
    }

    private List<Event> withAccess(List<Event> ev, Access a) {
        addAccess(ev, a);
        return ev;
    }

    private static String who(Access a) { return a.comm() + " (pid " + a.pid() + ")"; }

    private static String listAccesses(List<Access> as) {
        Set<String> kinds = new LinkedHashSet<>();
        for (Access a : as) kinds.add(a.phrase());
        List<String> k = new ArrayList<>(kinds);
        String s = String.join(", ", k.subList(0, Math.min(6, k.size())));
        return k.size() > 6 ? s + ", …" : s;
    }

    private static String value(Access a) {
        if (a.value() == null) return a.ret() != null && a.ret() < 0 ? "error " + a.ret() : "no value";
        return Pci.hexOfSize(a.value(), a.size()); // never the size as a format width: 1e9 from a damaged line
    }

    private static String plural(int n, String word) {
        return n + " " + word + (n == 1 ? "" : word.endsWith("s") ? "es" : "s");
    }

    // ------------------------------------------------------------------------------------------ verdicts

    private static long endOrOpen(Access a) { return a.end() != null ? a.end() : Long.MAX_VALUE; }

    private static long resetEnd(HostReset r) { return r.end() != null ? r.end() : Long.MAX_VALUE; }

    private void duringReset(Episode ep, List<HostReset> resets, List<Access> user, List<Verdict> out) {
        for (HostReset r : resets) {
            long end = endOf(ep, r);
            for (String dev : devicesOf(user)) {
                List<Access> hit = user.stream().filter(a -> a.dev().equals(dev) && resetCovers(ep, r, dev)
                        && a.overlaps(r.start(), end)).toList();
                if (hit.isEmpty()) continue;
                List<Event> ev = evidence(r.enter(), r.exit());
                hit.forEach(a -> addAccess(ev, a));
                Access first = hit.get(0);
                String where = "the host's " + r.fn() + " was resetting the link below " + r.bridge();
                out.add(Evidence.judge(ep, Verdict.Kind.ACCESS_DURING_RESET, dev, r.start(), resetEnd(r), ev,
                        plural(hit.size(), "user access") + " to " + dev + " by " + who(first) + " (" + listAccesses(hit)
                                + ") ran while " + where + " (" + t(ep, r.start()) + " … "
                                + (r.end() == null ? "end of trace" : t(ep, r.end()))
                                + "): the user touched the device in the middle of the host reset.",
                        "User accesses to " + dev + " by " + who(first) + " (" + listAccesses(hit) + ") ran while " + where
                                + ": the user touched the device in the middle of the host reset; how many is not known."));
            }
        }
    }

    private void stalled(Episode ep, List<HostReset> resets, List<Access> user, List<Verdict> out) {
        for (HostReset r : resets) {
            long end = endOf(ep, r);
            for (Access a : user) {
                // Its start must be in the trace, and its exit too unless it was still open when the trace ended.
                if (!resetCovers(ep, r, a.dev()) || a.enter() == null || a.exitLost()) continue;
                if (a.start() < r.start() || a.start() > end) continue;
                Event lock = lockDuring(ep, r, "lock");
                Event unlock = lockDuring(ep, r, "unlock");
                // Held = released only when the host let go: at the config-access unlock, else the reset's end.
                long release = unlock != null && unlock.ts() >= a.start() ? unlock.ts() : r.end() != null ? r.end() : Long.MAX_VALUE;
                boolean held = a.end() == null || a.end() >= release;
                if (!held) continue;
                List<Event> ev = evidence(r.enter(), r.exit(), lock, unlock);
                addAccess(ev, a);
                String what = a.phrase() + " of " + a.dev() + " by " + who(a);
                String how = lock != null ? " (config space locked by pci_cfg_access_lock)" : "";
                String sentence = a.end() == null
                        ? what + " entered " + dur(a.start() - r.start()) + " into " + r.fn() + " on " + r.bridge()
                          + " and was still blocked when the trace ended" + how + "."
                        : what + " entered " + dur(a.start() - r.start()) + " into " + r.fn() + " on " + r.bridge()
                          + " and was held " + dur(a.end() - a.start()) + " until the reset ended" + how
                          + ", then returned " + value(a) + (a.ret() != null ? " (ret " + a.ret() + ")" : "") + ".";
                String hedged = a.end() == null
                        ? what + " entered during " + r.fn() + " on " + r.bridge() + "; its exit is not in the trace,"
                          + " so whether and how long the reset held it is not known."
                        : what + " entered during " + r.fn() + " on " + r.bridge() + " and returned only after the host"
                          + " let go" + how + "; how long it was held is not known.";
                out.add(Evidence.judge(ep, Verdict.Kind.ACCESS_STALLED_BY_RESET, a.dev(), a.start(), endOrOpen(a), ev,
                        sentence, hedged));
            }
        }
    }

    private static Event lockDuring(Episode ep, HostReset r, String op) {
        for (Event e : ep.events())
            if (e instanceof Event.CfgLock c && op.equals(c.op()) && c.ts() >= r.start()
                    && (r.end() == null || c.ts() <= r.end()) && c.tid() == r.enter().tid()) return e;
        return null;
    }

    private static final long COMMAND_STATE_BITS = 0x0007 | 0x0040 | 0x0100 | 0x0400; // IO MEM MASTER PARITY SERR INTx

    private static Long commandValue(Access a) {
        if (a.value() == null || !TimelineBuilder.coversCommand(a) || a.kind() != Access.Kind.CONFIG_READ) return null;
        return (a.value() >>> (8 * (4 - a.offset()))) & 0xffff;
    }

    private void stateChanged(Episode ep, List<HostReset> resets, List<Access> user, List<Verdict> out) {
        for (HostReset r : resets) {
            long end = endOf(ep, r);
            for (String dev : devicesOf(user)) {
                if (!resetCovers(ep, r, dev)) continue;
                // A value is dated by when the read returned: that is when the device (or vfio) answered.
                Access before = null, after = null;
                for (Access a : user) {
                    if (!a.dev().equals(dev) || a.end() == null || a.enter() == null) continue;
                    Long v = commandValue(a);
                    if (v == null) continue;
                    if (a.end() <= r.start()) { if (before == null || a.end() > before.end()) before = a; }
                    else if (a.end() >= end && (after == null || a.end() < after.end())) after = a;
                }
                if (before == null || after == null) continue;
                long vb = commandValue(before), va = commandValue(after);
                if (va == 0xffff) continue; // nobody answered: that is the all-ones verdict, not a state change
                long cleared = vb & ~va & COMMAND_STATE_BITS;
                if (cleared == 0) continue;
                final Access b0 = before, a0 = after;
                boolean userWrote = user.stream().anyMatch(a -> a.dev().equals(dev) && a.kind() == Access.Kind.CONFIG_WRITE
                        && a.offset() <= 4 && a.offset() + a.size() > 4 && a.start() >= b0.start() && a.start() <= a0.end());
                if (userWrote) continue;
                boolean told = ep.notifications().stream().anyMatch(n -> n.ts() >= end && (n.dev() == null || n.dev().equals(dev)));
                if (told) continue;
                List<Event> ev = evidence(before.enter(), before.exit(), r.enter(), r.exit(), after.enter(), after.exit());
                String bits = Pci.command(cleared).replace("+", "");
                out.add(Evidence.judge(ep, Verdict.Kind.STATE_CHANGED_UNDER_USER, dev, before.end(), after.end(), ev,
                        "COMMAND of " + dev + " read " + String.format("0x%04x", vb) + " (" + Pci.command(vb)
                                + "), returned at " + t(ep, before.end()) + ", and " + String.format("0x%04x", va) + " ("
                                + Pci.command(va) + "), returned at " + t(ep, after.end()) + ": the host's " + r.fn()
                                + " on " + r.bridge() + " cleared " + bits + " under the user, and no notification"
                                + " followed the reset.",
                        "COMMAND of " + dev + " had " + bits + " set in a read that returned before the host's " + r.fn()
                                + " on " + r.bridge() + " and clear in one that returned after it, with no notification"
                                + " seen after the reset; reads or a notification in between may be missing."));
            }
        }
    }

    /** All-ones config reads, per device, counted per register, with the first and last time they returned. */
    private void allOnes(Episode ep, List<Access> user, List<Verdict> out) {
        for (String dev : devicesOf(user)) {
            List<Access> hit = user.stream().filter(a -> a.dev().equals(dev) && a.kind() == Access.Kind.CONFIG_READ
                    && a.start() >= ep.start() && a.value() != null && a.size() > 0 && a.size() <= 4
                    && a.value() == Pci.allOnes(a.size()) && (a.ret() == null || a.ret() > 0)).toList();
            if (hit.isEmpty()) continue;
            List<Event> ev = new ArrayList<>();
            hit.forEach(a -> addAccess(ev, a));
            java.util.Map<String, Integer> perReg = new java.util.TreeMap<>();
            for (Access a : hit) perReg.merge(Phrases.register(a.offset()) + "/" + a.size(), 1, Integer::sum);
            StringBuilder regs = new StringBuilder();
            perReg.forEach((k, n) -> regs.append(regs.length() == 0 ? "" : ", ").append(n).append(" at ").append(k));
            Access f = hit.get(0), l = hit.get(hit.size() - 1);
            long first = f.end() != null ? f.end() : f.start(), last = l.end() != null ? l.end() : l.start();
            boolean during = ep.recoveryEnd() == null || f.start() <= ep.recoveryEnd();
            String when = ep.hasRecovery() ? (during ? "during" : "after") + " the recovery" : "no AER recovery ran";
            out.add(Evidence.judge(ep, Verdict.Kind.ALL_ONES_READ, dev, f.start(), last, ev,
                    plural(hit.size(), "config read") + " of " + dev + " returned all ones (first: " + f.phrase() + " = "
                            + value(f) + "; per register: " + regs + "; first at "
                            + t(ep, first) + ", last at " + t(ep, last) + ", " + when + "): the device did not answer"
                            + " and the user got ~0 instead of an error.",
                    "Config reads of " + dev + " returned all ones (" + String.join(", ", perReg.keySet()) + "; " + when
                            + "): the device did not answer and the user got ~0 instead of an error; how many, and"
                            + " from when to when, is not known."));
        }
    }

    /** A user reset that returned an error before any reset function ran: the kernel refused it. */
    static boolean refused(Episode ep, Access a) {
        if (!a.isReset() || a.ret() == null || a.ret() >= 0 || a.end() == null || a.enter() == null) return false;
        return innerResets(ep, a).isEmpty();
    }

    /** Host reset functions (pcie_reset_flr, pci_reset_secondary_bus, ...) run on the user's thread inside {@code a}. */
    private static List<HostReset> innerResets(Episode ep, Access a) {
        long end = a.end() != null ? a.end() : Long.MAX_VALUE;
        return ep.resets().stream().filter(r -> !r.byRecovery() && r.enter() != null && r.enter().tid() == a.tid()
                && r.start() >= a.start() && r.start() <= end).toList();
    }

    /** The outer request only: pci_try_reset_function inside the user's VFIO_DEVICE_RESET ioctl is the same one. */
    private static boolean innerOfIoctl(List<Access> user, Access a) {
        return a.kind() == Access.Kind.USER_RESET && user.stream().anyMatch(o -> o.kind() == Access.Kind.IOCTL
                && o.isReset() && o.tid() == a.tid() && o.start() <= a.start()
                && (o.end() == null || (a.end() != null && a.end() <= o.end())));
    }

    private static String errno(long ret) {
        return switch ((int) -ret) {
            case 11 -> "EAGAIN";
            case 16 -> "EBUSY";
            case 25 -> "ENOTTY";
            case 22 -> "EINVAL";
            case 1 -> "EPERM";
            case 19 -> "ENODEV";
            default -> "errno " + (-ret);
        };
    }

    private void refusedResets(Episode ep, List<Access> user, List<Verdict> out) {
        for (Access a : user) {
            if (!refused(ep, a) || innerOfIoctl(user, a)) continue;
            boolean inRecovery = ep.hasRecovery() && a.overlaps(ep.recoveryStart() != null ? ep.recoveryStart() : ep.start(),
                    ep.recoveryEnd());
            List<Event> ev = new ArrayList<>();
            addAccess(ev, a);
            for (Access inner : user)
                if (inner != a && inner.kind() == Access.Kind.USER_RESET && inner.tid() == a.tid()
                        && inner.start() >= a.start() && inner.start() <= a.end()) addAccess(ev, inner);
            String e = errno(a.ret());
            out.add(Evidence.judge(ep, Verdict.Kind.USER_RESET_REFUSED, a.dev(), a.start(), a.end(), ev,
                    who(a) + " asked for " + a.name() + " on " + a.dev() + " at " + t(ep, a.start())
                            + (inRecovery ? ", during the host's recovery" : "") + "; the kernel refused with " + e
                            + " (ret " + a.ret() + ") and no reset function ran: the device was not reset by it.",
                    who(a) + " asked for " + a.name() + " on " + a.dev() + (inRecovery ? " during the host's recovery" : "")
                            + "; the kernel refused with " + e + " and no reset function was seen to run."));
        }
    }

    /**
     * The device really reset twice: the user's reset reached a reset function (or returned success) while the
     * host's recovery ran, or within the settle window after it returned.
     */
    private void doubleReset(Episode ep, List<Access> user, List<Verdict> out) {
        if (ep.recoveryStart() == null && !ep.startedMidRecovery()) return;
        long from = ep.recoveryStart() != null ? ep.recoveryStart() : ep.start();
        Long to = ep.recoveryEnd();
        boolean hostReset = !ep.recoveryResets().isEmpty();
        for (Access a : user) {
            if (!a.isReset() || innerOfIoctl(user, a) || refused(ep, a)) continue;
            if (a.end() == null || a.enter() == null) continue; // what it did is not in the trace
            List<HostReset> inner = innerResets(ep, a);
            boolean didReset = !inner.isEmpty() || (a.ret() != null && a.ret() == 0);
            if (!didReset) continue;
            if (!a.overlaps(from, to == null ? null : to + settle(ep))) continue;
            boolean during = to == null || a.start() <= to;
            List<Event> ev = new ArrayList<>();
            addAccess(ev, a);
            for (HostReset r : inner) ev.add(r.enter()); 
            for (HostReset r : inner) if (r.exit() != null) ev.add(r.exit());
            ep.events().stream().filter(e -> e instanceof Event.RecoveryEnter || e instanceof Event.RecoveryExit).forEach(ev::add);
            HostReset how = inner.isEmpty() ? null : inner.get(0);
            String fn = how != null ? how.fn() : a.name();
            String cost = how != null && how.end() != null ? " (" + fn + " took " + dur(how.end() - how.start()) + ")" : "";
            String host = hostReset ? "the host's recovery reset it" : "the host's recovery ran";
            out.add(Evidence.judge(ep, Verdict.Kind.DOUBLE_RESET, a.dev(), from, endOrOpen(a), ev,
                    who(a) + "'s " + a.name() + " reset " + a.dev() + " with " + fn + " at " + t(ep, a.start())
                            + (during ? ", while " + host + " (" + t(ep, from) + " … " + (to == null ? "still running" : t(ep, to)) + ")"
                               : ", " + dur(a.start() - to) + " after " + host + " and returned")
                            + cost + ": the device was reset twice, and what the recovery restored was lost again.",
                    who(a) + "'s " + a.name() + " reset " + a.dev() + " with " + fn + (during ? " while " + host
                            : " after " + host) + ": the device was reset twice, and what the recovery restored was"
                            + " lost again."));
        }
    }

    private long settle = 2_000_000_000L;

    private long settle(Episode ep) { return settle; }

    private void recoveryWindow(Episode ep, List<HostReset> resets, List<Access> user, List<Verdict> out) {
        for (String dev : devicesOf(user)) {
            long from = Long.MAX_VALUE;
            Long to = null;
            CallbackCall det = null, res = null;
            for (CallbackCall c : ep.callbacks()) {
                if (!c.dev().equals(dev)) continue;
                if (c.cb() == Event.Callback.ERROR_DETECTED && c.start() < from) { from = c.start(); det = c; }
                if (c.cb() == Event.Callback.RESUME && c.end() != null) { to = c.end(); res = c; }
            }
            if (det == null) continue;
            // Only a frozen (or failed) channel is off-limits: on a non-fatal error the kernel tells drivers that
            // I/O still works (pci_channel_io_normal) and there is nothing vfio would have to block.
            boolean frozen = det.state() != null ? det.state() >= 2 : ep.fatal();
            if (!frozen) continue;
            if (res == null) to = ep.recoveryEnd();
            final long f = from;
            final Long tt = to;
            List<Access> hit = user.stream().filter(a -> a.dev().equals(dev) && a.overlaps(f, tt) && !a.isReset()
                    && resets.stream().noneMatch(r -> resetCovers(ep, r, dev) && a.overlaps(r.start(), endOf(ep, r)))).toList();
            if (hit.isEmpty()) continue;
            List<Event> ev = evidence(det.enter(), res != null ? res.exit() : null);
            hit.forEach(a -> addAccess(ev, a));
            String until = res != null ? "resume" : "the end of recovery";
            out.add(Evidence.judge(ep, Verdict.Kind.ACCESS_IN_RECOVERY_WINDOW, dev, from, to == null ? Long.MAX_VALUE : to, ev,
                    plural(hit.size(), "user access") + " to " + dev + " (" + listAccesses(hit) + ") happened while its"
                            + " channel was frozen, between error_detected (" + t(ep, from) + ") and " + until
                            + " (" + (to == null ? "never" : t(ep, to)) + "), the window vfio-pci would have to block"
                            + " for the host recovery to be safe.",
                    "User accesses to " + dev + " (" + listAccesses(hit) + ") happened while its channel was frozen,"
                            + " between error_detected and " + until + ", the window vfio-pci would have to block for"
                            + " the host recovery to be safe; how many is not known."));
        }
    }

    /**
     * Per device: only when the user then acted on that device before the reset was over: an early notification
     * nobody reacted to changed nothing, one that was acted on is the cause of the races above.
     */
    private void notifiedEarly(Episode ep, List<HostReset> resets, List<Access> user, List<Verdict> out) {
        if (resets.isEmpty()) return;
        HostReset r = resets.get(0);
        long end = endOf(ep, r);
        Set<String> done = new java.util.HashSet<>();
        for (Notification n : ep.notifications()) {
            if (n.ts() >= r.start()) continue;
            String dev = n.dev() != null ? n.dev() : ep.device();
            if (!done.add(dev)) continue;
            Access acted = user.stream().filter(a -> a.start() >= n.ts() && a.start() <= end
                    && (n.dev() == null || a.dev().equals(n.dev()))).findFirst().orElse(null);
            if (acted == null) { done.remove(dev); continue; }
            out.add(Evidence.judge(ep, Verdict.Kind.NOTIFIED_BEFORE_RESET, dev, n.ts(), acted.start(),
                    withAccess(evidence(n.event(), r.enter(), r.exit()), acted),
                    "vfio-pci signalled the error eventfd" + (n.dev() != null ? " of " + n.dev() : "") + " at "
                            + t(ep, n.ts()) + ", " + dur(r.start() - n.ts()) + " before the host's " + r.fn() + " on "
                            + r.bridge() + " started: the user was invited to recover while the host was about to reset"
                            + " the link under it (the user acted at " + t(ep, acted.start()) + ": " + acted.phrase() + ").",
                    "vfio-pci signalled the error eventfd" + (n.dev() != null ? " of " + n.dev() : "") + " before the"
                            + " host's " + r.fn() + " on " + r.bridge() + " started, and the user acted on the device"
                            + " before the reset ended: it was invited to recover while the host was about to reset the"
                            + " link under it; when it first acted is not known."));
        }
    }

    private void aerStatusCleared(Episode ep, TraceHeader header, List<Access> user, List<Verdict> out) {
        for (Event.AerError err : ep.errors()) {
            if (err.status() == 0) continue;
            boolean cor = err.severity() == 2;
            // The device's own AER offset from the header when the agent read it; --aer-cap (0x100) otherwise.
            long cap = header == null ? opt.aerCapOffset() : header.topology().get(err.dev())
                    .map(Topology.PciDevice::aerCap).map(Integer::longValue).orElse(opt.aerCapOffset());
            long reg = cap + (cor ? 0x10 : 0x04);
            for (Access a : user) {
                if (!a.dev().equals(err.dev()) || a.kind() != Access.Kind.CONFIG_READ || a.value() == null || a.end() == null) continue;
                if (a.start() < err.ts() || a.offset() > reg || a.offset() + a.size() < reg + 4) continue;
                long v = (a.value() >>> (8 * (reg - a.offset()))) & 0xffffffffL;
                if (v == 0xffffffffL || (v & err.status()) != 0) continue;
                List<Event> ev = evidence(err);
                addAccess(ev, a);
                String kind = cor ? "Correctable" : "Uncorrectable";
                out.add(Evidence.judge(ep, Verdict.Kind.AER_STATUS_CLEARED_BEFORE_READ, a.dev(), err.ts(), a.end(), ev,
                        who(a) + " read the AER " + kind + " Error Status of " + a.dev()
                                + String.format(" (0x%x), returned at %s: 0x%08x", reg, t(ep, a.end()), v)
                                + ", but the error at " + t(ep, err.ts()) + " had logged "
                                + Pci.aerStatus(err.severity(), err.status())
                                + ": the kernel had cleared the status before the user looked.",
                        who(a) + " read the AER " + kind + " Error Status of " + a.dev() + String.format(" (0x%x)", reg)
                                + " after the error and none of the logged bits (" + Pci.aerStatus(err.severity(), err.status())
                                + ") were set: the kernel had cleared the status before the user looked; an earlier"
                                + " read may be missing."));
                break;
            }
        }
    }

    /** The device went away (removal, hotplug link down, vfio's request to release it), when the agent saw it. */
    private void removed(Episode ep, List<Verdict> out) {
        for (Event e : ep.events()) {
            if (!(e instanceof Event.DeviceGone g)) continue;
            out.add(Evidence.judge(ep, Verdict.Kind.DEVICE_REMOVED, g.dev(), g.ts(), g.ts(), List.of(g),
                    g.dev() + ": " + g.what() + " at " + t(ep, g.ts()) + ".",
                    g.dev() + ": " + g.what() + "."));
        }
    }

    private void recoveryFailed(Episode ep, List<Verdict> out) {
        // pcie_do_recovery's return value alone is not trusted: on its "failed:" path it returns whatever status
        // the callbacks left (CAN_RECOVER on 5.10-6.12, RECOVERED on 7.2 where mmio_enabled runs before the
        // reset), so a failed reset or a perm_failure notification also marks the recovery failed.
        if (ep.recoveryEnd() == null || ep.result() == null) return;
        List<Event> ev = new ArrayList<>();
        for (Event e : ep.events()) if (e instanceof Event.RecoveryEnter || e instanceof Event.RecoveryExit) ev.add(e);
        List<String> votes = new ArrayList<>();
        for (HostReset r : ep.resets()) {
            if (!r.byRecovery() || r.ret() == null || r.exit() == null) continue;
            // aer_root_reset / dpc_reset_link return a pci_ers_result, the others an errno.
            boolean ers = r.fn().equals("aer_root_reset") || r.fn().equals("dpc_reset_link");
            if (ers ? r.ret() != 5 : r.ret() < 0) {
                ev.add(r.exit());
                votes.add(r.fn() + " on " + r.bridge() + " returned " + (ers ? Pci.ers((int) (long) r.ret()) : String.valueOf(r.ret())));
            }
        }
        for (CallbackCall c : ep.callbacks()) {
            if (c.result() != null && (c.result() == 4 || c.result() == 6) && c.exit() != null) {
                ev.add(c.exit());
                votes.add(c.dev() + " " + c.cb().wire + " → " + Pci.ers(c.result()));
            }
            if (c.state() != null && c.state() == 3 && c.enter() != null) {
                ev.add(c.enter());
                votes.add(c.driver() + " on " + c.dev() + " told perm_failure");
            }
        }
        if (ep.result() == 5 && votes.isEmpty()) return;
        long from = ep.recoveryStart() != null ? ep.recoveryStart() : ep.start();
        String sentence = ep.result() == 5
                ? "pcie_do_recovery for " + ep.recoveryDev() + " returned RECOVERED at " + t(ep, ep.recoveryEnd())
                        + " although " + String.join("; ", votes) + ": the return value is the status an earlier"
                        + " callback left, the recovery failed and the devices below " + ep.bridge()
                        + " were not recovered."
                : "pcie_do_recovery for " + ep.recoveryDev() + " returned " + Pci.ers(ep.result()) + " at "
                        + t(ep, ep.recoveryEnd()) + (votes.isEmpty() ? "" : " (" + String.join("; ", votes) + ")")
                        + ": the kernel gave up and the devices below " + ep.bridge() + " were not recovered.";
        String hedged = "pcie_do_recovery for " + ep.recoveryDev() + " returned " + Pci.ers(ep.result())
                + (votes.isEmpty() ? "" : " (" + String.join("; ", votes) + ")")
                + ": the recovery failed and the devices below " + ep.bridge() + " were not recovered.";
        out.add(Evidence.judge(ep, Verdict.Kind.RECOVERY_FAILED, ep.recoveryDev(), from, ep.recoveryEnd(), ev, sentence, hedged));
    }

    private void notReset(Episode ep, TraceHeader header, List<Verdict> out) {
        if (!ep.fatal() || ep.recoveryEnd() == null) return;
        List<HostReset> all = ep.resets().stream().filter(HostReset::byRecovery).toList();
        Set<String> notReset = new TreeSet<>();
        for (String d : ep.affected()) {
            boolean bridge = header != null && header.topology().get(d).map(x -> x.bridge()).orElse(d.equals(ep.bridge()));
            if (bridge || d.equals(ep.bridge())) continue;
            boolean covered = all.stream().anyMatch(r -> r.bridge().equals(d)
                    || (header != null && header.topology().covers(r.bridge(), d))
                    || (header == null || header.topology().isEmpty()));
            if (!covered) notReset.add(d);
        }
        if (notReset.isEmpty()) return;
        List<Event> ev = new ArrayList<>();
        ep.errors().stream().limit(1).forEach(ev::add);
        ep.events().stream().filter(e -> e instanceof Event.RecoveryEnter || e instanceof Event.RecoveryExit).forEach(ev::add);
        all.forEach(r -> { if (r.enter() != null) ev.add(r.enter()); });
        String s = "After the fatal error on " + ep.device() + ", " + (all.isEmpty() ? "no host reset ran" :
                "the host reset (" + all.get(0).fn() + " on " + all.get(0).bridge() + ") did not cover")
                + " " + String.join(", ", notReset) + ": " + (notReset.size() == 1 ? "its" : "their")
                + " state after the recovery is whatever the error left.";
        long from = ep.recoveryStart() != null ? ep.recoveryStart() : ep.start();
        out.add(Evidence.judge(ep, Verdict.Kind.DEVICE_NOT_RESET, String.join(",", notReset), from, ep.recoveryEnd(), ev,
                s, s.replace("no host reset ran", "no host reset was seen")));
    }

    /** Every gap that meets the episode's window, named; null when there is none. */
    private Verdict inconclusive(Episode ep, List<Verdict> verdicts) {
        java.util.LinkedHashSet<TraceGap> set = new java.util.LinkedHashSet<>(Evidence.against(ep, ep.start(), ep.end()));
        for (Verdict v : verdicts) set.addAll(v.gaps());
        if (set.isEmpty()) return null;
        List<TraceGap> gaps = Evidence.keep(new ArrayList<>(set));
        List<Event> ev = new ArrayList<>();
        for (Event g : ep.gaps()) if (ev.size() < opt.maxEvidence()) ev.add(g);
        boolean confident = verdicts.stream().anyMatch(v -> !v.tentative());
        String sentence = (confident ? "Only the verdicts not marked tentative are confident for the error on "
                : "No confident verdict for the error on ") + ep.device() + ": " + Evidence.name(gaps) + ".";
        return new Verdict(Verdict.Kind.INCONCLUSIVE, ep.device(), sentence, sorted(ev), false, List.copyOf(gaps),
                ep.start(), ep.end());
    }

    private static Set<String> devicesOf(List<Access> as) {
        Set<String> s = new TreeSet<>();
        for (Access a : as) if (a.dev() != null) s.add(a.dev());
        return s;
    }

    private static List<Event> sorted(List<Event> ev) {
        List<Event> out = new ArrayList<>(new LinkedHashSet<>(ev));
        out.sort(Comparator.comparingLong(Event::ts).thenComparingLong(Event::line));
        return List.copyOf(out);
    }
}
