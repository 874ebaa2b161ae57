package dev.aertrace.compare;

import dev.aertrace.pci.Pci;
import dev.aertrace.lanes.EpisodeLanes;
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
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * What compare measures on one episode: phase durations (ns) and behaviour values. Durations are only taken
 * from spans whose start and end were both seen; an open span is behaviour ("no exit"), not a duration.
 */
public final class EpisodeMetrics {
    /** Report order of the timing phases. */
    public static final List<String> PHASES = List.of("aer-to-recovery", "recovery", "error_detected", "mmio_enabled",
            "reset", "slot_reset", "resume", "aer-to-user-notified", "user-access-held-by-reset");

    private EpisodeMetrics() {}

    public static Map<String, Long> durations(Episode e) {
        Map<String, Long> d = new LinkedHashMap<>();
        Long firstAer = e.errors().isEmpty() ? null : e.errors().get(0).ts();
        if (firstAer != null && e.recoveryStart() != null && e.recoveryStart() >= firstAer) {
            d.put("aer-to-recovery", e.recoveryStart() - firstAer);
        }
        if (e.recoveryStart() != null && e.recoveryEnd() != null) d.put("recovery", e.recoveryEnd() - e.recoveryStart());
        for (Phase p : e.phases()) {
            String k = switch (p.kind()) {
                case ERROR_DETECTED -> "error_detected";
                case MMIO_ENABLED -> "mmio_enabled";
                case RESET -> "reset";
                case SLOT_RESET -> "slot_reset";
                case RESUME -> "resume";
                default -> null;
            };
            if (k != null && p.duration() != null) d.merge(k, p.duration(), Long::sum);
        }
        if (firstAer != null) {
            for (Notification n : e.notifications()) {
                if (n.ts() >= firstAer) { d.put("aer-to-user-notified", n.ts() - firstAer); break; }
            }
        }
        long held = -1;
        for (Access x : e.accesses()) {
            if (x.end() == null) continue;
            for (HostReset r : e.recoveryResets()) {
                if (r.end() != null && x.start() >= r.start() && x.start() <= r.end()) held = Math.max(held, x.end() - x.start());
            }
        }
        if (held >= 0) d.put("user-access-held-by-reset", held);
        return d;
    }

    /** Behaviour values: key → values (a key may carry several, e.g. several race kinds). */
    public static Map<String, List<String>> behaviour(AnalyzedEpisode a) {
        Episode e = a.episode();
        Map<String, List<String>> b = new LinkedHashMap<>();
        List<CallbackCall> cbs = new ArrayList<>(e.callbacks());
        cbs.sort(Comparator.comparingLong(CallbackCall::start));
        Set<String> seq = new LinkedHashSet<>();
        for (CallbackCall c : cbs) seq.add(c.cb().wire);
        b.put("callbacks called", List.of(seq.isEmpty() ? "none" : String.join(", ", seq)));

        Long mmio = null, reset = null;
        for (Phase p : e.phases()) {
            if (p.kind() == Phase.Kind.MMIO_ENABLED && mmio == null) mmio = p.start();
            if (p.kind() == Phase.Kind.RESET && reset == null) reset = p.start();
        }
        List<HostReset> rr = e.recoveryResets();
        if (reset == null && !rr.isEmpty()) reset = rr.get(0).start();
        String order = reset == null && mmio == null ? "neither reset nor mmio_enabled"
                : reset == null ? "mmio_enabled, no reset"
                : mmio == null ? "reset, no mmio_enabled"
                : reset < mmio ? "reset before mmio_enabled" : "reset after mmio_enabled";
        b.put("reset vs mmio_enabled", List.of(order));

        TreeSet<String> fns = new TreeSet<>();
        for (HostReset r : rr) fns.add(r.fn() + (r.end() == null ? " (no exit)" : ""));
        b.put("host reset function", List.of(fns.isEmpty() ? "none" : String.join(", ", fns)));

        TreeSet<String> votes = new TreeSet<>();
        for (CallbackCall c : cbs) {
            if (c.cb().wire.equals("error_detected")) {
                votes.add((c.driver() == null || c.driver().isEmpty() ? "(no driver)" : c.driver()) + " → "
                        + (c.result() == null ? "?" : Pci.ers(c.result())));
            }
        }
        b.put("error_detected votes", List.of(votes.isEmpty() ? "none" : String.join(", ", votes)));
        b.put("recovery result", List.of(e.result() == null ? (e.hasRecovery() ? "not seen" : "no recovery")
                : Pci.ers(e.result())));

        List<String> races = new ArrayList<>();
        for (Verdict v : a.verdicts()) if (v.kind().category == Verdict.Category.RACE) races.add(v.kind().id);
        b.put("races", races.isEmpty() ? List.of("none") : races);
        b.put("outcome", List.of(a.outcome().id()));
        return b;
    }
}
