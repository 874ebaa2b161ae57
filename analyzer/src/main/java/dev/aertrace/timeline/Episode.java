package dev.aertrace.timeline;

import dev.aertrace.ingest.Event;

import java.util.List;

/**
 * Everything that happened around one error: from the first AER event (or the recovery start when the
 * tracepoint is missing) to the end of the settle window after the recovery, restricted to the affected
 * devices. Immutable; emitted once when the window closes, so memory holds only open episodes.
 *
 * <ul>
 * <li>{@code device}: the reporting device (aer.event dev, else the recovery's dev).</li>
 * <li>{@code severity}/{@code status}: of the first AER event; null when there was none.</li>
 * <li>{@code bridge}: the bridge whose secondary bus the recovery resets (or did reset); {@code affected}:
 *     every device at or below it, from the header topology plus any device seen in this recovery's callbacks.</li>
 * <li>{@code recoveryStart}/{@code recoveryEnd}/{@code result}: pcie_do_recovery's span and return value
 *     (pci_ers_result code); null when not seen (no recovery for correctable errors, or not in the trace).</li>
 * <li>{@code events}: every event attributed to the episode in time order (capped, see {@code elidedEvents}).</li>
 * <li>{@code steps}: {@code events} without the user's reads' and writes' enters and exits (those are in
 *     {@code accesses}): what a verdict or report that looks for a host step, an ioctl or a gap scans, a few dozen
 *     events where a polling user makes thousands.</li>
 * <li>{@code gaps}: unreadable lines, late events and unpaired enters/exits seen inside the window (as events).</li>
 * <li>{@code holes}: every gap whose time bounds meet the episode (losses with their inferred bounds too): what
 *     the rule of evidence judges verdicts by.</li>
 * </ul>
 */
public record Episode(String source, int id, String device, Integer severity, Long status,
                      List<Event.AerError> errors, String recoveryDev, String bridge, List<String> affected,
                      long start, long end, Long recoveryStart, Long recoveryEnd, Integer result,
                      List<Phase> phases, List<CallbackCall> callbacks, List<HostReset> resets,
                      List<Access> accesses, List<Notification> notifications, List<Event> events,
                      List<Event> steps, long elidedEvents, List<Event> gaps, List<dev.aertrace.ingest.TraceGap> holes,
                      boolean startedMidRecovery, boolean endedMidRecovery,
                      String kernel, String host) {

    public boolean fatal() {
        if (severity != null) return severity == 1;
        for (Event e : steps) if (e instanceof Event.RecoveryEnter r && r.state() != null) return r.state() == 2;
        return !resets.isEmpty();
    }

    /** {@code events} without the reads' and writes' enters and exits, in the same order (see {@code steps}). */
    public static List<Event> steps(List<Event> events) {
        java.util.ArrayList<Event> out = new java.util.ArrayList<>();
        for (Event e : events) if (!(e instanceof Event.RwEnter || e instanceof Event.RwExit)) out.add(e);
        return List.copyOf(out);
    }

    public boolean hasRecovery() { return recoveryStart != null || startedMidRecovery; }

    /** How far before a recovery's first event its AER event, when not in the trace, may have been. */
    public static final long START_GAP_NS = 100_000_000L;

    /**
     * Gaps that may hide this episode's AER event: for a recovery without one, those meeting the stretch just before
     * its start. Every time the episode states since the error counts from its start, so these meet every verdict.
     */
    public List<dev.aertrace.ingest.TraceGap> startGaps() {
        if (!errors.isEmpty() || !hasRecovery()) return List.of();
        return holes.stream().filter(g -> g.overlaps(start - START_GAP_NS, start)).toList();
    }

    /** Resets run by the recovery thread, outermost calls only. */
    public List<HostReset> recoveryResets() {
        return resets.stream().filter(r -> r.byRecovery() && r.depth() == 0).toList();
    }
}
