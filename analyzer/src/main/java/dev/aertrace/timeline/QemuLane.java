package dev.aertrace.timeline;

import dev.aertrace.ingest.Event;
import dev.aertrace.ingest.QemuEvents;
import dev.aertrace.text.Phrases;

import java.util.List;

/**
 * What one QEMU process did around one host episode: the guest's accesses to the assigned device as QEMU served
 * them, the VM's run state (vm_stop, runstate_set) and system resets. Joined to the episode by process: the QEMU
 * pid whose own vfio events ({@code vfio.open}, {@code vfio.rw}, ioctls) name a device the episode affects
 * ({@code joinedBy}: the first such event). QEMU's uprobe events carry no device (probes/EVENTS.md).
 *
 * <p>{@code accesses}: the guest accesses that overlap the episode, plus the last ones before it (what the guest
 * was doing when the error came); {@code elided}: accesses of the window not kept (per-lane cap). {@code from}/
 * {@code to}: the window the lane covers (the episode's, widened to the earliest access kept).
 * {@code notificationReads}: the process's reads of its device's error eventfd in the window (probe {@code eventfd.read}:
 * the kernel side of QEMU noticing the error — vfio_err_notifier_handler reads the eventfd before it stops the VM).
 */
public record QemuLane(int pid, String comm, List<String> devices, Event joinedBy, long from, long to,
                       List<GuestAccess> accesses, long elided, List<QemuEvents.RunState> states,
                       List<QemuEvents.SystemReset> resets, List<Event.EventfdRead> notificationReads) {

    /**
     * How QEMU served a guest access. QEMU's vfio_pci_read_config reads from the device only the bits it does
     * not emulate ({@code emulated_config_bits}); passed-through means the trace shows QEMU's own vfio read or
     * write on the same thread inside the access.
     */
    public enum Served {
        PASSED("passed to the device"),
        EMULATED("emulated by QEMU"),
        /** A gap between enter and exit, no exit, or (flight recorder) vfio accesses not streamed at the time. */
        UNKNOWN("not known");

        public final String phrase;

        Served(String phrase) { this.phrase = phrase; }

        public String id() { return name().toLowerCase(java.util.Locale.ROOT); }
    }

    /**
     * One guest access through QEMU. {@code end}/{@code exit} null when the exit is not in the trace;
     * {@code dev}: the device QEMU's own vfio access named (null when emulated and the process holds several);
     * {@code device}: QEMU's vfio.rw enter/exit events inside it (at most a few).
     */
    public record GuestAccess(QemuEvents.Space space, int tid, long start, Long end, long offset, int size,
                              boolean write, Long value, Served served, String dev, Event enter, Event exit,
                              List<Event> device) {
        /** When the access reached the device: its first vfio event, else its start. */
        public long deviceStart() { return device.isEmpty() ? start : device.get(0).ts(); }

        /** When the device access ended: its last vfio event (or the access's end). */
        public Long deviceEnd() {
            if (device.size() >= 2) return device.get(device.size() - 1).ts();
            return end;
        }

        /** "cfg read COMMAND/2", "bar write 0x10/4": the words of {@link Access#phrase()}. */
        public String phrase() {
            return space == QemuEvents.Space.CONFIG ? Phrases.config(write, offset, size) : Phrases.bar(null, write, offset, size);
        }

        /** The value is known for a write, and for a read once it returned. */
        public String phraseWithValue() {
            return value != null && (write || exit != null) ? phrase() + Phrases.value(write, value, Math.min(size, 4)) : phrase();
        }

        public boolean overlaps(long a, Long b) {
            return (b == null || start <= b) && (end == null || end >= a);
        }
    }

    /** The first read of the error eventfd at or after {@code ts}, or null. */
    public Event.EventfdRead notificationRead(long ts) {
        for (Event.EventfdRead r : notificationReads) if (r.ts() >= ts) return r;
        return null;
    }

    /** The first vm_stop or runstate_set into internal-error at or after {@code ts} (vm_stop comes first when both are traced). */
    public QemuEvents.RunState internalErrorStop(long ts) {
        for (QemuEvents.RunState s : states) if (s.ts() >= ts && s.state() == QemuEvents.RunState.INTERNAL_ERROR) return s;
        return null;
    }
}
