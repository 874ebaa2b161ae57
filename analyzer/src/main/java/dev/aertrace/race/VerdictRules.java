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

/** What every verdict rule shares: the evidence cap, and the words for times, accesses and counts. */
abstract class VerdictRules {
    final RaceDetector.Options opt;

    VerdictRules(RaceDetector.Options opt) { this.opt = opt; }

    final long settle = 2_000_000_000L;

    long settle(Episode ep) { return settle; }

    String t(Episode ep, long ts) { return dev.aertrace.text.Durations.rel(ep.start(), ts); }

    static boolean resetCovers(Episode ep, HostReset r, String dev) {
        return dev.equals(r.bridge()) || ep.affected().contains(dev);
    }

    static long endOf(Episode ep, HostReset r) { return r.end() != null ? r.end() : ep.end(); }

    List<Event> evidence(Event... first) {
        List<Event> out = new ArrayList<>();
        for (Event e : first) if (e != null) out.add(e);
        return out;
    }

    void addAccess(List<Event> ev, Access a) {
        if (ev.size() >= opt.maxEvidence()) return;
        if (a.enter() != null) ev.add(a.enter());
        if (a.exit() != null && ev.size() < opt.maxEvidence()) ev.add(a.exit());
    }

    List<Event> withAccess(List<Event> ev, Access a) {
        addAccess(ev, a);
        return ev;
    }

    static String who(Access a) { return a.comm() + " (pid " + a.pid() + ")"; }

    static String listAccesses(List<Access> as) {
        Set<String> kinds = new LinkedHashSet<>();
        for (Access a : as) kinds.add(a.phrase());
        List<String> k = new ArrayList<>(kinds);
        String s = String.join(", ", k.subList(0, Math.min(6, k.size())));
        return k.size() > 6 ? s + ", …" : s;
    }

    static String value(Access a) {
        if (a.value() == null) return a.ret() != null && a.ret() < 0 ? "error " + a.ret() : "no value";
        return Pci.hexOfSize(a.value(), a.size()); // never the size as a format width: 1e9 from a damaged line
    }

    static String plural(int n, String word) {
        return n + " " + word + (n == 1 ? "" : word.endsWith("s") ? "es" : "s");
    }

    static long endOrOpen(Access a) { return a.end() != null ? a.end() : Long.MAX_VALUE; }

    static long resetEnd(HostReset r) { return r.end() != null ? r.end() : Long.MAX_VALUE; }

    static Set<String> devicesOf(List<Access> as) {
        Set<String> s = new TreeSet<>();
        String last = null; // runs of one device: one sorted-set insert per run, not per access
        for (Access a : as) {
            String d = a.dev();
            if (d == null || d.equals(last)) continue;
            s.add(d);
            last = d;
        }
        return s;
    }
}
