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

/**
 * Verdicts of a user's access against the host's reset and recovery: during the reset, stalled by it, the device
 * state it changed, accesses in the recovery window, a notification sent before the reset.
 */
final class ResetRaces extends VerdictRules {
    ResetRaces(RaceDetector.Options opt) { super(opt); }

    /**
     * Set by {@link RaceDetector} for each episode: its accesses are in start order (the timeline sorts them), and so
     * is every list of them a rule is given, so a scan for accesses that start by some time may stop at the first that
     * starts later. Checked, not assumed: an episode built another way scans to the end.
     */
    boolean byStart;

    void duringReset(Episode ep, List<HostReset> resets, List<Access> user, List<Verdict> out) {
        for (HostReset r : resets) {
            long end = endOf(ep, r);
            for (String dev : devicesOf(user)) {
                if (!resetCovers(ep, r, dev)) continue;
                List<Access> hit = overlapping(user, dev, r.start(), end, byStart);
                if (!hit.isEmpty()) out.add(duringResetVerdict(ep, r, dev, hit));
            }
        }
    }

    /**
     * The accesses to {@code dev} overlapping [from, to]. The per-access loops of the verdicts sit in small methods of
     * their own, apart from the sentences: with the loop inside it, C2 compiled access-during-reset four times at 3 M
     * events (0.9 s of compile CPU), its sentence building inlined each time.
     */
    private static List<Access> overlapping(List<Access> user, String dev, long from, Long to, boolean byStart) {
        List<Access> hit = new ArrayList<>();
        for (Access a : user) {
            if (byStart && to != null && a.start() > to) break; // this and every later one start after the span
            if (a.dev().equals(dev) && a.overlaps(from, to)) hit.add(a);
        }
        return hit;
    }

    private Verdict duringResetVerdict(Episode ep, HostReset r, String dev, List<Access> hit) {
        List<Event> ev = evidence(r.enter(), r.exit());
        hit.forEach(a -> addAccess(ev, a));
        Access first = hit.get(0);
        String where = "the host's " + r.fn() + " was resetting the link below " + r.bridge();
        // An access whose exit was lost counts here only up to where its thread went on (Access.endBy),
        // and the timeline keeps a gap over that span: a damaged exit line makes this tentative.
        return Evidence.judge(ep, Verdict.Kind.ACCESS_DURING_RESET, dev, r.start(), resetEnd(r), ev,
                plural(hit.size(), "user access") + " to " + dev + " by " + who(first) + " (" + listAccesses(hit)
                        + ") ran while " + where + " (" + t(ep, r.start()) + " … "
                        + (r.end() == null ? "end of trace" : t(ep, r.end()))
                        + "): the user touched the device in the middle of the host reset.",
                "User accesses to " + dev + " by " + who(first) + " (" + listAccesses(hit) + ") ran while " + where
                        + ": the user touched the device in the middle of the host reset; how many is not known.");
    }

    /** The access overlaps one of the resets that cover {@code dev}. */
    private static boolean inReset(Episode ep, List<HostReset> resets, String dev, Access a) {
        for (HostReset r : resets) if (resetCovers(ep, r, dev) && a.overlaps(r.start(), endOf(ep, r))) return true;
        return false;
    }

    void stalled(Episode ep, List<HostReset> resets, List<Access> user, List<Verdict> out) {
        for (HostReset r : resets) {
            long end = endOf(ep, r);
            Event lock = null, unlock = null;
            boolean looked = false; // the reset's lock calls: looked up once (a scan of the episode), when an access needs them
            String coveredDev = null; // the last device resetCovers said yes to: runs of one device ask once
            for (Access a : user) {
                if (byStart && a.start() > end) break; // this and every later one start after the reset
                // Its start must be in the trace, and its exit too unless it was still open when the trace ended, or
                // kept apart from it by a gap (unpaired): then it returned at the latest at that exit, and whether the
                // reset held it is not known — a tentative verdict, where it had vanished (a footer that did not add
                // up refused every pair, and the stall with them).
                if (a.enter() == null || (a.exitLost() && !a.unpaired())) continue;
                if (!a.dev().equals(coveredDev)) {
                    if (!resetCovers(ep, r, a.dev())) continue;
                    coveredDev = a.dev();
                }
                if (a.start() < r.start() || a.start() > end) continue;
                if (!looked) {
                    lock = lockDuring(ep, r, "lock");
                    unlock = lockDuring(ep, r, "unlock");
                    looked = true;
                }
                // Held = released only when the host let go: at the config-access unlock, else the reset's end.
                long release = unlock != null && unlock.ts() >= a.start() ? unlock.ts() : r.end() != null ? r.end() : Long.MAX_VALUE;
                Long last = a.end() != null ? a.end() : a.endBy();
                boolean held = last == null || last >= release;
                if (!held) continue;
                out.add(stalledVerdict(ep, r, a, lock, unlock, last));
            }
        }
    }

    /**
     * The verdict's words, apart from the per-access loop above: the JIT compiles that loop often (every episode,
     * every access) and its size, sentence building inlined, made the largest compilations of the run.
     */
    private Verdict stalledVerdict(Episode ep, HostReset r, Access a, Event lock, Event unlock, Long last) {
        List<Event> ev = evidence(r.enter(), r.exit(), lock, unlock);
        addAccess(ev, a);
        String what = a.phrase() + " of " + a.dev() + " by " + who(a);
        String how = lock != null ? " (config space locked by pci_cfg_access_lock)" : "";
        String apart = what + " entered during " + r.fn() + " on " + r.bridge() + "; its exit is kept apart from it by"
                + " a gap, so whether and how long the reset held it is not known.";
        String sentence = a.unpaired() ? apart : a.end() == null
                ? what + " entered " + dur(a.start() - r.start()) + " into " + r.fn() + " on " + r.bridge()
                  + " and was still blocked when the trace ended" + how + "."
                : what + " entered " + dur(a.start() - r.start()) + " into " + r.fn() + " on " + r.bridge()
                  + " and was held " + dur(a.end() - a.start()) + " until the reset ended" + how
                  + ", then returned " + value(a) + (a.ret() != null ? " (ret " + a.ret() + ")" : "") + ".";
        String hedged = a.unpaired() ? apart : a.end() == null
                ? what + " entered during " + r.fn() + " on " + r.bridge() + "; its exit is not in the trace,"
                  + " so whether and how long the reset held it is not known."
                : what + " entered during " + r.fn() + " on " + r.bridge() + " and returned only after the host"
                  + " let go" + how + "; how long it was held is not known.";
        return Evidence.judge(ep, Verdict.Kind.ACCESS_STALLED_BY_RESET, a.dev(), a.start(), last != null ? last : Long.MAX_VALUE, ev,
                sentence, hedged);
    }

    private static Event lockDuring(Episode ep, HostReset r, String op) {
        for (Event e : ep.steps())
            if (e instanceof Event.CfgLock c && op.equals(c.op()) && c.ts() >= r.start()
                    && (r.end() == null || c.ts() <= r.end()) && c.tid() == r.enter().tid()) return e;
        return null;
    }

    private static final long COMMAND_STATE_BITS = 0x0007 | 0x0040 | 0x0100 | 0x0400; // IO MEM MASTER PARITY SERR INTx

    private static Long commandValue(Access a) {
        if (a.value() == null || !TimelineBuilder.coversCommand(a) || a.kind() != Access.Kind.CONFIG_READ) return null;
        return (a.value() >>> (8 * (4 - a.offset()))) & 0xffff;
    }

    void stateChanged(Episode ep, List<HostReset> resets, List<Access> user, List<Verdict> out) {
        for (HostReset r : resets) {
            long end = endOf(ep, r);
            for (String dev : devicesOf(user)) {
                if (!resetCovers(ep, r, dev)) continue;
                // A value is dated by when the read returned: that is when the device (or vfio) answered.
                Access before = null, after = null;
                for (Access a : user) {
                    // A read's value is dated by its exit alone: one kept apart from its enter by a gap still
                    // returned that value then (an exit without any enter may be a damaged line: not used).
                    if (!a.dev().equals(dev) || a.end() == null || (a.enter() == null && !a.unpaired())) continue;
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
                if (userWroteCommand(user, dev, before, after, byStart)) continue;
                if (notifiedAfter(ep, dev, end)) continue;
                out.add(stateChangedVerdict(ep, r, dev, before, after, vb, va, cleared));
            }
        }
    }

    /** The user itself wrote COMMAND between the two reads: its own write, not the reset, may have cleared the bits. */
    private static boolean userWroteCommand(List<Access> user, String dev, Access before, Access after, boolean byStart) {
        for (Access a : user) {
            if (byStart && a.start() > after.end()) break; // this and every later one start after the second read
            if (a.dev().equals(dev) && a.kind() == Access.Kind.CONFIG_WRITE && a.offset() <= 4 && a.offset() + a.size() > 4
                    && a.start() >= before.start() && a.start() <= after.end()) return true;
        }
        return false;
    }

    private static boolean notifiedAfter(Episode ep, String dev, long end) {
        for (Notification n : ep.notifications()) if (n.ts() >= end && (n.dev() == null || n.dev().equals(dev))) return true;
        return false;
    }

    /** The words, apart from the scan (see {@link #stalledVerdict}). */
    private Verdict stateChangedVerdict(Episode ep, HostReset r, String dev, Access before, Access after, long vb, long va,
                                        long cleared) {
        List<Event> ev = evidence(before.enter(), before.exit(), r.enter(), r.exit(), after.enter(), after.exit());
        String bits = Pci.command(cleared).replace("+", "");
        return Evidence.judge(ep, Verdict.Kind.STATE_CHANGED_UNDER_USER, dev, before.end(), after.end(), ev,
                "COMMAND of " + dev + " read " + String.format("0x%04x", vb) + " (" + Pci.command(vb)
                        + "), returned at " + t(ep, before.end()) + ", and " + String.format("0x%04x", va) + " ("
                        + Pci.command(va) + "), returned at " + t(ep, after.end()) + ": the host's " + r.fn()
                        + " on " + r.bridge() + " cleared " + bits + " under the user, and no notification"
                        + " followed the reset.",
                "COMMAND of " + dev + " had " + bits + " set in a read that returned before the host's " + r.fn()
                        + " on " + r.bridge() + " and clear in one that returned after it, with no notification"
                        + " seen after the reset; reads or a notification in between may be missing.");
    }

    void recoveryWindow(Episode ep, List<HostReset> resets, List<Access> user, List<Verdict> out) {
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
            List<Access> hit = outsideResets(ep, resets, user, dev, from, to, byStart);
            if (!hit.isEmpty()) out.add(recoveryWindowVerdict(ep, dev, det, res, from, to, hit));
        }
    }

    /** The accesses to {@code dev} overlapping [from, to], but for user resets and those a covering reset overlaps. */
    private static List<Access> outsideResets(Episode ep, List<HostReset> resets, List<Access> user, String dev, long from, Long to,
                                              boolean byStart) {
        List<Access> hit = overlapping(user, dev, from, to, byStart);
        hit.removeIf(a -> a.isReset() || inReset(ep, resets, dev, a));
        return hit;
    }

    private Verdict recoveryWindowVerdict(Episode ep, String dev, CallbackCall det, CallbackCall res, long from, Long to,
                                          List<Access> hit) {
        List<Event> ev = evidence(det.enter(), res != null ? res.exit() : null);
        hit.forEach(a -> addAccess(ev, a));
        String until = res != null ? "resume" : "the end of recovery";
        return Evidence.judge(ep, Verdict.Kind.ACCESS_IN_RECOVERY_WINDOW, dev, from, to == null ? Long.MAX_VALUE : to, ev,
                plural(hit.size(), "user access") + " to " + dev + " (" + listAccesses(hit) + ") happened while its"
                        + " channel was frozen, between error_detected (" + t(ep, from) + ") and " + until
                        + " (" + (to == null ? "never" : t(ep, to)) + "), the window vfio-pci would have to block"
                        + " for the host recovery to be safe.",
                "User accesses to " + dev + " (" + listAccesses(hit) + ") happened while its channel was frozen,"
                        + " between error_detected and " + until + ", the window vfio-pci would have to block for"
                        + " the host recovery to be safe; how many is not known.");
    }

    /**
     * Per device: only when the user then acted on that device before the reset was over: an early notification
     * nobody reacted to changed nothing, one that was acted on is the cause of the races above.
     */
    void notifiedEarly(Episode ep, List<HostReset> resets, List<Access> user, List<Verdict> out) {
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
            out.add(Evidence.judge(ep, Verdict.Kind.NOTIFIED_BEFORE_RESET, dev, n.ts(), Math.max(acted.start(), r.start()), // the sentence names both
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
}
