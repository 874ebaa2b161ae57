package dev.aertrace.ingest;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static dev.aertrace.ingest.Scratch.F_CMD;
import static dev.aertrace.ingest.Scratch.F_COUNT;
import static dev.aertrace.ingest.Scratch.F_CPU;
import static dev.aertrace.ingest.Scratch.F_HISTORY;
import static dev.aertrace.ingest.Scratch.F_OFFSET;
import static dev.aertrace.ingest.Scratch.F_PID;
import static dev.aertrace.ingest.Scratch.F_REASON_NUM;
import static dev.aertrace.ingest.Scratch.F_RET;
import static dev.aertrace.ingest.Scratch.F_SEVERITY;
import static dev.aertrace.ingest.Scratch.F_SIZE;
import static dev.aertrace.ingest.Scratch.F_STATE;
import static dev.aertrace.ingest.Scratch.F_STATUS;
import static dev.aertrace.ingest.Scratch.F_TID;
import static dev.aertrace.ingest.Scratch.F_TLPVALID;
import static dev.aertrace.ingest.Scratch.F_TS;
import static dev.aertrace.ingest.Scratch.F_VALUE;
import static dev.aertrace.ingest.Scratch.F_WRITE;

/**
 * The per-type rules of an event line, one table: what each type's line must carry (probes/EVENTS.md, and what
 * the probes and the agent always write: a field they always write, missing, is damage), whether its probe may fire
 * on the idle task, and which returns it can have. {@link EventBuilder} applies the shape rules (a line failing
 * one is an invalid event), {@link Plausible} the value rules (a line failing one is implausible), each in the
 * order listed here.
 */
final class LineRules {
    private LineRules() {}

    /** Why a line breaks a rule, or null. */
    interface Check {
        String why(Scratch s);
    }

    /**
     * {@code need}: the F_* fields the line must carry; {@code dev}/{@code comm}: it must name its device / task;
     * {@code idle}: its probe may fire on the idle task (pid and tid 0, an empty comm); {@code channel}: its state is
     * a pci_channel_state (1..3); {@code shape}: further checks of what must be there; {@code ret}: its possible
     * returns.
     */
    record Rule(int need, boolean dev, boolean comm, boolean idle, boolean channel, List<Check> shape, Check ret) {}

    static final int COMMON = F_TS | F_CPU | F_PID | F_TID;
    /** include/linux/err.h: a negative return below -MAX_ERRNO is not an errno. */
    static final long MAX_ERRNO = 4095;

    private static final Map<String, Rule> TABLE = new HashMap<>();

    /** The rule of {@code type}, or null for a type this analyzer does not know. */
    static Rule of(String type) { return TABLE.get(type); }

    /** Every type with a rule. */
    static java.util.Set<String> types() { return java.util.Collections.unmodifiableSet(TABLE.keySet()); }

    /** The F_* fields {@code type} must carry, or -1 for a type this analyzer does not know. */
    static int need(String type) {
        Rule r = TABLE.get(type);
        return r == null ? -1 : r.need();
    }

    // ---------------------------------------------------------------- shape checks (an invalid event)

    /** The flight recorder keeps region accesses only. */
    private static Check notHistory(String type) {
        return s -> (s.has & F_HISTORY) != 0 && s.history ? "\"history\" on " + type + " (the flight recorder keeps accesses only)" : null;
    }

    private static final Check CB = s -> Event.Callback.fromWire(s.cb) == null ? "bad \"cb\": " + s.cb : null;
    private static final Check DRIVER = s -> s.driver == null ? "missing \"driver\" (\"\" when none is bound)" : null;
    /** aer.c's cb_enter: the channel state is passed for error_detected, always (1..3, never 0). */
    private static final Check ERROR_DETECTED_STATE = s -> (s.has & F_STATE) == 0
            && Event.Callback.fromWire(s.cb) == Event.Callback.ERROR_DETECTED ? "missing \"state\" of error_detected" : null;
    private static final Check FN = s -> s.fn == null ? "missing \"fn\"" : null;
    private static final Check REGION = s -> s.region == null ? "missing \"region\"" : null;
    private static final Check OP = s -> s.op == null ? "missing \"op\"" : null;
    private static final Check CTX = s -> s.ctx == null ? "missing \"ctx\"" : null;
    private static final Check TLP_VALID = s -> (s.has & F_TLPVALID) == 0 ? "missing \"tlp_valid\"" : null;
    private static final Check IOCTL_NAME = s -> Strict.ioctlName(s.cmd, s.cmdName);

    /**
     * QEMU's RunState and ShutdownCause names, in enum order, as the agent maps them (agent encode.py
     * QEMU_RUNSTATES, QEMU_SHUTDOWN_CAUSES): a name is written only for a number inside the list, and is that
     * entry. One bit flipped in "internal-error" was printed by a confident vm-stopped (long run, seed 602
     * mutant 24338).
     */
    static final List<String> QEMU_RUNSTATES = List.of("debug", "inmigrate", "internal-error", "io-error", "paused",
            "postmigrate", "prelaunch", "finish-migrate", "restore-vm", "running", "save-vm", "shutdown", "suspended",
            "watchdog", "guest-panicked", "colo");
    static final List<String> QEMU_SHUTDOWN_CAUSES = List.of("none", "host-error", "host-qmp-quit",
            "host-qmp-system-reset", "host-signal", "host-ui", "guest-shutdown", "guest-reset", "guest-panic",
            "subsystem-reset", "snapshot-load");

    private static String enumName(String what, List<String> names, long n, String name) {
        if (n >= 0 && n < names.size()) {
            if (name == null) return "missing \"" + what + "\" of " + n + " (" + names.get((int) n) + ")";
            return name.equals(names.get((int) n)) ? null : what + " \"" + name + "\" is not " + n + "'s (" + names.get((int) n) + ")";
        }
        return name == null ? null : what + " \"" + name + "\" for " + n + ", which has no name";
    }

    private static final Check STATE_NAME = s -> enumName("state_name", QEMU_RUNSTATES, s.state, s.stateName);
    private static final Check REASON_NAME = s -> enumName("reason_name", QEMU_SHUTDOWN_CAUSES, s.reasonNum, s.reasonName);
    private static final Check READ_VALUE = s -> !s.write && "config".equals(s.region) && s.size <= 4 && s.ret > 0
            && (s.has & F_VALUE) == 0 ? "missing \"value\" of a config read that returned data" : null;

    /** Reset functions whose return the probe records (probes/bpf/reset.c: with_ret). */
    private static final Set<String> RESET_RET = Set.of("aer_root_reset", "dpc_reset_link", "pci_bus_error_reset",
            "pci_bridge_secondary_bus_reset", "pcie_reset_flr", "pcie_flr", "pci_try_reset_function",
            "pci_reset_function", "pci_reset_bus");

    /**
     * reset.c records the return of the int reset functions: a reset exit without it read as "returned nothing"
     * made a confident recovery-failed say another thing (fuzz long run, seed 204 mutant 32).
     */
    private static final Check RESET_RET_PRESENT = s -> (s.has & F_RET) == 0 && s.fn != null && RESET_RET.contains(s.fn)
            ? "missing \"ret\" of " + s.fn : null;
    /** cfglock.c records the trylock's return. */
    private static final Check TRYLOCK_RET = s -> (s.has & F_RET) == 0 && "trylock".equals(s.op) ? "missing \"ret\" of the trylock" : null;

    // ---------------------------------------------------------------- returns (implausible)

    private static final Check ERRNO_OR_INT = s -> s.ret < -MAX_ERRNO || s.ret > Integer.MAX_VALUE ? "ret " + s.ret + " (-errno or an int)" : null;
    private static final Check ERS_RESULT = s -> s.ret < 1 || s.ret > 6 ? "ret " + s.ret + " (pci_ers_result 1..6)" : null;
    private static final Check TRYLOCK = s -> s.ret != 0 && s.ret != 1 ? "ret " + s.ret + " (trylock: 0 or 1)" : null;

    /** ioctls that return 0 or -errno only (vfio.h): a positive return is damage. */
    private static final Set<String> ZERO_OR_ERRNO = Set.of("VFIO_DEVICE_RESET", "VFIO_DEVICE_GET_INFO",
            "VFIO_DEVICE_GET_REGION_INFO", "VFIO_DEVICE_GET_IRQ_INFO", "VFIO_DEVICE_SET_IRQS",
            "VFIO_DEVICE_GET_PCI_HOT_RESET_INFO", "VFIO_DEVICE_PCI_HOT_RESET");

    private static final Check IOCTL_RET = s -> {
        if (s.ret < -MAX_ERRNO || s.ret > Integer.MAX_VALUE) return "ret " + s.ret + " (-errno or an int)";
        if (s.ret > 0 && s.cmdName != null && ZERO_OR_ERRNO.contains(s.cmdName)) return "ret " + s.ret + " (" + s.cmdName + " returns 0 or -errno)";
        return null;
    };

    private static final Check RW_RET = s -> {
        if (s.ret < -MAX_ERRNO || s.ret > s.size) return "ret " + s.ret + " (-errno or at most the " + s.size + " bytes asked)";
        // vfio_pci_config_rw loops until every byte is done or fails: all of them, or -errno
        if ("config".equals(s.region) && s.ret >= 0 && s.ret != s.size) return "ret " + s.ret + " of a " + s.size + "-byte config access (all bytes or -errno)";
        return null;
    };

    /**
     * Why a flight-recorder dump marker ({@code "type":"history"}) is not one the agent wrote, or null: it always
     * writes {@code ts}, {@code since} (not after ts), {@code records} and {@code dropped} (EVENTS.md, every
     * history line in testdata). The marker is counted, not placed, so a line retyped to "history" vanished with
     * the footer still adding up and left a confident verdict over the event it was (fuzz discovery run, seed 402
     * mutants 219 and 3561: a reset.enter).
     */
    static String historyMarker(Scratch s) {
        int need = F_TS | Scratch.F_SINCE | Scratch.F_RECORDS | Scratch.F_DROPPED;
        if ((s.has & need) != need) return "missing or mistyped ts, since, records or dropped";
        if ((s.has & (Scratch.F_BADTYPE | Scratch.F_BADSTRING)) != 0) return "a field has the wrong JSON type";
        if (s.records < 0 || s.dropped < 0) return "records " + s.records + ", dropped " + s.dropped;
        if (s.since <= 0 || s.since > s.ts || s.ts > Plausible.MAX_TS) return "since " + s.since + " with ts " + s.ts;
        return null;
    }

    // ---------------------------------------------------------------- the table

    private static void task(String type, int need, Check ret, Check... shape) {
        TABLE.put(type, new Rule(need, true, true, false, false, List.of(shape), ret));
    }

    static {
        TABLE.put("aer.event", new Rule(COMMON | F_SEVERITY | F_STATUS, true, true, true, false, List.of(TLP_VALID, notHistory("aer.event")), ERRNO_OR_INT));
        TABLE.put("recovery.enter", new Rule(COMMON, true, true, false, true, List.of(notHistory("recovery.enter")), ERRNO_OR_INT));
        task("recovery.exit", COMMON, ERS_RESULT, notHistory("recovery.exit"));
        TABLE.put("cb.enter", new Rule(COMMON, true, true, false, true, List.of(CB, DRIVER, ERROR_DETECTED_STATE, notHistory("cb.enter")), ERRNO_OR_INT));
        task("cb.exit", COMMON, ERRNO_OR_INT, CB, notHistory("cb.exit"));
        task("reset.enter", COMMON, ERRNO_OR_INT, notHistory("reset.enter"), FN);
        task("reset.exit", COMMON, ERRNO_OR_INT, RESET_RET_PRESENT, notHistory("reset.exit"), FN);
        task("user_reset.enter", COMMON, ERRNO_OR_INT, notHistory("user_reset.enter"), FN);
        task("user_reset.exit", COMMON, ERRNO_OR_INT, RESET_RET_PRESENT, notHistory("user_reset.exit"), FN);
        // vfio.c writes the state it was told, always
        TABLE.put("vfio.err_detected.enter", new Rule(COMMON | F_STATE, true, true, false, true, List.of(notHistory("vfio.err_detected.enter")), ERRNO_OR_INT));
        task("vfio.err_detected.exit", COMMON | F_RET, ERS_RESULT, notHistory("vfio.err_detected.exit"));
        TABLE.put("eventfd.signal", new Rule(COMMON, false, true, true, false, List.of(notHistory("eventfd.signal"), CTX), ERRNO_OR_INT));
        task("eventfd.read", COMMON | F_RET, ERRNO_OR_INT, notHistory("eventfd.read"), CTX);
        task("vfio.ioctl.enter", COMMON | F_CMD, ERRNO_OR_INT, IOCTL_NAME, notHistory("vfio.ioctl.enter"));
        task("vfio.ioctl.exit", COMMON | F_CMD | F_RET, IOCTL_RET, IOCTL_NAME, notHistory("vfio.ioctl.exit"));
        task("vfio.rw.enter", COMMON | F_OFFSET | F_SIZE | F_WRITE, ERRNO_OR_INT, REGION);
        task("vfio.rw.exit", COMMON | F_OFFSET | F_SIZE | F_WRITE | F_RET, RW_RET, READ_VALUE, REGION);
        // schema v3: one line for an access the agent saw whole (enter and exit); exit_ts checked with the values
        task("vfio.rw", COMMON | F_OFFSET | F_SIZE | F_WRITE | F_RET | Scratch.F_EXIT_TS, RW_RET, READ_VALUE, REGION);
        task("vfio.open", COMMON, ERRNO_OR_INT, notHistory("vfio.open"));
        task("vfio.close", COMMON, ERRNO_OR_INT, notHistory("vfio.close"));
        task("cfg_lock", COMMON, TRYLOCK, TRYLOCK_RET, notHistory("cfg_lock"), OP);
        TABLE.put("lost", new Rule(F_TS | F_COUNT, false, false, true, false, List.of(notHistory("lost")), ERRNO_OR_INT));
        for (String t : List.of("pci.remove.enter", "vfio.request", "vfio.remove.enter")) task(t, COMMON, ERRNO_OR_INT, notHistory(t));
        // counted, not placed (TraceReader#countedOnly), but read by the same rules: a line retyped to one of them
        // must not vanish as if the agent had written it (long run, seed 601 mutants 11614, 17511, 34848)
        for (String t : List.of("pci.remove.exit", "vfio.remove.exit", "hotplug.unconfigure.enter", "hotplug.unconfigure.exit"))
            task(t, COMMON, ERRNO_OR_INT, notHistory(t));
        // raised from a hard IRQ handler: may fire on the idle task
        for (String t : List.of("pci.hp_event", "hotplug.event", "pcie.link_event"))
            TABLE.put(t, new Rule(COMMON, true, true, true, false, List.of(notHistory(t)), ERRNO_OR_INT));
        // QEMU's uprobes name no device
        for (String t : List.of("qemu.config.enter", "qemu.config.exit", "qemu.region.enter", "qemu.region.exit"))
            TABLE.put(t, new Rule(COMMON | F_OFFSET | F_SIZE | F_WRITE, false, true, false, false, List.of(notHistory(t)), ERRNO_OR_INT));
        for (String t : List.of("qemu.vm_stop", "qemu.runstate"))
            TABLE.put(t, new Rule(COMMON | F_STATE, false, true, false, false, List.of(notHistory(t), STATE_NAME), ERRNO_OR_INT));
        TABLE.put("qemu.system_reset", new Rule(COMMON | F_REASON_NUM, false, true, false, false, List.of(notHistory("qemu.system_reset"), REASON_NAME), ERRNO_OR_INT));
    }
}
