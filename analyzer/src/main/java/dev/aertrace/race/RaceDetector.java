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
import java.util.Collections;
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
    private final ResetRaces resetRaces;
    private final DeviceVerdicts deviceVerdicts;

    public RaceDetector(Options opt) {
        this.opt = opt;
        this.resetRaces = new ResetRaces(opt);
        this.deviceVerdicts = new DeviceVerdicts(opt);
    }

    public AnalyzedEpisode analyze(Episode ep0, TraceHeader header) {
        Episode ep = withEpisodeGaps(ep0, header);
        List<Verdict> v = new ArrayList<>();
        List<HostReset> resets = ep.resets().stream().filter(r -> r.byRecovery() && r.depth() == 0).toList();
        // One loop for the three lists (thousands of accesses an episode for a polling user), read-only as before.
        int n = ep.accesses().size();
        List<Access> user = new ArrayList<>(n), inWindow = new ArrayList<>(n), touching = new ArrayList<>(n);
        boolean byStart = true;
        long prev = Long.MIN_VALUE;
        for (Access a : ep.accesses()) {
            if (a.start() < prev) byStart = false;
            prev = a.start();
            if (a.kind() == Access.Kind.OPEN || a.kind() == Access.Kind.CLOSE) continue;
            user.add(a);
            if (a.end() != null && a.end() < ep.start()) continue;
            inWindow.add(a);
            // A refused reset (negative return, no reset function reached) did not touch the device.
            if (!DeviceVerdicts.refused(ep, a)) touching.add(a);
        }
        resetRaces.byStart = byStart;
        user = Collections.unmodifiableList(user);
        inWindow = Collections.unmodifiableList(inWindow);
        touching = Collections.unmodifiableList(touching);

        resetRaces.duringReset(ep, resets, touching, v);
        resetRaces.stalled(ep, resets, touching, v);
        resetRaces.stateChanged(ep, resets, user, v);
        deviceVerdicts.allOnes(ep, inWindow, v);
        deviceVerdicts.refusedResets(ep, inWindow, v);
        deviceVerdicts.doubleReset(ep, inWindow, v);
        resetRaces.recoveryWindow(ep, resets, touching, v);
        resetRaces.notifiedEarly(ep, resets, touching, v);
        deviceVerdicts.aerStatusCleared(ep, header, inWindow, v);
        deviceVerdicts.removed(ep, v);
        deviceVerdicts.recoveryFailed(ep, v);
        deviceVerdicts.notReset(ep, header, v);

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
                ep.phases(), ep.callbacks(), ep.resets(), ep.accesses(), ep.notifications(), ep.events(), ep.steps(),
                ep.elidedEvents(), ep.gaps(), List.copyOf(holes), ep.startedMidRecovery(), ep.endedMidRecovery(),
                ep.kernel(), ep.host());
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

    private static List<Event> sorted(List<Event> ev) {
        List<Event> out = new ArrayList<>(new LinkedHashSet<>(ev));
        out.sort(Comparator.comparingLong(Event::ts).thenComparingLong(Event::line));
        return List.copyOf(out);
    }
}
