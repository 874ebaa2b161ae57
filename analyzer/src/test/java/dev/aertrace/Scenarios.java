package dev.aertrace;

import java.util.LinkedHashMap;
import java.util.Map;

import static dev.aertrace.Tr.EP;
import static dev.aertrace.Tr.RP;
import static dev.aertrace.Tr.USER;

/** Named hand-written traces, each made to show one behaviour. All of them must satisfy the schema. */
public final class Scenarios {
    private Scenarios() {}

    /** The vfio user reads COMMAND during the secondary-bus reset; the read returns before the reset ends. */
    public static Tr accessDuringReset() {
        return Tr.lab().fatalRecovery(0).cfgRead(1_000, 1_004, USER, EP, 4, 2, 0x0406).footer(3_000_000);
    }

    /** A config read enters during the reset and is held by the config-access lock until the reset ends. */
    public static Tr stalled() {
        return Tr.lab().fatalRecovery(0).cfgRead(3_000, 110_050, USER, EP, 0, 4, 0x10411af4).footer(3_000_000);
    }

    /** COMMAND read 0x0406 before the error, 0x0000 after the reset; nobody tells the user. */
    public static Tr stateChanged() {
        Tr t = Tr.lab();
        t.cfgRead(-500_000, -499_990, USER, EP, 4, 2, 0x0406);
        t.fatalRecovery(0);
        return t.cfgRead(200_000, 200_008, USER, EP, 4, 2, 0x0000).footer(3_000_000);
    }

    /** Same, but the user itself wrote COMMAND=0 in between: no verdict. */
    public static Tr stateChangedByUser() {
        Tr t = Tr.lab();
        t.cfgRead(-500_000, -499_990, USER, EP, 4, 2, 0x0406);
        t.fatalRecovery(0);
        t.cfgWrite(150_000, 150_005, USER, EP, 4, 2, 0);
        return t.cfgRead(200_000, 200_008, USER, EP, 4, 2, 0x0000).footer(3_000_000);
    }

    /** A config read of the vendor/device id returns 0xffffffff while the link is down. */
    public static Tr allOnes() {
        return Tr.lab().fatalRecovery(0).cfgRead(60_000, 60_010, USER, EP, 0, 4, 0xffffffffL).footer(3_000_000);
    }

    /** The user issues VFIO_DEVICE_RESET (ioctl 0x3b6f) while the host recovery still runs. */
    public static Tr doubleReset() {
        Tr t = Tr.lab().fatalRecovery(0);
        t.ioctl(110_200, 110_650, USER, EP, 0x3b6f, "VFIO_DEVICE_RESET", 0);
        return t.footer(3_000_000);
    }

    /** A BAR read between error_detected and the reset (not during the reset). */
    public static Tr inRecoveryWindow() {
        return Tr.lab().fatalRecovery(0).barRead(100, 104, USER, EP, 0x10).footer(3_000_000);
    }

    /** The user reads the AER Uncorrectable Error Status (0x104) after the kernel cleared it. */
    public static Tr aerStatusCleared() {
        return Tr.lab().fatalRecovery(0).cfgRead(300_000, 300_010, USER, EP, 0x104, 4, 0).footer(3_000_000);
    }

    /** The user reads the AER status while the bit is still set: no verdict. */
    /** As {@link #aerStatusCleared}, on a device whose AER capability sits at 0x148 (from the header's aer_cap). */
    public static Tr aerStatusClearedAtOwnOffset(int readOffset) {
        String topo = Tr.TOPO.replace("\"driver\":\"vfio-pci\",\"aer\":true", "\"driver\":\"vfio-pci\",\"aer\":true,\"aer_cap\":328");
        return new Tr().raw(Tr.header(topo)).fatalRecovery(0).cfgRead(300_000, 300_010, USER, EP, readOffset, 4, 0)
                .footer(3_000_000);
    }

    public static Tr aerStatusStillSet() {
        return Tr.lab().fatalRecovery(0).cfgRead(300_000, 300_010, USER, EP, 0x104, 4, 0x20).footer(3_000_000);
    }

    /** pcie_do_recovery gives up: the driver votes DISCONNECT, no reset, result DISCONNECT. */
    public static Tr recoveryFailed() {
        Tr t = Tr.lab();
        t.aer(0, EP, 1, 0x20);
        t.recoveryEnter(40, EP, 2);
        t.cb(60, 80, EP, "error_detected", 4);
        t.recoveryExit(120, EP, 4);
        return t.footer(3_000_000);
    }

    /**
     * The link does not come back, yet pcie_do_recovery returns RECOVERED: its "failed:" path returns the status
     * mmio_enabled left (Debian 7.2 runs mmio_enabled before the reset). Only the reset's own result tells.
     */
    public static Tr recoveryFailedButReturnsRecovered() {
        Tr t = Tr.lab();
        t.aer(0, EP, 1, 0);
        t.recoveryEnter(40, EP, 2);
        t.cb(60, 80, EP, "error_detected", 2);
        t.cb(90, 100, EP, "mmio_enabled", 5);
        t.resetEnter(120, RP, "aer_root_reset");
        t.resetEnter(130, RP, "pci_bus_error_reset");
        t.resetExit(1_000_000, RP, "pci_bus_error_reset", -25);
        t.resetExit(1_000_100, RP, "aer_root_reset", 4);
        t.recoveryExit(1_000_200, EP, 5);
        return t.footer(4_000_000);
    }

    /** Two endpoints behind two switch ports; the fatal recovery resets only one port. */
    public static Tr deviceNotReset() {
        String topo = "[{\"dev\":\"0000:00:02.0\",\"parent\":null,\"bridge\":true,\"driver\":\"pcieport\",\"aer\":true},"
                + "{\"dev\":\"0000:01:00.0\",\"parent\":\"0000:00:02.0\",\"bridge\":true,\"driver\":\"pcieport\",\"aer\":true},"
                + "{\"dev\":\"0000:02:00.0\",\"parent\":\"0000:01:00.0\",\"bridge\":true,\"driver\":\"pcieport\",\"aer\":true},"
                + "{\"dev\":\"0000:02:01.0\",\"parent\":\"0000:01:00.0\",\"bridge\":true,\"driver\":\"pcieport\",\"aer\":true},"
                + "{\"dev\":\"0000:03:00.0\",\"parent\":\"0000:02:00.0\",\"bridge\":false,\"driver\":\"vfio-pci\",\"aer\":true},"
                + "{\"dev\":\"0000:04:00.0\",\"parent\":\"0000:02:01.0\",\"bridge\":false,\"driver\":\"vfio-pci\",\"aer\":true}]";
        Tr t = new Tr().raw(Tr.header(topo));
        t.aer(0, "0000:01:00.0", 1, 0x20);
        t.recoveryEnter(40, "0000:01:00.0", 2);
        t.cb(60, 70, "0000:03:00.0", "error_detected", 3);
        t.cb(72, 80, "0000:04:00.0", "error_detected", 3);
        t.resetEnter(200, "0000:02:00.0", "pci_bus_error_reset");
        t.resetExit(100_000, "0000:02:00.0", "pci_bus_error_reset", 0);
        t.cb(100_100, 100_200, "0000:03:00.0", "resume", 5);
        t.cb(100_300, 100_400, "0000:04:00.0", "resume", 5);
        t.recoveryExit(100_500, "0000:01:00.0", 5);
        return t.footer(3_000_000);
    }

    /** The race of accessDuringReset, but the agent lost events inside the window. */
    public static Tr lostInWindow() {
        return Tr.lab().fatalRecovery(0).lost(50_000, 1, 12).cfgRead(1_000, 1_004, USER, EP, 4, 2, 0x0406).footer(3_000_000);
    }

    /** A fatal recovery and no user activity at all. */
    public static Tr fatalQuiet() {
        return Tr.lab().fatalRecovery(0).footer(3_000_000);
    }

    /** A correctable error: AER event only, the user reads config half a second later. */
    public static Tr correctable() {
        return Tr.lab().aer(0, EP, 2, 0x1).cfgRead(500_000, 500_008, USER, EP, 4, 2, 0x0406).footer(3_000_000);
    }

    /** A non-fatal error recovered without a reset; the user reads after resume. */
    public static Tr nonfatal() {
        Tr t = Tr.lab();
        t.aer(0, EP, 0, 0x4000);
        t.recoveryEnter(40, EP, 1);
        t.ev("cb.enter", 60, Tr.IRQ, EP, "\"cb\":\"error_detected\",\"driver\":\"vfio-pci\",\"state\":1");
        t.signal(70, EP);
        t.ev("cb.exit", 80, Tr.IRQ, EP, "\"cb\":\"error_detected\",\"result\":2");
        t.cb(100, 120, EP, "mmio_enabled", 5);
        t.cb(140, 160, EP, "resume", 5);
        t.recoveryExit(200, EP, 5);
        t.cfgRead(5_000, 5_008, USER, EP, 4, 2, 0x0406);
        return t.footer(3_000_000);
    }

    /** A non-fatal error with a user read between error_detected and resume: I/O still works, no verdict. */
    public static Tr nonfatalWindowAccess() {
        Tr t = Tr.lab();
        t.aer(0, EP, 0, 0x4000);
        t.recoveryEnter(40, EP, 1);
        t.ev("cb.enter", 60, Tr.IRQ, EP, "\"cb\":\"error_detected\",\"driver\":\"vfio-pci\",\"state\":1");
        t.cfgRead(62, 70, USER, EP, 0x104, 4, 0x4000);
        t.ev("cb.exit", 80, Tr.IRQ, EP, "\"cb\":\"error_detected\",\"result\":2");
        t.cb(140, 160, EP, "resume", 5);
        t.recoveryExit(200, EP, 5);
        return t.footer(3_000_000);
    }

    /** Two fatal errors 600 ms apart on the same device; the settle window of the first is cut short. */
    public static Tr backToBack() {
        Tr t = Tr.lab().fatalRecovery(0);
        t.cfgRead(300_000, 300_008, USER, EP, 4, 2, 0x0406);
        t.fatalRecovery(600_000);
        t.cfgRead(601_000, 601_004, USER, EP, 4, 2, 0x0000);
        return t.footer(5_000_000);
    }

    /** Two root ports recover at the same time on two AER threads; each user read belongs to its own episode. */
    public static Tr concurrent() {
        String topo = "[{\"dev\":\"0000:00:02.0\",\"parent\":null,\"bridge\":true,\"driver\":\"pcieport\",\"aer\":true},"
                + "{\"dev\":\"0000:01:00.0\",\"parent\":\"0000:00:02.0\",\"bridge\":false,\"driver\":\"vfio-pci\",\"aer\":true},"
                + "{\"dev\":\"0000:00:03.0\",\"parent\":null,\"bridge\":true,\"driver\":\"pcieport\",\"aer\":true},"
                + "{\"dev\":\"0000:02:00.0\",\"parent\":\"0000:00:03.0\",\"bridge\":false,\"driver\":\"vfio-pci\",\"aer\":true}]";
        Tr t = new Tr().raw(Tr.header(topo));
        int a = 90, b = 91;
        t.ev("aer.event", 0, a, EP, "\"severity\":1,\"status\":32,\"tlp_valid\":false");
        t.ev("aer.event", 10, b, "0000:02:00.0", "\"severity\":1,\"status\":16,\"tlp_valid\":false");
        t.ev("recovery.enter", 40, a, EP, "\"state\":2");
        t.ev("recovery.enter", 45, b, "0000:02:00.0", "\"state\":2");
        t.ev("reset.enter", 200, a, RP, "\"fn\":\"aer_root_reset\"");
        t.ev("reset.enter", 210, b, "0000:00:03.0", "\"fn\":\"aer_root_reset\"");
        t.cfgRead(1_000, 1_004, USER, EP, 4, 2, 0x0406);
        t.ev("reset.exit", 100_000, a, RP, "\"fn\":\"aer_root_reset\",\"ret\":5");
        t.ev("recovery.exit", 100_100, a, EP, "\"ret\":5");
        t.ev("reset.exit", 120_000, b, "0000:00:03.0", "\"fn\":\"aer_root_reset\",\"ret\":5");
        t.ev("recovery.exit", 120_100, b, "0000:02:00.0", "\"ret\":5");
        t.cfgRead(130_000, 130_004, USER + 1, "0000:02:00.0", 4, 2, 0x0406);
        return t.footer(3_000_000);
    }

    /** The trace begins inside the reset (agent started late). */
    public static Tr startsMidRecovery() {
        Tr t = Tr.lab();
        t.cfgRead(1_000, 1_004, USER, EP, 4, 2, 0x0406);
        t.resetExit(100_000, RP, "aer_root_reset", 5);
        t.cb(100_300, 100_400, EP, "slot_reset", 5);
        t.cb(100_500, 100_600, EP, "resume", 5);
        t.recoveryExit(100_700, EP, 5);
        return t.footer(3_000_000);
    }

    /** The trace is cut off during the reset (no footer). */
    public static Tr endsMidRecovery() {
        Tr t = Tr.lab();
        t.aer(0, EP, 1, 0x20);
        t.recoveryEnter(40, EP, 2);
        t.resetEnter(200, RP, "aer_root_reset");
        return t.cfgRead(1_000, 1_004, USER, EP, 4, 2, 0x0406);
    }

    public static Map<String, Tr> all() {
        Map<String, Tr> m = new LinkedHashMap<>();
        m.put("accessDuringReset", accessDuringReset());
        m.put("stalled", stalled());
        m.put("stateChanged", stateChanged());
        m.put("stateChangedByUser", stateChangedByUser());
        m.put("allOnes", allOnes());
        m.put("doubleReset", doubleReset());
        m.put("inRecoveryWindow", inRecoveryWindow());
        m.put("aerStatusCleared", aerStatusCleared());
        m.put("aerStatusClearedAtOwnOffset", aerStatusClearedAtOwnOffset(0x14c));
        m.put("aerStatusStillSet", aerStatusStillSet());
        m.put("recoveryFailed", recoveryFailed());
        m.put("deviceNotReset", deviceNotReset());
        m.put("lostInWindow", lostInWindow());
        m.put("fatalQuiet", fatalQuiet());
        m.put("correctable", correctable());
        m.put("nonfatal", nonfatal());
        m.put("nonfatalWindowAccess", nonfatalWindowAccess());
        m.put("backToBack", backToBack());
        m.put("concurrent", concurrent());
        m.put("startsMidRecovery", startsMidRecovery());
        m.put("endsMidRecovery", endsMidRecovery());
        return m;
    }
}
