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
        return new LaneBuilder(a).build();
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
        return x.phraseWithValue();
    }

    public static String hex(long v, int size) {
        int digits = size >= 1 && size <= 8 ? size * 2 : 8;
        return String.format("0x%0" + digits + "x", v);
    }

    /** Config reads are 1, 2 or 4 bytes; all ones in that width is what a dead link returns. */
    public static boolean allOnes(long v, int size) {
        return (size == 1 || size == 2 || size == 4) && v == Pci.allOnes(size);
    }

    static String driverSuffix(String driver) {
        return driver == null || driver.isEmpty() ? "" : " (" + driver + ")";
    }

    /** Episode title: what failed, where, on which kernel. */
    public static String title(Episode e) {
        return String.format(Locale.ROOT, "%s on %s — host %s, kernel %s",
                deviceLoss(e) ? "Device loss" : cap(Pci.severity(e.severity())) + " AER", e.device(),
                e.host() == null ? "?" : e.host(), e.kernel() == null ? "?" : e.kernel());
    }

    /**
     * An episode with neither an AER event nor a recovery is a device loss (all-ones reads, a removal, a slot event):
     * there is no error to count time from, so its offsets count from its own first event.
     */
    public static boolean deviceLoss(Episode e) {
        return e.errors().isEmpty() && !e.hasRecovery();
    }

    private static String cap(String s) { return s.isEmpty() ? s : Character.toUpperCase(s.charAt(0)) + s.substring(1); }
}
