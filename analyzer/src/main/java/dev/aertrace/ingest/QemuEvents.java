package dev.aertrace.ingest;

/**
 * The {@code qemu.*} event types (probes/EVENTS.md), typed. The names QEMU gives run states and shutdown causes
 * ({@code state_name}, {@code reason_name}) are optional on the wire; the number is always there.
 */
public final class QemuEvents {
    private QemuEvents() {}

    /** Which QEMU function served a guest access: vfio_pci_{read,write}_config or vfio_region_{read,write}. */
    public enum Space {
        CONFIG("config"), REGION("region");

        public final String wire;

        Space(String wire) { this.wire = wire; }
    }

    /** A guest access as QEMU starts serving it; {@code value}: what the guest writes (writes only). */
    public record AccessEnter(Event.Common common, Space space, long offset, int size, boolean write, Long value)
            implements Event.Qemu {
        public String type() { return "qemu." + space.wire + ".enter"; }
    }

    /** QEMU done serving it; {@code value}: what QEMU returned to the guest (reads only, low 32 bits). */
    public record AccessExit(Event.Common common, Space space, long offset, int size, boolean write, Long value)
            implements Event.Qemu {
        public String type() { return "qemu." + space.wire + ".exit"; }
    }

    /**
     * {@code vmStop}: QEMU's vm_stop(state) (the request to stop, e.g. from vfio_err_notifier_handler), else
     * runstate_set(state) (the state really changed). {@code name} null when the agent did not know the number.
     */
    public record RunState(Event.Common common, boolean vmStop, int state, String name) implements Event.Qemu {
        public String type() { return vmStop ? "qemu.vm_stop" : "qemu.runstate"; }

        /** RUN_STATE_INTERNAL_ERROR in QEMU's qapi/run-state.json (unchanged since 2.8). */
        public static final int INTERNAL_ERROR = 2;
        public static final int RUNNING = 9;

        public String label() { return name != null ? name : "state " + state; }
    }

    /** qemu_system_reset(reason): {@code name} e.g. host-qmp-system-reset, guest-reset. */
    public record SystemReset(Event.Common common, int reason, String name) implements Event.Qemu {
        public String type() { return "qemu.system_reset"; }

        public String label() { return name != null ? name : "reason " + reason; }
    }
}
