package dev.aertrace.export;

import dev.aertrace.lanes.EpisodeLanes;

import dev.aertrace.pci.Pci;
import dev.aertrace.race.AnalyzedEpisode;
import dev.aertrace.race.Verdict;
import dev.aertrace.report.EpisodeOutput;
import dev.aertrace.timeline.Episode;

import java.io.IOException;
import java.io.Writer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Episodes → Chrome trace-event JSON for ui.perfetto.dev / chrome://tracing.
 *
 * <p>Layout: one process for the host kernel whose threads are the lanes of {@link EpisodeLanes} (AER events,
 * recovery thread, callbacks per device, resets per bridge, plus an "episodes" lane naming each episode and
 * its outcome), and one process per vfio user with its real pid/tid. Phases, callbacks, resets and accesses
 * are complete {@code X} slices; AER events, eventfd notifications and all-ones reads are {@code i} instants;
 * the host reset window and each race are async {@code b}/{@code e} pairs, because they overlap slices of other
 * threads and must not be forced into one thread's stack.
 *
 * <p>Viewers drop slices that partly overlap on one thread. Each lane therefore spreads over as many threads
 * as it needs ("lane", "lane #2", …) so that every thread's slices nest; with well-formed kernels that never
 * happens, but open spans closed at the episode end can overlap.
 *
 * <p>Episodes are written as they come (streaming); within one lane they must arrive in start order to share
 * a thread, which is how the analyzer emits them — otherwise they go to an extra thread, still valid.
 */
public final class TraceEventExport implements EpisodeOutput {
    /** Synthetic pid for the host kernel's lanes; far above pid_max (4 194 304) so it cannot clash with a user. */
    public static final int HOST_PID = 2_000_000_000;
    private static final int HOST_TID_BASE = HOST_PID;

    private final TraceEventWriter w;
    private final Map<String, List<SubLane>> laneThreads = new HashMap<>();
    private final Map<Integer, String> namedProcesses = new LinkedHashMap<>();
    /** Each source (trace file) has its own clock and host: its own host process. */
    private final Map<String, Integer> hostPids = new LinkedHashMap<>();
    private int hostPid = HOST_PID;
    private int nextHostTid = HOST_TID_BASE + 1;
    private int asyncIds;
    private int episodes;
    private String host;
    private String kernel;
    private final List<String> sources = new ArrayList<>();

    public TraceEventExport(Writer out) throws IOException {
        this.w = new TraceEventWriter(out);
    }

    /** Convenience: writes all episodes and closes. */
    public static void write(Writer out, List<AnalyzedEpisode> episodes) throws IOException {
        try (TraceEventExport x = new TraceEventExport(out)) {
            for (AnalyzedEpisode a : episodes) x.episode(a);
        }
    }

    @Override
    public void episode(AnalyzedEpisode a) throws IOException {
        Episode e = a.episode();
        episodes++;
        if (host == null) host = e.host();
        if (kernel == null) kernel = e.kernel();
        if (e.source() != null && !sources.contains(e.source())) sources.add(e.source());
        hostPid = hostPids.computeIfAbsent(String.valueOf(e.source()), k -> HOST_PID - hostPids.size());
        hostProcess(e);
        EpisodeLanes lanes = EpisodeLanes.of(a);

        Map<String, Object> epArgs = new LinkedHashMap<>();
        epArgs.put("source", e.source());
        epArgs.put("device", e.device());
        epArgs.put("bridge", e.bridge());
        epArgs.put("outcome", a.outcome().id());
        epArgs.put("result", Pci.ers(e.result()));
        List<String> sentences = new ArrayList<>();
        for (Verdict v : a.verdicts()) sentences.add(v.kind().id + ": " + v.sentence());
        epArgs.put("verdicts", sentences);
        span(hostLane("episodes", "episodes", 0), "episode " + e.id() + ": " + a.outcome().id(), "episode",
                lanes.t0(), lanes.t1(), epArgs);

        int order = 1;
        for (EpisodeLanes.Lane l : lanes.lanes()) {
            order++;
            SubLaneSet set = l.actor() == EpisodeLanes.Actor.USER ? userLane(l) : l.actor() == EpisodeLanes.Actor.QEMU ? qemuLane(l)
                    : hostLane(l.key(), l.label(), order);
            List<EpisodeLanes.Span> spans = new ArrayList<>(l.spans());
            // Outer before inner at the same start, so nesting is decided in one pass.
            spans.sort(Comparator.comparingLong(EpisodeLanes.Span::start).thenComparing(s -> -s.end()));
            for (EpisodeLanes.Span s : spans) {
                Map<String, Object> args = new LinkedHashMap<>(s.args());
                if (s.race()) args.put("race", true);
                span(set, s.name(), category(s.role()), s.start(), s.end(), args);
            }
            int[] ids = set.first();
            for (EpisodeLanes.Mark m : l.marks()) {
                w.instant(m.name(), m.kind().name().toLowerCase().replace('_', '-'), ids[0], ids[1], m.ts(), "t", m.args());
            }
        }

        for (EpisodeLanes.Window win : lanes.windows()) {
            int[] ids = hostLane("windows", "host reset windows", 1).first();
            String id = "0x" + Integer.toHexString(++asyncIds);
            w.asyncBegin(win.name(), win.kind(), id, ids[0], ids[1], win.start(), Map.of("episode", e.id()));
            w.asyncEnd(win.name(), win.kind(), id, ids[0], ids[1], win.end());
        }
        for (EpisodeLanes.RaceMark r : lanes.races()) {
            int[] ids = hostLane("windows", "host reset windows", 1).first();
            if (!r.laneKeys().isEmpty()) {
                for (EpisodeLanes.Lane l : lanes.lanes()) {
                    if (l.key().equals(r.laneKeys().get(0))) { ids = userLane(l).first(); break; }
                }
            }
            String id = "0x" + Integer.toHexString(++asyncIds);
            Map<String, Object> args = new LinkedHashMap<>();
            args.put("episode", e.id());
            args.put("verdict", r.verdict().kind().id);
            args.put("sentence", r.verdict().sentence());
            args.put("tentative", r.verdict().tentative());
            List<String> lines = new ArrayList<>();
            r.verdict().evidence().forEach(ev -> lines.add(ev.type() + " line " + ev.line()));
            args.put("evidence", lines);
            w.asyncBegin(r.label(), "race", id, ids[0], ids[1], r.start(), args);
            w.asyncEnd(r.label(), "race", id, ids[0], ids[1], r.end());
        }
    }

    @Override
    public void close() throws IOException {
        Map<String, Object> other = new LinkedHashMap<>();
        other.put("generator", "aertrace export --format chrome");
        if (host != null) other.put("host", host);
        if (kernel != null) other.put("kernel", kernel);
        other.put("sources", sources);
        other.put("episodes", episodes);
        other.put("clock", "CLOCK_MONOTONIC of the traced host, in microseconds");
        w.finish(other);
        w.close();
    }

    private void hostProcess(Episode e) throws IOException {
        if (namedProcesses.containsKey(hostPid)) return;
        String name = "host kernel" + (e.host() == null ? "" : " " + e.host()) + (e.kernel() == null ? "" : " (" + e.kernel() + ")")
                + (e.source() == null ? "" : " — " + java.nio.file.Path.of(e.source()).getFileName());
        namedProcesses.put(hostPid, name);
        w.processName(hostPid, name);
        w.processSortIndex(hostPid, HOST_PID - hostPid);
    }

    private static String category(EpisodeLanes.Role r) {
        return switch (r) {
            case RECOVERY -> "recovery";
            case PHASE -> "recovery-phase";
            case CALLBACK -> "callback";
            case HOST_RESET -> "host-reset";
            case USER_ACCESS -> "user-access";
            case USER_IOCTL -> "user-ioctl";
            case USER_RESET -> "user-reset";
            case GUEST_ACCESS -> "guest-access";
        };
    }

    private void span(SubLaneSet set, String name, String cat, long start, long end, Map<String, Object> args)
            throws IOException {
        // A damaged trace can give an exit before its enter or a timestamp at Long.MIN_VALUE: such a span is
        // drawn as an instant at its start (its args still carry the line), never a negative or overflowed slice.
        if (end < start) end = start;
        long dur = end - start < 0 ? Long.MAX_VALUE : end - start;
        int[] ids = set.place(start, end);
        w.complete(name, cat, ids[0], ids[1], start, dur, args);
    }

    private SubLaneSet hostLane(String key, String label, int order) {
        return new SubLaneSet("host " + hostPid + " " + key, hostPid, -1, label, order);
    }

    /**
     * The user's process. Traces of other sources (another host or boot) may reuse pids: their users get
     * pid + n × 5 000 000 (beyond pid_max), so two boots' processes are not merged into one.
     */
    private SubLaneSet userLane(EpisodeLanes.Lane l) throws IOException {
        int source = HOST_PID - hostPid;
        int pid = l.pid() + source * 5_000_000;
        if (!namedProcesses.containsKey(pid)) {
            String name = (l.comm() == null ? "user" : l.comm()) + " (vfio user, pid " + l.pid()
                    + (source == 0 ? "" : ", trace " + (source + 1)) + ")";
            namedProcesses.put(pid, name);
            w.processName(pid, name);
            w.processSortIndex(pid, namedProcesses.size());
        }
        return new SubLaneSet("user " + pid + "/" + l.tid(), pid, l.tid(), l.label(), 0);
    }

    /**
     * QEMU's track: in QEMU's own process (beside its vfio threads), on display-only threads; the guest's accesses
     * as QEMU served them and the VM's run state.
     */
    private SubLaneSet qemuLane(EpisodeLanes.Lane l) throws IOException {
        SubLaneSet user = userLane(l); // names the process
        return new SubLaneSet("qemu " + user.pid, user.pid, -1, "QEMU: guest accesses, VM state", 0);
    }

    /** A lane and the threads it spreads over. */
    private final class SubLaneSet {
        final String key;
        final int pid;
        final int realTid;
        final String label;
        final int order;

        SubLaneSet(String key, int pid, int realTid, String label, int order) {
            this.key = key;
            this.pid = pid;
            this.realTid = realTid;
            this.label = label;
            this.order = order;
        }

        int[] first() throws IOException {
            List<SubLane> subs = laneThreads.computeIfAbsent(key, k -> new ArrayList<>());
            if (subs.isEmpty()) subs.add(newSub(0));
            return new int[] {pid, subs.get(0).tid};
        }

        int[] place(long start, long end) throws IOException {
            List<SubLane> subs = laneThreads.computeIfAbsent(key, k -> new ArrayList<>());
            for (SubLane s : subs) if (s.tryPlace(start, end)) return new int[] {pid, s.tid};
            SubLane s = newSub(subs.size());
            subs.add(s);
            if (!s.tryPlace(start, end)) throw new IllegalStateException("empty lane refused a span");
            return new int[] {pid, s.tid};
        }

        private SubLane newSub(int n) throws IOException {
            int tid;
            if (realTid >= 0 && n == 0) tid = realTid;
            else if (realTid >= 0) tid = realTid + n * 10_000_000; // beyond pid_max: a display-only thread
            else tid = nextHostTid++;
            String name = n == 0 ? label : label + " #" + (n + 1);
            w.threadName(pid, tid, name);
            w.threadSortIndex(pid, tid, order * 100 + n);
            return new SubLane(tid);
        }
    }

    /** One thread's stack of open slices: a span fits when it starts after the last start and nests. */
    private static final class SubLane {
        final int tid;
        final Deque<long[]> stack = new ArrayDeque<>();
        long lastStart = Long.MIN_VALUE;

        SubLane(int tid) { this.tid = tid; }

        boolean tryPlace(long start, long end) {
            if (start < lastStart) return false;
            while (!stack.isEmpty() && stack.peek()[1] <= start) stack.pop();
            if (!stack.isEmpty() && end > stack.peek()[1]) return false;
            // Equal start and equal end: nests (contained). Equal start, longer end: refused above.
            stack.push(new long[] {start, end});
            lastStart = start;
            return true;
        }
    }
}
