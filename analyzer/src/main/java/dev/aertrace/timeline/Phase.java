package dev.aertrace.timeline;

/**
 * A span of one recovery. Per-kind spans run from the first enter to the last exit of that step on the
 * recovery thread; {@code end} is null when the exit was never seen. {@code dev} is the bridge for RESET,
 * the recovery's device for RECOVERY, and null for callback phases that span several devices.
 */
public record Phase(Kind kind, long start, Long end, String dev, String detail) {
    public enum Kind { AER, RECOVERY, ERROR_DETECTED, MMIO_ENABLED, RESET, SLOT_RESET, RESUME, SETTLE }

    /** Duration in ns, or null when open. */
    public Long duration() { return end == null ? null : end - start; }
}
