package dev.aertrace.timeline;

import dev.aertrace.ingest.Event;
import dev.aertrace.text.Phrases;

/**
 * One user-side (vfio) action on a device, enter and exit paired on its thread. {@code end}/{@code exit} are
 * null when the exit was never seen. {@code value}: for config reads what the user got, for config writes what
 * it wrote. {@code name}: ioctl name or user reset function. {@code region}/{@code offset}/{@code size} only for
 * reads/writes. {@code exitLost}: the exit is not in the trace although the thread went on (a later call
 * of the thread showed it, or a gap between enter and exit kept them from being paired): where it returned, and
 * what, is unknown — unlike an access still open when the trace ended. {@code endBy}: for such an access, the
 * latest it can have returned (the thread's next event: user operations do not nest on a thread); null when
 * nothing bounds it. {@code unpaired}: the missing enter or exit is in the trace, but a gap between the two (a loss,
 * a late or unreadable stretch, a footer that does not add up) could hide other calls of the thread, so they
 * were not made one access.
 */
public record Access(Kind kind, String dev, int pid, int tid, String comm, long start, Long end,
                     String region, long offset, int size, Long value, Long ret, String name,
                     Event enter, Event exit, boolean exitLost, Long endBy, boolean unpaired) {

    public Access(Kind kind, String dev, int pid, int tid, String comm, long start, Long end, String region,
                  long offset, int size, Long value, Long ret, String name, Event enter, Event exit) {
        this(kind, dev, pid, tid, comm, start, end, region, offset, size, value, ret, name, enter, exit, false, null, false);
    }

    /** This access, one half of an enter and exit kept apart by a gap between them. */
    public Access asUnpaired() {
        return new Access(kind, dev, pid, tid, comm, start, end, region, offset, size, value, ret, name, enter, exit, exitLost,
                endBy, true);
    }

    /**
     * This access with its exit lost, returned at the latest at {@code by}. The timeline records a gap over
     * [start, by] with it (the exit's own, or the damage that hid it), so whatever counts the access as running
     * somewhere in that span meets the gap and is tentative.
     */
    public Access lost(long by) {
        return new Access(kind, dev, pid, tid, comm, start, end, region, offset, size, value, ret, name, enter, exit, true,
                Math.max(start, by), unpaired);
    }

    public enum Kind { CONFIG_READ, CONFIG_WRITE, BAR_READ, BAR_WRITE, IOCTL, USER_RESET, OPEN, CLOSE }

    /**
     * True when [start, end] intersects [from, to]; an access without exit is treated as still running, up to
     * {@code endBy} when its exit was lost.
     */
    public boolean overlaps(long from, Long to) {
        boolean startsBeforeEnd = to == null || start <= to;
        Long last = end != null ? end : endBy;
        boolean endsAfterStart = last == null || last >= from;
        return startsBeforeEnd && endsAfterStart;
    }

    public boolean isConfig() { return kind == Kind.CONFIG_READ || kind == Kind.CONFIG_WRITE; }

    /** User-requested resets: a user_reset.* span or a VFIO_DEVICE_RESET / VFIO_DEVICE_PCI_HOT_RESET ioctl. */
    public boolean isReset() {
        return kind == Kind.USER_RESET
                || (kind == Kind.IOCTL && name != null
                    && (name.equals("VFIO_DEVICE_RESET") || name.equals("VFIO_DEVICE_PCI_HOT_RESET")));
    }

    public Long duration() { return end == null ? null : end - start; }

    /** What the user did, the same words in every output: "cfg read COMMAND/2", "BAR0 write 0x10/4", an ioctl's name. */
    public String phrase() {
        return switch (kind) {
            case CONFIG_READ, CONFIG_WRITE -> Phrases.config(kind == Kind.CONFIG_WRITE, offset, size);
            case BAR_READ, BAR_WRITE -> Phrases.bar(region, kind == Kind.BAR_WRITE, offset, size);
            case IOCTL -> name == null ? "ioctl" : name;
            case USER_RESET -> name == null ? "user reset" : name;
            case OPEN -> "vfio open";
            case CLOSE -> "vfio close";
        };
    }

    /** {@link #phrase()} and, for config accesses, the value read or written (" = 0x0000"). */
    public String phraseWithValue() {
        return isConfig() && value != null ? phrase() + Phrases.value(kind == Kind.CONFIG_WRITE, value, size) : phrase();
    }
}
