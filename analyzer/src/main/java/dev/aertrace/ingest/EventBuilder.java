package dev.aertrace.ingest;

import static dev.aertrace.ingest.Scratch.F_BADSTRING;
import static dev.aertrace.ingest.Scratch.F_BADTYPE;
import static dev.aertrace.ingest.Scratch.F_CPU;
import static dev.aertrace.ingest.Scratch.F_DLLLA;
import static dev.aertrace.ingest.Scratch.F_ENTERED;
import static dev.aertrace.ingest.Scratch.F_HISTORY;
import static dev.aertrace.ingest.Scratch.F_PID;
import static dev.aertrace.ingest.Scratch.F_RESULT;
import static dev.aertrace.ingest.Scratch.F_RET;
import static dev.aertrace.ingest.Scratch.F_SINCE;
import static dev.aertrace.ingest.Scratch.F_STATE;
import static dev.aertrace.ingest.Scratch.F_TID;
import static dev.aertrace.ingest.Scratch.F_TS;
import static dev.aertrace.ingest.Scratch.F_UNTIL;
import static dev.aertrace.ingest.Scratch.F_VALUE;
import static dev.aertrace.ingest.Scratch.F_WIDTH;

/**
 * Turns a read line (the {@link Scratch}) into its typed {@link Event}: first what the type needs and whether the
 * values are possible (a damaged line is a {@link Event.Gap} at its line number, with its issue), then the record.
 */
final class EventBuilder {
    private final Scratch s;
    private final Diagnostics diag;

    EventBuilder(Scratch s, Diagnostics diag) {
        this.s = s;
        this.diag = diag;
    }

    /** The F_* fields {@code type} must carry, or -1 for a type this analyzer does not know (LineRules). */
    static int need(String type) { return LineRules.need(type); }

    /** The flight recorder's last dump marker in this segment: its records lie in [since, ts] (EVENTS.md). */
    private long historySince = Long.MIN_VALUE, historyTs = Long.MIN_VALUE;

    /** A "history" dump marker: the records that follow must lie within its bounds. */
    void historyDump() {
        historyTs = (s.has & Scratch.F_TS) != 0 ? s.ts : Long.MIN_VALUE;
        historySince = (s.has & Scratch.F_SINCE) != 0 ? s.since : Long.MIN_VALUE;
    }

    /** The threads seen lately and their processes: a tid seen with another pid is a damaged line. */
    private final TidPids threads = new TidPids();
    /** The segment's kernel returns the recovery result, which aer.c's recovery_exit always writes (header kernel). */
    private boolean recoveryRet;

    /**
     * The header's devices. No committed trace (4.4 M events) names a device outside its header's topology, but one
     * bit flipped in a {@code dev} makes another plausible name: a user read moved from 01:00.0 to 01:00.1 changed
     * which access a confident notified-before-reset cited (long run, seed 601 mutant 16604). A device hot-added
     * after the agent started is real and costs a tentative verdict, not a wrong confident one.
     */
    private Topology topology = Topology.EMPTY;
    /** The last dev found in {@link #topology}: lines name one device after another, and StringCache interns them. */
    private String listedDev;

    void newSegment(String kernel, Topology topo) {
        topology = topo != null ? topo : Topology.EMPTY;
        listedDev = null;
        historySince = historyTs = Long.MIN_VALUE;
        threads.clear();
        recoveryRet = recoveryReturns(kernel);
    }

    /**
     * pcie_do_recovery() returns its pci_ers_result_t from 5.7 (void before): the agent's catalog attaches
     * recovery_exit, which always writes {@code ret}, from 5.7 and the void variant only up to 5.6
     * (probes/catalog.json). So on a 5.7+ kernel a recovery.exit without {@code ret} is not one the agent wrote: a
     * line retyped to recovery.exit ended a recovery before its reset and left a confident device-not-reset
     * (fuzz long run, seed 306 mutant 286). An unreadable kernel release requires nothing.
     */
    static boolean recoveryReturns(String kernel) {
        if (kernel == null) return false;
        java.util.regex.Matcher m = KERNEL.matcher(kernel);
        if (!m.lookingAt()) return false;
        try {
            int major = Integer.parseInt(m.group(1)), minor = Integer.parseInt(m.group(2));
            return major > 5 || (major == 5 && minor >= 7);
        } catch (NumberFormatException tooLong) {
            return false;
        }
    }

    private static final java.util.regex.Pattern KERNEL = java.util.regex.Pattern.compile("([0-9]{1,4})\\.([0-9]{1,4})");

    /** What is missing or mistyped on a line of a known type, or null: the generic checks, then its rules. */
    private String missing(LineType t, LineRules.Rule rule, int need, LineRules.Check[] shape) {
        if ((s.has & need) != need) return "missing or mistyped numeric/boolean field";
        if (recoveryRet && (s.has & F_RET) == 0 && t.recoveryExit)
            return "missing \"ret\" (the header's kernel, 5.7 or later, returns the recovery result and the agent writes it)";
        if ((s.has & F_BADTYPE) != 0) return "a field has the wrong JSON type";
        if ((s.has & F_BADSTRING) != 0) return "a string with an unpaired UTF-16 surrogate (no agent writes one)";
        if (rule.dev() && s.dev == null) return "missing \"dev\"";
        if (rule.comm() && s.comm == null) return "missing \"comm\"";
        for (LineRules.Check c : shape) {
            String why = c.why(s);
            if (why != null) return why;
        }
        return null;
    }

    /**
     * Why the line of known {@code type} cannot be an event: its issue is recorded and the {@link Event.Gap} that
     * stands in its place returned; null when it can (a lost line's impossible bounds or count are dropped here).
     */
    Event.Gap refuse(LineType t, long line, long maxTs, long segmentStartNs) {
        String type = t.name;
        LineRules.Rule rule = t.rule;
        String missing = missing(t, rule, t.need, t.shape);
        if (missing == null) {
            String f = FieldSets.foreign(type, t.fields, s.fields, s.unknown);
            if (f != null) missing = "field \"" + f + "\", which a " + type + " line never carries (a retyped or damaged line)";
        }
        if (missing != null) {
            diag.issue(Issue.Kind.INVALID_EVENT, line, type + ": " + missing);
            return gap((s.has & F_TS) != 0 ? s.ts : maxTs, line, type + ": " + missing);
        }
        if (s.unknown != null && !s.unknown.isEmpty()) for (String f : s.unknown) if (Strict.damagedField(f)) {
            diag.issue(Issue.Kind.DAMAGED_NAME, line, "field \"" + f + "\" on " + type);
            return gap(s.ts, line, type + ": damaged field name \"" + f + "\"");
        }
        if (t.rw) {
            String why = Strict.size(s.region, s.size);
            if (why != null) {
                diag.issue(Issue.Kind.BAD_SIZE, line, type + ": " + why);
                return gap(s.ts, line, type + ": " + why);
            }
        }
        String why = Plausible.check(type, rule, s, s.history && (s.has & F_HISTORY) != 0 ? 0 : segmentStartNs);
        if (why == null && (s.has & F_HISTORY) != 0 && s.history && historyTs != Long.MIN_VALUE && (s.ts < historySince || s.ts > historyTs))
            why = "history record at ts " + s.ts + " outside its dump's [since, ts] (" + historySince + ", " + historyTs + ")";
        if (why == null && t.whole && (s.has & F_HISTORY) != 0 && s.history && historyTs != Long.MIN_VALUE && s.exitTs > historyTs)
            why = "history record returning at " + s.exitTs + ", after its dump's ts " + historyTs;
        if (why != null) {
            diag.issue(Issue.Kind.IMPLAUSIBLE, line, type + ": " + why);
            return new Event.Gap(new Event.Common(maxTs, -1, 0, 0, s.comm, s.dev, line), Event.GapKind.INVALID_EVENT, type + ": " + why);
        }
        if ((s.has & (F_TS | F_PID | F_TID)) == (F_TS | F_PID | F_TID) && !t.lost
                && threads.conflicts((int) s.pid, (int) s.tid, s.comm, s.ts, line)) {
            String was = threads.otherPid() != s.pid ? "pid " + threads.otherPid() : "comm \"" + threads.otherComm() + "\"";
            why = "tid " + s.tid + " with pid " + s.pid + " comm \"" + s.comm + "\", " + Math.abs(s.ts - threads.otherTs()) / 1000
                    + " us from its line " + threads.otherLine() + " with " + was
                    + " (a thread's process never changes, nor its name inside a second): one of the two lines is damaged";
            diag.issue(Issue.Kind.IMPLAUSIBLE, line, type + ": " + why);
            return new Event.Gap(new Event.Common(Math.min(threads.otherTs(), s.ts), -1, 0, 0, s.comm, s.dev, line),
                    Event.GapKind.THREAD_MISMATCH, type + ": " + why);
        }
        if (s.dev != null && s.dev != listedDev && !topology.isEmpty()) {
            if (!topology.contains(s.dev)) {
                why = "device " + s.dev + " is not in the header's topology (hot-added after the agent started, or a damaged name: not known which)";
                diag.issue(Issue.Kind.UNLISTED_DEVICE, line, type + ": " + why);
                return gap(s.ts, line, type + ": " + why);
            }
            listedDev = s.dev;
        }
        if (t.lost) lost(line);
        return null;
    }

    /** A gap at the line's own ts, cpu and thread. */
    Event.Gap gap(long ts, long line, String detail) {
        return new Event.Gap(new Event.Common(ts, (int) s.cpu, (int) s.pid, (int) s.tid, s.comm, s.dev, line),
                Event.GapKind.INVALID_EVENT, detail);
    }

    private void lost(long line) {
        String why = Plausible.lossBounds(s);
        if (why != null) {
            // The loss is real (the line says so) but where it happened is not: bounds from the file order.
            diag.issue(Issue.Kind.IMPLAUSIBLE, line, "lost: " + why + "; bounds inferred from the file order");
            s.has &= ~(F_SINCE | F_UNTIL);
        }
        if (s.count <= 0) {
            // Not a count the agent can write: the loss is real (the line says so) but its size is unknown.
            diag.issue(Issue.Kind.BAD_COUNT, line, "lost count " + s.count);
            s.count = 0;
        }
    }

    /**
     * An unknown type is a newer agent's event or a known one whose type was damaged: the footer adds up either way
     * (fuzz long run, seed 304 mutant 4138: a vfio.rw.enter retyped, an access gone unseen under a confident
     * verdict). So it goes on at its own ts for the timeline to judge: inside an open episode or call it is a gap,
     * elsewhere ignored. Without a usable ts it cannot be placed, and no agent writes an event line without one:
     * a damaged line, a gap like any other.
     */
    Event.Gap unknown(String type, long lineNo, long maxTs) {
        if ((s.has & F_TS) == 0 || s.ts <= 0 || s.ts > Plausible.MAX_TS)
            return gap(maxTs, lineNo, "unknown type \"" + type + "\" without a usable ts: a damaged line");
        int cpu = (s.has & Scratch.F_CPU) != 0 && s.cpu >= 0 && s.cpu < Plausible.MAX_CPU ? (int) s.cpu : -1;
        int pid = (s.has & Scratch.F_PID) != 0 && s.pid >= 0 && s.pid <= Plausible.MAX_PID ? (int) s.pid : 0;
        int tid = (s.has & Scratch.F_TID) != 0 && s.tid >= 0 && s.tid <= Plausible.MAX_PID ? (int) s.tid : 0;
        return new Event.Gap(new Event.Common(s.ts, cpu, pid, tid, s.comm, s.dev, lineNo), Event.GapKind.UNKNOWN_TYPE,
                "unknown type \"" + type + "\" at line " + lineNo + ": a newer agent's event or a damaged one, not known which");
    }

    /**
     * {@link #create}'s case of each type, worked out once per type ({@link LineType#build}): a switch on the type
     * string hashed and compared it on every line. B_OTHER: the device-loss, link and QEMU types (deviceOrQemu).
     */
    static final int B_OTHER = 0, B_AER = 1, B_RECOVERY_ENTER = 2, B_RECOVERY_EXIT = 3, B_CB_ENTER = 4, B_CB_EXIT = 5,
            B_RESET_ENTER = 6, B_RESET_EXIT = 7, B_ERR_ENTER = 8, B_ERR_EXIT = 9, B_SIGNAL = 10, B_EVENTFD_READ = 11,
            B_IOCTL_ENTER = 12, B_IOCTL_EXIT = 13, B_RW_ENTER = 14, B_RW_EXIT = 15, B_RW = 16, B_OPEN = 17,
            B_CLOSE = 18, B_USER_RESET_ENTER = 19, B_USER_RESET_EXIT = 20, B_CFG_LOCK = 21, B_LOST = 22;

    static int build(String type) {
        return switch (type) {
            case "aer.event" -> B_AER;
            case "recovery.enter" -> B_RECOVERY_ENTER;
            case "recovery.exit" -> B_RECOVERY_EXIT;
            case "cb.enter" -> B_CB_ENTER;
            case "cb.exit" -> B_CB_EXIT;
            case "reset.enter" -> B_RESET_ENTER;
            case "reset.exit" -> B_RESET_EXIT;
            case "vfio.err_detected.enter" -> B_ERR_ENTER;
            case "vfio.err_detected.exit" -> B_ERR_EXIT;
            case "eventfd.signal" -> B_SIGNAL;
            case "eventfd.read" -> B_EVENTFD_READ;
            case "vfio.ioctl.enter" -> B_IOCTL_ENTER;
            case "vfio.ioctl.exit" -> B_IOCTL_EXIT;
            case "vfio.rw.enter" -> B_RW_ENTER;
            case "vfio.rw.exit" -> B_RW_EXIT;
            case "vfio.rw" -> B_RW;
            case "vfio.open" -> B_OPEN;
            case "vfio.close" -> B_CLOSE;
            case "user_reset.enter" -> B_USER_RESET_ENTER;
            case "user_reset.exit" -> B_USER_RESET_EXIT;
            case "cfg_lock" -> B_CFG_LOCK;
            case "lost" -> B_LOST;
            default -> B_OTHER;
        };
    }

    /** The typed event of a line {@link #refuse} accepted. */
    Event create(LineType t, long line) {
        String type = t.name;
        // cpu/pid/tid are optional on lost lines: a value from an earlier line must not leak into this one.
        Event.Common c = new Event.Common(s.ts, (s.has & F_CPU) != 0 ? (int) s.cpu : -1, (s.has & F_PID) != 0 ? (int) s.pid : 0,
                (s.has & F_TID) != 0 ? (int) s.tid : 0, s.comm, s.dev, line);
        Integer state = (s.has & F_STATE) != 0 ? (int) s.state : null;
        Long ret = (s.has & F_RET) != 0 ? s.ret : null;
        Long value = (s.has & F_VALUE) != 0 ? s.value : null;
        return switch (t.build) {
            case B_AER -> new Event.AerError(c, (int) s.severity, s.status, s.tlpValid, s.tlp);
            case B_RECOVERY_ENTER -> new Event.RecoveryEnter(c, state);
            case B_RECOVERY_EXIT -> new Event.RecoveryExit(c, ret == null ? null : (int) (long) ret);
            case B_CB_ENTER -> new Event.CallbackEnter(c, Event.Callback.fromWire(s.cb), s.driver == null ? "" : s.driver, state);
            case B_CB_EXIT -> new Event.CallbackExit(c, Event.Callback.fromWire(s.cb), (s.has & F_RESULT) != 0 ? (int) s.result : null);
            case B_RESET_ENTER -> new Event.ResetEnter(c, s.fn);
            case B_RESET_EXIT -> new Event.ResetExit(c, s.fn, ret);
            case B_ERR_ENTER -> new Event.VfioErrDetectedEnter(c, state);
            case B_ERR_EXIT -> new Event.VfioErrDetectedExit(c, ret == null ? null : (int) (long) ret);
            case B_SIGNAL -> new Event.EventfdSignal(c, s.ctx);
            case B_EVENTFD_READ -> new Event.EventfdRead(c, s.ctx, ret, (s.has & F_ENTERED) != 0 ? s.entered : null);
            case B_IOCTL_ENTER -> new Event.IoctlEnter(c, s.cmd, s.cmdName != null ? s.cmdName : hex(s.cmd));
            case B_IOCTL_EXIT -> new Event.IoctlExit(c, s.cmd, s.cmdName != null ? s.cmdName : hex(s.cmd), ret);
            case B_RW_ENTER -> new Event.RwEnter(c, s.region, s.offset, (int) s.size, s.write, value);
            case B_RW_EXIT -> new Event.RwExit(c, s.region, s.offset, (int) s.size, s.write, ret, value);
            // the enter half of a one-line access; wholeExit gives the other (EVENTS.md: a write's value is the
            // value written, as on vfio.rw.enter; a read's the value returned, as on vfio.rw.exit)
            case B_RW -> new Event.RwEnter(c, s.region, s.offset, (int) s.size, s.write, s.write ? value : null);
            case B_OPEN -> new Event.VfioOpen(c);
            case B_CLOSE -> new Event.VfioClose(c);
            case B_USER_RESET_ENTER -> new Event.UserResetEnter(c, s.fn);
            case B_USER_RESET_EXIT -> new Event.UserResetExit(c, s.fn, ret);
            case B_CFG_LOCK -> new Event.CfgLock(c, s.op, ret);
            case B_LOST -> new Event.Lost(c, s.count, (s.has & F_SINCE) != 0 ? s.since : null,
                    (s.has & F_UNTIL) != 0 ? s.until : null, (s.has & F_CPU) == 0);
            default -> deviceOrQemu(type, c, value);
        };
    }

    /** The exit half of the one-line access {@link #create} just made the enter of: the same line, at its exit_ts. */
    Event.RwExit wholeExit(Event.RwEnter enter) {
        Event.Common c = enter.common();
        return new Event.RwExit(new Event.Common(s.exitTs, c.cpu(), c.pid(), c.tid(), c.comm(), c.dev(), c.line()),
                enter.region(), enter.offset(), enter.size(), enter.write(), s.ret,
                !s.write && (s.has & F_VALUE) != 0 ? s.value : null);
    }

    /** The device-loss, link and QEMU types. */
    private Event deviceOrQemu(String type, Event.Common c, Long value) {
        return switch (type) {
            case "pci.remove.enter" -> new Event.DeviceGone(c, type, "the kernel started removing the device (pci_stop_and_remove_bus_device)");
            case "vfio.remove.enter" -> new Event.DeviceGone(c, type, "vfio-pci's remove started: the host is taking the device from the user");
            case "vfio.request" -> new Event.DeviceGone(c, type, "vfio-pci asked the user to release the device (device request IRQ)");
            case "pci.hp_event" -> "LINK_UP".equals(s.event) || "LINK_DOWN".equals(s.event)
                    ? new Event.LinkChange(c, type, "LINK_UP".equals(s.event), "link " + (s.event.equals("LINK_UP") ? "up" : "down")
                        + " (pciehp" + (s.slot != null ? ", slot " + s.slot : "") + ")")
                    : new Event.DeviceGone(c, type, "hotplug event " + (s.event != null ? s.event : "?")
                    + (s.slot != null ? " on slot " + s.slot : "") + " on the port above it");
            // DLLLA set: the link is up. Clear says nothing on a port without Data Link Layer Link Active
            // Reporting (QEMU's root port in the lab reports 0 while its link works): not "down".
            case "pcie.link_event" -> new Event.LinkChange(c, type, (s.has & F_DLLLA) != 0 && s.dllla ? Boolean.TRUE : null,
                    "link " + ((s.has & F_DLLLA) != 0 && s.dllla ? "up" : "status")
                    + ((s.has & F_WIDTH) != 0 ? " x" + s.width : "") + " (Link Status re-read"
                    + (s.reason != null ? ", reason " + linkReason(s.reason) : "") + ")");
            case "hotplug.event" -> new Event.DeviceGone(c, type, "pciehp handled a slot event"
                    + (s.handler != null ? " (" + s.handler + ")" : "") + " on the port above it");
            case "qemu.config.enter", "qemu.region.enter" -> new QemuEvents.AccessEnter(c, space(type), s.offset, (int) s.size, s.write, value);
            case "qemu.config.exit", "qemu.region.exit" -> new QemuEvents.AccessExit(c, space(type), s.offset, (int) s.size, s.write, value);
            case "qemu.vm_stop", "qemu.runstate" -> new QemuEvents.RunState(c, type.equals("qemu.vm_stop"), (int) s.state, s.stateName);
            case "qemu.system_reset" -> new QemuEvents.SystemReset(c, (int) s.reasonNum, s.reasonName);
            default -> throw new IllegalStateException(type);
        };
    }

    /** The device-loss types that become {@link Event.DeviceGone} (a removal starts, vfio asks, a slot event). */
    static boolean deviceGone(String type) {
        return switch (type) {
            case "pci.remove.enter", "vfio.request", "vfio.remove.enter", "pci.hp_event", "hotplug.event" -> true;
            default -> false;
        };
    }

    /** QEMU's uprobe events (probes/EVENTS.md): typed as {@link Event.Qemu}, without a dev. */
    static boolean qemu(String type) { return type.startsWith("qemu."); }

    private static QemuEvents.Space space(String type) {
        return type.startsWith("qemu.config.") ? QemuEvents.Space.CONFIG : QemuEvents.Space.REGION;
    }

    /** Device-loss and QEMU lines: those not placed in a timeline are counted, not built. */
    static boolean deviceLossOrQemu(String type) {
        return type.startsWith("hotplug.") || type.startsWith("pci.remove.") || type.equals("vfio.request")
                || type.startsWith("vfio.remove.") || type.startsWith("qemu.");
    }

    private static String hex(long v) { return "0x" + Long.toHexString(v); }

    /** drivers/pci/pci.h enum pcie_link_change_reason (7.0+). */
    private static String linkReason(String r) {
        return switch (r) {
            case "0" -> "retrain";
            case "1" -> "bus added";
            case "2" -> "bandwidth notification enabled";
            case "3" -> "bandwidth notification";
            case "4" -> "hotplug";
            default -> r;
        };
    }
}
