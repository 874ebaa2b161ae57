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
 * Verdicts about the device and the recovery's result: all-ones reads, refused and double resets, the AER status
 * left set, removal, a failed recovery, a device that was not reset.
 */
final class DeviceVerdicts extends VerdictRules {
    DeviceVerdicts(RaceDetector.Options opt) { super(opt); }

    /** The loop apart from the sentences (see ResetRaces.overlapping: what C2 compiles with it). */
    private static List<Access> allOnesReads(Episode ep, List<Access> user, String dev) {
        List<Access> hit = new ArrayList<>();
        for (Access a : user)
            if (a.dev().equals(dev) && a.kind() == Access.Kind.CONFIG_READ && a.start() >= ep.start() && a.value() != null
                    && a.size() > 0 && a.size() <= 4 && a.value() == Pci.allOnes(a.size()) && (a.ret() == null || a.ret() > 0))
                hit.add(a);
        return hit;
    }

    /** All-ones config reads, per device, counted per register, with the first and last time they returned. */
    void allOnes(Episode ep, List<Access> user, List<Verdict> out) {
        for (String dev : devicesOf(user)) {
            List<Access> hit = allOnesReads(ep, user, dev);
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
            // The count, the first and the last are of every such read in the episode: a gap anywhere in it (the
            // trace cut after the last one seen) could change them, not only one between the first and the last
            // (fuzz long run, seed 501 mutant 1889: a cut trace said "16 reads ... last at" confidently).
            out.add(Evidence.judge(ep, Verdict.Kind.ALL_ONES_READ, dev, Math.min(ep.start(), f.start()), Math.max(ep.end(), last), ev,
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

    void refusedResets(Episode ep, List<Access> user, List<Verdict> out) {
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
            Access close = closedBefore(ep, a);
            if (close != null) {
                // Not a request of the user: vfio-pci resets a device on its release when it can (close_device ->
                // vfio_pci_core_disable -> vfio_pci_dev_set_try_reset -> pci_reset_bus; vfio_pci_try_bus_reset <= 5.x).
                addAccess(ev, close);
                out.add(Evidence.judge(ep, Verdict.Kind.USER_RESET_REFUSED, a.dev(), a.start(), a.end(), ev,
                        "vfio-pci's release of " + close.dev() + " (" + who(close) + " closed it at " + t(ep, close.start())
                                + "; the reset ran on the same thread, outside any ioctl) tried " + a.name() + " at "
                                + t(ep, a.start()) + (inRecovery ? ", during the host's recovery" : "")
                                + ": the user did not ask for it; the kernel refused with " + e + " (ret " + a.ret()
                                + ") and no reset function ran: the device was not reset on release.",
                        "vfio-pci's release of " + close.dev() + " (" + who(close) + " closed it) tried " + a.name()
                                + (inRecovery ? " during the host's recovery" : "") + ": the user did not ask for it;"
                                + " the kernel refused with " + e + " and no reset function was seen to run."));
                continue;
            }
            out.add(Evidence.judge(ep, Verdict.Kind.USER_RESET_REFUSED, a.dev(), a.start(), a.end(), ev,
                    who(a) + " asked for " + a.name() + " on " + a.dev() + " at " + t(ep, a.start())
                            + (inRecovery ? ", during the host's recovery" : "") + "; the kernel refused with " + e
                            + " (ret " + a.ret() + ") and no reset function ran: the device was not reset by it.",
                    who(a) + " asked for " + a.name() + " on " + a.dev() + (inRecovery ? " during the host's recovery" : "")
                            + "; the kernel refused with " + e + " and no reset function was seen to run."));
        }
    }

    /**
     * The user's close of a device, when it is the last thing its thread did before the reset {@code a} (and the reset
     * is in no ioctl): the reset is vfio-pci's own, run while it releases the device, not one the user asked for.
     */
    private static Access closedBefore(Episode ep, Access a) {
        Access last = null;
        for (Access o : ep.accesses()) {
            if (o == a || o.tid() != a.tid() || o.start() > a.start() || o.kind() == Access.Kind.USER_RESET) continue;
            if (last == null || o.start() >= last.start()) last = o;
        }
        return last != null && last.kind() == Access.Kind.CLOSE ? last : null;
    }

    /**
     * The device really reset twice: the user's reset reached a reset function (or returned success) while the
     * host's recovery ran, or within the settle window after it returned.
     */
    void doubleReset(Episode ep, List<Access> user, List<Verdict> out) {
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
            ep.steps().stream().filter(e -> e instanceof Event.RecoveryEnter || e instanceof Event.RecoveryExit).forEach(ev::add);
            HostReset how = inner.isEmpty() ? null : inner.get(0);
            String fn = how != null ? how.fn() : a.name();
            String cost = how != null && how.end() != null ? " (" + fn + " took " + dur(how.end() - how.start()) + ")" : "";
            String host = hostReset ? "the host's recovery reset it" : "the host's recovery ran";
            // The sentence states when the recovery ended (or that it was still running): that is in the span too.
            long until = during ? Math.max(endOrOpen(a), to == null ? Long.MAX_VALUE : to) : endOrOpen(a);
            out.add(Evidence.judge(ep, Verdict.Kind.DOUBLE_RESET, a.dev(), from, until, ev,
                    who(a) + "'s " + a.name() + " reset " + a.dev() + " with " + fn + " at " + t(ep, a.start())
                            + (during ? ", while " + host + " (" + t(ep, from) + " … " + (to == null ? "still running" : t(ep, to)) + ")"
                               : ", " + dur(a.start() - to) + " after " + host + " and returned")
                            + cost + ": the device was reset twice, and what the recovery restored was lost again.",
                    who(a) + "'s " + a.name() + " reset " + a.dev() + " with " + fn + (during ? " while " + host
                            : " after " + host) + ": the device was reset twice, and what the recovery restored was"
                            + " lost again."));
        }
    }

    void aerStatusCleared(Episode ep, TraceHeader header, List<Access> user, List<Verdict> out) {
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
    void removed(Episode ep, List<Verdict> out) {
        for (Event e : ep.steps()) {
            if (!(e instanceof Event.DeviceGone g)) continue;
            out.add(Evidence.judge(ep, Verdict.Kind.DEVICE_REMOVED, g.dev(), g.ts(), g.ts(), List.of(g),
                    g.dev() + ": " + g.what() + " at " + t(ep, g.ts()) + ".",
                    g.dev() + ": " + g.what() + "."));
        }
    }

    void recoveryFailed(Episode ep, List<Verdict> out) {
        // pcie_do_recovery's return value alone is not trusted: on its "failed:" path it returns whatever status
        // the callbacks left (CAN_RECOVER on 5.10-6.12, RECOVERED on 7.2 where mmio_enabled runs before the
        // reset), so a failed reset or a perm_failure notification also marks the recovery failed.
        if (ep.recoveryEnd() == null || ep.result() == null) return;
        List<Event> ev = new ArrayList<>();
        for (Event e : ep.steps()) if (e instanceof Event.RecoveryEnter || e instanceof Event.RecoveryExit) ev.add(e);
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

    void notReset(Episode ep, TraceHeader header, List<Verdict> out) {
        if (!ep.fatal() || ep.recoveryEnd() == null) return;
        List<HostReset> all = ep.resets().stream().filter(HostReset::byRecovery).toList();
        Set<String> notReset = new TreeSet<>();
        for (String d : ep.affected()) {
            boolean bridge = header != null && header.topology().get(d).map(x -> x.bridge()).orElse(d.equals(ep.bridge()));
            if (bridge || d.equals(ep.bridge())) continue;
            // Which resets cover a device the header's topology does not list is not known (a damaged name, or a
            // device that appeared after the agent started): no verdict rather than a guess.
            if (header != null && !header.topology().isEmpty() && header.topology().get(d).isEmpty()) continue;
            boolean covered = all.stream().anyMatch(r -> r.bridge().equals(d)
                    || (header != null && header.topology().covers(r.bridge(), d))
                    || (header == null || header.topology().isEmpty()));
            if (!covered) notReset.add(d);
        }
        if (notReset.isEmpty()) return;
        List<Event> ev = new ArrayList<>();
        ep.errors().stream().limit(1).forEach(ev::add);
        ep.steps().stream().filter(e -> e instanceof Event.RecoveryEnter || e instanceof Event.RecoveryExit).forEach(ev::add);
        all.forEach(r -> { if (r.enter() != null) ev.add(r.enter()); });
        String s = "After the fatal error on " + ep.device() + ", " + (all.isEmpty() ? "no host reset ran" :
                "the host reset (" + all.get(0).fn() + " on " + all.get(0).bridge() + ") did not cover")
                + " " + String.join(", ", notReset) + ": " + (notReset.size() == 1 ? "its" : "their")
                + " state after the recovery is whatever the error left.";
        long from = ep.recoveryStart() != null ? ep.recoveryStart() : ep.start();
        out.add(Evidence.judge(ep, Verdict.Kind.DEVICE_NOT_RESET, String.join(",", notReset), from, ep.recoveryEnd(), ev,
                s, s.replace("no host reset ran", "no host reset was seen")));
    }
}
