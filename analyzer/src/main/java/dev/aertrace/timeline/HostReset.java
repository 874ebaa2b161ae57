package dev.aertrace.timeline;

import dev.aertrace.ingest.Event;

/**
 * One host reset call on {@code bridge} (nested calls such as aer_root_reset → pci_bus_error_reset →
 * pci_reset_secondary_bus each get one, with {@code depth} 0 for the outermost). {@code byRecovery} is false
 * for resets seen on another thread (e.g. inside a user's VFIO reset). {@code end}/{@code exit} null if no exit.
 */
public record HostReset(String bridge, String fn, long start, Long end, Long ret, int depth, boolean byRecovery,
                        Event.ResetEnter enter, Event.ResetExit exit) {
    public boolean covers(long ts) { return ts >= start && (end == null || ts <= end); }
}
