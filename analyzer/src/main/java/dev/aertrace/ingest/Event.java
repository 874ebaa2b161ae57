package dev.aertrace.ingest;

/**
 * One event line of a schema-v1 trace (probes/EVENTS.md), already typed. Header and footer are not events
 * ({@link TraceHeader}, {@link TraceFooter}). Optional wire fields are boxed and {@code null} when absent.
 * {@link Gap} is not on the wire: ingest synthesises it where a line could not be read, so that later stages
 * see the hole at its place in the stream instead of silently missing an event.
 */
public sealed interface Event {
    Common common();

    /** The schema's {@code type} string. */
    String type();

    default long ts() { return of(this).ts(); }
    default int tid() { return of(this).tid(); }
    default String dev() { return of(this).dev(); }
    /** 1-based line number in its source (0 for synthesised events without a line). */
    default long line() { return of(this).line(); }

    /**
     * {@code e.common()}, for the two types most of every trace is (a user's reads and writes) without an
     * interface call: with this many record types a call site of {@code common()} that sees more than two is
     * megamorphic, an itable stub and a call that is not inlined per event (with the default methods above calling
     * it, 10% of a 10 M-event run's CPU). Hot paths call this once per event. Casts, not patterns: their local
     * made it 41 bytes of bytecode, one over the launcher's C2 inlining limit (FreqInlineSize=40).
     */
    static Common of(Event e) {
        if (e instanceof RwExit) return ((RwExit) e).common();
        if (e instanceof RwEnter) return ((RwEnter) e).common();
        return e.common();
    }

    /** Fields every event line has; {@code dev} is null where the schema allows it to be absent. */
    record Common(long ts, int cpu, int pid, int tid, String comm, String dev, long line) {}

    record AerError(Common common, int severity, long status, boolean tlpValid, long[] tlp) implements Event {
        public String type() { return "aer.event"; }
    }
    record RecoveryEnter(Common common, Integer state) implements Event {
        public String type() { return "recovery.enter"; }
    }
    record RecoveryExit(Common common, Integer ret) implements Event {
        public String type() { return "recovery.exit"; }
    }
    record CallbackEnter(Common common, Callback cb, String driver, Integer state) implements Event {
        public String type() { return "cb.enter"; }
    }
    record CallbackExit(Common common, Callback cb, Integer result) implements Event {
        public String type() { return "cb.exit"; }
    }
    /** Host reset step; {@code dev} is the bridge/port being reset. */
    record ResetEnter(Common common, String fn) implements Event {
        public String type() { return "reset.enter"; }
    }
    record ResetExit(Common common, String fn, Long ret) implements Event {
        public String type() { return "reset.exit"; }
    }
    record VfioErrDetectedEnter(Common common, Integer state) implements Event {
        public String type() { return "vfio.err_detected.enter"; }
    }
    record VfioErrDetectedExit(Common common, Integer ret) implements Event {
        public String type() { return "vfio.err_detected.exit"; }
    }
    record EventfdSignal(Common common, String ctx) implements Event {
        public String type() { return "eventfd.signal"; }
    }
    /**
     * The user read the error eventfd vfio signalled ({@code eventfd.read}, at the read's return): {@code pid}/{@code comm}
     * the reader (QEMU, a vfio user), {@code dev} the device whose eventfd it is, {@code entered} when the read began
     * (a blocking reader waits there for the signal), {@code ret} bytes read or -errno.
     */
    record EventfdRead(Common common, String ctx, Long ret, Long entered) implements Event {
        public String type() { return "eventfd.read"; }
    }
    record IoctlEnter(Common common, long cmd, String cmdName) implements Event {
        public String type() { return "vfio.ioctl.enter"; }
    }
    record IoctlExit(Common common, long cmd, String cmdName, Long ret) implements Event {
        public String type() { return "vfio.ioctl.exit"; }
    }
    /** {@code value}: the written value for config writes of at most 4 bytes, else null. */
    record RwEnter(Common common, String region, long offset, int size, boolean write, Long value) implements Event {
        public String type() { return "vfio.rw.enter"; }
    }
    /** {@code value}: what a config read of at most 4 bytes returned to the user, else null. */
    record RwExit(Common common, String region, long offset, int size, boolean write, Long ret, Long value) implements Event {
        public String type() { return "vfio.rw.exit"; }
    }
    record VfioOpen(Common common) implements Event {
        public String type() { return "vfio.open"; }
    }
    record VfioClose(Common common) implements Event {
        public String type() { return "vfio.close"; }
    }
    record UserResetEnter(Common common, String fn) implements Event {
        public String type() { return "user_reset.enter"; }
    }
    record UserResetExit(Common common, String fn, Long ret) implements Event {
        public String type() { return "user_reset.exit"; }
    }
    /** {@code op}: lock, trylock or unlock; {@code ret}: trylock only, 1 = got it. */
    record CfgLock(Common common, String op, Long ret) implements Event {
        public String type() { return "cfg_lock"; }
    }
    /**
     * The agent's own loss marker: {@code count} records dropped on {@code cpu} ({@code anyCpu}: the line had no
     * cpu, one ring buffer shared by all CPUs). {@code since}/{@code until} (optional, newer agents): monotonic
     * bounds of every lost record; without them the analyzer infers bounds from the file order (docs/evidence.md).
     */
    record Lost(Common common, long count, Long since, Long until, boolean anyCpu) implements Event {
        public String type() { return "lost"; }
    }
    /**
     * The device is going away (probes/EVENTS.md, device loss): {@code pci.remove.enter} (the kernel removes it),
     * {@code vfio.remove.enter}, {@code vfio.request} (vfio-pci asks the user to release it), {@code pci.hp_event}
     * and {@code hotplug.event} (a hotplug slot event; {@code dev} is the port). {@code what}: a phrase.
     */
    record DeviceGone(Common common, String type, String what) implements Event {}
    /**
     * The link below a port changed (kernels 7.0+): {@code pci.hp_event} LINK_UP/LINK_DOWN (pciehp) or
     * {@code pcie.link_event} (the kernel re-read the port's Link Status: after a retrain, a bus was added, a
     * bandwidth notification, a hotplug). {@code dev} is the port; {@code up}: the link came up (Data Link Layer
     * Link Active), went down, or null when the line does not say. A host reset of the port flaps the link.
     */
    record LinkChange(Common common, String type, Boolean up, String what) implements Event {}

    /**
     * QEMU's own events (uprobes on the binary the agent was given with {@code --qemu}; probes/EVENTS.md): they
     * carry no {@code dev} (QEMU's structures are not an ABI) and are joined to a device by process in
     * dev.aertrace.qemu. Kept apart from the kernel-side types so the host timeline is unchanged by them.
     */
    sealed interface Qemu extends Event permits QemuEvents.AccessEnter, QemuEvents.AccessExit, QemuEvents.RunState,
            QemuEvents.SystemReset {}

    /** A hole found by ingest (unreadable line, impossible order, ...); ts is the best known position. */
    record Gap(Common common, GapKind kind, String detail) implements Event {
        public String type() { return "gap"; }
    }

    /**
     * UNKNOWN_TYPE: a line of a type this analyzer does not know, at its own ts; the timeline makes it a gap only
     * inside an open episode or call (elsewhere EVENTS.md's "counted and ignored" holds). THREAD_MISMATCH: a tid
     * seen with two pids within a second ({@link TidPids}); its ts is the other sighting's, which the gap reaches
     * back to (either line may be the damaged one).
     */
    enum GapKind { CORRUPT_LINE, TRUNCATED_LINE, INVALID_EVENT, OUT_OF_ORDER, LOST_EVENTS, UNKNOWN_TYPE, THREAD_MISMATCH }

    enum Callback {
        ERROR_DETECTED("error_detected"), MMIO_ENABLED("mmio_enabled"), SLOT_RESET("slot_reset"), RESUME("resume");

        public final String wire;

        Callback(String wire) { this.wire = wire; }

        public static Callback fromWire(String s) {
            if (s == null) return null;
            return switch (s) {
                case "error_detected" -> ERROR_DETECTED;
                case "mmio_enabled" -> MMIO_ENABLED;
                case "slot_reset" -> SLOT_RESET;
                case "resume" -> RESUME;
                default -> null;
            };
        }
    }
}
