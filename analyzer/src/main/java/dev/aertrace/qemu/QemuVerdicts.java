package dev.aertrace.qemu;

import dev.aertrace.timeline.QemuLane;
import dev.aertrace.ingest.Event;
import dev.aertrace.ingest.QemuEvents;
import dev.aertrace.ingest.TraceGap;
import dev.aertrace.race.AnalyzedEpisode;
import dev.aertrace.race.Evidence;
import dev.aertrace.pci.Pci;
import dev.aertrace.race.Verdict;
import dev.aertrace.timeline.Episode;
import dev.aertrace.timeline.HostReset;
import dev.aertrace.timeline.Notification;

import java.util.ArrayList;
import java.util.List;

import static dev.aertrace.text.Durations.dur;
import static dev.aertrace.text.Durations.rel;

/**
 * Verdicts about QEMU in one episode, judged by the rule of evidence ({@link Evidence}) like the host's:
 * {@code vm-stopped} (QEMU stopped the VM on vfio's error notification — the same verdict the post-mortem path
 * gives from QEMU's log, here from its vm_stop uprobe, with the host's recovery beside it) and
 * {@code guest-access-during-reset} (a guest access QEMU passed to the device while the host reset it).
 */
final class QemuVerdicts {
    private QemuVerdicts() {}

    static final int MAX_EVIDENCE = 40;

    static List<Verdict> of(AnalyzedEpisode a, QemuLane lane, List<TraceGap> extra) {
        List<Verdict> out = new ArrayList<>();
        vmStopped(a, lane, extra, out);
        guestDuringReset(a, lane, extra, out);
        return out;
    }

    static String who(QemuLane lane) {
        return "QEMU (pid " + lane.pid() + ", " + lane.comm() + ")";
    }

    /** The first error notification of the lane's devices (the eventfd vfio signals from error_detected). */
    static Notification notification(Episode ep, QemuLane lane) {
        for (Notification n : ep.notifications()) if (n.dev() == null || lane.devices().contains(n.dev())) return n;
        return null;
    }

    private static void vmStopped(AnalyzedEpisode a, QemuLane lane, List<TraceGap> extra, List<Verdict> out) {
        Episode ep = a.episode();
        Notification n = notification(ep, lane);
        QemuEvents.RunState stop = lane.internalErrorStop(n != null ? n.ts() : ep.start());
        if (stop == null || stop.ts() > lane.to()) return;
        String dev = n != null && n.dev() != null ? n.dev() : lane.devices().get(0);
        boolean failed = a.verdicts().stream().anyMatch(v -> v.kind() == Verdict.Kind.RECOVERY_FAILED);
        Long rend = ep.recoveryEnd();
        boolean recovered = rend != null && ep.result() != null && ep.result() == 5 && !failed;
        HostReset during = null;
        for (HostReset r : ep.recoveryResets())
            if (r.start() <= stop.ts() && (r.end() == null || r.end() >= stop.ts())) during = r;
        QemuEvents.RunState state = null, running = null;
        for (QemuEvents.RunState s : lane.states()) {
            if (s.ts() < stop.ts()) continue;
            if (s != stop && state == null && !s.vmStop() && s.state() == QemuEvents.RunState.INTERNAL_ERROR) state = s;
            if (running == null && !s.vmStop() && s.state() == QemuEvents.RunState.RUNNING) running = s;
        }
        QemuEvents.SystemReset reset = null;
        for (QemuEvents.SystemReset r : lane.resets())
            if (r.ts() >= stop.ts() && (running == null || r.ts() <= running.ts())) {
                reset = r;
                break;
            }
        List<Event> ev = new ArrayList<>();
        if (!ep.errors().isEmpty()) ev.add(ep.errors().get(0));
        if (n != null) ev.add(n.event());
        Event.EventfdRead read = lane.notificationRead(n != null ? n.ts() : ep.start());
        if (read != null && read.ts() > stop.ts()) read = null; // a read after the stop is not what made QEMU stop
        if (read != null) ev.add(read);
        ev.add(stop);
        if (state != null) ev.add(state);
        for (Event e : ep.steps()) if (e instanceof Event.RecoveryExit) ev.add(e);
        if (reset != null) ev.add(reset);
        if (running != null) ev.add(running);
        if (lane.joinedBy() != null) ev.add(lane.joinedBy());

        String how = stop.vmStop() ? "vm_stop(" + stop.label() + ")" : "runstate " + stop.label();
        StringBuilder c = new StringBuilder(who(lane)).append(" stopped the VM at ").append(rel(ep.start(), stop.ts()))
                .append(" with ").append(how).append(", ");
        if (n != null) c.append(dur(stop.ts() - n.ts())).append(" after vfio signalled the error on ").append(dev)
                .append(" (eventfd at ").append(rel(ep.start(), n.ts()))
                .append(read != null ? "; QEMU read the error notification at " + rel(ep.start(), read.ts()) : "").append(")");
        else c.append(dur(stop.ts() - ep.start())).append(" after the error on ").append(dev)
                .append(" (vfio's eventfd signal is not in the trace)");
        if (during != null) c.append(", while the host's ").append(during.fn()).append(" on ").append(during.bridge())
                .append(" was still running");
        c.append("; ");
        StringBuilder h = new StringBuilder(who(lane)).append(" stopped the VM with ").append(how)
                .append(n != null ? " after vfio signalled the error on " + dev : " after the error on " + dev).append("; ");
        if (recovered) {
            c.append("the host recovered the device at ").append(rel(ep.start(), rend)).append(" (RECOVERED): the guest never saw the recovery.");
            h.append("the host recovered the device (RECOVERED): the guest never saw the recovery.");
        } else if (rend != null) {
            String r = "the host's recovery ended " + Pci.ers(ep.result()) + (failed ? " and failed" : "");
            c.append(r).append(" at ").append(rel(ep.start(), rend)).append('.');
            h.append(r).append('.');
        } else {
            c.append("the host's recovery had not ended when the episode closed.");
            h.append("the host's recovery had not ended when the episode closed.");
        }
        if (running != null && reset != null) {
            c.append(" QEMU reset the VM (").append(reset.label()).append(") at ").append(rel(ep.start(), reset.ts()))
                    .append(" and ran it again at ").append(rel(ep.start(), running.ts())).append('.');
        } else if (running != null) {
            c.append(" QEMU ran the VM again at ").append(rel(ep.start(), running.ts()))
                    .append(" without a system reset: the guest went on with a device that was reset under it.");
        } else {
            c.append(" The VM was still stopped at the end of the episode (").append(rel(ep.start(), lane.to()))
                    .append("): it needs a reset (system_reset, then cont) or a restart; cont alone runs the guest on a device")
                    .append(" that was reset under it.");
        }
        h.append(" Whether the VM ran again is not known: check QEMU's state (query-status).");
        long to = running != null ? Math.max(running.ts(), rend != null ? rend : running.ts()) : lane.to();
        out.add(Evidence.judge(ep, extra, Verdict.Kind.VM_STOPPED, dev, ep.start(), to, cap(ev), c.toString(), h.toString()));
    }

    private static void guestDuringReset(AnalyzedEpisode a, QemuLane lane, List<TraceGap> extra, List<Verdict> out) {
        Episode ep = a.episode();
        for (HostReset r : ep.recoveryResets()) {
            long end = r.end() != null ? r.end() : ep.end();
            for (String dev : lane.devices()) {
                if (!dev.equals(r.bridge()) && !ep.affected().contains(dev)) continue;
                List<QemuLane.GuestAccess> passed = new ArrayList<>(), unknown = new ArrayList<>();
                int emulated = 0;
                for (QemuLane.GuestAccess x : lane.accesses()) {
                    if (x.dev() != null && !x.dev().equals(dev)) continue;
                    if (x.served() == QemuLane.Served.PASSED) {
                        Long de = x.deviceEnd();
                        if (x.deviceStart() <= end && (de == null || de >= r.start())) passed.add(x);
                    } else if (x.overlaps(r.start(), end)) {
                        if (x.served() == QemuLane.Served.UNKNOWN) unknown.add(x);
                        else emulated++;
                    }
                }
                String where = "the host's " + r.fn() + " was resetting the link below " + r.bridge();
                if (!passed.isEmpty()) {
                    List<Event> ev = new ArrayList<>();
                    ev.add(r.enter());
                    ev.add(r.exit());
                    for (QemuLane.GuestAccess x : passed) addAccess(ev, x);
                    QemuLane.GuestAccess f = passed.get(0);
                    String tids = threads(passed);
                    Long fe = f.device().size() >= 2 ? f.deviceEnd() : null;
                    String conf = plural(passed.size(), "guest access") + " to " + dev + " through " + who(lane) + " on "
                            + tids + " went to the device (QEMU's own vfio access) while " + where + " ("
                            + rel(ep.start(), r.start()) + " … " + (r.end() == null ? "end of trace" : rel(ep.start(), r.end()))
                            + "); the first: " + describe(f) + " at " + rel(ep.start(), f.start()) + ", QEMU's vfio access at "
                            + rel(ep.start(), f.deviceStart()) + (fe != null ? " returning at " + rel(ep.start(), fe) : "")
                            + (!f.write() && f.value() != null && f.exit() != null ? ", QEMU returned " + Pci.hexOfSize(f.value(), f.size())
                               + " to the guest" : "")
                            + (emulated > 0 ? "; " + plural(emulated, "more guest access") + " in the reset "
                               + (emulated == 1 ? "was" : "were") + " emulated by QEMU and did not reach it" : "") + ".";
                    String hedged = "Guest accesses to " + dev + " through " + who(lane) + " went to the device (QEMU's own vfio"
                            + " access) while " + where + "; how many is not known.";
                    long to = r.end() != null ? r.end() : Long.MAX_VALUE;
                    out.add(Evidence.judge(ep, extra, Verdict.Kind.GUEST_ACCESS_DURING_RESET, dev, r.start(), to, cap(ev), conf, hedged));
                } else if (!unknown.isEmpty()) {
                    // Whether QEMU passed it on is not in the trace: only worth saying when a gap is why (tentative).
                    long from = r.start(), to = r.end() != null ? r.end() : Long.MAX_VALUE;
                    List<Event> ev = new ArrayList<>();
                    ev.add(r.enter());
                    ev.add(r.exit());
                    for (QemuLane.GuestAccess x : unknown) {
                        from = Math.min(from, x.start());
                        to = x.end() == null ? Long.MAX_VALUE : Math.max(to, x.end());
                        addAccess(ev, x);
                    }
                    String s = "A guest access to " + dev + " through " + who(lane) + " overlapped the host's " + r.fn()
                            + " below " + r.bridge() + "; whether QEMU passed it to the device is not known.";
                    Verdict v = Evidence.judge(ep, extra, Verdict.Kind.GUEST_ACCESS_DURING_RESET, dev, from, to, cap(ev), s, s);
                    if (v.tentative()) out.add(v);
                }
            }
        }
    }

    private static String threads(List<QemuLane.GuestAccess> xs) {
        java.util.TreeSet<Integer> t = new java.util.TreeSet<>();
        for (QemuLane.GuestAccess x : xs) t.add(x.tid());
        StringBuilder s = new StringBuilder(t.size() == 1 ? "thread " : "threads ");
        int i = 0;
        for (Integer x : t) {
            if (i++ == 4) {
                s.append(", …");
                break;
            }
            s.append(i > 1 ? ", " : "").append(x);
        }
        return s.toString();
    }

    /** "the guest's cfg read COMMAND/2", "the guest's bar write 0x10/4 ← 0x00000001". */
    static String describe(QemuLane.GuestAccess x) {
        return "the guest's " + (x.write() ? x.phraseWithValue() : x.phrase());
    }

    private static void addAccess(List<Event> ev, QemuLane.GuestAccess x) {
        if (ev.size() >= MAX_EVIDENCE) return;
        ev.add(x.enter());
        if (x.exit() != null) ev.add(x.exit());
        ev.addAll(x.device());
    }

    private static List<Event> cap(List<Event> ev) {
        ev.removeIf(java.util.Objects::isNull);
        return ev.size() <= MAX_EVIDENCE ? ev : ev.subList(0, MAX_EVIDENCE);
    }

    private static String plural(int n, String what) { return n + " " + what + (n == 1 ? "" : "es"); }
}
